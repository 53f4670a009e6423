echo "Hello from layerlab!"
