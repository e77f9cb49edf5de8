#!/bin/bash
# host-manifest.sh DIR OUTFILE — manifest of a host directory (a fixture tree,
# or a tree extracted by `ufs`), in the same format as kernel-manifest.sh.
set -euo pipefail
if [ "$#" -ne 2 ]; then
    echo "usage: $0 DIR OUTFILE" >&2
    exit 2
fi
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
exec "$here/manifest.sh" "$1" "$2"
