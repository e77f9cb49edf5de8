# kernel-lib.sh — sourced (not run). Boots a Linux guest whose first
# process is a script of the host's, for the kernel checks: the Linux
# kernel's ufs driver is an independent reader of the images ufskit writes.
#
# Two backends, one contract: the guest sees the host's whole file tree at
# the same paths (user-mode-linux: hostfs; QEMU: the host's / over virtio-9p,
# mounted by a small initramfs that then switches root into it), so a guest
# init can read images, scripts and tools in place and write its results
# next to them. The ufs and loop drivers are modules of the guest kernel,
# found in the guest through UFS_KMODDIR (set on the kernel command line,
# which hands it to init as an environment variable).
#
#   uml       user-mode-linux (Debian's user-mode-linux package). Fast to
#             boot, but it cannot run on CPUs whose XSAVE area it does not
#             know (AMX: "ptrace set fp regs failed, errno = 14").
#   qemu-kvm  QEMU with KVM, Debian's stock amd64 kernel.
#   qemu-tcg  QEMU's software CPU: works everywhere, slower.
#
# Host side (the caller defines die()):
#   kernel_backend   sets KERNEL_BACKEND: UFS_KERNEL_BACKEND (uml, qemu,
#                    qemu-kvm, qemu-tcg) when set, else the first backend
#                    whose probe boot runs a program (uml, then qemu-kvm,
#                    then qemu-tcg); the probe's verdict is cached per host
#                    boot. Also sets KERNEL_MODDIR and KERNEL_DESC.
#   kernel_boot INIT LOG TIMEOUT
#                    boots the guest with the host script INIT as its first
#                    process; the console is appended to LOG; returns the
#                    emulator's status (124/137 when TIMEOUT ran out).
#                    UFS_KERNEL_MEM (default 256M) sizes the guest.
# Guest side (INIT sources this file again):
#   kernel_module SUBDIR NAME   path of NAME.ko* under $UFS_KMODDIR/SUBDIR
#   kernel_load KO SCRATCH      inserts the module KO (unpacked to SCRATCH
#                               first when compressed)
#   kernel_poweroff             syncs and powers the guest off
#
# QEMU's kernel and initramfs come from tests/interop/qemu-setup.sh, cached
# in UFS_QEMU_CACHE (default /var/tmp/ufskit-qemu); kernel_backend runs it
# when the cache is missing. UFS_QEMU_KERNEL, UFS_QEMU_INITRD and
# UFS_QEMU_MODDIR replace its parts (tests use that to boot a broken kernel).

kernel_lib_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)

# --- guest side ------------------------------------------------------------

kernel_module() {
    find "${UFS_KMODDIR:?UFS_KMODDIR not set}/$1" -name "$2.ko*" 2>/dev/null | head -n1 || true
}

kernel_load() {
    local ko=$1 tmp=$2
    case $ko in
        *.xz) xz -dc "$ko" > "$tmp" || return ;;
        *.zst) zstd -qdc "$ko" > "$tmp" || return ;;
        *.gz) gzip -dc "$ko" > "$tmp" || return ;;
        *) tmp=$ko ;;
    esac
    insmod "$tmp"
}

kernel_poweroff() {
    sync
    echo o > /proc/sysrq-trigger
    sleep 10
}

# --- host side ---------------------------------------------------------------

# The user-mode-linux kernel and its module tree: sets uml_linux, uml_moddir.
kernel_uml_find() {
    uml_linux=${UML_LINUX:-}
    if [ -z "$uml_linux" ]; then
        uml_linux=$(command -v linux.uml || command -v linux || true)
    fi
    [ -n "$uml_linux" ] && [ -x "$uml_linux" ] || return 1
    # Modules load only into the kernel they were built for: take the tree
    # the binary's version names, else the newest one there is.
    local kver
    kver=$("$uml_linux" --version 2>/dev/null | head -n1 | tr -d '[:space:]' || true)
    uml_moddir=/usr/lib/uml/modules/$kver
    if [ -z "$kver" ] || [ ! -d "$uml_moddir" ]; then
        uml_moddir=$(find /usr/lib/uml/modules -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort -V | tail -n1)
    fi
    [ -n "$uml_moddir" ] && [ -d "$uml_moddir" ]
}

