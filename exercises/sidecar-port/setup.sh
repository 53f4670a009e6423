# quiet: busybox alone on scratch (no shell on the PATH), EXPOSE 8080, listening on a port drawn for this learner.
docker rm -f quiet >/dev/null 2>&1 || true
port=$(( $(od -An -N2 -tu2 /dev/urandom) % 20000 + 20000 )); printf 'FROM busybox:1.35 AS tools\nRUN echo %s > /port\nFROM scratch\nCOPY --from=tools /bin/busybox /busybox\nCOPY --from=tools /port /port\nEXPOSE 8080\nENTRYPOINT ["/busybox", "sh", "-c", "exec /busybox httpd -f -p $(/busybox cat /port) -h /"]\n' "$port" | docker build -q -t quiet - >/dev/null
docker run -d --name quiet quiet >/dev/null
