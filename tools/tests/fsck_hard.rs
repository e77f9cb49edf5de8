//! Repairs of hard damage (issues 14 and 15), each checked three ways:
//! one `ufs fsck -y -f` converges (`-n -f` clean after it), FreeBSD's
//! `fsck_ffs_check` finds the result clean, and every file the damage did
//! not touch reads as before; FreeBSD's own `fsck_ffs -y` on a copy of the
//! damaged image is the yardstick for how many files a repair keeps.

#[allow(clippy::panic)]
mod common;
use common::damage::*;
use std::path::Path;

/// Checks the repaired `img` against `want`, the files it should hold,
/// and against FreeBSD's repair of `copy`: ufskit keeps every file and at
/// least as many as fsck_ffs.
fn assert_repaired(img: &Path, copy: &Path, want: &std::collections::BTreeMap<String, Vec<u8>>) {
    if let Err(e) = ufs_clean(img) {
        panic!("ufs fsck -n -f after one -y run is not clean: {e}");
    }
    if let Some(Err(e)) = ufskit_testkit::freebsd::fsck_clean(img) {
        panic!("FreeBSD's fsck_ffs_check after ufs fsck -y: {e}");
    }
    let got = snapshot(img);
    let ours = kept(want, &got);
    let lost: Vec<_> = want
        .keys()
        .filter(|k| got.get(*k) != want.get(*k))
        .take(5)
        .collect();
    assert_eq!(ours, want.len(), "ufs fsck -y lost files, e.g. {lost:?}");
    if let Some(out) = freebsd_repair(copy) {
        let theirs = kept(want, &snapshot(copy));
        eprintln!(
            "files kept: ufskit {ours}, FreeBSD fsck_ffs {theirs} of {}",
            want.len()
        );
        assert!(
            ours >= theirs,
            "FreeBSD kept more ({theirs} > {ours}):\n{out}"
        );
    }
}

/// Issue 14, item 1: a cylinder group whose header block is zeroed. Phase
/// 1 must read all of the group's inodes (not the zeroed
/// `cg_initediblk`), rebuild the group, and lose nothing.
fn zeroed_cg_header(version: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    make_tree(&tree, 40, 60, 14);
    let img = dir.path().join("img");
    makefs(&img, &tree, version, &[]);
    let want = host_snapshot(&tree);
    assert_eq!(snapshot(&img), want, "the image holds the tree");
    let geo = geometry(&img);
    assert!(
        geo.ncg >= 3,
        "the tree spans several groups ({} here)",
        geo.ncg
    );
    let cg1 = geo.frag_offset(geo.cgtod(ufskit::CgIdx(1)));
    zero(
        &img,
        cg1,
        4096.min(geo.cgsize as usize).max(geo.fsize as usize),
    );
    let copy = dir.path().join("copy");
    std::fs::copy(&img, &copy).expect("copy");

    let (code, out) = fsck(&img, &["-y", "-f"]);
    assert!(code == 0 || code == 1, "exit {code}:\n{out}");
    assert!(
        out.contains("CYLINDER GROUP 1: BAD MAGIC NUMBER\nREBUILD CYLINDER GROUP? yes\n"),
        "{out}"
    );
    if version == 2 {
        // The group held inodes past the two blocks a rebuild assumes.
        assert!(out.contains("CYLINDER GROUP 1: FOUND "), "{out}");
    }
    assert!(
        !out.contains("REMOVE? yes") && !out.contains("RERUN"),
        "{out}"
    );
    assert_repaired(&img, &copy, &want);
}

#[test]
fn zeroed_cg_header_ufs2_keeps_every_file() {
    zeroed_cg_header(2);
}

#[test]
fn zeroed_cg_header_ufs1_keeps_every_file() {
    zeroed_cg_header(1);
}

/// A UFS2 group header whose `cg_initediblk` was damaged while its check
/// hash was left stale: the header is not believed, its inodes are all
/// read, and the count is put back (FreeBSD 12.1 believes it and removes
/// every file past it).
#[test]
fn cg_initediblk_under_bad_check_hash_is_not_believed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    make_tree(&tree, 40, 60, 15);
    let img = dir.path().join("img");
    makefs(&img, &tree, 2, &[]);
    let want = host_snapshot(&tree);
    let out = common::ufs([
        "debug",
        "--no-ckhash",
        &img.display().to_string(),
        "set cg 1 cg_initediblk 0",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = dir.path().join("copy");
    std::fs::copy(&img, &copy).expect("copy");
    let (code, out) = fsck(&img, &["-y", "-f"]);
    assert!(code == 0 || code == 1, "exit {code}:\n{out}");
    assert!(out.contains("CG 1: BAD CHECK-HASH"), "{out}");
    assert!(!out.contains("REMOVE? yes"), "{out}");
    assert_repaired(&img, &copy, &want);
}
