# layered: busybox's one layer, then 2 to 6 RUN steps (drawn for this learner) among steps that only change settings.
docker rmi -f layered >/dev/null 2>&1 || true
n=$(( $(od -An -N1 -tu1 /dev/urandom) % 5 + 2 )); { echo 'FROM busybox:1.35'; echo 'ENV STAGE=counting'; for i in $(seq "$n"); do echo "RUN echo $i > /step-$i"; echo "LABEL step-$i=done"; done; echo 'CMD ["sh"]'; } | docker build -q -t layered - >/dev/null
