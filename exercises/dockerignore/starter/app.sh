#!/bin/sh
. ./lib/banner.sh
banner
