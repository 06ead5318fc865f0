#!/bin/sh
# Installs the npm dependencies (including the pinned Node 24) when they are missing or older than the lockfile.
set -e
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "skein: installing npm dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund >&2
fi
