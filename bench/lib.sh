# Shared helpers for the bench/ scripts (sourced, not run).

die() { echo "$(basename -- "$0"): $*" >&2; exit 1; }

# This file's folder, for the helper scripts beside it.
bench_lib=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

declare -A WALL RSS

# measure NAME REPS OUTDIR PREP... ::: CMD...: runs PREP (untimed), then CMD
# under /usr/bin/time -v, REPS times; keeps the best wall time (seconds) in
# WALL[NAME] and that run's peak RSS (KiB) in RSS[NAME]. A failing CMD
# stops the script, or with KEEP_GOING set records WALL[NAME]=failed.
measure() {
    local name=$1 reps=$2 outdir=$3 best= rss= i t r
    shift 3
    local prep=()
    while [ "$#" -gt 0 ] && [ "$1" != ":::" ]; do prep+=("$1"); shift; done
    shift
    [ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
    for ((i = 0; i < reps; i++)); do
        [ "${#prep[@]}" -eq 0 ] || "${prep[@]}"
        if ! /usr/bin/time -v -o "$outdir/$name.time" "$@" > "$outdir/$name.log" 2>&1; then
            tail -n 5 "$outdir/$name.log" >&2
            # A peer that cannot do the job at all is a result, not an error.
            [ -n "${KEEP_GOING:-}" ] || die "$name failed"
            echo "  $name run $((i + 1)): FAILED (log: $outdir/$name.log)" >&2
            WALL[$name]=failed RSS[$name]=0
            return 0
        fi
        t=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0
                for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s }' "$outdir/$name.time")
        r=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$outdir/$name.time")
        echo "  $name run $((i + 1)): ${t}s, ${r} KiB" >&2
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t rss=$r; fi
    done
    WALL[$name]=$best
    RSS[$name]=$rss
}

# warm_tree DIR: reads every file once so timings are warm-cache.
warm_tree() {
    find "$1" -type f -print0 | xargs -0 cat > /dev/null 2>&1 || true
}

# The generators' common start (perl): the arguments, the fixed-seed
# generator and the pool file contents are cut from.
gen_prelude='
    use strict; use warnings;
    my ($dest, $nfiles, $ndirs, $seed, $links) = @ARGV;
    my $s = $seed;
    sub rnd { $s = ($s * 16807) % 2147483647; return $s; }
    my $pool = "";
    $pool .= pack("N", rnd()) for 1 .. 262144;
'

# gen_small_tree DIR NFILES NDIRS SEED [links]: NFILES files of 0-8 KiB in
# NDIRS directories, contents and sizes from a fixed-seed generator, fixed
# times and modes; with "links", every 1,000th file also gets a hard link
# and every 500th a symlink. Cached: rebuilt only when the parameters change.
gen_small_tree() {
    local dir=$1 nfiles=$2 ndirs=$3 seed=$4 links=${5:-}
    local params="nfiles=$nfiles ndirs=$ndirs seed=$seed links=$links"
    if [ -f "$dir.params" ] && [ "$(cat "$dir.params")" = "$params" ]; then return; fi
    rm -rf -- "$dir" "$dir.params"
    mkdir -p -- "$dir"
    echo "building $dir ($params) ..." >&2
    perl -e "$gen_prelude"'
        my $dir = $dest;
        mkdir sprintf("%s/d%03d", $dir, $_) or die "mkdir: $!" for 0 .. $ndirs - 1;
        for my $i (0 .. $nfiles - 1) {
            my $size = rnd() % 8193;
            my $off = rnd() % (length($pool) - 8192);
            my $p = sprintf("%s/d%03d/f%06d", $dir, $i % $ndirs, $i);
            open(my $fh, ">", $p) or die "$p: $!";
            binmode $fh;
            print $fh substr($pool, $off, $size);
            close $fh or die "$p: $!";
            next unless $links eq "links";
            link($p, sprintf("%s/d%03d/h%06d", $dir, ($i + 1) % $ndirs, $i)) or die "link: $!" if $i % 1000 == 0;
            symlink(sprintf("../d%03d/f%06d", $i % $ndirs, $i), sprintf("%s/d%03d/s%06d", $dir, ($i + 2) % $ndirs, $i))
                or die "symlink: $!" if $i % 500 == 0;
        }
    ' "$dir" "$nfiles" "$ndirs" "$seed" "$links"
    find "$dir" -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
    find "$dir" -exec touch -h -d @1588334400 {} +
    echo "$params" > "$dir.params"
}

