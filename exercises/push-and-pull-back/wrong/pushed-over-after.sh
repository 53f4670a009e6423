docker tag greeter:1.0 $REGISTRY/greeter:1.0
docker push $REGISTRY/greeter:1.0
docker rmi greeter:1.0 $REGISTRY/greeter:1.0
docker pull $REGISTRY/greeter:1.0
docker run --name from-the-registry $REGISTRY/greeter:1.0
# Another image pushed under the same tag afterwards: what the registry holds now was never pulled back.
printf 'FROM busybox:1.35\nRUN echo "Hello from greeter 1.0" > /greeting && echo again > /again\nCMD ["cat", "/greeting"]\n' | docker build -q -t greeter:again -
docker tag greeter:again $REGISTRY/greeter:1.0
docker push $REGISTRY/greeter:1.0
