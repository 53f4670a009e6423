echo "my-app devel build: ready"
