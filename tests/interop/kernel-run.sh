#!/bin/bash
# kernel-run.sh INIT LOG TIMEOUT — boots a guest (kernel-lib.sh chooses the
# backend) whose first process is the host script INIT, console appended to
# LOG. Prints the backend on stdout. Exit 0 when the guest powered off by
# itself within TIMEOUT seconds; else 1, with the console's last lines on
# stderr.
set -euo pipefail
[ "$#" -eq 3 ] || { echo "usage: $0 INIT LOG TIMEOUT" >&2; exit 2; }
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
die() { echo "kernel-run.sh: $*" >&2; exit 2; }
# shellcheck source=tests/interop/kernel-lib.sh
. "$here/kernel-lib.sh"
kernel_backend
echo "$KERNEL_DESC"
init=$(realpath -- "$1")
timeout_s=$3
[ "$KERNEL_BACKEND" != qemu-tcg ] || timeout_s=$((timeout_s * 4))
rc=0
kernel_boot "$init" "$2" "$timeout_s" || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "kernel-run.sh: the guest ($KERNEL_DESC) ended with status $rc$([ "$rc" -eq 124 ] && echo " (timed out after ${timeout_s}s)")" >&2
    tail -n 15 "$2" | sed 's/^/  console: /' >&2
    exit 1
fi
