#!/bin/bash
# bench/fsck.sh WORKDIR [UFS-BINARY]
#
# UFS-BINARY: by default the shipped build (`cargo build-dist`) when it exists,
# else the release build (bench/lib.sh default_ufs).
#
# Check benchmark: `ufs fsck -n -f` against e2fsck -fn and xfs_repair -n on
# the same tree, warm cache, with peak memory; then `ufs fsck -fy` on a
# damaged copy against `e2fsck -fy` on an equally damaged ext4 image.
#
#   1. builds (cached) a tree of NFILES (200,000) files of 0-8 KiB in NDIRS
#      directories (bench/lib.sh gen_small_tree), then a UFS2 image of it with
#      ufs makefs (MAKER=netbsd uses NetBSD makefs instead; its UFS2 images
#      of this tree are not clean: inodes past cg_initediblk that directory
#      entries name read as unallocated, which FreeBSD's fsck_ffs reports
#      too, so the check exits 4 and the timing includes the reports), an
#      ext4 image (mke2fs -d) and an XFS image (mkfs.xfs -p);
#   2. times the read-only checks (REPS runs, best kept) and prints the
#      per-phase split of ufs fsck (--timings);
#   3. damages copies (clears 100 inodes' link counts, which every fsck must
#      find in its link-count pass) and times the repairs.
#
#   4. with FreeBSD 12.1's fsck_ffs present (../shared/oracles/freebsd-12.1,
#      or FSCK_FFS), makes a UFS1 and a UFS2 image of the tree with ufs
#      makefs and runs `ufs fsck -n -f --jobs J` (for each J in JOBS) and
#      `fsck_ffs -n -f` interleaved (A B A B ...) PAIRS times on each,
#      printing every pair's ratio and then the medians and the peak RSS
#      (each run timed by testkit's `timed` runner, built on first use:
#      wall, CPU and peak RSS of the tool alone, no wrapper in the span);
#      `ufs fsck -f -y` on the clean UFS2 image is paired with `-n` the
#      same way (the issue wants it within 10%).
#   5. with COLD=1 (root: it writes /proc/sys/vm/drop_caches), the same
#      checks cold, and `ufs fsck` without --jobs (its cold default): the
#      page cache dropped before every run, CPAIRS runs
#      each, against the floor bench/metaread.py measures (the byte ranges
#      `ufs fsck --jobs 1` reads, from strace, read again with one pread
#      per run of adjacent ranges; the ranges it maps count too).
#
# Environment: REPS (3), NFILES (200000), NDIRS (NFILES / 1000, at least
# 1), MAKER (ufs|netbsd), PAIRS (7), FSCK_FFS (path; "" skips the peer),
# FFS_ONLY (1: skip the ext4/XFS part, steps 1-3), JOBS (ufs fsck thread
# counts for step 4, "1 2"), GEN (tree|tar: tar makes the images of step 4
# from a generated ustar archive, bench/lib.sh gen_small_tar, instead of a
# host tree; needs FFS_ONLY=1), COLD (1: step 5), CPAIRS (5).
#
# The issue's sizes: NFILES=100000 and NFILES=1000000 (1,000 directories
# of 1,000 files). The 1,000,000-file host tree took about an hour to
# create; GEN=tar writes the same tree as one 5.6 GB archive in about two
# minutes of one core and `ufs makefs` builds each image from it in a few
# minutes (the UFS2 image is 7-8 GB sparse):
#   FFS_ONLY=1 GEN=tar NFILES=1000000 PAIRS=5 bench/fsck.sh /tmp/bench
set -euo pipefail
export LC_ALL=C
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
bench_args "$@"
# A `cargo build-dist` binary whose code order file went stale shows here.
"$here/symorder.sh" --check "$ufs" >&2 || true
timed_bin
REPS=${REPS:-3}
NFILES=${NFILES:-200000}
NDIRS=${NDIRS:-$(( NFILES / 1000 > 0 ? NFILES / 1000 : 1 ))}
MAKER=${MAKER:-ufs}
PAIRS=${PAIRS:-7}
FFS_ONLY=${FFS_ONLY:-}
JOBS=${JOBS:-1 2}
GEN=${GEN:-tree}
COLD=${COLD:-}
CPAIRS=${CPAIRS:-5}
[ "$GEN" = tree ] || [ -n "$FFS_ONLY" ] || die "GEN=$GEN needs FFS_ONLY=1 (ext4 and XFS are made from a host tree)"
# FreeBSD's tools take a bare name for a device under /dev: the path must
# hold a slash (an absolute one does).
FSCK_FFS=${FSCK_FFS-$here/../../shared/oracles/freebsd-12.1/bin/fsck_ffs}
need=(perl)
[ -n "$FFS_ONLY" ] || need+=(makefs mke2fs e2fsck mkfs.xfs xfs_repair debugfs)
for t in "${need[@]}"; do command -v "$t" > /dev/null || die "$t not found"; done

