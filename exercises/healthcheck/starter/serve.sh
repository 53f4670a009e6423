#!/bin/sh
# Serves the stock page and /health on port 8080.
exec httpd -f -p 8080 -h /srv/www
