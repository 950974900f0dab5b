#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/debian-packages.txt (or in the list file given as
# the only argument, e.g. scripts/pi-packages.txt) that are missing.
# As root it installs them; otherwise it prints the exact command to run and fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
list="${1:-$here/debian-packages.txt}"

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "not a Debian system: install the equivalents of: $(grep -v '^#' "$list" | xargs)" >&2
  exit 1
fi

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done < "$list"

((${#missing[@]} == 0)) && exit 0

if [[ "$(id -u)" -ne 0 ]]; then
  echo "missing Debian packages: ${missing[*]}" >&2
  echo "run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
