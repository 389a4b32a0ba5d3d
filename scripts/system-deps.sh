#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when missing. Installs only as root (as CI runs);
# otherwise prints the command to run. Add a package here when a test starts to need one.
set -euo pipefail
# command-to-check:debian-package
needed=(chromium:chromium)
missing=()
for pair in "${needed[@]}"; do
  cmd=${pair%%:*}; pkg=${pair##*:}
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "Installing system packages: ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
  echo "Missing system packages: ${missing[*]}; the tests that need them will be skipped. Install them with:"
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
fi
