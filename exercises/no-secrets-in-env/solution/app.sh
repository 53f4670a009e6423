#!/bin/sh
# Reads its settings from the environment.
echo "mode=${APP_MODE:-unset} region=${APP_REGION:-unset}"
if [ -n "$API_TOKEN" ]; then echo "token provided"; else echo "no token: pass one with docker run -e API_TOKEN=..."; fi
