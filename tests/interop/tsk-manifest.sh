#!/bin/bash
# tsk-manifest.sh IMAGE FSTYPE OUTFILE
#
# The manifest of IMAGE (format: see manifest.sh) as The Sleuth Kit reads it,
# for cross-checking ufskit against a third, independent reader. FSTYPE is a
# TSK type: ufs1, ufs2 (or ufs to let TSK detect).
#
# Columns TSK cannot give are '?':
#   * content of char/block devices: TSK reports no rdev (major,minor);
#   * content of regular files over 4 GiB: the partial hash needs the last
#     16 MiB, and icat can only stream the file from its start (for a 549 GB
#     sparse file that is hours of zeros). Set TSK_MANIFEST_FULL_READ=1 to
#     stream it anyway;
#   * content of a file icat fails on (a warning names it on stderr). TSK
#     4.11/4.12 fails with "Invalid address in run (too large)" on the sparse
#     files of the real FreeBSD images (tests/images/README.md).
# Everything else comes from TSK: paths and types from `fls -r -p`,
# mode/uid/gid/nlink/size/mtime from `ils -a` (one line per inode), data from
# `icat`, symlink targets from `fls -r -m` (icat returns NULs for a target
# stored in the inode). TSK prints UFS1 times as unsigned 32-bit, so a
# pre-1970 mtime shows up as 2^32 + t; that is kept as TSK says it.
set -euo pipefail
export LC_ALL=C TZ=UTC

if [ "$#" -ne 3 ]; then
    echo "usage: $0 IMAGE FSTYPE OUTFILE" >&2
    exit 2
fi
image=$1
fstype=$2
out=$3
die() { echo "tsk-manifest.sh: $*" >&2; exit 1; }
[ -f "$image" ] || die "image not found: $image"
for t in fls ils icat; do
    command -v "$t" > /dev/null || die "$t not found (apt-get install sleuthkit)"
done

readonly BIG=$((4 * 1024 * 1024 * 1024))
readonly PART=$((16 * 1024 * 1024))
readonly ROOT_INO=2

tmp=$(mktemp "${out}.tmp.XXXXXX")
work=$(mktemp -d "${TMPDIR:-/tmp}/tsk-manifest.XXXXXX")
trap 'rm -rf -- "$tmp" "$work"' EXIT

# TSK can hang on badly broken images; a cross-check must not.
tsk() { timeout 300 "$@"; }

tsk ils -a -f "$fstype" "$image" > "$work/ils" 2> "$work/err" \
    || die "ils -a -f $fstype $image failed: $(cat "$work/err")"
tsk fls -r -p -f "$fstype" "$image" > "$work/fls" 2> "$work/err" \
    || die "fls -r -p -f $fstype $image failed: $(cat "$work/err")"
tsk fls -r -m / -f "$fstype" "$image" > "$work/body" 2> "$work/err" \
    || die "fls -r -m / -f $fstype $image failed: $(cat "$work/err")"

# Body lines are "0|/PATH -> TARGET|INODE|MODE|UID|GID|SIZE|A|M|C|CR" for
# symlinks. Names and targets may hold '|' or " -> ", so the prefix is cut
# with the path from fls -p (in emit) and the nine fixed fields from the end.
declare -A LINKNAME
while IFS= read -r line; do
    rest=$line
    for _ in 1 2 3 4 5 6 7 8; do rest=${rest%|*}; done
    ino=${rest##*|}
    rest=${rest%|*}
    [[ ${line#"$rest|$ino|"} == l/* ]] || continue
    LINKNAME[${ino%%-*}]=${rest#0|}
done < "$work/body"

# ils columns: st_ino|st_alloc|st_uid|st_gid|st_mtime|st_atime|st_ctime|st_crtime|st_mode|st_nlink|st_size
declare -A I_UID I_GID I_MTIME I_MODE I_NLINK I_SIZE
while IFS='|' read -r ino alloc uid gid mtime _atime _ctime _crtime mode nlink size; do
    [[ $ino =~ ^[0-9]+$ ]] || continue
    I_UID[$ino]=$uid; I_GID[$ino]=$gid; I_MTIME[$ino]=$mtime
    I_MODE[$ino]=$mode; I_NLINK[$ino]=$nlink; I_SIZE[$ino]=$size
done < "$work/ils"

emit() {  # emit PATH TYPECHAR INODE
    local rel=$1 t=$2 ino=$3 type mode size content h
    [ -n "${I_MODE[$ino]+set}" ] || die "inode $ino ($rel) is listed by fls but not by ils -a"
    case $t in
        d) type=dir ;; r) type=file ;; l) type=symlink ;; p) type=fifo ;;
        c) type=chardev ;; b) type=blockdev ;; s) type=socket ;; *) type=unknown-$t ;;
    esac
    printf -v mode '%04o' "$((8#${I_MODE[$ino]}))"
    size=${I_SIZE[$ino]}
    content=-
    case $t in
        d) size=- ;;
        r)
            if [ "$size" -gt "$BIG" ]; then
                if [ "${TSK_MANIFEST_FULL_READ:-0}" = 1 ]; then
                    h=$(tsk icat -f "$fstype" "$image" "$ino" \
                        | { head -c "$PART"; tail -c "$PART"; } | sha256sum)
                    content=partial:${h%% *}
                else
                    content='?'
                fi
            elif h=$(tsk icat -f "$fstype" "$image" "$ino" 2> "$work/err" | sha256sum) \
                    && [ ! -s "$work/err" ]; then
                content=${h%% *}
            else
                echo "tsk-manifest.sh: warning: icat of inode $ino ($rel) failed: $(head -n1 "$work/err")" >&2
                content='?'
            fi
            ;;
        l)
            h=${LINKNAME[$ino]-}
            if [[ $h == "/$rel -> "* ]]; then
                content=${h#"/$rel -> "}
            else
                echo "tsk-manifest.sh: warning: no symlink target for inode $ino ($rel)" >&2
                content='?'
            fi
            ;;
        c|b) content='?' ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rel" "$type" "$mode" \
        "${I_UID[$ino]}" "${I_GID[$ino]}" "${I_NLINK[$ino]}" "$size" "${I_MTIME[$ino]}" "$content"
}

{
    emit . d "$ROOT_INO"
    # fls lines: "T/T INODE:<tab>PATH"; deleted names carry a '*' before the
    # inode and are not part of the tree. $OrphanFiles is TSK's own (type V).
    while IFS= read -r line; do
        head=${line%%$'\t'*}
        path=${line#*$'\t'}
        [[ $head == *'*'* ]] && continue
        t=${head:2:1}
        [ "$t" = V ] && continue
        ino=${head##* }
        ino=${ino%:}
        ino=${ino%%-*}
        emit "$path" "$t" "$ino"
    done < "$work/fls"
} | sort > "$tmp"
chmod 0644 "$tmp"
mv -f -- "$tmp" "$out"
trap 'rm -rf -- "$work"' EXIT
