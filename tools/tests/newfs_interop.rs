//! Independent readers of `ufs newfs` images: The Sleuth Kit's `fsstat`, and
//! the Linux kernel's ufs driver inside user-mode-linux
//! (`tests/interop/kernel-batch.sh`, user-mode-linux or QEMU).
//!
//! A missing tool skips its test with a printed reason, unless
//! `UFS_REQUIRE_INTEROP=1`, which turns the skip into a failure.

// A test reports failure by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{kernel_manifest, output_ok, require};
use std::path::{Path, PathBuf};
use std::process::Command;
use ufskit::{OpenOptions, Ufs};

const BIN: &str = env!("CARGO_BIN_EXE_ufs");

/// Runs `ufs newfs ARGS IMG` (reproducibly) and returns the image path.
fn make(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    output_ok(
        Command::new(BIN)
            .current_dir(dir)
            .args(["newfs", "--reproducible"])
            .args(args)
            .arg(name),
        &format!("newfs {args:?}"),
    );
    dir.join(name)
}

/// Free blocks, free fragments, free inodes, inodes, data fragments, frag.
fn counts(img: &Path) -> (i64, i64, i64, i64, i64, i64) {
    let fs = Ufs::open_path(img, OpenOptions::read_only()).expect("ufskit opens it");
    let sb = &fs.superblock().fs;
    (
        sb.fs_cstotal[1],
        sb.fs_cstotal[3],
        sb.fs_cstotal[2],
        i64::from(sb.fs_ncg) * i64::from(sb.fs_ipg),
        sb.fs_dsize,
        i64::from(sb.fs_frag),
    )
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
}

#[test]
fn sleuthkit_fsstat_reads_new_images() {
    if !require("fsstat", "The Sleuth Kit") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let cases: [(&str, &[&str], &str, &str); 8] = [
        ("a.img", &["-s", "64m"], "ufs2", "UFS 2"),
        ("b.img", &["-O1", "-s", "64m"], "ufs1", "UFS 1"),
        ("c.img", &["-j", "-s", "64m"], "ufs2", "UFS 2"),
        ("d.img", &["-n", "-U", "-s", "32m"], "ufs2", "UFS 2"),
        (
            "e.img",
            &["-b", "4096", "-f", "512", "-s", "64m"],
            "ufs2",
            "UFS 2",
        ),
        (
            "f.img",
            &["-b", "65536", "-f", "8192", "-s", "256m"],
            "ufs2",
            "UFS 2",
        ),
        (
            "g.img",
            &["-O1", "-b", "16384", "-f", "2048", "-s", "1g"],
            "ufs1",
            "UFS 1",
        ),
        ("h.img", &["--compat", "12.1", "-s", "1t"], "ufs2", "UFS 2"),
    ];
    for (name, args, kind, shown) in cases {
        let img = make(tmp.path(), name, args);
        let out = output_ok(
            Command::new("fsstat").args(["-f", kind]).arg(&img),
            &format!("fsstat of newfs {args:?}"),
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (nbfree, nffree, nifree, _, _, _) = counts(&img);
        assert_eq!(field(&text, "File System Type:"), Some(shown), "{args:?}");
        assert_eq!(field(&text, "Root Directory:"), Some("2"), "{args:?}");
        assert_eq!(
            field(&text, "Num of Avail Full Blocks:"),
            Some(nbfree.to_string().as_str()),
            "{args:?}"
        );
        assert_eq!(
            field(&text, "Num of Avail Fragments:"),
            Some(nffree.to_string().as_str()),
            "{args:?}"
        );
        assert_eq!(
            field(&text, "Num of Avail Inodes:"),
            Some(nifree.to_string().as_str()),
            "{args:?}"
        );
        println!("fsstat {args:?}: ok ({nbfree} blocks, {nffree} frags, {nifree} inodes free)");
        let _ = std::fs::remove_file(&img);
    }
}

fn statfs_value(text: &str, key: &str) -> Option<i64> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

#[test]
fn linux_mounts_new_images_read_only() {
    if !common::kernel_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let cases: [(&str, &[&str], &str); 3] = [
        ("u2.img", &["-s", "64m"], "ufs2"),
        ("u1.img", &["-O1", "-s", "64m"], "44bsd"),
        ("uj.img", &["-j", "-n", "-s", "128m"], "ufs2"),
    ];
    for (name, args, ufstype) in cases {
        let img = make(tmp.path(), name, args);
        let out_file = tmp.path().join(format!("{name}.manifest"));
        let manifest = kernel_manifest(&img, ufstype, &out_file);
        let has_snap = manifest
            .lines()
            .any(|l| l.starts_with(".snap\tdir\t0775\t0\t5\t2"));
        assert_eq!(has_snap, !args.contains(&"-n"), "{args:?}: {manifest}");
        assert!(
            manifest.lines().any(|l| l.starts_with(".\tdir\t0755")),
            "{manifest}"
        );
        if args.contains(&"-j") {
            assert!(manifest.contains(".sujournal"), "{manifest}");
        }
        let statfs =
            std::fs::read_to_string(format!("{}.statfs", out_file.display())).expect("statfs");
        let (nbfree, nffree, nifree, inodes, dsize, frag) = counts(&img);
        assert_eq!(
            statfs_value(&statfs, "bfree"),
            Some(nbfree * frag + nffree),
            "{statfs}"
        );
        assert_eq!(statfs_value(&statfs, "ffree"), Some(nifree), "{statfs}");
        assert_eq!(statfs_value(&statfs, "files"), Some(inodes), "{statfs}");
        assert_eq!(statfs_value(&statfs, "blocks"), Some(dsize), "{statfs}");
        println!("linux {ufstype} {args:?}: mounted, statfs matches");
    }
}
