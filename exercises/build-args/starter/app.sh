#!/bin/sh
# Says which release it is, from the environment.
echo "inventory service, release ${APP_RELEASE:-unknown}"
