#!/bin/sh
# Starts the delivery-status page.
echo "status: serving /srv/www on port 8080"
httpd -f -p 8080 -h /srv/www
