#!/bin/sh
# Bounded fuzz smoke test for CI: builds every target and runs each for N
# seconds (default 30) on the committed seeds plus the seeds seed.sh makes
# from tests/images. Exits non-zero on any crash, timeout or OOM (the
# failing input is left in fuzz/artifacts/<target>/).
#
#   fuzz/smoke.sh [SECONDS]        env: NICE=10 to run nice'd
set -eu
secs=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
export RUSTC_BOOTSTRAP=1   # cargo-fuzz needs -Z flags; stable rustc is fine
run() { if [ -n "${NICE:-}" ]; then nice -n "$NICE" "$@"; else "$@"; fi; }

command -v cargo-fuzz >/dev/null 2>&1 || run cargo install cargo-fuzz --locked
run cargo fuzz build -O
./seed.sh >/dev/null

# New corpus entries go to a scratch directory; the checked-in corpus is
# only read.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for t in open_walk fsck_n mutate_valid build_roundtrip fsck_repair parse_structs edit_ops; do
    mkdir -p "$scratch/$t"
    case $t in
        open_walk|fsck_n) extra="-max_len=1048576" ;;
        mutate_valid|fsck_repair) extra="-max_len=1024 -len_control=0" ;;
        parse_structs) extra="-max_len=16384" ;;
        edit_ops) extra="-max_len=4096 -len_control=0" ;;
        *) extra="-max_len=4096" ;;
    esac
    echo "== $t (${secs}s)"
    if ! run cargo fuzz run -O "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 $extra \
        -print_final_stats=1 2>"$scratch/$t.log"; then
        tail -60 "$scratch/$t.log"
        echo "!! $t failed; input in fuzz/artifacts/$t/" >&2
        status=1
    else
        grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|DONE' "$scratch/$t.log" || true
    fi
done
exit $status
