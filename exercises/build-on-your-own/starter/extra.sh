echo "extra tools: ready"
