docker run --rm --pid=container:quiet --net=container:quiet busybox:1.35 sh -c 'netstat -ltnp; ps'
