printf 'FROM busybox:1.35\nENV GREETING=Hello\nCMD echo "Hej from the greeter"\n' | docker build -t greeter -
docker run --name hej greeter
