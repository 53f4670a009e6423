# Write the page, then let httpd take the shell's place as PID 1.
docker run -d --name web -p 8080:8080 busybox:1.35 sh -c 'mkdir -p /www && echo "Hello from my console" > /www/index.html && exec httpd -f -p 8080 -h /www'
curl -sS --retry 10 --retry-connrefused --retry-delay 1 http://localhost:8080/
