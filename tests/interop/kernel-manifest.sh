#!/bin/bash
# kernel-manifest.sh IMAGE UFSTYPE OUTFILE
#
# Mounts IMAGE read-only with the Linux kernel's ufs driver (ufstype=UFSTYPE:
# ufs2, 44bsd, ...) in a guest (kernel-lib.sh picks user-mode-linux or QEMU)
# and writes the manifest of what the kernel sees to OUTFILE (format:
# manifest.sh); OUTFILE.statfs gets the kernel's statfs numbers, and
# OUTFILE.console.log the guest's console. kernel-batch.sh with one image.
#
# On failure OUTFILE holds the error (first line `ERROR:`), stderr the
# guest's words and the console's last lines, and the exit status is 1.
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 IMAGE UFSTYPE OUTFILE" >&2
    exit 2
fi
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
out=$(realpath -m -- "$3")
[ -d "$(dirname -- "$out")" ] || { echo "kernel-manifest.sh: output directory does not exist: $(dirname -- "$out")" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/kernel-manifest.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
printf '%s %s image\n' "$1" "$2" > "$work/list"
mkdir "$work/out"
rc=0
bash "$here/kernel-batch.sh" "$work/list" "$work/out" 2> "$work/stderr" || rc=$?
cp -f -- "$work/out/console.log" "$out.console.log" 2>/dev/null || : > "$out.console.log"
if [ "$rc" -eq 0 ] && [ -f "$work/out/image.manifest" ]; then
    mv -f -- "$work/out/image.manifest" "$out"
    { cat "$work/out/image.statfs"; echo "# kernel messages"; cat "$work/out/image.kmsg"; } > "$out.statfs"
    grep -v '^kernel-batch.sh: .*images in' "$work/stderr" >&2 || true
    exit 0
fi
cat "$work/stderr" >&2
if [ -f "$work/out/image.error" ]; then
    cp -f -- "$work/out/image.error" "$out"
    sed 's/^/  /' "$work/out/image.error" >&2
else
    echo "ERROR: the guest gave no result (exit $rc); console log: $out.console.log" > "$out"
fi
echo "kernel-manifest.sh: console log kept in $out.console.log; its last lines:" >&2
tail -n 15 "$out.console.log" | sed 's/^/  console: /' >&2
exit 1
