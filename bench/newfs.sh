#!/bin/bash
# bench/newfs.sh [UFS_BINARY]
#
# Times `ufs newfs` (UFS2 and UFS1) against `mkfs.ext4 -q` and `mkfs.xfs -q`
# on fresh sparse files of 1 TiB and 64 GiB, and prints a markdown table:
# wall time and peak RSS (from /usr/bin/time -v) and the bytes the image
# really allocates (du -B1). Each run gets a new sparse file, so every tool
# starts from the same state. Needs about 1 GiB of free space in $TMPDIR
# (mkfs.ext4 allocates its tables); set BENCH_DIR to put the files elsewhere.
#
# UFS_BINARY defaults to target/release/ufs (build with
# `cargo build --release -p ufskit-tools`).
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
ufs=${1:-${CARGO_TARGET_DIR:-$here/../target}/release/ufs}
[ -x "$ufs" ] || { echo "newfs.sh: $ufs not found; build it first" >&2; exit 1; }
dir=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/newfs-bench.XXXXXX")
trap 'rm -rf -- "$dir"' EXIT
timer=/usr/bin/time
[ -x "$timer" ] || { echo "newfs.sh: /usr/bin/time (GNU time) is needed" >&2; exit 1; }

# one LABEL SIZE CMD... : runs CMD on a new sparse file $dir/img of SIZE.
one() {
    local label=$1 size=$2
    shift 2
    rm -f -- "$dir/img"
    truncate -s "$size" "$dir/img"
    if ! "$timer" -v -o "$dir/time" "$@" "$dir/img" >/dev/null 2>"$dir/err"; then
        printf '| %s | %s | failed: %s | | |\n' "$label" "$size" "$(head -n1 "$dir/err")"
        return
    fi
    local wall rss alloc
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time")
    alloc=$(du -B1 -- "$dir/img" | cut -f1)
    # m:ss.ss -> seconds
    wall=$(awk -v t="$wall" 'BEGIN { n = split(t, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }')
    printf '| %s | %s | %s | %s | %.1f |\n' "$label" "$size" "$wall" "$rss" \
        "$(awk -v b="$alloc" 'BEGIN { printf "%.1f", b / 1048576 }')"
}

echo "| tool | size | wall (s) | peak RSS (KiB) | allocated (MiB) |"
echo "|---|---|---|---|---|"
for size in 1T 64G; do
    # --force: the file is new, but be explicit that no refusal is wanted.
    one "ufs newfs -O2" "$size" "$ufs" newfs -O2 --force
    one "ufs newfs -O1" "$size" "$ufs" newfs -O1 --force
    if command -v mkfs.ext4 >/dev/null; then
        one "mkfs.ext4 -q" "$size" mkfs.ext4 -q -F
    fi
    if command -v mkfs.xfs >/dev/null; then
        one "mkfs.xfs -q" "$size" mkfs.xfs -q -f
    fi
done