if [ "$GEN" = tar ]; then
    tree=$work/tree-$NFILES.tar
    gen_small_tar "$tree" "$NFILES" "$NDIRS" 20240501 links
    out=$work/out-$NFILES-tar
else
    tree=$work/tree-$NFILES
    gen_small_tree "$tree" "$NFILES" "$NDIRS" 20240501 links
    out=$work/out-$NFILES
fi
mkdir -p -- "$out"
ufsimg=$out/ufs2-$MAKER.img ext=$out/ext4.img xfs=$out/xfs.img
if [ -z "$FFS_ONLY" ] && [ ! -f "$out/.images-$MAKER" ]; then
    entries=$(find "$tree" | wc -l)
    kb=$(du -sk --apparent-size "$tree" | cut -f1)
    size_mb=$(( kb * 2 / 1024 + entries * 2 / 1024 + 64 ))
    # mkfs.xfs refuses file systems under 300 MB.
    [ "$size_mb" -ge 320 ] || size_mb=320
    rm -f -- "$ufsimg" "$ext" "$xfs"
    if [ "$MAKER" = netbsd ]; then
        makefs -t ffs -o version=2 -s "${size_mb}m" "$ufsimg" "$tree" > /dev/null
    else
        "$ufs" makefs "$ufsimg" "$tree" > /dev/null
    fi
    mke2fs -q -F -t ext4 -N "$((entries * 2))" -d "$tree" "$ext" "${size_mb}M"
    perl "$here/xfs-proto.pl" "$tree" > "$out/proto"
    mkfs.xfs -q -f -d "file=1,name=$xfs,size=${size_mb}m" -p "$out/proto"
    touch "$out/.images-$MAKER"
fi
if [ -z "$FFS_ONLY" ]; then
cat "$ufsimg" "$ext" "$xfs" > /dev/null

measure ufs "$REPS" "$out" true ::: "$ufs" fsck -n -f "$ufsimg"
measure e2fsck "$REPS" "$out" true ::: e2fsck -fn "$ext"
measure xfs_repair "$REPS" "$out" true ::: xfs_repair -n -f "$xfs"
"$ufs" fsck -n -f --timings "$ufsimg" 2> "$out/timings.txt" > /dev/null || true

# Damage: the link counts of about 100 inodes set to 5 (nothing else), in
# fresh copies for every run; the inodes are spread over the first half of
# the tree's inode numbers, so small trees (NFILES) work too.
last=$(( NFILES / 2 < 100000 ? NFILES / 2 : 100000 ))
step=$(( last / 100 > 0 ? last / 100 : 1 ))
damage_ufs() {
    cp --sparse=always "$ufsimg" "$out/ufs2-bad.img"
    local cmds=() ino
    for ino in $(seq 3 "$step" "$last"); do cmds+=("set inode $ino di_nlink 5"); done
    "$ufs" debug "$out/ufs2-bad.img" "${cmds[@]}" > /dev/null
}
damage_ext() {
    cp --sparse=always "$ext" "$out/ext4-bad.img"
    local cmds=$out/debugfs.cmds ino
    : > "$cmds"
    for ino in $(seq 3 "$step" "$last"); do echo "sif <$ino> links_count 5" >> "$cmds"; done
    debugfs -w -f "$cmds" "$out/ext4-bad.img" > /dev/null 2>&1
}
# Both exit 1 for "errors corrected"; anything above that is a failure.
fixed() { "$@"; [ "$?" -le 1 ]; }
export -f fixed
measure ufs-fy "$REPS" "$out" damage_ufs ::: bash -c 'fixed "$@"' fixed "$ufs" fsck -f -y "$out/ufs2-bad.img"
measure e2fsck-fy "$REPS" "$out" damage_ext ::: bash -c 'fixed "$@"' fixed e2fsck -fy "$out/ext4-bad.img"

printf '| files | tool | wall s | peak RSS MiB | vs e2fsck |\n|---|---|---|---|---|\n'
for k in ufs e2fsck xfs_repair ufs-fy e2fsck-fy; do
    base=${WALL[e2fsck]}
    [ "${k%-fy}" != "$k" ] && base=${WALL[e2fsck-fy]}
    printf '| %s | %s | %s | %s | %sx |\n' "$NFILES" "$k" "${WALL[$k]}" "$((RSS[$k] / 1024))" \
        "$(awk -v a="${WALL[$k]}" -v b="$base" 'BEGIN { printf "%.2f", a / b }')"
done
echo
cat "$out/timings.txt"
fi