# QEMU's parts: sets qemu_kernel, qemu_initrd, qemu_moddir, qemu_kver.
kernel_qemu_find() {
    command -v qemu-system-x86_64 > /dev/null || return 1
    local cache=${UFS_QEMU_CACHE:-/var/tmp/ufskit-qemu}
    if [ ! -f "$cache/ready" ] && [ -z "${UFS_QEMU_KERNEL:-}" ]; then
        bash "$kernel_lib_dir/qemu-setup.sh" >&2 || return 1
    fi
    if [ -f "$cache/ready" ]; then
        # shellcheck source=/dev/null
        . "$cache/ready"
    fi
    qemu_kernel=${UFS_QEMU_KERNEL:-${qemu_kernel:-}}
    qemu_initrd=${UFS_QEMU_INITRD:-${qemu_initrd:-}}
    qemu_moddir=${UFS_QEMU_MODDIR:-${qemu_moddir:-}}
    [ -n "$qemu_kernel" ] && [ -f "$qemu_kernel" ] && [ -n "$qemu_initrd" ] && [ -f "$qemu_initrd" ]
}

kernel_boot() {
    local init=$1 log=$2 timeout_s=$3 mem=${UFS_KERNEL_MEM:-256M}
    local -a cmd
    case $KERNEL_BACKEND in
        uml)
            # UML backs guest RAM with a file under TMPDIR; uml_dir keeps its
            # pid/mconsole directory out of $HOME; its console must not be a
            # tty or it takes the terminal over.
            mkdir -p "$(dirname -- "$init")/uml-run"
            cmd=(env "TMPDIR=${UML_MEMDIR:-$(dirname -- "$init")}" "$uml_linux"
                "mem=$mem"
                "uml_dir=$(dirname -- "$init")/uml-run"
                root=/dev/root rootfstype=hostfs rootflags=/ rw
                "init=$init" "UFS_KMODDIR=$KERNEL_MODDIR"
                con=null con0=fd:0,fd:1)
            ;;
        qemu-kvm | qemu-tcg)
            local accel=tcg cpu=max
            if [ "$KERNEL_BACKEND" = qemu-kvm ]; then accel=kvm; cpu=host; fi
            # The host's / is the guest's root (read-write, like UML's
            # hostfs); multidevs=remap keeps inode numbers of the host's
            # other mounts from colliding. Files the guest creates belong to
            # the user QEMU runs as (security_model=none).
            cmd=(qemu-system-x86_64
                -nodefaults -no-user-config -no-reboot
                -machine "pc,accel=$accel" -cpu "$cpu" -smp 1 -m "$mem"
                -display none -serial stdio -monitor none
                -kernel "$qemu_kernel" -initrd "$qemu_initrd"
                -append "console=ttyS0 panic=-1 quiet loglevel=4 ufskit_init=$init UFS_KMODDIR=$KERNEL_MODDIR"
                -fsdev "local,id=hostroot,path=/,security_model=none,multidevs=remap"
                -device "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot")
            ;;
        *) echo "kernel-lib.sh: unknown backend '$KERNEL_BACKEND'" >> "$log"; return 2 ;;
    esac
    # timeout signals the whole process group (UML's helper processes go
    # too). KERNEL_EXEC=exec makes a background subshell become the timeout
    # process, so that its $! can be signalled by a watchdog.
    if [ "${KERNEL_EXEC:-}" = exec ]; then
        exec timeout --kill-after=5 "$timeout_s" "${cmd[@]}" < /dev/null >> "$log" 2>&1
    fi
    timeout --kill-after=5 "$timeout_s" "${cmd[@]}" < /dev/null >> "$log" 2>&1
}

