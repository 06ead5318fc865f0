#!/bin/sh
# Installs the host tools the local cluster's node agent uses (iproute2, util-linux, iptables) when they are missing; idempotent.
set -e
missing=""
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v unshare >/dev/null 2>&1 || missing="$missing util-linux"
command -v setpriv >/dev/null 2>&1 || missing="$missing util-linux"
command -v nsenter >/dev/null 2>&1 || missing="$missing util-linux"
command -v iptables >/dev/null 2>&1 || missing="$missing iptables"
if [ -n "$missing" ]; then
  echo "skein: installing host tools:$missing" >&2
  if [ "$(id -u)" -ne 0 ]; then echo "skein: run as root to install$missing" >&2; exit 1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y $missing >&2 || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y $missing >&2; }
fi
