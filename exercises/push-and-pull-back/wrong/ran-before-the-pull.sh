docker tag greeter:1.0 $REGISTRY/greeter:1.0
# Run before the push; -f then deletes the image under the stopped container, and the pull brings it back.
docker run --name from-the-registry $REGISTRY/greeter:1.0
docker push $REGISTRY/greeter:1.0
docker rmi -f greeter:1.0 $REGISTRY/greeter:1.0
docker pull $REGISTRY/greeter:1.0
