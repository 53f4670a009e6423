docker rm -f chatty
docker run -d --name chatty busybox:1.35 sh -c 'echo "tick 1: the code is 111111"; exec sleep 600'
sleep 1
