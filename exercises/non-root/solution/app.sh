#!/bin/sh
echo "running as uid $(id -u) in $(pwd)"
