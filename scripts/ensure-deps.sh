#!/bin/sh
# Installs the npm dependencies (including the pinned Node 24) when they are missing or the lockfile changed.
set -e
cd "$(dirname "$0")/.."
# Stale means the lockfile's content changed since the last install (a checkout that only touched its mtime, e.g. a merge,
# reinstalls nothing); the mtime test remains only for installs made before the hash was recorded.
want=$(sha256sum package-lock.json | cut -d' ' -f1)
have=$(cat node_modules/.skein-lock.sha256 2>/dev/null || true)
stale=no
if [ -L node_modules ]; then
  # A checkout that shares another one's install through a link (a git worktree): never reinstall through it. `npm ci`
  # empties the linked folder for every checkout that uses it and puts its own install in place of the link.
  [ -x node_modules/.bin/node ] || { echo "skein: node_modules links to $(readlink node_modules), which has no install; run npm ci there" >&2; exit 1; }
elif [ ! -x node_modules/.bin/node ] || [ ! -f node_modules/.package-lock.json ]; then stale=yes
elif [ -n "$have" ]; then [ "$have" = "$want" ] || stale=yes
elif [ package-lock.json -nt node_modules/.package-lock.json ]; then stale=yes
fi
if [ "$stale" = yes ]; then
  echo "skein: installing npm dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund >&2
fi
[ -L node_modules ] || echo "$want" > node_modules/.skein-lock.sha256
# The plain-JS copy that `skein proxy` and `skein injector` run from (bin/skein.mjs rebuilds it when stale; best effort).
node_modules/.bin/node scripts/build-js.ts >/dev/null 2>&1 || echo "skein: build:js failed; the pod commands will run from the TypeScript sources" >&2
