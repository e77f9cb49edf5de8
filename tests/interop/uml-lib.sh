# uml-lib.sh — sourced by uml-manifest.sh and uml-batch.sh (not run), on the
# host to find the user-mode-linux guest kernel and the module tree built for
# it, and by their guest init scripts (through hostfs) to load modules. The
# host caller defines die().

# uml_find: sets `linux` (the guest kernel: UML_LINUX, else linux.uml or
# linux on PATH) and `moddir` (its modules), or dies.
uml_find() {
    linux=${UML_LINUX:-}
    if [ -z "$linux" ]; then
        linux=$(command -v linux.uml || command -v linux || true)
    fi
    if [ -z "$linux" ] || [ ! -x "$linux" ]; then
        die "user-mode-linux kernel not found (apt-get install user-mode-linux)"
    fi
    # Modules load only into the kernel they were built for: take the tree
    # the binary's version names, else the newest one there is.
    local kver
    kver=$("$linux" --version 2>/dev/null | head -n1 | tr -d '[:space:]' || true)
    moddir=/usr/lib/uml/modules/$kver
    if [ -z "$kver" ] || [ ! -d "$moddir" ]; then
        moddir=$(find /usr/lib/uml/modules -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort -V | tail -n1)
    fi
    [ -n "$moddir" ] || die "no modules under /usr/lib/uml/modules"
}

# uml_module SUBDIR NAME: the path of NAME.ko (or .ko.xz, .ko.zst, ...)
# under $moddir/SUBDIR, or nothing.
uml_module() {
    find "$moddir/$1" -name "$2.ko*" 2>/dev/null | head -n1 || true
}

# uml_load KO SCRATCH (in the guest): inserts the module KO. insmod takes
# only uncompressed modules, and Debian ships them compressed, so a
# compressed KO is unpacked to the file SCRATCH first.
uml_load() {
    local ko=$1 tmp=$2
    case $ko in
        *.xz) xz -dc "$ko" > "$tmp" || return ;;
        *.zst) zstd -qdc "$ko" > "$tmp" || return ;;
        *.gz) gzip -dc "$ko" > "$tmp" || return ;;
        *) tmp=$ko ;;
    esac
    insmod "$tmp"
}
