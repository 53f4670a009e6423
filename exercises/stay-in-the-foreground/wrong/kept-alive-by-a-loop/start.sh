#!/bin/sh
# Starts the delivery-status page.
echo "status: serving /srv/www on port 8080"
httpd -p 8080 -h /srv/www
echo "status: started"
# Keep the container alive.
while true; do sleep 5; done
