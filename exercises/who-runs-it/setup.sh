# svc runs as a uid drawn for this learner (10000 to 59999), not named in its image.
docker rm -f svc >/dev/null 2>&1 || true
docker run -d --name svc --user "$(( $(od -An -N2 -tu2 /dev/urandom) % 50000 + 10000 ))" busybox:1.35 sleep 86400