# A probe boot: does KERNEL_BACKEND run a program? 0 when it does.
kernel_probe() {
    local dir rc=1
    dir=$(mktemp -d "${TMPDIR:-/tmp}/kernel-probe.XXXXXX")
    cat > "$dir/init" <<'INIT'
#!/bin/sh
echo ran > "$(dirname -- "$0")/ran"
sync
echo o > /proc/sysrq-trigger
sleep 10
INIT
    chmod +x "$dir/init"
    local t=10
    [ "$KERNEL_BACKEND" = uml ] || t=30
    kernel_boot "$dir/init" "$dir/console.log" "$t" || true
    [ -f "$dir/ran" ] && rc=0
    if [ "$rc" -ne 0 ] && [ -n "${KERNEL_PROBE_LOG:-}" ]; then
        { echo "== probe of $KERNEL_BACKEND failed; its console ended with:"; tail -n 5 "$dir/console.log"; } >> "$KERNEL_PROBE_LOG"
    fi
    rm -rf -- "$dir"
    return "$rc"
}

kernel_backend_use() { # BACKEND: sets what kernel_boot needs, 1 if not installed
    KERNEL_BACKEND=$1
    case $1 in
        uml)
            kernel_uml_find || return 1
            KERNEL_MODDIR=$uml_moddir
            KERNEL_DESC="uml ($uml_linux, modules $(basename -- "$uml_moddir"))" ;;
        qemu-kvm | qemu-tcg)
            kernel_qemu_find || return 1
            KERNEL_MODDIR=$qemu_moddir
            KERNEL_DESC="$1 ($(basename -- "$qemu_kernel"))" ;;
        *) return 1 ;;
    esac
}

kernel_backend() {
    local forced=${UFS_KERNEL_BACKEND:-}
    case $forced in
        uml | qemu-kvm | qemu-tcg)
            kernel_backend_use "$forced" || die "UFS_KERNEL_BACKEND=$forced, but it is not installed (apt-get install user-mode-linux, or qemu-system-x86 busybox-static for qemu)"
            return ;;
        qemu)
            if [ -r /dev/kvm ] && [ -w /dev/kvm ] && kernel_backend_use qemu-kvm && kernel_cached_probe qemu-kvm; then return; fi
            kernel_backend_use qemu-tcg || die "UFS_KERNEL_BACKEND=qemu, but QEMU is not installed (apt-get install qemu-system-x86 busybox-static)"
            return ;;
        '') ;;
        *) die "UFS_KERNEL_BACKEND must be uml, qemu, qemu-kvm or qemu-tcg, not '$forced'" ;;
    esac
    if kernel_backend_use uml && kernel_cached_probe uml; then return; fi
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && kernel_backend_use qemu-kvm && kernel_cached_probe qemu-kvm; then return; fi
    kernel_backend_use qemu-tcg && return
    die "no kernel backend: user-mode-linux does not run here and QEMU is not installed (apt-get install qemu-system-x86 busybox-static)"
}

# kernel_cached_probe BACKEND: the probe's verdict for this host boot, from
# the cache when another test already asked (probes of a backend that hangs
# cost their whole timeout).
kernel_cached_probe() {
    local boot verdict file
    boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
    file="${UFS_QEMU_CACHE:-/var/tmp/ufskit-qemu}/probe-$1-$boot"
    mkdir -p -- "$(dirname -- "$file")"
    exec {lockfd}> "$file.lock"
    flock "$lockfd"
    if [ ! -f "$file" ]; then
        if kernel_probe; then echo ok > "$file"; else echo fails > "$file"; fi
    fi
    verdict=$(cat "$file")
    flock -u "$lockfd"
    exec {lockfd}>&-
    [ "$verdict" = ok ]
}
