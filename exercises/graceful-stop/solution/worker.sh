#!/bin/sh
# A worker that finishes one small job every second until it is asked to stop.
echo "worker: started"
trap 'echo "worker: stopping"; exit 0' TERM INT
n=0
while true; do
  n=$((n + 1))
  echo "worker: job $n done"
  # In the background, so the trap runs as soon as the signal arrives.
  sleep 1 &
  wait $!
done
