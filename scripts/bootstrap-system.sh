#!/usr/bin/env bash
# Install Debian's Chromium and CJK fonts, only when missing. Idempotent and quick when done.
set -euo pipefail
chromium=${1:-/usr/bin/chromium}
need=()
[ -x "$chromium" ] || need+=(chromium)
if command -v dpkg >/dev/null 2>&1; then
  dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
fi
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Please install ${need[*]} with your system's package manager," >&2
  echo "or point HOTLINE_AUDIT_BROWSER__EXECUTABLE at a Chromium binary." >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "Installing Debian packages: ${need[*]} …"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
