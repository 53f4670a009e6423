docker run -d --name shop-1 --health-cmd 'true' --health-interval 5s shop:1
docker run -d --name shop-2 --health-cmd 'true' --health-interval 5s shop:2
for i in $(seq 60); do [ "$(docker inspect -f '{{.State.Health.Status}}' shop-1)" != starting ] && break; sleep 1; done
