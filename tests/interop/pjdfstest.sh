#!/bin/bash
# pjdfstest.sh [DEST] — builds pjdfstest (FreeBSD's POSIX file-system test
# suite) from the snapshot in ../shared/vendor into DEST (default
# /var/tmp/ufskit-pjdfstest), once: a DEST with a built `pjdfstest` is left
# alone. Prints DEST. Needs autoconf, automake, make and a C compiler.
set -euo pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
dest=${1:-/var/tmp/ufskit-pjdfstest}
tarball=$(ls "${UFS_SHARED_DIR:-$here/../../../shared}"/vendor/pjdfstest-*.tar.gz 2>/dev/null | head -n1 || true)
if [ -x "$dest/pjdfstest" ]; then echo "$dest"; exit 0; fi
[ -n "$tarball" ] || { echo "pjdfstest.sh: no pjdfstest-*.tar.gz in ../shared/vendor" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pjdfstest.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
tar xzf "$tarball" -C "$tmp"
src=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n1)
(cd "$src" && autoreconf -ifs && ./configure && make pjdfstest) > "$tmp/build.log" 2>&1 \
    || { tail -n 20 "$tmp/build.log" >&2; echo "pjdfstest.sh: build failed" >&2; exit 1; }
rm -rf -- "$dest"
mkdir -p -- "$(dirname -- "$dest")"
mv -- "$src" "$dest"
echo "$dest"
