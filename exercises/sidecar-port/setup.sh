# quiet: busybox alone on scratch (no shell on the PATH), EXPOSE 8080, listening on a port drawn for this learner;
# a second after it starts, the binary and the port's file are gone: nothing is left in it to exec.
docker rm -f quiet >/dev/null 2>&1 || true
port=$(( $(od -An -N2 -tu2 /dev/urandom) % 20000 + 20000 )); printf 'FROM busybox:1.35 AS tools\nRUN echo %s > /port\nFROM scratch\nCOPY --from=tools /bin/busybox /busybox\nCOPY --from=tools /port /port\nEXPOSE 8080\nENTRYPOINT ["/busybox", "sh", "-c", "port=$(/busybox cat /port); (/busybox sleep 1; /busybox rm -f /busybox /port) & exec /busybox httpd -f -p $port -h /"]\n' "$port" | docker build -q -t quiet - >/dev/null
docker run -d --name quiet quiet >/dev/null
