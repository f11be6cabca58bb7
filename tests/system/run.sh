#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The system test: boots a real systemd in a container over an overlay of this machine's own root,
# with sched-utils installed, and runs tests/system/scenario.sh there (the use cases of DESIGN.md
# with systemctl and journalctl).
#
#   tests/system/run.sh [--deb-dir DIR | --deb FILE] [--build-dir DIR]
#
# With a .deb (the newest sched-utils_*.deb of --deb-dir, or --deb) the scenario installs it with
# dpkg inside the booted container, upgrades it to the same files with a higher version (made here
# with dpkg-deb) and purges it at the end; otherwise `cmake --install` of --build-dir goes into the
# overlay first.
#
# Everything lives in a tmpfs: the overlay's upper and work directories, hence every write of the
# container; the host's root is only read. The source and build trees, /tmp and the host's enabled
# units are hidden from the container. The mounts go away on every exit (trap), and the test fails
# if any is left. Exit 77 (skip) when not root or without systemd-nspawn.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
deb= build=
while [ $# -gt 0 ]; do
        case $1 in
        --deb) deb=$2; shift 2 ;;
        --deb-dir) deb=$(ls -t "$2"/sched-utils_*.deb 2>/dev/null | head -n 1 || true); shift 2 ;;
        --build-dir) build=$(cd "$2" && pwd); shift 2 ;;
        *) echo "usage: $0 [--deb-dir DIR | --deb FILE] [--build-dir DIR]" >&2; exit 2 ;;
        esac
done

if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: the system test needs root (mounts, systemd-nspawn)"
        exit 77
fi
if ! command -v systemd-nspawn >/dev/null; then
        echo "SKIP: systemd-nspawn not found (apt-get install systemd-container)"
        exit 77
fi
if [ -z "$deb" ] && [ -z "$build" ]; then
        echo "FAIL: nothing to install: no .deb found and no --build-dir" >&2
        exit 1
fi

start=$EPOCHREALTIME
tmp=$(mktemp -d /tmp/sched-systest.XXXXXX)
root=$tmp/root
# Where /run is no tmpfs (no systemd on this machine), nspawn's bookkeeping directories would stay.
run_dirs=()
for d in /run/mount /run/systemd/nspawn/propagate /run/systemd/nspawn/locks /run/systemd/nspawn; do
        [ -e "$d" ] || run_dirs+=("$d")
done

cleanup() {
        local status=$?
        # nspawn has its own mount namespace: only our two mounts can be left here.
        if mountpoint -q "$root"; then
                # nspawn's lock file for this image (named after its device and inode) stays behind.
                rm -f "/run/systemd/nspawn/locks/$(stat -c 'inode-%d:%i' "$root")"
                umount "$root"
        fi
        mountpoint -q "$tmp" && umount "$tmp"
        if findmnt -rn -o TARGET | grep -q "^$tmp"; then
                echo "FAIL: mounts left under $tmp:" >&2
                findmnt -rn -o TARGET | grep "^$tmp" >&2
                status=1
        else
                rmdir "$tmp"
        fi
        for d in "${run_dirs[@]}"; do rmdir "$d" 2>/dev/null || true; done
        awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "system test: %.1f s in all\n", b - a }'
        exit $status
}
# On SIGINT/SIGTERM, nspawn (if running) powers the container off; the EXIT trap then cleans up.
nspawn_pid=
on_signal() {
        echo "system test: interrupted"
        if [ -n "$nspawn_pid" ] && kill -TERM "$nspawn_pid" 2>/dev/null; then
                for _ in $(seq 40); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.5; done
                kill -KILL $(pgrep -P "$nspawn_pid") "$nspawn_pid" 2>/dev/null || true
                wait "$nspawn_pid" 2>/dev/null || true
        fi
        exit 130
}
trap cleanup EXIT
trap on_signal INT TERM

mount -t tmpfs -o size=2G,mode=0755 sched-systest "$tmp"
mkdir "$tmp/upper" "$tmp/work" "$root"
mount -t overlay sched-systest -o "lowerdir=/,upperdir=$tmp/upper,workdir=$tmp/work" "$root"

# The container boots what Debian enables by itself plus sched-utils: not the host's own choice of
# services (a database, apt timers, gettys), which would only slow the boot down or fail in it.
find "$root/etc/systemd/system" -mindepth 2 -maxdepth 2 -path '*.wants/*' -type l -delete
# Build machines often deny service starts from maintainer scripts (policy-rc.d); a real system, the
# one under test here, does not. Nor does it need man-db's index refreshed after each dpkg call.
rm -f "$root/usr/sbin/policy-rc.d" "$root/var/lib/man-db/auto-update"
mkdir -p "$root/sched-systest/pkg"
cp "$here/scenario.sh" "$root/sched-systest/"
cp "$here/sched-systest.service" "$root/etc/systemd/system/"
if [ -n "$deb" ]; then
        echo "system test: installing $deb inside the container"
        cp "$deb" "$root/sched-systest/pkg/"
        # The upgrade that the scenario installs over it: the same files under a higher version,
        # repacked here, so that dpkg replaces each of them (a new inode) as a real upgrade does.
        version=$(dpkg-deb -f "$deb" Version)+systest1
        mkdir "$root/sched-systest/upgrade"
        dpkg-deb -R "$deb" "$tmp/repack"
        sed -i "s/^Version: .*/Version: $version/" "$tmp/repack/DEBIAN/control"
        dpkg-deb --root-owner-group -Zgzip -b "$tmp/repack" "$root/sched-systest/upgrade/" >/dev/null
        rm -rf "$tmp/repack"
        echo "system test: and upgrading it to $version"
        echo MODE=deb >"$root/sched-systest/config"
else
        echo "system test: no .deb, cmake --install $build into the container's root"
        DESTDIR=$root cmake --install "$build" --prefix /usr >/dev/null
        systemctl --root="$root" enable sched-bus.socket 2>/dev/null
        echo MODE=installed >"$root/sched-systest/config"
fi

hide=(--tmpfs=/tmp --tmpfs="$src")
[ -n "$build" ] && [ "${build#"$src"/}" = "$build" ] && hide+=(--tmpfs="$build")
# --register=no --keep-unit --link-journal=no: this machine runs no systemd to register with. In the
# background, so that a signal reaches on_signal without waiting for the container.
status=0
timeout -k 10 200 systemd-nspawn -q -D "$root" --machine="sched-systest-${tmp##*.}" --boot --private-network \
        --register=no --keep-unit --link-journal=no --console=pipe "${hide[@]}" \
        -- systemd.unit=multi-user.target systemd.wants=sched-systest.service systemd.show_status=no \
        </dev/null &
nspawn_pid=$!
wait "$nspawn_pid" || status=$?
nspawn_pid=
[ $status -eq 0 ] || echo "system test: systemd-nspawn exited with status $status"

cat "$tmp/upper/sched-systest/log" 2>/dev/null || echo "system test: the scenario left no log"
result=$(cat "$tmp/upper/sched-systest/result" 2>/dev/null || echo "no result")
if [ "$result" != PASS ]; then
        echo "---- container journal (last 150 lines) ----"
        tail -n 150 "$tmp/upper/sched-systest/journal.txt" 2>/dev/null || echo "(no journal)"
        echo "FAIL: system test: $result"
        exit 1
fi
echo "PASS: system test"
