docker logs chatty | grep code
