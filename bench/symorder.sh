#!/bin/bash
# bench/symorder.sh UFS-BINARY IMAGE... > tools/ufs.order
# bench/symorder.sh --check UFS-BINARY [ORDER-FILE]
#
# The symbol ordering file `cargo build-dist` links with (.cargo/config.toml):
# the functions `ufs --version`, `ufs fsck -n -f --jobs 1` and `--jobs 2`
# and its helper names `fsck_ffs -n -f` and `fsck.ufs -n -f` on each IMAGE
# run, as valgrind's callgrind saw them, one mangled name a line. The linker puts them together at the start of
# .text, so a check touches a few hundred KiB of code instead of pieces of
# the whole 4.5 MB (the kernel maps 16 pages around every code fault): the
# binary's resident pages in a check drop by about 1 MiB
# (docs/performance.md, fsck, "Start-up and the binary's own memory").
#
# Make it from a `cargo build-dist` binary (its names carry the hashes of that
# build: another target, toolchain or dependency set names the same
# functions differently) on the 100,000-file bench images, e.g.
#   bench/symorder.sh target/x86_64-unknown-linux-gnu/dist/ufs \
#       /tmp/bench/out-100000-tar/ufs{1,2}-ffs.img > tools/ufs.order
# then relink (touch tools/src/main.rs; cargo build-dist): cargo does not watch
# the file. Names the binary no longer has are skipped by the linker
# without a word; --check says how many of the file's names a binary
# still has (bench/fsck.sh prints it), so a stale file shows.
set -euo pipefail
export LC_ALL=C
order_default=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)/tools/ufs.order

if [ "${1:-}" = --check ]; then
    [ "$#" -ge 2 ] || { echo "usage: $0 --check UFS-BINARY [ORDER-FILE]" >&2; exit 2; }
    order=${3:-$order_default}
    # nm fails on a stripped binary: nothing to say then.
    have=$(nm -- "$2" 2> /dev/null | awk '{ print $NF }' | sort -u) || exit 0
    n=$(grep -cvx '' -- "$order")
    found=$(comm -12 <(echo "$have") <(sort -u -- "$order") | wc -l)
    echo "symbol order: $found of $n names of $(basename -- "$order") in $2"
    exit 0
fi

[ "$#" -ge 2 ] || { echo "usage: $0 UFS-BINARY IMAGE... > ORDER-FILE" >&2; exit 2; }
command -v valgrind > /dev/null || { echo "$0: valgrind not found" >&2; exit 1; }
ufs=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT
# trace NAME CMD...: CMD under callgrind. fsck -n exits 4 on a damaged
# image; the functions it ran still count.
trace() {
    local rc=0
    valgrind --tool=callgrind --demangle=no --callgrind-out-file="$tmp/$1.out" "${@:2}" \
        > "$tmp/$1.log" 2>&1 || rc=$?
    [ "$rc" -le 4 ] || { tail -n 5 "$tmp/$1.log" >&2; exit 1; }
}
trace version "$ufs" --version
# fsck(8) runs the helper names, which parse their arguments their own way.
ln -s -- "$(realpath -- "$ufs")" "$tmp/fsck_ffs"
ln -s -- "$(realpath -- "$ufs")" "$tmp/fsck.ufs"
i=0
for img in "$@"; do
    for j in 1 2; do trace "fsck-$i-$j" "$ufs" fsck -n -f --jobs "$j" "$img"; done
    trace "fsck_ffs-$i" "$tmp/fsck_ffs" -n -f "$img"
    trace "fsck.ufs-$i" "$tmp/fsck.ufs" -n -f "$img"
    i=$((i + 1))
done
# Callgrind names a function once, as `fn=(ID) NAME` or `cfn=(ID) NAME`,
# and by its ID after that; unnamed code shows as an address.
# glibc picks a string function's variant for the CPU it runs on (IFUNC),
# and valgrind's CPU has no AVX-512: every variant of each one it saw
# (`__memmove_avx512_unaligned_erms` with `__memmove_avx_unaligned_erms`)
# goes in, so the file fits any x86-64.
nm -- "$ufs" | awk '{ print $NF }' | sort -u > "$tmp/syms.txt"
simd='_(sse|ssse3|avx|evex)[a-z0-9_]*$'
names() {
    cat "$@" | grep -oP '^c?fn=\(\d+\) \K[_A-Za-z]\S*' | sort -u > "$tmp/seen.txt"
    local bases
    bases=$(grep -oE "^__[a-z0-9]+$simd" "$tmp/seen.txt" | sed -E "s/$simd//" | sort -u | paste -sd '|')
    if [ -n "$bases" ]; then grep -E "^($bases)$simd" "$tmp/syms.txt" >> "$tmp/seen.txt"; fi
    sort -u "$tmp/seen.txt"
}
# `ufs fsck`'s functions first, then those only the helper names run: the
# linker lays them out in this order, so each path's code stays together.
names "$tmp"/version.out "$tmp"/fsck-*.out > "$tmp/main.txt"
cat "$tmp/main.txt"
names "$tmp"/fsck_ffs-*.out "$tmp"/fsck.ufs-*.out | comm -23 - "$tmp/main.txt"
