#!/usr/bin/env bash
# Builds the HTTP/2 judges (h2spec, grpc-go's interop client and server) from the Go module proxy, cached by version outside the repo.
#
# Usage: test/support/build-h2-tools.sh [--print-paths]   prints: h2spec, interop client, interop server (one per line)
# Env:   SKEIN_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/skein), H2SPEC_VERSION, GRPC_GO_VERSION.
# A cache hit returns at once; the cold build takes a few minutes on 2 cores.
set -euo pipefail

H2SPEC_VERSION="${H2SPEC_VERSION:-v2.2.1+incompatible}"
GRPC_GO_VERSION="${GRPC_GO_VERSION:-v1.78.0}"
cache="${SKEIN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/skein}/tools"
h2spec="$cache/h2spec/$H2SPEC_VERSION/h2spec"
client="$cache/grpc-interop/$GRPC_GO_VERSION/client/client"
server="$cache/grpc-interop/$GRPC_GO_VERSION/server/server"

if [ "${1:-}" = "--print-paths" ]; then
  printf '%s\n%s\n%s\n' "$h2spec" "$client" "$server"
  exit 0
fi

say() { printf '[build-h2-tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
command -v go >/dev/null || { say "error: the Go toolchain is required (go on PATH)"; exit 1; }

export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GIT_TERMINAL_PROMPT=0

mkdir -p "$cache"
exec 9>"$cache/.build-h2.lock"
flock 9

install() { # dir package@version
  local dir="$1" pkg="$2"
  mkdir -p "$dir"
  say "go install $pkg"
  GOBIN="$dir" go install -p "${SKEIN_BUILD_PARALLEL:-2}" "$pkg"
}

[ -x "$h2spec" ] || install "$(dirname "$h2spec")" "github.com/summerwind/h2spec/cmd/h2spec@$H2SPEC_VERSION"
[ -x "$client" ] || install "$(dirname "$client")" "google.golang.org/grpc/interop/client@$GRPC_GO_VERSION"
[ -x "$server" ] || install "$(dirname "$server")" "google.golang.org/grpc/interop/server@$GRPC_GO_VERSION"
printf '%s\n%s\n%s\n' "$h2spec" "$client" "$server"
