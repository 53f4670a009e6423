docker tag greeter:1.0 $REGISTRY/greeter:1.0
docker run --name from-the-registry $REGISTRY/greeter:1.0
