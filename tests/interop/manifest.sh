#!/bin/bash
# manifest.sh DIR OUTFILE
#
# Writes the ufskit manifest of the tree under DIR: one line per object, sorted
# by path with LC_ALL=C, tab-separated
#   path type mode uid gid nlink size mtime content
# (the format of /work/shared/reference/real/*.manifest). See tests/images/README.md.
#
# This one script serves both the host (host-manifest.sh) and the UML guest
# (kernel-batch.sh runs it inside the guest on the shared tree), so the two outputs
# can only differ because the file systems differ. It therefore uses only bash,
# coreutils and findutils, which are what the guest sees of the host.
set -euo pipefail
export LC_ALL=C

if [ "$#" -ne 2 ]; then
    echo "usage: $0 DIR OUTFILE" >&2
    exit 2
fi
dir=$1
# Absolute, because the listing runs from inside DIR. Inside an emulated
# guest each program started costs a tenth of a second, so the common case
# (an absolute path) starts none, and the scratch files sit beside OUTFILE
# instead of in mktemp's.
case $2 in /*) out=$2 ;; *) out=$(realpath -m -- "$2") ;; esac
if [ ! -d "$dir" ]; then
    echo "manifest.sh: not a directory: $dir" >&2
    exit 1
fi

# Files bigger than this are hashed as partial: first 16 MiB + last 16 MiB, so
# that huge sparse files (549 GB in ufs-big.img) do not have to be read whole.
# MANIFEST_PARTIAL_ABOVE lowers it where reading is slow (an emulated CPU:
# kernel-batch.sh under QEMU's TCG); whoever compares must use the same.
readonly BIG=${MANIFEST_PARTIAL_ABOVE:-$((4 * 1024 * 1024 * 1024))}
[ "$BIG" -ge $((32 * 1024 * 1024)) ] || { echo "manifest.sh: MANIFEST_PARTIAL_ABOVE must be at least 32 MiB" >&2; exit 2; }
readonly PART=$((16 * 1024 * 1024))

tmp=$out.tmp.$$
trap 'rm -f -- "$tmp" "$tmp.records" "$tmp.small" "$tmp.sums"' EXIT

# Forks are expensive (very much so inside a guest), so there is one find
# for the metadata, one batched sha256sum for the data, and no per-entry
# subshells. Fields are NUL-separated so that any byte but NUL may appear in
# a name or a symlink target. -P: never follow symlinks (the target is the
# content).
cd -- "$dir"
find -P . -printf '%y\0%m\0%U\0%G\0%n\0%s\0%T@\0%l\0%p\0' > "$tmp.records"
# One mapfile instead of nine reads per entry: each read is a system call
# per byte inside UML, which made a 2,000-entry tree take seconds.
mapfile -d '' -t rec < "$tmp.records"
# The regular files hashed whole, listed from the records.
for ((i = 0; i + 8 < ${#rec[@]}; i += 9)); do
    if [ "${rec[i]}" = f ] && [ "${rec[i+5]}" -le "$BIG" ]; then
        printf '%s\0' "${rec[i+8]}"
    fi
done > "$tmp.small"
# -z: NUL-terminated lines and no escaping of odd file names.
xargs -0 -r sha256sum -z -- < "$tmp.small" > "$tmp.sums"

declare -A sum=()
while IFS= read -r -d '' line; do
    sum[${line:66}]=${line:0:64}
done < "$tmp.sums"

for ((i = 0; i + 8 < ${#rec[@]}; i += 9)); do
    y=${rec[i]} m=${rec[i+1]} uid=${rec[i+2]} gid=${rec[i+3]} nlink=${rec[i+4]}
    size=${rec[i+5]} mtime=${rec[i+6]} target=${rec[i+7]} p=${rec[i+8]}
    rel=${p#./}
    [ "$p" = . ] && rel=.
    case $y in
        d) type=dir ;; f) type=file ;; l) type=symlink ;; p) type=fifo ;;
        c) type=chardev ;; b) type=blockdev ;; s) type=socket ;; *) type=unknown-$y ;;
    esac
    printf -v mode '%04o' "$((8#$m))"
    # %T@ has a fraction; keep whole seconds, rounding down also before 1970.
    sec=${mtime%%.*}
    if [ "${mtime:0:1}" = - ] && [[ ${mtime#*.} == *[1-9]* ]]; then
        sec=$((sec - 1))
    fi
    content=-
    case $y in
        d) size=- ;;
        f)
            if [ "$size" -gt "$BIG" ]; then
                # tail -c seeks, so the hole in between is never read.
                h=$({ head -c "$PART" -- "$p"; tail -c "$PART" -- "$p"; } | sha256sum)
                content=partial:${h%% *}
            elif [ -n "${sum[$p]+set}" ]; then
                content=${sum[$p]}
            else
                echo "manifest.sh: no checksum for $p" >&2
                exit 1
            fi
            ;;
        l) content=$target ;;
        b|c) content=$(stat -c '%Hr,%Lr' -- "$p") ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$rel" "$type" "$mode" "$uid" "$gid" "$nlink" "$size" "$sec" "$content"
done | sort > "$tmp"
mv -f -- "$tmp" "$out"
