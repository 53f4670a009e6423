docker run -d --name web -p 8080:8080 busybox:1.35 sh -c 'mkdir -p /www && echo "Hello from my console" > /www/index.html && httpd -p 8080 -h /www && sleep 3600'
docker run -d --name beside busybox:1.35 httpd -f -p 9090
curl -sS --retry 10 --retry-connrefused --retry-delay 1 http://localhost:8080/
