#!/bin/bash
# mkref.sh [--full] [--check] [--zstd] OUTDIR
#
# Builds NetBSD-makefs reference images of the fixture tree
# (tests/fixtures/mktree.sh; --small unless --full) into OUTDIR:
#   tree.mtree, tree.manifest         the source tree: mtree spec, manifest
#   NAME.img (NAME.img.zst with --zstd), NAME.cmd (exact command line),
#   NAME.makefs.txt (makefs output), NAME.mtree (symlink to tree.mtree)
# With --check, also what the Linux kernel (kernel-manifest.sh, UFS1 only: the
# kernel cannot find NetBSD's UFS2 superblock at 8192) and The Sleuth Kit
# (tsk-manifest.sh) read from each image, and their diffs against
# tree.manifest: NAME.kernel.manifest/.diff, NAME.tsk.manifest/.diff, and a
# one-line-per-image summary in check-summary.txt. A manifest identical to
# tree.manifest is stored as a symlink to it.
# Needs root for the fixture's owners and device nodes. See
# tests/images/README.md for what the differences mean.
set -euo pipefail
export LC_ALL=C TZ=UTC

full=0 check=0 compress=0
while [ "$#" -gt 1 ]; do
    case $1 in
        --full) full=1 ;;
        --check) check=1 ;;
        --zstd) compress=1 ;;
        *) echo "mkref.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ "$#" -ne 1 ] || [[ $1 == --* ]]; then
    echo "usage: $0 [--full] [--check] [--zstd] OUTDIR" >&2
    exit 2
fi
die() { echo "mkref.sh: $*" >&2; exit 1; }
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
fixtures=$(cd -- "$here/../fixtures" && pwd)
mkdir -p -- "$1"
out=$(cd -- "$1" && pwd)

command -v makefs > /dev/null || die "makefs not found (apt-get install makefs)"
command -v mtree > /dev/null || die "mtree not found (apt-get install mtree-netbsd)"
[ "$(id -u)" -eq 0 ] || echo "mkref.sh: note: not root, so the tree has no device nodes or foreign owners" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/mkref.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

tree=$work/tree
if [ "$full" -eq 1 ]; then
    "$fixtures/mktree.sh" "$tree"
    # makefs writes holes out as data, so the 100 MiB sparse file is 100 MiB.
    size=160m
else
    "$fixtures/mktree.sh" --small "$tree"
    size=8m
fi
# The header names host, user and date; everything after it is reproducible.
(cd "$tree" && mtree -c -K sha256digest,mode,uid,gid,nlink,size,link,time -p .) > "$out/tree.mtree"
"$here/manifest.sh" "$tree" "$out/tree.manifest"

# NAME|makefs options|kernel ufstype|tsk fstype
images=(
    "ufs1-le|-o version=1 -B le|44bsd|ufs1"
    "ufs1-be|-o version=1 -B be|44bsd|ufs1"
    "ufs2-le|-o version=2 -B le|ufs2|ufs2"
    "ufs2-be|-o version=2 -B be|ufs2|ufs2"
    "ufs2-le-b4096|-o version=2,bsize=4096,fsize=512 -B le|ufs2|ufs2"
    "ufs1-le-b4096|-o version=1,bsize=4096,fsize=512 -B le|44bsd|ufs1"
)

summary=()
for spec in "${images[@]}"; do
    IFS='|' read -r name opts ufstype tsktype <<< "$spec"
    img=$out/$name.img
    rm -f -- "$img" "$img.zst" "$out/$name".*
    read -r -a optv <<< "$opts"
    cmd=(makefs -t ffs -s "$size" "${optv[@]}" "$name.img" tree)
    printf '%s\n' "# run in a directory holding the fixture tree as ./tree (tests/fixtures/mktree.sh$([ "$full" -eq 1 ] || echo ' --small') tree)" \
        "${cmd[*]}" > "$out/$name.cmd"
    if ! (cd "$work" && "${cmd[@]}") > "$out/$name.makefs.txt" 2>&1; then
        cat "$out/$name.makefs.txt" >&2
        die "makefs failed for $name: ${cmd[*]}"
    fi
    mv -- "$work/$name.img" "$img"
    # Every image holds the same tree, so its spec is a link, not a copy.
    ln -sfn tree.mtree "$out/$name.mtree"

    if [ "$check" -eq 1 ]; then
        k=skipped
        if [[ $ufstype == 44bsd ]]; then
            if "$here/kernel-manifest.sh" "$img" "$ufstype" "$out/$name.kernel.manifest" 2> "$work/uml.err"; then
                if diff "$out/tree.manifest" "$out/$name.kernel.manifest" > "$out/$name.kernel.diff"; then
                    k=identical
                    ln -sfn tree.manifest "$out/$name.kernel.manifest"
                else
                    k="differs($(grep -c '^<' "$out/$name.kernel.diff") lines)"
                fi
            else
                k=mount-failed
                cat "$work/uml.err" >&2
            fi
        else
            # The kernel looks for UFS2 only at 65536; record the refusal.
            if "$here/kernel-manifest.sh" "$img" "$ufstype" "$out/$name.kernel.manifest" 2> /dev/null; then
                k=mounted-unexpectedly
            else
                k=mount-failed-as-expected
            fi
        fi
        rm -f -- "$out/$name.kernel.manifest.console.log"
        t=failed
        if "$here/tsk-manifest.sh" "$img" "$tsktype" "$out/$name.tsk.manifest" 2> "$out/$name.tsk.err"; then
            if diff "$out/tree.manifest" "$out/$name.tsk.manifest" > "$out/$name.tsk.diff"; then
                t=identical
            else
                t="differs($(grep -c '^<' "$out/$name.tsk.diff") lines)"
            fi
        fi
        [ -s "$out/$name.tsk.err" ] || rm -f -- "$out/$name.tsk.err"
        summary+=("$name kernel=$k tsk=$t")
    fi
    if [ "$compress" -eq 1 ]; then
        zstd -q -19 --rm -f -- "$img"
    fi
done

if [ "$check" -eq 1 ]; then
    printf '%s\n' "${summary[@]}" > "$out/check-summary.txt"
    cat "$out/check-summary.txt"
fi
