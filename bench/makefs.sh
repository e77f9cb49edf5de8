#!/bin/bash
# bench/makefs.sh WORKDIR [UFS-BINARY]
#
# Populate benchmark: building images of a tree, ufs makefs against its peers.
#
#   1. builds (once; cached in WORKDIR) a tree of NFILES (200,000) files of
#      0-8 KiB in NDIRS (200) directories, fixed seed, with a hard link for
#      every 1,000th file and a symlink for every 500th; and, when
#      debootstrap works (MINBASE=1, the default), a Debian --variant=minbase
#      tree (about 10,000 entries);
#   2. times, in one run, warm cache, with /usr/bin/time -v (wall, peak RSS):
#        ufs makefs IMAGE TREE                         (UFS2, sized to fit)
#        makefs -t ffs -o version=2 -s SIZE IMAGE TREE (NetBSD makefs)
#        mke2fs -q -t ext4 -d TREE IMAGE SIZE          (e2fsprogs)
#        mkfs.xfs -q -p PROTO IMAGE                    (xfsprogs, proto file)
#   3. checks ufs's image with `ufs fsck -n -f` (must be clean);
#   4. prints a markdown table with ratios against NetBSD makefs.
#
# Environment: REPS (default 3), NFILES, NDIRS, MINBASE (1/0), MEMSPLIT (1,
# the default: one more untimed run per tool for its peak anonymous and
# file-backed memory; 0: not), TOOLS (the
# tools to time, default "ufs netbsd ext4 xfs"; netbsd is always timed, as
# the ratios are against it), KEEP_GOING (set: a tool that fails, as NetBSD
# makefs does past 2 GiB, is reported as failed instead of ending the run;
# ufs must still succeed). Each repetition runs every tool once, in turn,
# so that all of them see the same machine load; the best wall time counts.
set -euo pipefail
export LC_ALL=C
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
bench_args "$@"
REPS=${REPS:-3}
NFILES=${NFILES:-200000}
NDIRS=${NDIRS:-200}
MINBASE=${MINBASE:-1}
MEMSPLIT=${MEMSPLIT:-1}
TOOLS=${TOOLS:-ufs netbsd ext4 xfs}
case " $TOOLS " in *" netbsd "*) ;; *) TOOLS="$TOOLS netbsd" ;; esac
need=(makefs perl)
case " $TOOLS " in *" ext4 "*) need+=(mke2fs) ;; esac
case " $TOOLS " in *" xfs "*) need+=(mkfs.xfs) ;; esac
for t in "${need[@]}"; do command -v "$t" > /dev/null || die "$t not found"; done

small=$work/tree$((NFILES / 1000))k
gen_small_tree "$small" "$NFILES" "$NDIRS" 20240501 links
trees=("$small")
if [ "$MINBASE" = 1 ]; then
    mb=$work/minbase
    command -v debootstrap > /dev/null || apt-get install -y -q debootstrap > /dev/null 2>&1 || true
    if bash "$here/../tests/interop/minbase.sh" "$mb"; then
        trees+=("$mb")
    else
        echo "makefs.sh: no minbase tree (see $mb.log); minbase skipped" >&2
    fi
fi

# tool_cmd TOOL IMAGE TREE: sets cmd to TOOL's command line
# (entries, size_mb and proto are the current tree's).
tool_cmd() {
    case $1 in
        ufs) cmd=("$ufs" makefs --timings "$2" "$3") ;;
        netbsd) cmd=(makefs -t ffs -o version=2 -s "${size_mb}m" "$2" "$3") ;;
        ext4) cmd=(mke2fs -q -F -t ext4 -N "$((entries * 2))" -d "$3" "$2" "${size_mb}M") ;;
        xfs) cmd=(mkfs.xfs -q -f -d "file=1,name=$2,size=${size_mb}m" -p "$proto") ;;
        *) die "unknown tool $1" ;;
    esac
}

declare -A BEST BRSS ANON FILED
out=$work/out
mkdir -p -- "$out"
printf '| tree | entries | data | tool | wall s | peak RSS MiB | anon / file MiB | vs NetBSD makefs |\n|---|---|---|---|---|---|---|---|\n' > "$out/table.md"
for tree in "${trees[@]}"; do
    name=$(basename -- "$tree")
    entries=$(find "$tree" | wc -l)
    kb=$(du -sk --apparent-size "$tree" | cut -f1)
    # A size every peer can fill: data rounded up, inode tables, slack.
    size_mb=$(( kb * 2 / 1024 + entries * 2 / 1024 + 64 ))
    # mkfs.xfs refuses file systems under 300 MB.
    [ "$size_mb" -ge 320 ] || size_mb=320
    warm_tree "$tree"
    # xfs wants a proto file describing the tree.
    proto=$out/$name.proto
    case " $TOOLS " in *" xfs "*) perl "$here/xfs-proto.pl" "$tree" > "$proto" ;; esac
    for ((rep = 0; rep < REPS; rep++)); do
        echo "$name, repetition $((rep + 1)) of $REPS:" >&2
        for tool in $TOOLS; do
            img=$out/$name.$tool.img
            tool_cmd "$tool" "$img" "$tree"
            measure "$name.$tool" 1 "$out" rm -f -- "$img" ::: "${cmd[@]}"
            k=$name.$tool
            if [ "${WALL[$k]}" = failed ]; then
                [ -n "${BEST[$k]:-}" ] || BEST[$k]=failed BRSS[$k]=0
            elif [ -z "${BEST[$k]:-}" ] || [ "${BEST[$k]}" = failed ] || awk -v a="${WALL[$k]}" -v b="${BEST[$k]}" 'BEGIN { exit !(a < b) }'; then
                BEST[$k]=${WALL[$k]} BRSS[$k]=${RSS[$k]}
            fi
        done
    done
    case " $TOOLS " in
        *" ufs "*) "$ufs" fsck -n -f "$out/$name.ufs.img" > "$out/$name.fsck.txt" \
            || die "ufs fsck -n -f of its own image failed: $out/$name.fsck.txt" ;;
    esac
    # One more, untimed, run of each tool sampled for its peak anonymous
    # and file-backed memory (bench/memsplit.py).
    for tool in $TOOLS; do
        k=$name.$tool ANON[$k]=- FILED[$k]=-
        [ "$MEMSPLIT" = 1 ] && [ "${BEST[$k]}" != failed ] || continue
        img=$out/$name.$tool.img
        tool_cmd "$tool" "$img" "$tree"
        rm -f -- "$img"
        python3 "$here/memsplit.py" "$out/$k.mem" "${cmd[@]}" || die "$k failed under memsplit.py"
        read -r a f < "$out/$k.mem"
        ANON[$k]=$(awk -v a="$a" 'BEGIN { printf "%.1f", a / 1024 }')
        FILED[$k]=$(awk -v a="$f" 'BEGIN { printf "%.1f", a / 1024 }')
    done
    base=${BEST[$name.netbsd]}
    for tool in $TOOLS; do
        k=$name.$tool
        printf '| %s | %s | %s MiB | %s | %s | %s | %s / %s | %s |\n' "$name" "$entries" "$((kb / 1024))" "$tool" "${BEST[$k]}" \
            "$((BRSS[$k] / 1024))" "${ANON[$k]}" "${FILED[$k]}" "$(awk -v a="${BEST[$k]}" -v b="$base" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else printf "n/a" }')" >> "$out/table.md"
    done
done
cat "$out/table.md"