# default_ufs: the binary a bench measures unless told: the shipped build
# (`cargo build-dist`: static, whole-program optimized) when it has been built,
# else the release build the tests use.
default_ufs() {
    local t=${CARGO_TARGET_DIR:-$here/../target}
    if [ -x "$t/x86_64-unknown-linux-gnu/dist/ufs" ]; then
        echo "$t/x86_64-unknown-linux-gnu/dist/ufs"
    else
        echo "$t/release/ufs"
    fi
}

# bench_args WORKDIR [UFS-BINARY]: sets `work` (created, absolute) and
# `ufs` (default: default_ufs), or prints the usage.
bench_args() {
    [ "$#" -ge 1 ] || { echo "usage: $0 WORKDIR [UFS-BINARY]" >&2; exit 2; }
    mkdir -p -- "$1"
    work=$(cd -- "$1" && pwd)
    ufs=${2:-$(default_ufs)}
    [ -x "$ufs" ] || die "ufs binary not found: $ufs (cargo build-dist, or cargo build --release -p ufskit-tools)"
    echo "measuring $ufs" >&2
}

# timed_bin: the runner run_once measures with (testkit/src/bin/timed.rs,
# which says why the benches have one of their own), built on first use.
timed=
timed_bin() {
    [ -z "$timed" ] || return 0
    (cd -- "$bench_lib/.." && cargo build --quiet --release -p ufskit-testkit --bin timed) ||
        die "cannot build the bench runner (cargo build --release -p ufskit-testkit --bin timed)"
    timed=${CARGO_TARGET_DIR:-$bench_lib/../target}/release/timed
}

# run_once OUTDIR NAME CMD...: runs CMD once under the runner and sets T
# (wall seconds), C (CPU time, user + system, ms) and R (peak RSS, KiB),
# all of CMD alone: no wrapper program starts inside the timed span. The
# exit status is not judged: fsck_ffs -n exits 0 on damage and ufs fsck 4.
run_once() {
    local outdir=$1 name=$2 line
    shift 2
    timed_bin
    line=$("$timed" "$outdir/$name.log" "$@") || die "cannot run $1"
    read -r T C R _ <<< "$line"
    echo "$line" > "$outdir/$name.cost"
}

# median: the median of the numbers on standard input.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# pairs NAME-A NAME-B PAIRS OUTDIR CMD-A... ::: CMD-B...: runs A and B
# interleaved (A B A B ...) PAIRS times, prints each pair's times and ratio
# A/B to standard error, and keeps the medians in WALL[NAME-x] (seconds)
# and CPU[NAME-x] (ms), the largest peak RSS in RSS[NAME-x] (KiB) and the
# median ratios in RATIO[NAME-A] (wall) and CRATIO[NAME-A] (CPU).
# Interleaving spreads the load of a shared machine over both tools alike.
declare -A RATIO CPU CRATIO
pairs() {
    local a=$1 b=$2 n=$3 outdir=$4 i ta ra tb rb
    shift 4
    local ca=() cb=()
    while [ "$1" != ":::" ]; do ca+=("$1"); shift; done
    shift
    cb=("$@")
    : > "$outdir/$a.walls"; : > "$outdir/$b.walls"; : > "$outdir/$a.ratios"
    : > "$outdir/$a.cpus"; : > "$outdir/$b.cpus"; : > "$outdir/$a.cratios"
    RSS[$a]=0 RSS[$b]=0
    for ((i = 1; i <= n; i++)); do
        run_once "$outdir" "$a" "${ca[@]}"; ta=$T ra=$R pa=$C
        run_once "$outdir" "$b" "${cb[@]}"; tb=$T rb=$R pb=$C
        echo "$ta" >> "$outdir/$a.walls"; echo "$tb" >> "$outdir/$b.walls"
        echo "$pa" >> "$outdir/$a.cpus"; echo "$pb" >> "$outdir/$b.cpus"
        awk -v x="$ta" -v y="$tb" 'BEGIN { printf "%.3f\n", x / y }' >> "$outdir/$a.ratios"
        awk -v x="$pa" -v y="$pb" 'BEGIN { printf "%.3f\n", (y > 0 ? x / y : 0) }' >> "$outdir/$a.cratios"
        [ "$ra" -le "${RSS[$a]}" ] || RSS[$a]=$ra
        [ "$rb" -le "${RSS[$b]}" ] || RSS[$b]=$rb
        echo "  pair $i: $a ${ta}s ${pa} ms CPU ${ra} KiB, $b ${tb}s ${pb} ms CPU ${rb} KiB," \
            "ratio $(tail -n 1 "$outdir/$a.ratios") (CPU $(tail -n 1 "$outdir/$a.cratios"))" >&2
    done
    CPU[$a]=$(median < "$outdir/$a.cpus")
    CPU[$b]=$(median < "$outdir/$b.cpus")
    CRATIO[$a]=$(median < "$outdir/$a.cratios")
    WALL[$a]=$(median < "$outdir/$a.walls")
    WALL[$b]=$(median < "$outdir/$b.walls")
    RATIO[$a]=$(median < "$outdir/$a.ratios")
}

