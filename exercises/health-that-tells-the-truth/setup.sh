# shop:1 serves its home page but has no /health page; shop:2 has both. Neither declares a HEALTHCHECK.
docker rm -f shop-1 shop-2 >/dev/null 2>&1 || true
printf 'FROM busybox:1.35\nRUN mkdir /www && echo "The shop" > /www/index.html\nEXPOSE 8080\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n' | docker build -q -t shop:1 - >/dev/null
printf 'FROM busybox:1.35\nRUN mkdir /www && echo "The shop" > /www/index.html && echo ok > /www/health\nEXPOSE 8080\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n' | docker build -q -t shop:2 - >/dev/null
