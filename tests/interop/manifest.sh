#!/bin/bash
# manifest.sh DIR OUTFILE
#
# Writes the ufskit manifest of the tree under DIR: one line per object, sorted
# by path with LC_ALL=C, tab-separated
#   path type mode uid gid nlink size mtime content
# (the format of /work/shared/reference/real/*.manifest). See tests/images/README.md.
#
# This one script serves both the host (host-manifest.sh) and the UML guest
# (uml-manifest.sh runs it inside the guest through hostfs), so the two outputs
# can only differ because the file systems differ. It therefore uses only bash,
# coreutils and findutils, which are what the guest sees of the host.
set -euo pipefail
export LC_ALL=C

if [ "$#" -ne 2 ]; then
    echo "usage: $0 DIR OUTFILE" >&2
    exit 2
fi
dir=$1
out=$2
if [ ! -d "$dir" ]; then
    echo "manifest.sh: not a directory: $dir" >&2
    exit 1
fi

# Files bigger than this are hashed as partial: first 16 MiB + last 16 MiB, so
# that huge sparse files (549 GB in ufs-big.img) do not have to be read whole.
readonly BIG=$((4 * 1024 * 1024 * 1024))
readonly PART=$((16 * 1024 * 1024))

hash_file() {
    local f=$1 size=$2
    if [ "$size" -gt "$BIG" ]; then
        # tail -c seeks, so the hole in between is never read.
        local h
        h=$({ head -c "$PART" -- "$f"; tail -c "$PART" -- "$f"; } | sha256sum)
        printf 'partial:%s' "${h%% *}"
    else
        local h
        h=$(sha256sum < "$f")
        printf '%s' "${h%% *}"
    fi
}

typename() {
    case $1 in
        d) echo dir ;;
        f) echo file ;;
        l) echo symlink ;;
        p) echo fifo ;;
        c) echo chardev ;;
        b) echo blockdev ;;
        s) echo socket ;;
        *) echo "unknown-$1" ;;
    esac
}

tmp=$(mktemp "${out}.tmp.XXXXXX")
trap 'rm -f "$tmp"' EXIT

# NUL-separated fields so that any byte except NUL may appear in a name or a
# symlink target. -P: never follow symlinks (the target is the content).
(
    cd -- "$dir"
    find -P . -printf '%y\0%m\0%U\0%G\0%n\0%s\0%T@\0%l\0%p\0'
) | {
    while IFS= read -r -d '' y && IFS= read -r -d '' m && IFS= read -r -d '' uid \
        && IFS= read -r -d '' gid && IFS= read -r -d '' nlink \
        && IFS= read -r -d '' size && IFS= read -r -d '' mtime \
        && IFS= read -r -d '' target && IFS= read -r -d '' p; do
        rel=${p#./}
        [ "$p" = . ] && rel=.
        type=$(typename "$y")
        mode=$(printf '%04o' "$((8#$m))")
        # %T@ has a fraction; keep whole seconds (floor, also before 1970).
        sec=${mtime%%.*}
        frac=${mtime#*.}
        if [ "${mtime:0:1}" = - ] && [ "$mtime" != "$sec" ] && [ -n "${frac//0/}" ]; then
            sec=$((sec - 1))
        fi
        content=-
        case $y in
            d) size=- ;;
            f) content=$(hash_file "$dir/$p" "$size") ;;
            l) content=$target ;;
            b|c) content=$(stat -c '%Hr,%Lr' -- "$dir/$p") ;;
        esac
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
            "$rel" "$type" "$mode" "$uid" "$gid" "$nlink" "$size" "$sec" "$content"
    done
} | sort > "$tmp"
mv -f -- "$tmp" "$out"
trap - EXIT
