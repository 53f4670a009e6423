#!/bin/sh
# Prints the goodbye at once and leaves before anyone asks it to stop.
echo "worker: started"
echo "worker: job 1 done"
echo "worker: stopping"
exit 0
