//! Grown and shrunk images as the Linux kernel reads them: a populated UFS2
//! and UFS1 image (`ufs makefs` of the fixture tree, tests/fixtures/
//! mktree.sh --small) is grown with `ufs growfs -s` to many more cylinder
//! groups, and a copy of each grown image is shrunk back with `ufs growfs
//! --shrink`. One guest boot (tests/interop/kernel-batch.sh:
//! user-mode-linux or QEMU) mounts all four read-only with the kernel's ufs
//! driver, which must read every file without an error or a ufs message,
//! see exactly the source tree (manifests compared, every column: type,
//! mode, owner, link count, size, mtime, sha256), and report through
//! statfs the size, inode count and free totals the new superblock holds.
//!
//! Skipped, with the reason printed, when no kernel backend is installed;
//! `UFS_REQUIRE_INTEROP=1` makes that a failure.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// One image shown to the kernel.
struct Shown {
    name: String,
    path: PathBuf,
    ufstype: &'static str,
}

/// `ufs growfs -y --no-undo [--shrink] -s SIZE IMG`.
fn growfs(img: &Path, size: &str, shrink: bool) {
    let mut args = vec!["growfs", "-y", "--no-undo"];
    if shrink {
        args.push("--shrink");
    }
    args.extend(["-s", size]);
    let mut cmd = std::process::Command::new(ufs_bin());
    cmd.args(&args).arg(img);
    output_ok(&mut cmd, &format!("ufs {}", args.join(" ")));
}

/// The number a `stat -f` line (`NAME=VALUE ...`) gives `key`.
fn statfs_field(text: &str, key: &str) -> Option<u64> {
    text.split_whitespace()
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

#[test]
fn the_linux_kernel_reads_grown_and_shrunk_images_as_the_source_tree() {
    if !kernel_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = fixture_tree(tmp.path());
    let want = host_manifest(&tree, &tmp.path().join("want.manifest"));
    let mut shown = Vec::new();
    for (v, ufstype) in [("2", "ufs2"), ("1", "44bsd")] {
        let grown = tmp.path().join(format!("grown{v}.img"));
        ufs_ok([
            "makefs".as_ref(),
            "-O".as_ref(),
            v.as_ref(),
            "-s".as_ref(),
            "32m".as_ref(),
            grown.as_os_str(),
            tree.as_os_str(),
        ]);
        growfs(&grown, "600m", false);
        let shrunk = tmp.path().join(format!("shrunk{v}.img"));
        output_ok(
            std::process::Command::new("cp")
                .arg("--sparse=always")
                .arg(&grown)
                .arg(&shrunk),
            "cp",
        );
        growfs(&shrunk, "100m", true);
        assert_eq!(std::fs::metadata(&shrunk).unwrap().len(), 100 << 20);
        for (kind, path) in [("grown", grown), ("shrunk", shrunk)] {
            output_ok(
                std::process::Command::new(ufs_bin())
                    .args(["fsck", "-n", "-f"])
                    .arg(&path),
                &format!("ufs fsck -n -f of the {kind} UFS{v} image"),
            );
            if let Some(Err(e)) = ufskit_testkit::freebsd::fsck_clean(&path) {
                panic!("the {kind} UFS{v} image: FreeBSD fsck_ffs: {e}");
            }
            shown.push(Shown {
                name: format!("{kind}{v}"),
                path,
                ufstype,
            });
        }
    }
    let list: String = shown
        .iter()
        .map(|s| format!("{} {} {}\n", s.path.display(), s.ufstype, s.name))
        .collect();
    let out = tmp.path().join("kernel");
    let started = std::time::Instant::now();
    let b = ufskit_testkit::kernel::batch(&list, &out, "grown and shrunk images", false);
    ufskit_testkit::kernel::record(
        "growfs_kernel",
        &b.backend,
        "4 grown/shrunk images",
        started,
    );
    for s in &shown {
        let file = |ext: &str| out.join(format!("{}.{ext}", s.name));
        let got = std::fs::read_to_string(file("manifest")).unwrap_or_else(|_| {
            panic!(
                "the kernel ({}) could not mount or read {}:\n{}\n{}",
                b.backend,
                s.name,
                std::fs::read_to_string(file("error")).unwrap_or_default(),
                b.log
            )
        });
        assert_same(&format!("kernel view of the {} image", s.name), &want, &got);
        let kmsg = std::fs::read_to_string(file("kmsg")).unwrap_or_default();
        let said: Vec<&str> = kmsg
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.contains("detected capacity change"))
            .collect();
        assert!(
            said.is_empty(),
            "{}: the kernel said:\n{}",
            s.name,
            said.join("\n")
        );
        // The driver's statfs: f_blocks is fs_dsize and f_files is
        // ncg * ipg (fs/ufs/super.c ufs_statfs), so it read the new size.
        let statfs = std::fs::read_to_string(file("statfs")).unwrap_or_default();
        let fs = ufskit::Ufs::open_path(&s.path, ufskit::OpenOptions::read_only()).unwrap();
        let f = &fs.superblock().fs;
        assert_eq!(
            statfs_field(&statfs, "blocks"),
            u64::try_from(f.fs_dsize).ok(),
            "{}: the kernel's size (statfs: {statfs})",
            s.name
        );
        assert_eq!(
            statfs_field(&statfs, "files"),
            Some(u64::from(f.fs_ncg) * u64::from(f.fs_ipg)),
            "{}: the kernel's inode count (statfs: {statfs})",
            s.name
        );
        // Free fragments and inodes: the totals growfs kept (UFS1's old
        // copies included, which the driver reads for 44bsd).
        let t = fs.superblock().totals();
        let frag = i64::from(f.fs_frag);
        assert_eq!(
            statfs_field(&statfs, "bfree"),
            u64::try_from(t.nbfree * frag + t.nffree).ok(),
            "{}: the kernel's free space (statfs: {statfs})",
            s.name
        );
        assert_eq!(
            statfs_field(&statfs, "ffree"),
            u64::try_from(t.nifree).ok(),
            "{}: the kernel's free inodes (statfs: {statfs})",
            s.name
        );
    }
}
