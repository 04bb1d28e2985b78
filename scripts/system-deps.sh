#!/usr/bin/env bash
# Install the Debian packages the tests use (.ci/apt-packages.txt) when they are missing.
# As root with apt-get: installs them. Otherwise: prints what is missing; the tests that need them skip.
set -euo pipefail

list="$(dirname "$0")/../.ci/apt-packages.txt"
[ -f "$list" ] || exit 0

missing=()
while read -r line; do
    pkg="${line%%#*}"
    pkg="$(echo "$pkg" | xargs)"
    [ -n "$pkg" ] || continue
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done < "$list"

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Try with the current package lists first; refresh them only if that fails (saves a minute).
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
            || echo "system-deps: warning: could not install ${missing[*]}; tests needing them will skip" >&2
    fi
else
    echo "system-deps: missing ${missing[*]} (install: sudo apt-get install ${missing[*]}); tests needing them will skip" >&2
fi
