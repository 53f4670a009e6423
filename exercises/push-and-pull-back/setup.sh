# greeter:1.0: a small image of the learner's own, with one layer of its own on busybox's.
docker rm -f from-the-registry >/dev/null 2>&1 || true
docker rmi -f greeter:1.0 $REGISTRY/greeter:1.0 >/dev/null 2>&1 || true
printf 'FROM busybox:1.35\nRUN echo "Hello from greeter 1.0" > /greeting\nCMD ["cat", "/greeting"]\n' | docker build -q -t greeter:1.0 - >/dev/null
