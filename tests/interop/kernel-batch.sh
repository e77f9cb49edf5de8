#!/bin/bash
# kernel-batch.sh LISTFILE OUTDIR
#
# What the Linux kernel's ufs driver sees of many images, in one guest boot
# (kernel-lib.sh: user-mode-linux, or QEMU with KVM or TCG; a boot costs
# seconds, which over a hundred images adds up).
# Each line of LISTFILE is
#   IMAGE UFSTYPE NAME
# (IMAGE may contain spaces: UFSTYPE and NAME are the last two words; empty
# lines and lines starting with # are skipped). For each, the guest attaches
# IMAGE read-only to a loop device (losetup -r), mounts it with
# `mount -t ufs -o ro,ufstype=UFSTYPE`, writes the manifest of what the kernel
# sees (manifest.sh: every regular file's contents are read and hashed, the
# first and last 16 MiB of files over 4 GiB) to OUTDIR/NAME.manifest, then
# writes the kernel's statfs numbers to OUTDIR/NAME.statfs (`stat -f`, `df`),
# unmounts and detaches. OUTDIR/NAME.kmsg gets the kernel messages logged
# while that image was being handled (empty when the kernel said nothing).
#
# When an image cannot be mounted, or the manifest cannot be made (a read
# error: sha256sum or find report EIO and manifest.sh fails), there is no
# NAME.manifest but OUTDIR/NAME.error, whose first line starts with `ERROR:`
# and which holds the failing command's messages and the kernel's.
#
# A guest that dies, or hangs on an image (finishes none for
# KERNEL_IMAGE_TIMEOUT seconds, or the boot's KERNEL_TIMEOUT runs out), leaves
# NAME.error for the image it was on, and the images after it are done in a
# new boot. KERNEL_BATCH (default 0: all) caps the images of one boot. The guest
# consoles go to OUTDIR/console.log, OUTDIR/backend gets the backend's
# name, and OUTDIR/progress.log gets a line `NAME ok|error MILLISECONDS` per
# image. Exit status: 0 when every image has a NAME.manifest, 1 when some
# have a NAME.error, 2 on bad usage or when the guest cannot be set up (the
# console's last lines are then on stderr).
#
# Environment: UFS_KERNEL_BACKEND and the rest of kernel-lib.sh's,
# KERNEL_IMAGE_TIMEOUT (default 180, 600 under QEMU's TCG), KERNEL_TIMEOUT
# (seconds for one boot, default 120 + 60 per image, four times that under
# TCG), UFS_KERNEL_MEM (default 256M), KERNEL_BATCH, KERNEL_FAST_HASH and
# KERNEL_PARTIAL_ABOVE (below).
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 LISTFILE OUTDIR" >&2
    exit 2
fi
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
listfile=$1
outdir=$(realpath -- "$2" 2>/dev/null) || { echo "kernel-batch.sh: no such directory: $2" >&2; exit 2; }

die() { echo "kernel-batch.sh: $*" >&2; exit 2; }
[ -f "$listfile" ] || die "list not found: $listfile"
[ -d "$outdir" ] || die "not a directory: $2"

# shellcheck source=tests/interop/kernel-lib.sh
. "$here/kernel-lib.sh"
kernel_backend
UFS_KMODDIR=$KERNEL_MODDIR
[ -n "$(kernel_module kernel/fs/ufs ufs)" ] || die "ufs module not found under $KERNEL_MODDIR"

# The checked list: absolute image paths, tab-separated, one per line.
work=$(mktemp -d "${TMPDIR:-/tmp}/kernel-batch.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
mkdir "$work/mnt" "$work/tmp"
echo "$KERNEL_DESC" > "$outdir/backend"
declare -a images=() types=() names=()
declare -A seen=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    [[ $line =~ ^[[:space:]]*(.*[^[:space:]])[[:space:]]+([^[:space:]]+)[[:space:]]+([^[:space:]]+)[[:space:]]*$ ]] \
        || die "$listfile:$lineno: want IMAGE UFSTYPE NAME"
    image=${BASH_REMATCH[1]} ufstype=${BASH_REMATCH[2]} name=${BASH_REMATCH[3]}
    case $ufstype in *[!a-z0-9]* | '') die "$listfile:$lineno: bad ufstype: $ufstype" ;; esac
    case $name in *[!A-Za-z0-9._+-]* | '' | .*) die "$listfile:$lineno: bad name: $name" ;; esac
    [ -z "${seen[$name]+set}" ] || die "$listfile:$lineno: name used twice: $name"
    seen[$name]=1
    given=$image
    image=$(realpath -- "$image" 2>/dev/null) || image=
    if [ -z "$image" ] || [ ! -f "$image" ]; then die "$listfile:$lineno: image not found: $given"; fi
    case $image in *$'\t'* | *$'\n'*) die "$listfile:$lineno: tab or newline in the image path" ;; esac
    images+=("$image"); types+=("$ufstype"); names+=("$name")
    rm -f -- "$outdir/$name.manifest" "$outdir/$name.error" "$outdir/$name.kmsg" "$outdir/$name.statfs"
