#!/bin/bash
# bench/fuse.sh [pjdfstest|throughput|all] — `ufs fuse` against its peers,
# in one run on one machine (docs/performance.md, docs/fuse.md):
#
#   pjdfstest   the whole pjdfstest suite on ufs fuse (fresh UFS2 and UFS1
#               images), on fuse2fs (fresh ext4) and on fuse-ufs (fresh
#               UFS2, `cargo install --locked fuse-ufs`, found on PATH or in
#               FUSE_UFS); failed test files of each.
#   throughput  cp -a of a generated tree (FILES files of 0-8 KiB in
#               directories of 1,000; default 20000) into the mount, then
#               (caches dropped) tar cf /dev/null of it; one file of BIG
#               MiB (default 256) written with dd conv=fsync and read back
#               (caches dropped). ufs fuse on UFS2 and fuse2fs on ext4
#               interleaved (A B A B), REPS repetitions (default 3), the
#               median wall time of each and the FUSE server's peak RSS.
#   readers     ufs fuse alone, `-o readers=0` (every request on the image's
#               thread) against `-o readers=2` (reads on two reader
#               threads), and BEFORE (another ufs binary, if given) with
#               its defaults: ls -l of a 1,000-entry directory, tar cf
#               /dev/null (metadata) and tar cf - | wc -c (data) of a
#               FILES-file tree, two such tars of its two halves at once,
#               one BIG MiB file read, and two read at once; caches
#               dropped before each, REPS repetitions interleaved, medians.
#
# Needs root, fuse3, fuse2fs, e2fsprogs, perl's prove, and pjdfstest built
# in PJDFSTEST (default /var/tmp/ufskit-pjdfstest; .ci/run builds it).
set -euo pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname -- "$here")
what=${1:-all}
ufs=${UFS:-$repo/target/release/ufs}
pjd=${PJDFSTEST:-/var/tmp/ufskit-pjdfstest}
fuse_ufs=${FUSE_UFS:-$(command -v fuse-ufs || echo /var/tmp/fuse-ufs/bin/fuse-ufs)}
files=${FILES:-20000}
big=${BIG:-256}
reps=${REPS:-3}
die() { echo "bench/fuse.sh: $*" >&2; exit 1; }
[ -x "$ufs" ] || die "build first: cargo build --release ($ufs)"
work=$(mktemp -d /var/tmp/bench-fuse.XXXXXX)
trap 'for m in "$work"/m*; do umount -l "$m" 2>/dev/null || true; done; rm -rf -- "$work"' EXIT
mkdir -p "$work/mnt"

