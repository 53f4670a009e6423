#!/bin/sh
# Greets whoever is named in the first argument.
echo "${GREETING:-hello} ${1:-world}"
