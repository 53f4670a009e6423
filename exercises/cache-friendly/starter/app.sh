#!/bin/sh
echo "app using $(ls /opt/deps | wc -l) packages"
