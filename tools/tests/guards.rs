//! Guards against losing data: newfs and makefs refuse, without --force,
//! to overwrite another file system or a partition table (made here by the
//! real mkfs tools, sfdisk and sgdisk); a failed makefs leaves no
//! half-built image; a second `ufs undo` does nothing and says why.

// A test reports failure by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{output_ok, require};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ufs");

fn ufs(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run ufs")
}

fn sha(p: &Path) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(p).unwrap()))
}

/// A sparse file of `mib` MiB.
fn blank(dir: &Path, name: &str, mib: u64) -> PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .set_len(mib << 20)
        .unwrap();
    p
}

/// Runs a formatting tool on a new `mib` MiB file; `None` (skipped) when
/// the tool is missing.
fn formatted(dir: &Path, tool: &str, pkg: &str, args: &[&str], mib: u64) -> Option<PathBuf> {
    if !require(tool, &format!("apt-get install {pkg}")) {
        return None;
    }
    let img = blank(dir, &format!("{tool}.img"), mib);
    output_ok(Command::new(tool).args(args).arg(&img), tool);
    Some(img)
}

/// A 32 MiB disk with one Linux partition in an MBR, made by sfdisk.
fn mbr_disk(dir: &Path) -> Option<PathBuf> {
    if !require("sfdisk", "apt-get install fdisk") {
        return None;
    }
    let img = blank(dir, "mbr.img", 32);
    common::sfdisk(&img, "label: dos\nstart=2048, type=83\n");
    Some(img)
}

/// d/tree holding one small file.
fn one_file_tree(d: &Path) -> PathBuf {
    let tree = d.join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("f"), "x").unwrap();
    tree
}

#[test]
fn newfs_and_makefs_refuse_other_file_systems_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tree = one_file_tree(d);
    let cases: Vec<(Option<PathBuf>, &str)> = vec![
        (
            formatted(d, "mkfs.ext4", "e2fsprogs", &["-q"], 32),
            "ext4 file system",
        ),
        (
            formatted(d, "mkfs.ext2", "e2fsprogs", &["-q"], 32),
            "ext2 file system",
        ),
        (
            formatted(d, "mkfs.xfs", "xfsprogs", &["-q"], 320),
            "XFS file system",
        ),
        (
            formatted(d, "mkfs.btrfs", "btrfs-progs", &["-q"], 128),
            "Btrfs file system",
        ),
        (
            formatted(d, "mkfs.vfat", "dosfstools", &[], 32),
            "FAT file system",
        ),
        (
            formatted(d, "mkfs.exfat", "exfatprogs", &[], 32),
            "exFAT file system",
        ),
        (
            formatted(d, "mkfs.ntfs", "ntfs-3g", &["-q", "-F", "-f"], 32),
            "NTFS file system",
        ),
        (formatted(d, "mkswap", "util-linux", &[], 32), "Linux swap"),
        (mbr_disk(d), "MBR partition table"),
        (
            formatted(d, "sgdisk", "gdisk", &["-n1:2048:+8M", "-t1:a503"], 32),
            "GPT partition table",
        ),
    ];
    for (img, want) in cases {
        let Some(img) = img else { continue };
        let before = sha(&img);
        let p = img.to_str().unwrap();
        for args in [vec!["newfs", p], vec!["makefs", p, tree.to_str().unwrap()]] {
            let o = ufs(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
            assert!(
                err.contains(want) && err.contains("--force"),
                "{args:?}: {err}"
            );
            assert_eq!(sha(&img), before, "{args:?} changed the image");
        }
        let o = ufs(&["newfs", "--force", p]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        // Now a UFS image: makefs replaces it without --force, as before.
        let o = ufs(&["makefs", p, tree.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn iso9660_and_luks_are_recognized() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    if require("xorriso", "apt-get install xorriso") {
        let src = one_file_tree(d);
        let iso = d.join("cd.iso");
        output_ok(
            Command::new("xorriso")
                .args(["-as", "mkisofs", "-quiet", "-o"])
                .arg(&iso)
                .arg(&src),
            "xorriso",
        );
        let o = ufs(&["newfs", iso.to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&o.stderr).contains("ISO 9660"));
    }
    if require("cryptsetup", "apt-get install cryptsetup-bin") {
        let img = blank(d, "luks.img", 32);
        let mut c = Command::new("cryptsetup")
            .args(["luksFormat", "--batch-mode", "--pbkdf", "pbkdf2"])
            .args(["--pbkdf-force-iterations", "1000"])
            .arg(&img)
            .arg("-")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(b"pw").unwrap();
        assert!(c.wait().unwrap().success(), "cryptsetup luksFormat");
        let o = ufs(&["newfs", img.to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&o.stderr).contains("LUKS"));
    }
}

#[test]
fn a_failed_makefs_leaves_no_half_built_image() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tree = d.join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("big"), vec![7u8; 3 << 20]).unwrap();
    let listing = || {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    // A member that fails only while its data is written (a PAX sparse
    // map reaching past the file's size), into a new image: nothing is
    // left behind.
    let bad = d.join("bad.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&bad).unwrap());
        b.append_pax_extensions([
            ("GNU.sparse.size", &b"10"[..]),
            ("GNU.sparse.map", &b"0,20"[..]),
        ])
        .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(20);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "f", &[1u8; 20][..]).unwrap();
        b.finish().unwrap();
    }
    let o = ufs(&[
        "makefs",
        d.join("new.img").to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("past the file's size"));
    assert_eq!(listing(), ["bad.tar", "tree"]);
    // Over an existing image: the old one is still there, byte for byte.
    let small = d.join("small");
    std::fs::create_dir(&small).unwrap();
    std::fs::write(small.join("f"), "old").unwrap();
    let img = d.join("old.img");
    output_ok(
        Command::new(BIN).arg("makefs").arg(&img).arg(&small),
        "makefs",
    );
    let before = sha(&img);
    let o = ufs(&[
        "makefs",
        "-s",
        "2m",
        img.to_str().unwrap(),
        tree.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = ufs(&["makefs", img.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(sha(&img), before);
    assert_eq!(listing(), ["bad.tar", "old.img", "small", "tree"]);
}

#[test]
fn undo_twice_says_it_was_already_applied() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tree = one_file_tree(d);
    let img = d.join("u.img");
    output_ok(
        Command::new(BIN).arg("makefs").arg(&img).arg(&tree),
        "makefs",
    );
    let p = img.to_str().unwrap();
    output_ok(
        Command::new(BIN).args(["debug", p, "set inode 2 di_nlink 9"]),
        "debug",
    );
    let damaged = sha(&img);
    let undo = d.join("fsck.undo");
    let u = undo.to_str().unwrap();
    let o = ufs(&["fsck", "-fy", "--undo", u, p]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    output_ok(Command::new(BIN).args(["undo", u, p]), "undo");
    assert_eq!(sha(&img), damaged);
    let o = ufs(&["undo", u, p]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        out.contains("already undone") && out.contains("nothing to do"),
        "{out}"
    );
    assert_eq!(sha(&img), damaged);
    // Changed since (neither state): refused in plain words, nothing written.
    output_ok(
        Command::new(BIN).args(["debug", p, "set inode 2 di_nlink 5"]),
        "debug",
    );
    let changed = sha(&img);
    let o = ufs(&["undo", u, p]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("the image changed since the repair") && !err.contains("I/O error"),
        "{err}"
    );
    assert_eq!(sha(&img), changed);
}
