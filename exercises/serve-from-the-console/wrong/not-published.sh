docker run -d --name web busybox:1.35 sh -c 'mkdir -p /www && echo "Hello from my console" > /www/index.html && exec httpd -f -p 8080 -h /www'
sleep 1
