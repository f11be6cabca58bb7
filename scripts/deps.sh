#!/usr/bin/env bash
# Installs the Debian 12 packages sched-utils needs, only those missing. Idempotent.
#   scripts/deps.sh build   what building and running needs
#   scripts/deps.sh test    that plus what the whole test suite needs (default)
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config
            libsystemd-dev libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libjansson-dev
            libssl-dev)
test_pkgs=(libcmocka-dev clang libclang-rt-14-dev valgrind procps iproute2 python3 python3-websockets openssl
           systemd systemd-container dbus polkitd debhelper dpkg-dev fakeroot lintian
           chromium chromium-driver python3-selenium prometheus)

case "${1:-test}" in
    build) want=("${build_pkgs[@]}") ;;
    test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    *) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then
        exec sudo "$0" "$@"
    fi
    echo "$0: need root to install: ${missing[*]}" >&2
    exit 1
fi

echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
