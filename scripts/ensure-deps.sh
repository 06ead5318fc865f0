#!/bin/sh
# Installs the npm dependencies (including the pinned Node 24) when they are missing or older than the lockfile.
set -e
cd "$(dirname "$0")/.."
if [ -L node_modules ]; then
  # A checkout that shares another one's install through a link (a git worktree): never reinstall through it. `npm ci`
  # empties the linked folder for every checkout that uses it and puts its own install in place of the link.
  [ -x node_modules/.bin/node ] || { echo "skein: node_modules links to $(readlink node_modules), which has no install; run npm ci there" >&2; exit 1; }
elif [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "skein: installing npm dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund >&2
fi
# The plain-JS copy that `skein proxy` and `skein injector` run from (bin/skein.mjs rebuilds it when stale; best effort).
node_modules/.bin/node scripts/build-js.ts >/dev/null 2>&1 || echo "skein: build:js failed; the pod commands will run from the TypeScript sources" >&2
