//! `ufs debug` on an image larger than 2 GiB: the image is read where the
//! commands look and edited through a sector overlay, so it is never loaded
//! whole, and only the sectors that changed are written back in place (a
//! sparse image stays sparse). A failed command writes nothing.

// A test reports failure by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Allocated 512-byte blocks of a file.
fn blocks(p: &Path) -> u64 {
    std::fs::metadata(p).expect("stat").blocks()
}

/// The values of `name = [a, b, ...]` or `name = v` in `ufs debug print` output.
fn field(out: &str, name: &str) -> Vec<i64> {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} = ")))
        .unwrap_or_else(|| panic!("no {name} in:\n{out}"));
    line.trim_matches(|c| c == '[' || c == ']')
        .split(", ")
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} = {line}")))
        .collect()
}

#[test]
fn large_sparse_image_is_edited_in_place() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let img = tmp.path().join("big.img");
    let img_s = img.to_str().expect("utf-8 path");
    ufs_ok(["newfs", "-s", "3g", img_s]);
    let len = std::fs::metadata(&img).expect("stat").len();
    assert!(len > 2 << 30, "image is {len} bytes");
    let before = blocks(&img);
    assert!(
        before * 512 < 64 << 20,
        "newfs image is not sparse: {before} blocks"
    );

    let sb = ufs_ok(["debug", img_s, "print sb"]);
    let ncg = field(&sb, "fs_ncg")[0];
    let ipg = field(&sb, "fs_ipg")[0];
    let nbfree = field(&sb, "fs_cstotal")[1];
    assert_ne!(nbfree, 7);

    // The last cylinder group lies past 2 GiB.
    let last = (ncg - 1).to_string();
    let cg = ufs_ok(["debug", img_s, &format!("print cg {last}")]);
    assert_eq!(field(&cg, "cg_cgx"), [ncg - 1]);

    // Zeroing an inode that is already zero (one of the last group's,
    // never initialised by newfs) changes nothing and writes nothing.
    let ino = (ncg * ipg - 1).to_string();
    let out = ufs_ok([
        "debug",
        img_s,
        &format!("clri {ino}"),
        &format!("print inode {ino}"),
    ]);
    assert_eq!(field(&out, "di_mode"), [0]);
    assert_eq!(blocks(&img), before, "zeros were written over a hole");

    // A real edit, seen by a later run and by fsck.
    let out = ufs_ok(["debug", img_s, "set sb fs_cstotal[1] 7"]);
    assert_eq!(out, "");
    let sb = ufs_ok(["debug", img_s, "print sb"]);
    assert_eq!(field(&sb, "fs_cstotal")[1], 7);
    let fsck = ufs(["fsck", "-n", "-f", img_s]);
    let text = String::from_utf8_lossy(&fsck.stdout);
    assert!(
        text.contains("SUMMARY BLK COUNT(S) WRONG IN SUPERBLK"),
        "fsck did not see the count:\n{text}"
    );
    assert_eq!(fsck.status.code(), Some(4), "{text}");

    // Still the same length and still sparse: at most a few sectors more.
    assert_eq!(std::fs::metadata(&img).expect("stat").len(), len);
    let after = blocks(&img);
    assert!(
        after <= before + 64,
        "{before} blocks before, {after} after the edit"
    );
}

#[test]
fn failed_command_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let img = tmp.path().join("small.img");
    let img_s = img.to_str().expect("utf-8 path");
    ufs_ok(["newfs", "-s", "8m", img_s]);
    let orig = std::fs::read(&img).expect("read");
    let out = ufs([
        "debug",
        img_s,
        "set sb fs_cstotal[1] 7",
        "clri 2",
        "set sb no_such_field 1",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ufs debug: set sb no_such_field 1:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read(&img).expect("read") == orig,
        "the image changed"
    );

    // Setting a field and setting it back leaves the bytes as they were.
    let nbfree = field(&ufs_ok(["debug", img_s, "print sb"]), "fs_cstotal")[1];
    ufs_ok([
        "debug",
        img_s,
        "set sb fs_cstotal[1] 7",
        &format!("set sb fs_cstotal[1] {nbfree}"),
    ]);
    assert!(
        std::fs::read(&img).expect("read") == orig,
        "the image changed"
    );
}
