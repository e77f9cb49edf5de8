#!/bin/bash
# uml-manifest.sh IMAGE UFSTYPE OUTFILE
#
# Mounts IMAGE read-only with the Linux kernel's ufs driver, inside a
# user-mode-linux guest (no root, loop devices or host kernel module needed),
# and writes the manifest of what the kernel sees to OUTFILE (format: see
# manifest.sh). UFSTYPE is the driver's ufstype= (ufs2, 44bsd, ...).
#
# After the manifest, OUTFILE.statfs gets the kernel's statfs numbers
# (`stat -f` and `df`). On a failed mount OUTFILE holds the mount error and the
# script exits 1. The guest console goes to OUTFILE.console.log.
#
# Environment: UML_LINUX (guest kernel, default: linux.uml/linux on PATH),
# UML_TIMEOUT (seconds, default 60), UML_MEM (default 256M).
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 IMAGE UFSTYPE OUTFILE" >&2
    exit 2
fi
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
image=$(realpath -- "$1")
ufstype=$2
out=$(realpath -m -- "$3")
log="$out.console.log"
statfs="$out.statfs"

die() { echo "uml-manifest.sh: $*" >&2; exit 1; }

[ -f "$image" ] || die "image not found: $1"
[ -d "$(dirname -- "$out")" ] || die "output directory does not exist: $(dirname -- "$out")"
case $ufstype in *[!a-z0-9]*|'') die "bad ufstype: $ufstype" ;; esac

# shellcheck source=tests/interop/uml-lib.sh
. "$here/uml-lib.sh"
uml_find
ufsko=$(uml_module kernel/fs/ufs ufs)
[ -n "$ufsko" ] || die "ufs module not found under $moddir"

work=$(mktemp -d "${TMPDIR:-/tmp}/uml-manifest.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
mkdir "$work/mnt" "$work/tmp" "$work/uml"
# The kernel command line is split at spaces, so the image goes in by a link.
ln -s -- "$image" "$work/image"

# The guest reads these through hostfs instead of from its command line, so
# paths with spaces survive.
printf '%s' "$ufsko" > "$work/ufsko"
printf '%s' "$ufstype" > "$work/ufstype"
printf '%s' "$out" > "$work/out"
printf '%s' "$statfs" > "$work/statfs"
printf '%s' "$here/manifest.sh" > "$work/manifest"
printf '%s' "$here/uml-lib.sh" > "$work/lib"

# The guest's init. No `set -e`: whatever happens, it must reach the poweroff,
# otherwise UML sits there until the timeout. Its result goes to $W/status.
cat > "$work/init" <<'INIT'
#!/bin/bash
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
W=$(dirname -- "$0")
export TMPDIR=$W/tmp
run() {
    mount -t proc proc /proc 2>/dev/null
    mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev 2>/dev/null
    local ko out statfs dev
    ko=$(cat "$W/ufsko"); out=$(cat "$W/out"); statfs=$(cat "$W/statfs")
    if ! grep -qw ufs /proc/filesystems; then
        # uml_load, from uml-lib.sh.
        . "$(cat "$W/lib")"
        if ! uml_load "$ko" "$W/tmp/ufs.ko" 2> "$W/insmod.err"; then
            { echo "ERROR: insmod $ko failed:"; cat "$W/insmod.err"; } > "$out"
            echo insmod-failed > "$W/status"; return
        fi
    fi
    dev=
    for d in /dev/ubda /dev/ubd0; do [ -b "$d" ] && { dev=$d; break; }; done
    if [ -z "$dev" ]; then
        # No devtmpfs node: make our own on a private tmpfs (98,0 = ubd0).
        mkdir -p "$W/dev" && mount -t tmpfs tmpfs "$W/dev" \
            && mknod "$W/dev/ubda" b 98 0 && dev=$W/dev/ubda
    fi
    if ! mount -t ufs -o "ro,ufstype=$(cat "$W/ufstype")" "$dev" "$W/mnt" 2> "$W/mount.err"; then
        { echo "ERROR: mount -t ufs -o ro,ufstype=$(cat "$W/ufstype") $dev failed:"
          cat "$W/mount.err"; dmesg 2>/dev/null | grep -i "ufs" | grep -v "command line" | tail -n 20; } > "$out"
        echo mount-failed > "$W/status"; return
    fi
    if ! "$(cat "$W/manifest")" "$W/mnt" "$out" 2> "$W/manifest.err"; then
        { echo "ERROR: manifest failed:"; cat "$W/manifest.err"; } > "$out"
        echo manifest-failed > "$W/status"; return
    fi
    { echo "# stat -f (block size, total/free/avail blocks, total/free inodes)"
      stat -f -c 'bsize=%S fbsize=%s blocks=%b bfree=%f bavail=%a files=%c ffree=%d namemax=%l type=%T' "$W/mnt"
      echo "# df -k"; df -k "$W/mnt" | tail -n +2 | awk '{print "total_kb="$2" used_kb="$3" avail_kb="$4}'
      # The kernel's own warnings about the image are worth keeping.
      echo "# kernel messages"; dmesg 2>/dev/null | grep -i ufs | grep -v "command line" || true; } > "$statfs"
    umount "$W/mnt"
    echo ok > "$W/status"
}
run > "$W/init.log" 2>&1
sync
echo o > /proc/sysrq-trigger
sleep 10
INIT
chmod +x "$work/init"

# UML backs guest RAM with a file under TMPDIR and needs it writable;
# uml_dir keeps its pid/mconsole directory out of $HOME. timeout signals the
# whole process group, so UML's helper processes go too.
timeout_s=${UML_TIMEOUT:-60}
rc=0
TMPDIR="$work/tmp" timeout --kill-after=5 "$timeout_s" "$linux" \
    "mem=${UML_MEM:-256M}" \
    "ubd0r=$work/image" \
    "uml_dir=$work/uml" \
    root=/dev/root rootfstype=hostfs rootflags=/ rw \
    "init=$work/init" \
    con=null con0=fd:0,fd:1 \
    < /dev/null > "$log" 2>&1 || rc=$?
# UML leaves the terminal alone only when its console is not a tty, hence the
# redirections above.

status=$(cat "$work/status" 2>/dev/null || echo none)
if [ "$status" != ok ]; then
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "uml-manifest.sh: UML timed out after ${timeout_s}s" >&2
    fi
    echo "uml-manifest.sh: guest status '$status' (linux exit $rc), see $log" >&2
    if [ -s "$work/init.log" ]; then sed 's/^/  guest: /' "$work/init.log" >&2; fi
    if [ -f "$out" ] && grep -q '^ERROR' "$out"; then sed 's/^/  /' "$out" >&2
    else echo "ERROR: guest status $status (linux exit $rc); console log: $log" > "$out"; fi
    exit 1
fi
