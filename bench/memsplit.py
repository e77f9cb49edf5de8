#!/usr/bin/env python3
"""memsplit.py OUT CMD...: runs CMD and writes to OUT its peak anonymous
memory and peak file-backed memory in KiB ("anon file"), sampled from
/proc/PID/status every half millisecond.

/usr/bin/time's peak RSS adds both. The file-backed part is mostly the
program's own code and its shared libraries, which says little about how a
tool's memory grows with its input; the anonymous part (heap, buffers,
thread stacks) is what the tool allocates. Sampling can miss a peak shorter
than the interval, so this is a second figure beside time's, not a
replacement; the runs that are timed are not sampled.
"""
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: memsplit.py OUT CMD...")
    out, cmd = sys.argv[1], sys.argv[2:]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    anon = filed = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    key, _, val = line.partition(":")
                    if key == "RssAnon":
                        anon = max(anon, int(val.split()[0]))
                    elif key == "RssFile":
                        filed = max(filed, int(val.split()[0]))
        except (OSError, ValueError):
            pass
        time.sleep(0.0005)
    if p.returncode != 0:
        sys.exit(f"memsplit.py: {cmd[0]} exited {p.returncode}")
    with open(out, "w") as f:
        f.write(f"{anon} {filed}\n")


main()
