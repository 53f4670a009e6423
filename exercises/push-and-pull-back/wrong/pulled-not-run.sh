docker tag greeter:1.0 $REGISTRY/greeter:1.0
docker push $REGISTRY/greeter:1.0
docker rmi greeter:1.0 $REGISTRY/greeter:1.0
docker pull $REGISTRY/greeter:1.0
