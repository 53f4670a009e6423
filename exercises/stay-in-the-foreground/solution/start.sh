#!/bin/sh
# Starts the delivery-status page.
echo "status: serving /srv/www on port 8080"
# In the foreground, and in place of this shell: the server is the container's main process,
# so the container lives exactly as long as the server does.
exec httpd -f -p 8080 -h /srv/www
