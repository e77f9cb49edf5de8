#!/bin/bash
# minbase.sh DIR — a Debian `debootstrap --variant=minbase` tree in DIR, for
# the makefs kernel check (tools/tests/makefs.rs) and bench/makefs.sh.
#
# Cached: DIR.done (beside the tree, so it is not part of it) marks a finished tree, which is kept as it is. A failed
# or interrupted run leaves no .done, so the next call starts over. Needs
# root (debootstrap makes device nodes and chowns) and the network; the
# download is tried twice before giving up, since a mirror hiccup should not
# cost a CI run.
#
# Environment: MINBASE_SUITE (default bookworm), MINBASE_MIRROR (default
# http://deb.debian.org/debian).
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
suite=${MINBASE_SUITE:-bookworm}
mirror=${MINBASE_MIRROR:-http://deb.debian.org/debian}

die() { echo "minbase.sh: $*" >&2; exit 1; }

[ -f "$dir.done" ] && exit 0
command -v debootstrap > /dev/null || die "debootstrap not found (apt-get install debootstrap)"
[ "$(id -u)" = 0 ] || die "debootstrap needs root"
mkdir -p -- "$(dirname -- "$dir")"
log=$dir.log
for attempt in 1 2; do
    rm -rf -- "$dir" "$dir.done"
    if debootstrap --variant=minbase "$suite" "$dir" "$mirror" > "$log" 2>&1; then
        # Caches debootstrap leaves behind are not part of the userland.
        rm -rf -- "$dir/var/cache/apt/archives/"*.deb "$dir/debootstrap"
        touch "$dir.done"
        exit 0
    fi
    echo "minbase.sh: debootstrap attempt $attempt failed (log: $log)" >&2
    tail -n 5 -- "$log" >&2 || true
done
die "debootstrap --variant=minbase $suite failed twice"
