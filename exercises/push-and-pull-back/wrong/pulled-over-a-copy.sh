docker tag greeter:1.0 $REGISTRY/greeter:1.0
docker push $REGISTRY/greeter:1.0
# Only the registry name goes: greeter:1.0 still holds the image, so the pull fetches nothing.
docker rmi $REGISTRY/greeter:1.0
docker pull $REGISTRY/greeter:1.0
docker run --name from-the-registry $REGISTRY/greeter:1.0
