#!/bin/sh
# A worker that finishes one small job every second, forever.
echo "worker: started"
n=0
while true; do
  n=$((n + 1))
  echo "worker: job $n done"
  sleep 1
done
