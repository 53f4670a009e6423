docker run -d --name shop-1 shop:1
docker run -d --name shop-2 shop:2
