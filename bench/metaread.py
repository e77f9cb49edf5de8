#!/usr/bin/env python3
"""bench/metaread.py IMAGE TRACE: the floor for a cold-cache check.

TRACE is `strace -e trace=pread64,mmap` output of a check of IMAGE (what
the checker read: superblocks, cylinder groups, inode tables, directories,
indirect blocks), counting both the ranges read with pread and the ranges
of the image file mapped shared (fsck looks at inode tables in place). This reads the same byte ranges from IMAGE again, merged
into runs of adjacent (or overlapping) ranges, with one pread per run, in
disk order, and prints the run count, the bytes and the wall time. Run it
after `echo 3 > /proc/sys/vm/drop_caches` for the cold-cache floor the
issue compares with (issue 18: within 1.2x of this).
"""
import os
import re
import sys
import time


def ranges(trace):
    # pread64(3, "..."..., 65536, 1234567) = 65536
    pat = re.compile(r"pread64\((\d+), .*, (\d+), (\d+)\) = (\d+)")
    # mmap(NULL, 262144, PROT_READ, MAP_SHARED, 3, 0x12340000) = 0x7f...
    # (shared read-only maps of the image's descriptor; the loader's maps
    # of libraries are private)
    mpat = re.compile(r"mmap\(NULL, (\d+), PROT_READ, MAP_SHARED, (\d+), (0x[0-9a-f]+|\d+)\) = 0x")
    lines = list(trace)
    fds = set()
    for line in lines:
        m = pat.search(line)
        if m:
            fds.add(m.group(1))
            if int(m.group(4)) > 0:
                yield int(m.group(3)), int(m.group(4))
    for line in lines:
        m = mpat.search(line)
        if m and m.group(2) in fds:
            yield int(m.group(3), 0), int(m.group(1))


def runs(spans):
    out = []
    for off, n in sorted(spans):
        if out and off <= out[-1][0] + out[-1][1]:
            start, length = out[-1]
            out[-1] = (start, max(length, off + n - start))
        else:
            out.append((off, n))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: metaread.py IMAGE STRACE-OUTPUT")
    with open(sys.argv[2], encoding="utf-8", errors="replace") as f:
        todo = runs(ranges(f))
    fd = os.open(sys.argv[1], os.O_RDONLY)
    t0 = time.perf_counter()
    total = 0
    for off, n in todo:
        total += len(os.pread(fd, n, off))
    t1 = time.perf_counter()
    os.close(fd)
    print(f"{len(todo)} runs, {total / 1048576:.1f} MiB, {t1 - t0:.4f} s")


if __name__ == "__main__":
    main()
