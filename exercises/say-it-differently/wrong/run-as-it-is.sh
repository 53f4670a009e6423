printf 'FROM busybox:1.35\nENV GREETING=Hello\nCMD echo "$GREETING from the greeter"\n' | docker build -t greeter -
docker run --name hello greeter
