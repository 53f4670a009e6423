docker run -d --name shop-1 --health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/' --health-interval 5s --health-retries 1 shop:1
docker run -d --name shop-2 --health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/' --health-interval 5s --health-retries 1 shop:2
for i in $(seq 60); do [ "$(docker inspect -f '{{.State.Health.Status}}' shop-1)" != starting ] && [ "$(docker inspect -f '{{.State.Health.Status}}' shop-2)" != starting ] && break; sleep 1; done
