# A second name, in the namespace, for the same image; then the push.
docker tag greeter:1.0 $REGISTRY/greeter:1.0
docker push $REGISTRY/greeter:1.0
# Both names gone: the engine holds no copy of the image any more.
docker rmi greeter:1.0 $REGISTRY/greeter:1.0
docker pull $REGISTRY/greeter:1.0
docker run --name from-the-registry $REGISTRY/greeter:1.0