# Against FreeBSD's own checker, on a UFS1 and a UFS2 image of the tree.
if [ -n "$FSCK_FFS" ] && [ -x "$FSCK_FFS" ]; then
    FSCK_FFS=$(cd -- "$(dirname -- "$FSCK_FFS")" && pwd)/$(basename -- "$FSCK_FFS")
    export TZ=UTC
    table=()
    for v in 1 2; do
        img=$out/ufs$v-ffs.img
        if [ ! -f "$out/.ufs$v-ffs" ]; then
            rm -f -- "$img"
            "$ufs" makefs -O "$v" "$img" "$tree" > /dev/null
            touch "$out/.ufs$v-ffs"
        fi
        cat "$img" > /dev/null
        for j in $JOBS; do
            echo "UFS$v, $NFILES files: ufs fsck -n -f --jobs $j vs fsck_ffs -n -f" >&2
            pairs "ufs$v-j$j" "ffs$v-j$j" "$PAIRS" "$out" "$ufs" fsck -n -f --jobs "$j" "$img" ::: "$FSCK_FFS" -n -f "$img"
            table+=("$(printf '| %s | UFS%s | %s | %s / %s | %s | %s / %s | %s | %s | %sx | %sx |' "$NFILES" "$v" "$j" \
                "${WALL[ufs$v-j$j]}" "${CPU[ufs$v-j$j]}" "${RSS[ufs$v-j$j]}" "${WALL[ffs$v-j$j]}" "${CPU[ffs$v-j$j]}" \
                "${RSS[ffs$v-j$j]}" "$(( RSS[ufs$v-j$j] - RSS[ffs$v-j$j] ))" "${RATIO[ufs$v-j$j]}" "${CRATIO[ufs$v-j$j]}")")
            "$ufs" fsck -n -f --jobs "$j" --timings "$img" 2> "$out/timings-ufs$v-j$j.txt" > /dev/null || true
        done
    done
    # -y on a clean image writes nothing and must cost what -n costs.
    echo "UFS2, $NFILES files: ufs fsck -f -y vs ufs fsck -n -f (clean image)" >&2
    pairs ufs-y ufs-n "$PAIRS" "$out" "$ufs" fsck -f -y "$out/ufs2-ffs.img" ::: "$ufs" fsck -n -f "$out/ufs2-ffs.img"
    echo
    printf '| files | format | jobs | ufs fsck wall s / CPU ms | ufs KiB | fsck_ffs wall s / CPU ms | fsck_ffs KiB | RSS diff KiB | wall ratio | CPU ratio |\n'
    printf '|---|---|---|---|---|---|---|---|---|---|\n'
    printf '%s\n' "${table[@]}"
    printf '\n-y vs -n on the clean UFS2 image: %ss vs %ss (CPU %s vs %s ms), median ratio %sx (CPU %sx)\n' \
        "${WALL[ufs-y]}" "${WALL[ufs-n]}" "${CPU[ufs-y]}" "${CPU[ufs-n]}" "${RATIO[ufs-y]}" "${CRATIO[ufs-y]}"
    for v in 1 2; do for j in $JOBS; do echo "UFS$v --jobs $j:"; cat "$out/timings-ufs$v-j$j.txt"; done; done
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
else
    echo "FreeBSD fsck_ffs not found (FSCK_FFS=$FSCK_FFS): peer skipped" >&2
fi

# Cold cache: every run after dropping the page cache, against reading the
# same byte ranges with one pread per run of adjacent ranges.
if [ -n "$COLD" ] && [ -n "$FSCK_FFS" ] && [ -x "$FSCK_FFS" ]; then
    command -v strace > /dev/null || die "COLD=1 needs strace"
    cold() { sync; echo 3 > /proc/sys/vm/drop_caches; }
    printf '\n| files | format | reader | cold wall s (median of %s) |\n|---|---|---|---|\n' "$CPAIRS"
    for v in 1 2; do
        img=$out/ufs$v-ffs.img
        strace -e trace=pread64,mmap -o "$out/preads-ufs$v.txt" "$ufs" fsck -n -f --jobs 1 "$img" > /dev/null || true
        for who in metaread $(for j in $JOBS; do echo "ufs-j$j"; done) ufs-default fsck_ffs; do
            : > "$out/cold-$who-$v.txt"
            for ((i = 0; i < CPAIRS; i++)); do
                cold
                case $who in
                metaread) python3 "$here/metaread.py" "$img" "$out/preads-ufs$v.txt" |
                    awk '{ print $(NF - 1) }' >> "$out/cold-$who-$v.txt" ;;
                ufs-j*) run_once "$out" cold "$ufs" fsck -n -f --jobs "${who#ufs-j}" "$img"
                    echo "$T" >> "$out/cold-$who-$v.txt" ;;
                # No --jobs: what users get (one checking thread fewer
                # cold, the read-ahead thread holding a core).
                ufs-default) run_once "$out" cold "$ufs" fsck -n -f "$img"
                    echo "$T" >> "$out/cold-$who-$v.txt" ;;
                fsck_ffs) run_once "$out" cold "$FSCK_FFS" -n -f "$img"
                    echo "$T" >> "$out/cold-$who-$v.txt" ;;
                esac
            done
            printf '| %s | UFS%s | %s | %s |\n' "$NFILES" "$v" "$who" "$(median < "$out/cold-$who-$v.txt")"
        done
    done
fi
