#!/usr/bin/env python3
"""Writes the fsck corpus case directories (name, base, script) from the
table below. Expected outputs are then made with
`UFS_BLESS=1 cargo test -p ufskit-tools --test fsck_corpus` and reviewed.
Each case = base image + short `ufs debug` script; nothing opaque."""
import os

BASES = {
    # tag: (path, regular file ino, directory path, directory ino, file path)
    "le2": ("real/ufs-little.img.zst", 4, "/dir1", 768, "/file1"),
    "be2": ("real/ufs-big.img.zst", 4, "/dir1", 768, "/file1"),
    "mk1": ("populated/pop-ufs1-8m.img.zst", 40, "/docs", 8, None),
    "mk2": ("populated/pop-ufs2-16m-b4096.img.zst", 40, "/docs", 8, None),
    # NetBSD makefs, big-endian UFS1 (tests/images/ref): the only BE UFS1 base.
    "be1": ("ref/ufs1-be.img.zst", 29, "/files", 6, None),
}
CLEAN = {
    "le2": "real/ufs-little.img.zst", "be2": "real/ufs-big.img.zst",
    "mk1": "populated/pop-ufs1-8m.img.zst", "mk2": "populated/pop-ufs2-16m-b4096.img.zst",
    "nf1": "freebsd/ufs1-4m.img.zst", "nf2j": "freebsd/ufs2-16m-U-j.img.zst",
    "be1": "ref/ufs1-be.img.zst",
}
KINDS = [
    ("nlink", "link count too high", "set inode {f} di_nlink 5"),
    ("nlink0", "link count zero but referenced", "set inode {f} di_nlink 0"),
    ("clri", "inode cleared, entry left", "clri {f}"),
    ("blocks", "di_blocks wrong", "set inode {f} di_blocks 999"),
    ("badblk", "block pointer outside the file system", "set inode {f} di_db[0] 99999999"),
    ("mode0", "mode cleared, pointers left (partially allocated)", "set inode {f} di_mode 0"),
    ("badmode", "all type bits set", "set inode {f} di_mode 0o170644"),
    ("hugesize", "size beyond the largest file", "set inode {f} di_size 0x7fffffffffffffff"),
    ("dirzero", "first directory block zeroed", "zero dirblock {d} 0"),
    ("reclen", "record length not a multiple of 4", "set dirent / 2 d_reclen 13"),
    ("namlen0", "entry with empty name", "set dirent / 2 d_namlen 0"),
    ("inorange", "entry with inode beyond the last", "set dirent / 2 d_ino 99999999"),
    ("dot", "'.' names another inode", "set dirent {d} 0 d_ino {f}"),
    ("dotdot", "'..' names the wrong directory", "set dirent {d} 1 d_ino {dd}"),
    ("dtype", "d_type disagrees with the inode", "set dirent / 2 d_type 1"),
    ("rootclri", "root inode cleared", "clri 2"),
    ("cgcount", "cg free-block count wrong", "set cg 0 cs_nbfree 3"),
    ("sbcount", "superblock free-block total wrong", "set sb fs_cstotal[1] 7"),
    ("cgmagic", "cylinder group magic destroyed", "set cg 0 cg_magic 0"),
    ("sbbad", "primary superblock geometry destroyed", "set sb fs_bsize 3"),
]
HASH_KINDS = [
    ("cgckhash", "cylinder-group check hash wrong", "ckhash off\nset cg 0 cg_ckhash 1"),
    ("inockhash", "inode check hash wrong", "ckhash off\nset inode {f} di_gen 12345"),
    ("sbckhash", "superblock check hash wrong", "ckhash off\nset sb fs_id[0] 1"),
]

def write(name, title, base, script):
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "name"), "w").write(title + "\n")
    open(os.path.join(d, "base"), "w").write(base + "\n")
    open(os.path.join(d, "script"), "w").write(script + ("\n" if script else ""))

for tag, base in CLEAN.items():
    write(f"f_clean_{tag}", f"clean image ({base})", base, "")
for tag, (base, f, d, dino, _) in BASES.items():
    kinds = KINDS + (HASH_KINDS if tag in ("le2", "be2") else [])
    for k, title, script in kinds:
        s = script.format(f=f, d=d, dd=f)
        write(f"f_{k}_{tag}", f"{title} ({base})", base, s)

# Shared blocks. Block numbers differ per base, so each case is spelled out:
# (kind, title, {tag: (script, inodes that were not damaged)}). The repair
# must leave the undamaged sharer's contents as they were (`intact`: one
# `#INO` per line, compared with the clean base by fsck_repair.rs).
DUP_KINDS = [
    ("dupptr", "a file's first pointer names another file's block", {
        "le2": ("set inode 4 di_db[0] 88", [5]),
        "be2": ("set inode 4 di_db[0] 88", [5]),
        "mk1": ("set inode 40 di_db[0] 224", [160]),
        "mk2": ("set inode 40 di_db[0] 5080", [160]),
        "be1": ("set inode 29 di_db[0] 1434", [30]),
    }),
    ("dupsize", "a grown size makes a fragment tail cover the next file's fragment", {
        "mk1": ("set inode 29 di_size 8000", [30]),
        "mk2": ("set inode 29 di_size 1000", [30]),
        "be1": ("set inode 29 di_size 2000", [30]),
    }),
    ("dupind", "an indirect pointer names another file's indirect block", {
        "mk1": ("set inode 162 di_ib[0] 312", [160]),
        "mk2": ("set inode 162 di_ib[0] 5168", [160]),
    }),
]
for k, title, per_base in DUP_KINDS:
    for tag, (script, intact) in per_base.items():
        base = BASES[tag][0]
        name = f"f_{k}_{tag}"
        write(name, f"{title} ({base})", base, script)
        d = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
        open(os.path.join(d, "intact"), "w").write("".join(f"#{i}\n" for i in intact))