done < "$listfile"
total=${#names[@]}
[ "$total" -gt 0 ] || { echo "kernel-batch.sh: $listfile lists no image" >&2; exit 0; }

# Read by the guest from the shared tree (paths with spaces survive that
# way, the kernel command line would split them).
printf '%s' "$outdir" > "$work/outdir"
printf '%s' "$here/manifest.sh" > "$work/manifest"
printf '%s' "$here/kernel-lib.sh" > "$work/lib"

# The guest's init. No `set -e`: whatever happens it must reach the
# poweroff. $W/progress gets a line per finished image (so the host knows
# which one a crash or hang happened on), $W/status says how far it got.
cat > "$work/init" <<'INIT'
#!/bin/bash
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
# Under an emulated CPU every program started costs a tenth of a second or
# more, so whatever bash can do itself (reading files, clocks, filtering)
# it does.
W=${0%/*}
export TMPDIR=$W/tmp
read -r OUT < "$W/outdir"
read -r MANIFEST < "$W/manifest"
read -r PARTIAL < "$W/partial_above"
read -r MTIMEOUT < "$W/manifest_timeout"
read -r LIB < "$W/lib"
# kernel_load and kernel_module, from kernel-lib.sh.
. "$LIB"
show() { # FILE...: prints the files that exist
    local f l
    for f; do
        [ -f "$f" ] || continue
        while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done < "$f"
    done
}
# The kernel messages since the last call (the ring buffer is cleared).
kmsg() {
    local l
    while IFS= read -r l; do [[ $l == *"command line"* ]] || printf '%s\n' "$l"; done < <(dmesg -c 2>/dev/null)
}
elapsed_ms() { local now=${EPOCHREALTIME/./}; echo $(( (now - start) / 1000 )); }
fail() { # NAME WHAT DETAILFILE...
    local name=$1 what=$2; shift 2
    { echo "ERROR: $what"; show "$@"; echo "# kernel messages"; kmsg; } > "$OUT/$name.error"
    echo "$name error $(elapsed_ms) ms" >> "$W/progress"
}
one() { # IMAGE UFSTYPE NAME
    local image=$1 ufstype=$2 name=$3 dev start=${EPOCHREALTIME/./}
    dmesg -C 2>/dev/null
    if ! dev=$(losetup -r -f --show -- "$image" 2> "$W/losetup.err"); then
        fail "$name" "losetup -r -f --show $image failed:" "$W/losetup.err"; return
    fi
    if ! mount -t ufs -o "ro,ufstype=$ufstype" "$dev" "$W/mnt" 2> "$W/mount.err"; then
        fail "$name" "mount -t ufs -o ro,ufstype=$ufstype $dev ($image) failed:" "$W/mount.err"
        losetup -d "$dev"; return
    fi
    # A read error makes sha256sum (or find) fail, and with it manifest.sh.
    if ! MANIFEST_PARTIAL_ABOVE=$PARTIAL timeout "$MTIMEOUT" "$MANIFEST" "$W/mnt" "$OUT/$name.manifest" 2> "$W/manifest.err"; then
        rm -f -- "$OUT/$name.manifest"
        fail "$name" "manifest.sh on the mounted $image failed (a read error?):" "$W/manifest.err"
        umount "$W/mnt" || umount -l "$W/mnt"
        losetup -d "$dev"; return
    fi
    stat -f -c 'bsize=%S fbsize=%s blocks=%b bfree=%f bavail=%a files=%c ffree=%d namemax=%l type=%T' "$W/mnt" > "$OUT/$name.statfs"
    umount "$W/mnt" 2> "$W/umount.err" || { show "$W/umount.err"; umount -l "$W/mnt"; }
    losetup -d "$dev"
    kmsg > "$OUT/$name.kmsg"
    echo "$name ok $(elapsed_ms) ms" >> "$W/progress"
}
run() {
    echo started > "$W/status"
    mount -t proc proc /proc 2>/dev/null
    mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev 2>/dev/null
    grep -qw ufs /proc/filesystems || kernel_load "$(kernel_module kernel/fs/ufs ufs)" "$W/tmp/ufs.ko" || { echo insmod-ufs-failed > "$W/status"; return; }
    [ -e /dev/loop-control ] || kernel_load "$(kernel_module kernel/drivers/block loop)" "$W/tmp/loop.ko" || { echo insmod-loop-failed > "$W/status"; return; }
    [ -e /dev/loop-control ] || { echo no-loop-control > "$W/status"; return; }
    local image ufstype name
    # The list on fd 3, so that nothing run for an image can eat it.
    while IFS=$'\t' read -r -u 3 image ufstype name; do
        one "$image" "$ufstype" "$name" < /dev/null
    done 3< "$W/list"
    echo done > "$W/status"
}
run > "$W/init.log" 2>&1
kernel_poweroff
INIT
chmod +x "$work/init"

# Software emulation runs the guest several times slower.
slow=1
[ "$KERNEL_BACKEND" != qemu-tcg ] || slow=4
image_timeout=${KERNEL_IMAGE_TIMEOUT:-$((slow == 1 ? 180 : 600))}
[ "$image_timeout" -ge 30 ] 2>/dev/null || die "KERNEL_IMAGE_TIMEOUT must be a number of seconds, at least 30"
# Under TCG the guest reads and hashes at some 30 MB/s. A caller that can
# compare partial hashes sets KERNEL_FAST_HASH=1: then, under TCG only,
# files over 32 MiB (the 128 MiB sparse files of the real/ images) are
# hashed in their first and last 16 MiB, and OUTDIR/partial-above says so.
partial_above=$((4 * 1024 * 1024 * 1024))
if [ "$slow" -ne 1 ] && [ "${KERNEL_FAST_HASH:-0}" = 1 ]; then partial_above=$((32 * 1024 * 1024)); fi
partial_above=${KERNEL_PARTIAL_ABOVE:-$partial_above}
echo "$partial_above" > "$work/partial_above"
echo "$partial_above" > "$outdir/partial-above"
# Inside the guest, a manifest that takes too long is stopped a little
# earlier, so that it is reported with the kernel's messages.
echo $((image_timeout - 20)) > "$work/manifest_timeout"
batch=${KERNEL_BATCH:-0}
[ "$batch" -gt 0 ] 2>/dev/null || batch=$total
next=0
boots=0
while [ "$next" -lt "$total" ]; do
    end=$((next + batch)); [ "$end" -le "$total" ] || end=$total
    : > "$work/list"
    for ((i = next; i < end; i++)); do
        printf '%s\t%s\t%s\n' "${images[i]}" "${types[i]}" "${names[i]}" >> "$work/list"
    done
    rm -f -- "$work/status" "$work/progress"
    : > "$work/progress"
    timeout_s=${KERNEL_TIMEOUT:-$((slow * (120 + 60 * (end - next))))}
    boots=$((boots + 1))
    echo "==== boot $boots: images $((next + 1))..$end of $total ====" >> "$outdir/console.log"
    (KERNEL_EXEC=exec kernel_boot "$work/init" "$outdir/console.log" "$timeout_s") &
    pid=$!
    # The watchdog: a guest that finishes no image for KERNEL_IMAGE_TIMEOUT
    # seconds is stopped.
    stalled=
    seen_lines=-1
    since=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        n=$(wc -l < "$work/progress")
        if [ "$n" != "$seen_lines" ]; then seen_lines=$n; since=$SECONDS; fi
        if [ $((SECONDS - since)) -ge "$image_timeout" ]; then
            stalled="no image finished for ${image_timeout}s"
            kill -TERM "$pid" 2>/dev/null || true
            break
        fi
    done
    rc=0
    wait "$pid" || rc=$?
    status=$(cat "$work/status" 2>/dev/null || echo none)
    handled=$(wc -l < "$work/progress")
    cat "$work/progress" >> "$outdir/progress.log"
    if [ "$status" = "done" ]; then
        next=$end
        continue
    fi
    case $status in
        none | insmod-* | no-loop-control)
            # Nothing was tried: the guest did not start, or has no drivers.
            echo "kernel-batch.sh: guest setup failed on $KERNEL_DESC (status '$status', exit $rc), see $outdir/console.log" >&2
            sed 's/^/  guest: /' "$work/init.log" >&2 2>/dev/null || true
            tail -n 20 "$outdir/console.log" | sed 's/^/  console: /' >&2
            for ((i = next; i < total; i++)); do
                echo "ERROR: guest setup failed (status '$status'); see $outdir/console.log" > "$outdir/${names[i]}.error"
            done
            exit 2 ;;
    esac
    # The guest died or hung: blame the first image it did not finish (the
    # one it was on), go on after it in a new boot.
    idx=$((next + handled))
    if [ "$idx" -ge "$end" ]; then
        # Every image is done; it only failed to say so.
        next=$end
        continue
    fi
    why="guest exit $rc"
    if [ -n "$stalled" ]; then why=$stalled
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then why="timed out after ${timeout_s}s"; fi
    {
        echo "ERROR: the guest stopped while handling this image ($why, guest status '$status')"
        echo "# guest log"; cat "$work/init.log" 2>/dev/null
        echo "# end of the console log"; tail -n 40 "$outdir/console.log"
    } > "$outdir/${names[idx]}.error"
    rm -f -- "$outdir/${names[idx]}.manifest"
    echo "kernel-batch.sh: ${names[idx]}: guest stopped ($why); going on in a new boot" >&2
    next=$((idx + 1))
done

errors=0
for name in "${names[@]}"; do
    if [ -f "$outdir/$name.error" ] || [ ! -f "$outdir/$name.manifest" ]; then
        errors=$((errors + 1))
        [ -f "$outdir/$name.error" ] || echo "ERROR: no manifest was written" > "$outdir/$name.error"
    fi
done
echo "kernel-batch.sh: $KERNEL_DESC: $total images in $boots boot(s), $((total - errors)) manifests, $errors errors" >&2
[ "$errors" -eq 0 ]
