# chatty prints 400 lines, one of them with a code drawn for this learner, then waits.
docker rm -f chatty >/dev/null 2>&1 || true
docker run -d --name chatty busybox:1.35 sh -c 'code=$(( (RANDOM << 15 | RANDOM) % 900000 + 100000 )); i=0; while [ $i -lt 400 ]; do i=$((i+1)); if [ $i = 263 ]; then echo "tick $i: the code is $code"; else echo "tick $i: nothing to report"; fi; done; exec sleep 86400'
