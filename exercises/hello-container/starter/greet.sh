echo "Hello from ${WHERE:-layerlab}!"
