#!/bin/sh
# Serves the stock page and /health. With SIMULATE_FAILURE=1 the server still runs but
# serves an empty folder, so every page answers 404: the kind of failure a process list
# cannot see.
root=/srv/www
if [ "${SIMULATE_FAILURE:-0}" = 1 ]; then
  echo "serve: simulating a failure: every page answers 404"
  root=/srv/empty
fi
exec httpd -f -p 8080 -h "$root"
