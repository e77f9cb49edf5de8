#!/bin/bash
# bench/read.sh WORKDIR [UFS]
#
# Read-path benchmark: extracting a 200,000-file UFS1 image.
#
#   1. builds (once; cached in WORKDIR) a tree of 200,000 files of 0-8 KiB
#      (pseudo-random contents, fixed seed) in 200 directories, and a UFS1
#      image of it with NetBSD makefs (`-o version=1`: The Sleuth Kit cannot
#      find NetBSD's UFS2 superblock at 8192);
#   2. times, in one run, with /usr/bin/time -v (wall time, peak RSS):
#        ufs extract IMAGE DIR        (UFS, default: the release build)
#        tsk_recover -a -f ufs1 IMAGE DIR
#        cp -a TREE DIR               (the same files, host to host)
#      each on a warm page cache (the image and the tree are read once
#      first), REPS times (default 3), best wall time kept;
#   3. checks that each copy has every file (count and total bytes), and
#      that ufs's copy equals the source tree (diff -r, once);
#   4. prints a markdown table with the ratios against the issue's goals.
#
# Needs: makefs, tsk_recover (sleuthkit), /usr/bin/time (package `time`), perl.
# Environment: REPS (default 3), NFILES (default 200000), NDIRS (default 200),
# OUT (where the copies go, default WORKDIR/out; e.g. a tmpfs dir such as
# /dev/shm/x to time the tools rather than the disk's writeback).
set -euo pipefail
export LC_ALL=C

if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
    echo "usage: $0 WORKDIR [UFS-BINARY]" >&2
    exit 2
fi
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
mkdir -p -- "$1"
work=$(cd -- "$1" && pwd)
ufs=${2:-${CARGO_TARGET_DIR:-$here/../target}/release/ufs}
REPS=${REPS:-3}
NFILES=${NFILES:-200000}
NDIRS=${NDIRS:-200}
SEED=20240501

die() { echo "read.sh: $*" >&2; exit 1; }
[ -x "$ufs" ] || die "ufs binary not found: $ufs (cargo build --release -p ufskit-tools)"
for t in makefs tsk_recover perl; do
    command -v "$t" > /dev/null || die "$t not found"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"

tree=$work/tree
image=$work/ufs1.img
stamp=$work/tree.params
params="nfiles=$NFILES ndirs=$NDIRS seed=$SEED"

# 1. The tree and the image, cached.
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$params" ] || [ ! -f "$image" ]; then
    rm -rf -- "$tree" "$image" "$stamp"
    echo "building the tree ($params) ..." >&2
    mkdir -p -- "$tree"
    perl -e '
        use strict; use warnings;
        my ($dir, $nfiles, $ndirs, $seed) = @ARGV;
        # Park-Miller minimal standard generator: the same tree on any perl.
        my $s = $seed;
        sub rnd { $s = ($s * 16807) % 2147483647; return $s; }
        # A 1 MiB pool of pseudo-random bytes; each file is a slice of it.
        my $pool = "";
        $pool .= pack("N", rnd()) for 1 .. 262144;
        for my $d (0 .. $ndirs - 1) {
            mkdir sprintf("%s/d%03d", $dir, $d) or die "mkdir: $!";
        }
        for my $i (0 .. $nfiles - 1) {
            my $size = rnd() % 8193;           # 0 .. 8192 bytes
            my $off = rnd() % (length($pool) - 8192);
            my $p = sprintf("%s/d%03d/f%06d", $dir, $i % $ndirs, $i);
            open(my $fh, ">", $p) or die "$p: $!";
            binmode $fh;
            print $fh substr($pool, $off, $size);
            close $fh or die "$p: $!";
        }
    ' "$tree" "$NFILES" "$NDIRS" "$SEED"
    # Fixed times and modes, so the image does not depend on when it was made.
    find "$tree" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
    find "$tree" -exec touch -h -d @1588334400 {} +
    # makefs's own size estimate is too small for many small UFS1 files:
    # data rounded up to 1 KiB fragments, 128-byte inodes, and slack.
    kb=$(find "$tree" -type f -printf '%s\n' | awk '{ kb += int(($1 + 1023) / 1024) } END { print kb }')
    size_mb=$(( (kb * 13 / 10 + NFILES * 256 / 1024) / 1024 + 64 ))
    echo "makefs -t ffs -o version=1 -s ${size_mb}m ..." >&2
    makefs -t ffs -o version=1 -s "${size_mb}m" "$image" "$tree" > "$work/makefs.txt" 2>&1 \
        || { cat "$work/makefs.txt" >&2; die "makefs failed"; }
    echo "makefs -t ffs -o version=1 -s ${size_mb}m ufs1.img tree" > "$work/makefs.cmd"
    echo "$params" > "$stamp"
