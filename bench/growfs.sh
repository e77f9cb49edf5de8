#!/bin/bash
# bench/growfs.sh [UFS_BINARY]
#
# Grows a FreeBSD-made 64 MiB UFS2 image (newfs -O2 defaults) to a 1 TiB
# sparse file with FreeBSD 12.1's growfs (the oracle pack) and with
# `ufs growfs -y --no-undo`, in the same run, and prints per tool: wall
# time, the bytes its write/pwrite calls wrote (strace, a separate run),
# the bytes the image file allocated (du -B1), and whether the two dumpfs
# outputs agree (times and ids aside). Needs strace and ~8 GiB free in
# $TMPDIR (FreeBSD's growfs writes random di_gen into two inode blocks of
# every group).
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
ufs=${1:-${CARGO_TARGET_DIR:-$here/../target}/release/ufs}
bin=${UFS_FREEBSD_BIN:-$here/../../shared/oracles/freebsd-12.1/bin}
[ -x "$ufs" ] || { echo "growfs.sh: $ufs not found; build it first" >&2; exit 1; }
[ -x "$bin/growfs" ] || { echo "growfs.sh: no FreeBSD growfs in $bin" >&2; exit 1; }
dir=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/growfs-bench.XXXXXX")
trap 'rm -rf -- "$dir"' EXIT
export TZ=UTC LC_ALL=C
cd "$dir"
truncate -s 64m base.img
"$bin/newfs" -O2 ./base.img >/dev/null
fresh() { rm -f "$1"; cp --sparse=always base.img "$1"; truncate -s 1t "$1"; }
alloc() { du -B1 "$1" | cut -f1; }
written() { awk '{n = split($0, a, "= "); s += a[n]} END {print s + 0}' "$1"; }
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
base=$(alloc base.img)
echo "| tool | wall (s) | written (MiB) | allocated (MiB) |"
echo "|---|---|---|---|"
for tool in freebsd ufs; do
    if [ $tool = freebsd ]; then cmd=("$bin/growfs" -y); else cmd=("$ufs" growfs -y --no-undo); fi
    fresh t.img
    strace -f -qq -e trace=write,pwrite64 -e signal=none -o trace "${cmd[@]}" ./t.img >/dev/null 2>&1
    w=$(written trace)
    fresh $tool.img
    s=$(secs "${cmd[@]}" ./$tool.img)
    a=$(( $(alloc $tool.img) - base ))
    printf '| %s | %s | %.1f | %.1f |\n' "$tool" "$s" "$(echo "$w / 1048576" | bc -l)" "$(echo "$a / 1048576" | bc -l)"
    rm -f t.img trace
done
f() { "$bin/dumpfs" "$1" | sed -e 's/time\t.*$/time X/' -e '/^id\t/d' -e 's/\tid\t\[.*\]//'; }
if cmp -s <(f ./freebsd.img) <(f ./ufs.img); then echo "dumpfs: equal"; else echo "dumpfs: DIFFERENT"; fi
