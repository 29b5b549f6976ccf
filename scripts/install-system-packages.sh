#!/usr/bin/env bash
# Installs the Debian packages xeonsweep measures with: the tcmalloc and jemalloc
# allocators (preloaded into runs), numactl (run_cpu's core binding) and a C++
# compiler (torch.compile's inductor builds C++ at run time). With --test, also Debian's
# chromium and its driver: the report page's test loads it in a real headless browser.
# Needs root; a non-root user gets the command to run instead.
set -euo pipefail

packages=(libtcmalloc-minimal4 libjemalloc2 numactl g++)
[ "${1:-}" = "--test" ] && packages+=(chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "xeonsweep: missing system packages: ${missing[*]}" >&2
  echo "xeonsweep: run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "xeonsweep: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
