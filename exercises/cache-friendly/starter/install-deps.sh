#!/bin/sh
# Stands in for a slow dependency install: "fetches" each listed package.
mkdir -p /opt/deps
while read -r name version; do
  sleep 1
  echo "$name $version" > "/opt/deps/$name"
  echo "installed $name $version"
done < "$1"
