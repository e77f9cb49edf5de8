#!/bin/sh
# Builds the seed corpora (fuzz/corpus/, not committed) at run time: the
# tiny committed seeds in fuzz/seeds/<target>/, plus images decompressed
# from tests/images (needs zstd). Usage: fuzz/seed.sh [--bases]
#   --bases  also writes the populated mutate_valid base images (1-2 MiB,
#            made by newfs + the write API) as seeds; needs a normal build.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
img="$here/../tests/images"
c="$here/corpus"
mkdir -p "$c/open_walk" "$c/fsck_n" "$c/mutate_valid" "$c/build_roundtrip" \
    "$c/fsck_repair" "$c/parse_structs" "$c/edit_ops"

for d in "$here"/seeds/*/; do
    t=$(basename "$d")
    mkdir -p "$c/$t"
    cp "$d"* "$c/$t/"
done
if ! command -v zstd >/dev/null 2>&1; then
    echo "seed.sh: zstd not found; only the committed seeds were copied" >&2
    exit 0
fi
unz() { zstd -q -d -c "$1"; }

# Whole small images (4 MiB, FreeBSD-made): UFS1 and UFS2, plain and -R.
for f in ufs1-4m ufs2-4m ufs1-4m-R ufs2-4m-R; do
    src="$img/freebsd/$f.img.zst"
    [ -f "$src" ] || continue
    unz "$src" > "$c/open_walk/img-$f"
    cp "$c/open_walk/img-$f" "$c/fsck_n/img-$f"
    # The first 256 KiB: superblock and first cylinder group, truncated.
    head -c 262144 "$c/open_walk/img-$f" > "$c/open_walk/head-$f"
    cp "$c/open_walk/head-$f" "$c/fsck_n/head-$f"
done
# The real FreeBSD images (4 MiB, populated: indirect blocks, xattrs,
# long symlinks; little- and big-endian).
for f in ufs-little ufs-big; do
    src="$img/real/$f.img.zst"
    [ -f "$src" ] || continue
    unz "$src" > "$c/open_walk/real-$f"
    cp "$c/open_walk/real-$f" "$c/fsck_n/real-$f"
done

if [ "${1:-}" = "--bases" ]; then
    tmp=$(mktemp -d)
    (cd "$here" && cargo run -q --release --example dump_bases "$tmp")
    for b in "$tmp"/base-*.img; do
        cp "$b" "$c/open_walk/$(basename "$b")"
        cp "$b" "$c/fsck_n/$(basename "$b")"
    done
    rm -rf "$tmp"
fi
du -sh "$c"/*
