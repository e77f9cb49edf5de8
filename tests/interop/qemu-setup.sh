#!/bin/bash
# qemu-setup.sh [CACHE] — prepares the QEMU kernel backend of kernel-lib.sh:
# Debian's stock amd64 kernel (the package linux-image-amd64 depends on,
# fetched with `apt-get download`, unpacked with `dpkg -x`; it carries
# ufs.ko, loop.ko and the virtio/9p modules) and a small initramfs of our
# own (busybox-static, the virtio/9p modules, an /init that mounts the
# host's / over 9p and switches root into it).
#
# CACHE defaults to UFS_QEMU_CACHE or /var/tmp/ufskit-qemu. It ends with a
# file `ready` (shell assignments: qemu_kernel, qemu_initrd, qemu_moddir,
# qemu_kver); a rerun with `ready` present does nothing. UFS_QEMU_KERNEL_PKG
# names another kernel package. Needs: apt-get (with lists from
# `apt-get update`), dpkg, busybox-static, kmod's modinfo.
set -euo pipefail

cache=${1:-${UFS_QEMU_CACHE:-/var/tmp/ufskit-qemu}}
die() { echo "qemu-setup.sh: $*" >&2; exit 1; }
mkdir -p -- "$cache"
exec {lockfd}> "$cache/setup.lock"
flock "$lockfd"
[ -f "$cache/ready" ] && exit 0

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"
# The initramfs has no libraries: only a static busybox works there.
if file_out=$(LC_ALL=C file -L "$busybox" 2>/dev/null); then
    case $file_out in *"dynamically linked"*) die "$busybox is dynamically linked (apt-get install busybox-static)" ;; esac
fi
modinfo=$(command -v modinfo || echo /sbin/modinfo)
[ -x "$modinfo" ] || die "modinfo not found (apt-get install kmod)"

pkg=${UFS_QEMU_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1)
    [ -n "$pkg" ] || die "cannot tell which kernel package linux-image-amd64 depends on (run apt-get update first)"
fi
dl="$cache/dl"
rm -rf -- "$dl" "$cache/root"
mkdir -p -- "$dl"
(cd "$dl" && apt-get download -q "$pkg" > "$cache/download.log" 2>&1) \
    || { cat "$cache/download.log" >&2; die "apt-get download $pkg failed"; }
deb=$(find "$dl" -name '*.deb' | head -n1)
[ -n "$deb" ] || die "apt-get download $pkg left no .deb"
dpkg -x "$deb" "$cache/root"
rm -rf -- "$dl"
kernel=$(find "$cache/root/boot" -name 'vmlinuz-*' | head -n1)
[ -n "$kernel" ] || die "$pkg has no /boot/vmlinuz-*"
kver=${kernel##*/vmlinuz-}
moddir=$(find "$cache/root" -maxdepth 3 -type d -path "*/modules/$kver" | head -n1)
[ -n "$moddir" ] && [ -d "$moddir/kernel" ] || die "$pkg has no modules directory for $kver"

# The initramfs: what mounting the host's root over virtio-9p needs, in
# dependency order (modinfo's depends field, depth first).
ird="$cache/initramfs"
rm -rf -- "$ird"
mkdir -p "$ird/bin" "$ird/modules" "$ird/proc" "$ird/sys" "$ird/dev" "$ird/newroot"
cp -- "$busybox" "$ird/bin/busybox"
declare -A placed=()
order=()
place() {
    local name=$1 ko dep
    [ -z "${placed[$name]+set}" ] || return 0
    placed[$name]=1
    ko=$(find "$moddir/kernel" -name "$name.ko*" | head -n1)
    if [ -z "$ko" ]; then
        # Built into the kernel (modules.builtin), nothing to load.
        grep -q "/$name.ko\$" "$moddir/modules.builtin" 2>/dev/null && return 0
        die "module $name not found for $kver"
    fi
    for dep in $("$modinfo" -F depends "$ko" | tr ',' ' '); do place "$dep"; done
    case $ko in
        *.xz) xz -dc "$ko" > "$ird/modules/$name.ko" ;;
        *.zst) zstd -qdc "$ko" > "$ird/modules/$name.ko" ;;
        *.gz) gzip -dc "$ko" > "$ird/modules/$name.ko" ;;
        *) cp -- "$ko" "$ird/modules/$name.ko" ;;
    esac
    order+=("$name")
}
for m in virtio_pci 9pnet_virtio 9p; do place "$m"; done
printf '%s\n' "${order[@]}" > "$ird/modules/order"

cat > "$ird/init" <<'INIT'
#!/bin/busybox sh
# ufskit's initramfs: mount the host's / (virtio-9p tag hostroot) and run
# the host script named by ufskit_init as the first process there.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
for m in $(/bin/busybox cat /modules/order); do
    /bin/busybox insmod "/modules/$m.ko" || echo "ufskit-initramfs: insmod $m failed"
done
if ! /bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none hostroot /newroot; then
    echo "ufskit-initramfs: cannot mount the host's root (9p tag hostroot)"
    /bin/busybox poweroff -f
fi
if [ -z "$ufskit_init" ] || [ ! -x "/newroot$ufskit_init" ]; then
    echo "ufskit-initramfs: no runnable ufskit_init= ($ufskit_init)"
    /bin/busybox poweroff -f
fi
/bin/busybox umount /proc /dev
exec /bin/busybox switch_root /newroot "$ufskit_init"
INIT
chmod +x "$ird/init"
(cd "$ird" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$cache/initramfs.cpio.gz"
rm -rf -- "$ird"

{
    printf 'qemu_kernel=%q\n' "$kernel"
    printf 'qemu_initrd=%q\n' "$cache/initramfs.cpio.gz"
    printf 'qemu_moddir=%q\n' "$moddir"
    printf 'qemu_kver=%q\n' "$kver"
} > "$cache/ready.tmp"
mv -- "$cache/ready.tmp" "$cache/ready"
echo "qemu-setup.sh: $pkg ($kver) ready in $cache" >&2
