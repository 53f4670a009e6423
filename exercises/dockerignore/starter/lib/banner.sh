banner() {
  echo "app running with ${API_TOKEN:-no token}"
}
