#!/bin/sh
# Ignores signals altogether: it works for a fixed time that ends just after the stop comes
# (the run asks it to stop 2 s in), says goodbye and leaves, whatever it was told.
echo "worker: started"
sleep 2
sleep 0.5
echo "worker: stopping"
exit 0