# mount_fs KIND IMAGE: mounts IMAGE on $work/mnt with the KIND's server in
# the background; sets srv (its pid).
mount_fs() {
    local kind=$1 img=$2
    case $kind in
        ufs2 | ufs1) "$ufs" fuse -o allow_other "$img" "$work/mnt" & srv=$! ;;
        ext4) fuse2fs "$img" "$work/mnt" -o allow_other -f & srv=$! ;;
        fuse-ufs) "$fuse_ufs" -f -o allow_other,rw "$img" "$work/mnt" & srv=$! ;;
    esac
    for _ in $(seq 200); do mountpoint -q "$work/mnt" && return 0; sleep 0.05; done
    die "$kind: no mount"
}
unmount_fs() {
    umount "$work/mnt" || umount -l "$work/mnt"
    wait "$srv" 2>/dev/null || true
}
make_image() { # KIND IMAGE SIZE
    rm -f -- "$2"
    case $1 in
        ufs2 | fuse-ufs) "$ufs" newfs -s "$3" "$2" > /dev/null ;;
        ufs1) "$ufs" newfs -O1 -s "$3" "$2" > /dev/null ;;
        ext4) truncate -s "$3" "$2"; mkfs.ext4 -q -F "$2" ;;
    esac
}
# The peak RSS (KiB) of process PID so far.
peak_rss() { awk '/VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

if [ "$what" = pjdfstest ] || [ "$what" = all ]; then
    [ -x "$pjd/pjdfstest" ] || die "no pjdfstest in $pjd (see docs/fuse.md)"
    echo "== pjdfstest ($(date -u +%F\ %H:%M) UTC, $(nproc) cores)"
    for kind in ufs2 ufs1 ext4 fuse-ufs; do
        if [ "$kind" = fuse-ufs ] && [ ! -x "$fuse_ufs" ]; then echo "$kind: not installed"; continue; fi
        make_image "$kind" "$work/p.img" 256m
        mount_fs "$kind" "$work/p.img"
        t0=$SECONDS
        (cd "$work/mnt" && timeout 1800 prove -r "$pjd/tests" > "$work/prove-$kind.log" 2>&1) || true
        unmount_fs
        failed=$(sed -n '/Test Summary Report/,$p' "$work/prove-$kind.log" \
            | awk '/\(Wstat: / { w = $0; sub(/.*Wstat: /, "", w); split(w, a, " ");
                                f = $0; sub(/.*Failed: /, "", f); sub(/\).*/, "", f);
                                if (a[1] != 0 || f != 0) { n = $1; sub(/.*\/tests\//, "", n); print n } }')
        nfailed=$(printf '%s' "$failed" | grep -c . || true)
        files_line=$(grep '^Files=' "$work/prove-$kind.log" | cut -d, -f1-2)
        printf '%-9s %s: %d failed files in %d s: %s\n' "$kind" "$files_line" "$nfailed" $((SECONDS - t0)) "$(echo $failed)"
        cp -- "$work/prove-$kind.log" "/var/tmp/bench-fuse-prove-$kind.log"
    done
fi

if [ "$what" = readers ]; then
    echo "== readers: $files files, $big MiB files, median of $reps ($(date -u +%F\ %H:%M) UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
    img=$work/r.img
    make_image ufs2 "$img" $(( big * 3 + files * 16 / 1024 + 512 ))m
    mount_fs ufs2 "$img"
    mkdir "$work/mnt/t" "$work/mnt/ls"
    for ((i = 0; i < files; i++)); do
        d=$work/mnt/t/d$((i / 1000))
        [ -d "$d" ] || mkdir "$d"
        head -c $(( (i * 2654435761) % 8193 )) /dev/zero > "$d/f$i"
    done
    for i in $(seq 1000); do : > "$work/mnt/ls/f$i"; done
    for f in big1 big2; do dd if=/dev/urandom of="$work/mnt/$f" bs=1M count="$big" status=none; done
    unmount_fs
    ndirs=$(( (files + 999) / 1000 ))
    half() { # the directories of half $1 (0 or 1) of the tree
        local k; for ((k = $1; k < ndirs; k += 2)); do echo "t/d$k"; done
    }
    declare -A runs=()
    now() { date +%s.%N; }
    timed() { # KEY COMMAND...: runs COMMAND with cold caches, adds its time to KEY
        local key=$1 t; shift
        echo 3 > /proc/sys/vm/drop_caches
        t=$(now); "$@"; runs[$key]="${runs[$key]:-} $(echo "$(now) - $t" | bc)"
    }
    cfgs=(readers=0 readers=2)
    [ -n "${BEFORE:-}" ] && cfgs+=(before)
    for ((r = 0; r < reps; r++)); do
        for cfg in "${cfgs[@]}"; do
            if [ "$cfg" = before ]; then
                "$BEFORE" fuse -o allow_other "$img" "$work/mnt" & srv=$!
            else
                "$ufs" fuse -o allow_other,"$cfg" "$img" "$work/mnt" & srv=$!
            fi
            for _ in $(seq 200); do mountpoint -q "$work/mnt" && break; sleep 0.05; done
            cd "$work/mnt"
            timed "$cfg.ls" sh -c 'ls -l ls > /dev/null'
            timed "$cfg.tar" tar cf /dev/null t
            timed "$cfg.tardata" sh -c 'tar cf - t | wc -c > /dev/null'
            timed "$cfg.tar2" sh -c "tar cf - $(half 0 | tr '\n' ' ') | wc -c > /dev/null & tar cf - $(half 1 | tr '\n' ' ') | wc -c > /dev/null; wait"
            timed "$cfg.read" dd if=big1 of=/dev/null bs=1M status=none
            timed "$cfg.read2" sh -c 'dd if=big1 of=/dev/null bs=1M status=none & dd if=big2 of=/dev/null bs=1M status=none; wait'
            cd /
            unmount_fs
        done
    done
    median() { printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    for k in ls tar tardata tar2 read read2; do
        printf '%-8s' "$k"
        for cfg in "${cfgs[@]}"; do printf '  %s %.2f s' "$cfg" "$(median "${runs[$cfg.$k]}")"; done
        echo
    done
fi

if [ "$what" = throughput ] || [ "$what" = all ]; then
    echo "== throughput: $files files, $big MiB file, median of $reps, A B A B ($(date -u +%F\ %H:%M) UTC, $(nproc) cores)"
    src=$work/src
    mkdir -p "$src"
    for ((i = 0; i < files; i++)); do
        d=$src/d$((i / 1000))
        [ -d "$d" ] || mkdir "$d"
        head -c $(( (i * 2654435761) % 8193 )) /dev/zero > "$d/f$i"
    done
    declare -A runs=()
    now() { date +%s.%N; }
    for ((r = 0; r < reps; r++)); do
        for kind in ufs2 ext4; do
            make_image "$kind" "$work/t.img" $(( big * 2 + files * 16 / 1024 + 512 ))m
            mount_fs "$kind" "$work/t.img"
            t=$(now); cp -a "$src/." "$work/mnt/"; sync -f "$work/mnt"; c=$(echo "$(now) - $t" | bc)
            echo 3 > /proc/sys/vm/drop_caches
            t=$(now); tar cf /dev/null -C "$work/mnt" .; rd=$(echo "$(now) - $t" | bc)
            t=$(now); dd if=/dev/zero of="$work/mnt/big" bs=1M count="$big" conv=fsync status=none; w=$(echo "$(now) - $t" | bc)
            echo 3 > /proc/sys/vm/drop_caches
            t=$(now); dd if="$work/mnt/big" of=/dev/null bs=1M status=none; br=$(echo "$(now) - $t" | bc)
            rss=$(peak_rss "$srv")
            unmount_fs
            printf '  %-5s run %d: cp -a %.2f s, tar %.2f s, %d MiB write %.2f s, read %.2f s, server peak RSS %d KiB\n' \
                "$kind" $((r + 1)) "$c" "$rd" "$big" "$w" "$br" "$rss"
            for k in cp tar write read rss; do
                case $k in cp) v=$c ;; tar) v=$rd ;; write) v=$w ;; read) v=$br ;; rss) v=$rss ;; esac
                runs[$kind.$k]="${runs[$kind.$k]:-} $v"
            done
        done
    done
    median() { printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    for k in cp tar write read; do
        a=$(median "${runs[ufs2.$k]}") b=$(median "${runs[ext4.$k]}")
        printf '%-6s ufs fuse %.2f s, fuse2fs %.2f s, ratio %.2fx\n' "$k" "$a" "$b" "$(echo "$a / $b" | bc -l)"
    done
    printf 'peak RSS (median) ufs fuse %d KiB, fuse2fs %d KiB\n' "$(median "${runs[ufs2.rss]}")" "$(median "${runs[ext4.rss]}")"
fi
