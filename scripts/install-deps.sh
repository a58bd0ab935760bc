#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12: the Debian packages listed in
# scripts/debian-packages.txt (only the missing ones) and the npm packages from the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t wanted < <(grep -v '^\s*#' scripts/debian-packages.txt | awk 'NF {print $1}')
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Services in these packages must not start on the host: the tests start their own.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  rm -f /usr/sbin/policy-rc.d
fi

# The PAM and Kerberos bindings are optional dependencies: they build only where libpam0g-dev and
# libkrb5-dev are installed (above). A tree installed before those needs a fresh install.
natives_ok() { node -e "require('kerberos'); require('node-linux-pam')" >/dev/null 2>&1; }
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || ! natives_ok; then
  npm ci --no-audit --no-fund
else
  npm run build --silent
fi