fi
nfiles=$(find "$tree" -type f | wc -l)
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')

# 2. Timings.
out=${OUT:-$work/out}
rm -rf -- "$out"
mkdir -p -- "$out"
# Warm the page cache with both inputs, so every tool reads from memory.
cat "$image" > /dev/null
find "$tree" -type f -print0 | xargs -0 cat > /dev/null

# measure NAME CMD...: best wall time (s) and the peak RSS (KiB) of that run.
declare -A WALL RSS
measure() {
    local name=$1 dest=$out/$1 best= rss= i t r
    shift
    for ((i = 0; i < REPS; i++)); do
        rm -rf -- "$dest"
        /usr/bin/time -v -o "$out/$name.time" "$@" > "$out/$name.log" 2>&1 \
            || { cat "$out/$name.log" "$out/$name.time" >&2; die "$name failed"; }
        t=$(awk -F': ' '/Elapsed \(wall clock\)/ {
                n = split($2, p, ":"); s = 0
                for (k = 1; k <= n; k++) s = s * 60 + p[k]
                print s }' "$out/$name.time")
        r=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$out/$name.time")
        echo "  $name run $((i + 1)): ${t}s, ${r} KiB" >&2
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$t rss=$r
        fi
        sync
    done
    WALL[$name]=$best
    RSS[$name]=$rss
}

echo "timing ($REPS runs each, best kept) ..." >&2
measure ufs "$ufs" extract "$image" "$out/ufs"
measure tsk tsk_recover -a -f ufs1 "$image" "$out/tsk"
measure cp cp -a "$tree" "$out/cp"

# 3. Every copy is complete; ufs's is identical to the source. tsk_recover
# does not write empty files, so it is held to the non-empty ones.
nonempty=$(find "$tree" -type f -size +0 | wc -l)
for name in ufs tsk cp; do
    if [ "$name" = tsk ]; then
        want=$nonempty n=$(find "$out/$name" -type f -size +0 | wc -l)
    else
        want=$nfiles n=$(find "$out/$name" -type f | wc -l)
    fi
    b=$(find "$out/$name" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
    [ "$n" -eq "$want" ] && [ "$b" -eq "$bytes" ] \
        || die "$name copied $n files / $b bytes, expected $want / $bytes"
done
diff -r "$tree" "$out/ufs" > /dev/null || die "ufs extract's tree differs from the source"

# 4. The table.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
img_mib=$(( $(stat -c %s "$image") / 1048576 ))
echo
echo "Tree: $nfiles files of 0-8 KiB ($(( bytes / 1048576 )) MiB) in $NDIRS directories;" \
    "image: UFS1 from NetBSD makefs, ${img_mib} MiB ($(cat "$work/makefs.cmd")). Warm page cache, best of $REPS."
echo "Host: $(nproc) CPUs, $(uname -sr), $(df -T "$out" | awk 'NR == 2 { print $2 }') destination."
echo
echo "| tool | wall time (s) | peak RSS (MiB) | ratio |"
echo "|---|---:|---:|---|"
echo "| \`ufs extract\` | ${WALL[ufs]} | $(mib "${RSS[ufs]}") | 1.00 |"
echo "| \`tsk_recover -a -f ufs1\` | ${WALL[tsk]} | $(mib "${RSS[tsk]}") | tsk / ufs = $(ratio "${WALL[tsk]}" "${WALL[ufs]}") (goal >= 5) |"
echo "| \`cp -a\` of the source tree | ${WALL[cp]} | $(mib "${RSS[cp]}") | ufs / cp = $(ratio "${WALL[ufs]}" "${WALL[cp]}") (goal <= 1.5) |"
echo
echo "ufs peak memory goal: < 200 MiB (measured $(mib "${RSS[ufs]}") MiB)."
rm -rf -- "$out"
