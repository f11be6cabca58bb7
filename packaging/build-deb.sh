#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Debian package of sched-utils from this source tree with dpkg-buildpackage, in a
# scratch copy of the tree (packaging/debian becomes its debian/), and leaves the .deb in OUT_DIR
# (default packaging/out/) with the build's log, build.log. The source tree is not written to.
#
#   packaging/build-deb.sh [--lintian] [OUT_DIR]
#
# --lintian   also run lintian on the .deb; fail on any error-level tag.
# DEB_BUILD_OPTIONS is passed through: nocheck skips the unit tests, parallel=N sets the jobs
# (default: parallel=2).
# Exit 77 when the Debian build tools are missing (scripts/deps.sh test installs them).
set -euo pipefail

lintian=0
if [ "${1:-}" = "--lintian" ]; then
        lintian=1
        shift
fi
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/packaging/out}
# Whatever happens below, no stale package is left to be taken for this build's.
mkdir -p "$out"
rm -f "$out"/sched-utils_*.deb "$out"/sched-utils-dbgsym_*.*deb "$out"/sched-utils_*.buildinfo \
        "$out"/sched-utils_*.changes "$out/build.log"

for tool in dpkg-buildpackage dh fakeroot; do
        if ! command -v "$tool" >/dev/null; then
                echo "SKIP: $tool not found (scripts/deps.sh test installs debhelper, dpkg-dev, fakeroot)"
                exit 77
        fi
done
if [ $lintian -eq 1 ] && ! command -v lintian >/dev/null; then
        echo "SKIP: lintian not found (scripts/deps.sh test installs it)"
        exit 77
fi

# The changelog names the package version; it must be the project's.
project_version=$(sed -nE 's/^project\(sched-utils VERSION ([0-9.]+).*/\1/p' "$src/CMakeLists.txt")
deb_version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
if [ "${deb_version%%-*}" != "$project_version" ]; then
        echo "FAIL: packaging/debian/changelog has version $deb_version, CMakeLists.txt $project_version" >&2
        exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sched-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/sched-utils"

# The tree as git sees it (tracked and new files, without what .gitignore names: build dirs,
# packaging/out), or everything but build dirs outside a git checkout.
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$src" && git ls-files -z --cached --others --exclude-standard |
                grep -zv '^packaging/debian/' |
                xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
                tar -c --null -T - -f -) | tar -x -C "$work/sched-utils"
else
        tar -c -C "$src" --exclude='./build*' --exclude=./packaging/out --exclude=./packaging/debian \
                --exclude=./.git -f - . | tar -x -C "$work/sched-utils"
fi
cp -r "$src/packaging/debian" "$work/sched-utils/debian"

export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=2}
echo "Building sched-utils $deb_version in $work (DEB_BUILD_OPTIONS=$DEB_BUILD_OPTIONS)"
(cd "$work/sched-utils" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
        tail -n 60 "$work/build.log"
        echo "FAIL: dpkg-buildpackage failed (the last 60 lines of its log are above)" >&2
        exit 1
}

cp "$work/build.log" "$out/build.log"
cp "$work"/sched-utils_*.deb "$work"/sched-utils_*.buildinfo "$work"/sched-utils_*.changes "$out"/
cp "$work"/sched-utils-dbgsym_*.*deb "$out"/ 2>/dev/null || true
deb=$(ls "$out"/sched-utils_*.deb)
echo "Built $deb"
dpkg-deb -f "$deb" Package Version Architecture Depends

if [ $lintian -eq 1 ]; then
        echo "lintian:"
        status=0
        lintian --fail-on error --display-info "$deb" || status=$?
        [ $status -eq 0 ] || { echo "FAIL: lintian reports errors" >&2; exit 1; }
        echo "lintian: no error"
fi