# gen_small_tar FILE NFILES NDIRS SEED [links]: the tree gen_small_tree
# makes (same sizes, directory layout, links and times; contents from the
# same kind of pool), written straight as a ustar archive instead of as
# host files: for 1,000,000 files that is a minute or two of one core and
# a 5-6 GB file, where creating the host tree took about an hour. `ufs
# makefs IMAGE FILE` builds the image from it (the archive is read twice,
# for metadata and for data, so it must be a file, not a pipe). Cached
# like gen_small_tree.
gen_small_tar() {
    local tarf=$1 nfiles=$2 ndirs=$3 seed=$4 links=${5:-}
    local params="tar nfiles=$nfiles ndirs=$ndirs seed=$seed links=$links"
    if [ -f "$tarf.params" ] && [ "$(cat "$tarf.params")" = "$params" ]; then return; fi
    rm -f -- "$tarf" "$tarf.params"
    echo "building $tarf ($params) ..." >&2
    perl -e "$gen_prelude"'
        my $tarf = $dest;
        open(my $out, ">", $tarf) or die "$tarf: $!";
        binmode $out;
        my $mtime = 1588334400;
        # One ustar header: name, mode, size, type, link target.
        sub hdr {
            my ($name, $mode, $size, $type, $target) = @_;
            my $h = pack("a100 a8 a8 a8 a12 a12 A8 a1 a100 a6 a2 a32 a32 a8 a8 a155 a12",
                $name, sprintf("%07o", $mode), sprintf("%07o", 0), sprintf("%07o", 0),
                sprintf("%011o", $size), sprintf("%011o", $mtime), " " x 8, $type,
                $target, "ustar", "00", "root", "wheel", "", "", "", "");
            my $sum = unpack("%32C*", $h);
            substr($h, 148, 8) = sprintf("%06o\0 ", $sum);
            return $h;
        }
        print $out hdr(sprintf("d%03d/", $_), 0755, 0, "5", "") for 0 .. $ndirs - 1;
        for my $i (0 .. $nfiles - 1) {
            my $size = rnd() % 8193;
            my $off = rnd() % (length($pool) - 8192);
            my $p = sprintf("d%03d/f%06d", $i % $ndirs, $i);
            print $out hdr($p, 0644, $size, "0", "");
            print $out substr($pool, $off, $size), "\0" x ((512 - $size % 512) % 512);
            next unless $links eq "links";
            print $out hdr(sprintf("d%03d/h%06d", ($i + 1) % $ndirs, $i), 0644, 0, "1", $p)
                if $i % 1000 == 0;
            print $out hdr(sprintf("d%03d/s%06d", ($i + 2) % $ndirs, $i), 0777, 0, "2",
                sprintf("../d%03d/f%06d", $i % $ndirs, $i)) if $i % 500 == 0;
        }
        print $out "\0" x 1024;
        close $out or die "$tarf: $!";
    ' "$tarf" "$nfiles" "$ndirs" "$seed" "$links"
    echo "$params" > "$tarf.params"
}
