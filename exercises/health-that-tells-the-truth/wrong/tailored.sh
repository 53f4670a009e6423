# A check written for each answer: false for the old one, true for the new one.
docker run -d --name shop-1 --health-cmd 'false' --health-interval 5s --health-retries 1 shop:1
docker run -d --name shop-2 --health-cmd 'true' --health-interval 5s shop:2
for i in $(seq 60); do [ "$(docker inspect -f '{{.State.Health.Status}}' shop-1)" = unhealthy ] && [ "$(docker inspect -f '{{.State.Health.Status}}' shop-2)" = healthy ] && break; sleep 1; done
