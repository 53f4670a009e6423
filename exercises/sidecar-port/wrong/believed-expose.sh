docker image inspect --format '{{json .Config.ExposedPorts}}' quiet
