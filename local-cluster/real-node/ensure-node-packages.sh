#!/bin/sh
# Installs the real node's runtime from Debian when missing: containerd, runc, the CNI plugins, iptables and conntrack; idempotent.
# Prints what it installs and apt's progress to stderr. Installing never starts a system containerd (and ours has its own socket).
set -e
missing=""
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_cmd containerd || missing="$missing containerd"
have_cmd runc || missing="$missing runc"
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/portmap ] && [ -x /usr/lib/cni/loopback ] ||
  missing="$missing containernetworking-plugins"
have_cmd iptables || missing="$missing iptables"
have_cmd conntrack || missing="$missing conntrack"
have_cmd ip || missing="$missing iproute2"
if [ -z "$missing" ]; then exit 0; fi
echo "skein: installing the real node's packages:$missing (apt-get; about a minute)" >&2
if [ "$(id -u)" -ne 0 ]; then echo "skein: run as root to install$missing" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
# A package's post-install script must not start containerd as a service: we run our own, on our own socket.
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
fi
trap '[ -n "$made_policy" ] && rm -f "$policy"' EXIT
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends -o Dpkg::Progress-Fancy=0 $missing >&2 ||
  { apt-get update >&2 && apt-get install -y --no-install-recommends -o Dpkg::Progress-Fancy=0 $missing >&2; }
echo "skein: installed$missing" >&2
