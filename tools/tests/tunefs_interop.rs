//! `ufs tunefs` against FreeBSD 12.1's tunefs: for UFS1 and UFS2 images made
//! by FreeBSD's newfs, each option is applied by FreeBSD's tunefs to one
//! copy and by `ufs tunefs` to another. The two images must be equal byte
//! for byte except `fs_time` (sb+1072, 8 bytes) and the in-core pointer
//! area sb+728..855, which 12.1 fills with leaked heap addresses (the
//! reference README); the messages must be the same text; and FreeBSD's
//! fsck_ffs must find the result clean.
//!
//! Missing FreeBSD tools skip the test (fail under UFS_REQUIRE_INTEROP=1).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{diff, output_ok, unpack_to};
use std::path::Path;
use std::process::Command;
use ufskit_testkit::freebsd::{command, fsck_clean, tool};

const BIN: &str = env!("CARGO_BIN_EXE_ufs");

/// Byte ranges of the primary superblock that vary run to run.
const VARYING: [std::ops::Range<usize>; 2] = [1072..1080, 728..856];

fn blank_varying(img: &mut [u8], sb: usize) {
    for r in VARYING {
        img[sb + r.start..sb + r.end].fill(0);
    }
}

fn newfs(dir: &Path, name: &str, version: &str) -> std::path::PathBuf {
    let newfs = tool("newfs").unwrap();
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    output_ok(command(&newfs).arg(version).arg(&p), "FreeBSD newfs");
    p
}

/// Options and (for the unclean case) whether the image is made unclean
/// first: each alone, then combinations whose order matters.
const CASES: &[&[&str]] = &[
    &["-m", "5"],
    &["-m", "8"],
    &["-m", "3", "-o", "time"],
    &["-o", "space"],
    &["-o", "time"],
    &["-L", "jail_root-1"],
    &["-L", ""],
    &["-a", "enable"],
    &["-a", "disable"],
    &["-N", "enable"],
    &["-a", "enable", "-N", "enable"],
    &["-l", "enable"],
    &["-t", "enable"],
    &["-t", "disable"],
    &["-n", "enable"],
    &["-n", "disable"],
    &["-J", "enable"],
    &["-k", "0"],
    &["-k", "161"],
    &["-k", "100000"],
    &["-e", "100"],
    &["-s", "10"],
    &["-f", "1000"],
    &["-A", "-m", "2", "-o", "space", "-e", "77"],
    &["-j", "enable"],
    &["-m", "3", "-j", "enable", "-t", "enable"],
    // -S: bytes, rounded up to whole blocks; past one group ("Journal file
    // fragmented."); more than is free (refused); alone (nothing changes).
    &["-j", "enable", "-S", "8388608"],
    &["-S", "10000000", "-j", "enable"],
    &["-j", "enable", "-S", "25000000"],
    &["-j", "enable", "-S", "200000000"],
    &["-j", "enable", "-S", "4299161600"],
    &["-S", "5000000"],
];

/// Bytes of a journal inode that hold the time it was made (tunefs's
/// `time()`; a second may pass between the two runs): UFS2 atime..birthtime
/// and their nanoseconds, UFS1 atime..ctime with theirs.
fn journal_times(ufs2: bool) -> std::ops::Range<usize> {
    if ufs2 {
        32..80
    } else {
        16..40
    }
}

/// The inode `tunefs -j enable` reports on standard output, if any.
fn journal_inode(stdout: &[u8]) -> Option<u32> {
    let t = String::from_utf8_lossy(stdout);
    let rest = t.strip_prefix("Using inode ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Rejected values: the same message and exit status 10, image untouched.
const BAD: &[&[&str]] = &[
    &["-L", "a.b"],
    &["-L", "abcdefghijklmnopqrstuvwxyz0123456789"],
    &["-a", "on"],
    &["-J", "x"],
    &["-N", "x"],
    &["-n", "x"],
    &["-t", "x"],
    &["-l", "x"],
    &["-k", "-1"],
    &["-e", "0"],
    &["-s", "0"],
    &["-f", "x"],
    &["-m", "100"],
    &["-o", "x"],
    &["-S", "100"],
    &["-S", "4194303"],
    &["-S", "8m"],
    &["-j", "enable", "-S", "3000000000"],
    &["-e", "3000000000"],
];

fn run(cmd: &mut Command) -> (Option<i32>, String) {
    let o = cmd.output().expect("run");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn compare(dir: &Path, base: &Path, sb: usize, opts: &[&str], unclean: bool, label: &str) {
    let tunefs = tool("tunefs").unwrap();
    let theirs = dir.join("theirs.img");
    let ours = dir.join("ours.img");
    for p in [&theirs, &ours] {
        std::fs::copy(base, p).unwrap();
        if unclean {
            // fs_clean is the byte at sb+209.
            let mut b = std::fs::read(p).unwrap();
            b[sb + 209] = 0;
            std::fs::write(p, b).unwrap();
        }
    }
    let to = command(&tunefs).args(opts).arg(&theirs).output().unwrap();
    let oo = Command::new(BIN)
        .arg("tunefs")
        .args(opts)
        .arg(&ours)
        .output()
        .unwrap();
    assert_eq!(to.stdout, oo.stdout, "{label} {opts:?}: standard output");
    let (tc, tt) = (to.status.code(), String::from_utf8_lossy(&to.stderr));
    // tunefs says "Insufficient free space" with warn(3), which appends a
    // stale errno's text (0 here: "Success"); ufs prints the message alone.
    let tt = tt.replace(" byte journal: Success\n", " byte journal\n");
    let (oc, ot) = (oo.status.code(), String::from_utf8_lossy(&oo.stderr));
    let ot = ot.replace("ufs tunefs", "tunefs");
    assert_eq!(
        tc, oc,
        "{label} {opts:?}: exit status\nFreeBSD: {tt}\nufs: {ot}"
    );
    if let Some(d) = diff(&tt, &ot) {
        panic!("{label} {opts:?}: messages differ:\n{d}");
    }
    let mut a = std::fs::read(&theirs).unwrap();
    let mut b = std::fs::read(&ours).unwrap();
    blank_varying(&mut a, sb);
    blank_varying(&mut b, sb);
    if let Some(ino) = journal_inode(&oo.stdout) {
        let fs = ufskit::Ufs::open_path(&ours, ufskit::OpenOptions::read_only()).unwrap();
        let geo = fs.geometry();
        let at = geo.inode_offset(ufskit::units::Ino(ino)) as usize;
        let r = journal_times(geo.version == ufskit::UfsVersion::Ufs2);
        a[at + r.start..at + r.end].fill(0);
        b[at + r.start..at + r.end].fill(0);
    }
    // With -A the backups carry the same varying bytes.
    if opts.contains(&"-A") {
        let fs = ufskit::Ufs::open_path(&ours, ufskit::OpenOptions::read_only()).unwrap();
        for off in fs.geometry().backup_offsets() {
            blank_varying(&mut a, off as usize);
            blank_varying(&mut b, off as usize);
        }
    }
    if a != b {
        let first = a.iter().zip(&b).position(|(x, y)| x != y).unwrap();
        panic!(
            "{label} {opts:?}: images differ, first at byte {first} (sb+{})",
            first as i64 - sb as i64
        );
    }
    if !unclean {
        if let Some(Err(e)) = fsck_clean(&ours) {
            panic!("{label} {opts:?}: FreeBSD fsck_ffs: {e}");
        }
    }
}

#[test]
fn tunefs_matches_freebsd_tunefs() {
    if tool("newfs").is_none() || tool("tunefs").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (version, sb) in [("-O2", 65536usize), ("-O1", 8192)] {
        let base = newfs(tmp.path(), &format!("base{version}.img"), version);
        for opts in CASES {
            compare(tmp.path(), &base, sb, opts, false, version);
        }
        // Only soft updates look at the clean flag.
        for opts in [
            &["-n", "enable"][..],
            &["-m", "3", "-n", "enable"],
            &["-j", "enable"],
        ] {
            compare(tmp.path(), &base, sb, opts, true, version);
        }
        for opts in BAD {
            compare(tmp.path(), &base, sb, opts, false, version);
        }
    }
}

#[test]
fn tunefs_print_matches_freebsd() {
    let Some(tunefs) = tool("tunefs") else { return };
    if tool("newfs").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for version in ["-O2", "-O1"] {
        let img = newfs(tmp.path(), "p.img", version);
        for change in [
            &["-m", "1"][..],
            &["-L", "x1", "-o", "space", "-t", "enable"],
        ] {
            output_ok(command(&tunefs).args(change).arg(&img), "tunefs");
            let (_, want) = run(command(&tunefs).arg("-p").arg(&img));
            let (code, got) = run(Command::new(BIN).args(["tunefs", "-p"]).arg(&img));
            assert_eq!(code, Some(0));
            if let Some(d) = diff(&want, &got) {
                panic!("{version}: tunefs -p differs:\n{d}");
            }
        }
    }
}

#[test]
fn tunefs_j_disable_matches_freebsd() {
    if tool("tunefs").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("suj.img");
    unpack_to("freebsd/ufs2-16m-U-j.img.zst", &base);
    for opts in [
        &["-j", "disable"][..],
        &["-m", "3", "-j", "disable", "-n", "disable"],
        // Already on: "remains unchanged as enabled".
        &["-j", "enable"],
    ] {
        compare(tmp.path(), &base, 65536, opts, false, "SU+J");
    }
    // Without a journal: "remains unchanged".
    let plain = tmp.path().join("plain.img");
    unpack_to("freebsd/ufs2-16m.img.zst", &plain);
    compare(
        tmp.path(),
        &plain,
        65536,
        &["-j", "disable"],
        false,
        "no SU+J",
    );
}

/// `-j enable` on file systems with files (FreeBSD makefs images): the
/// journal's inode and blocks where FreeBSD's tunefs puts them, the root
/// directory moved the same way; then FreeBSD's fsck_ffs finds the SU+J
/// image clean, as it finds FreeBSD's own; and enabling twice is refused
/// by both with the same words ("already exists" after a `-j disable`).
#[test]
fn tunefs_j_enable_matches_freebsd() {
    if tool("tunefs").is_none() || tool("makefs").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("usr/ports")).unwrap();
    for i in 0..40 {
        std::fs::write(
            src.join(format!("usr/ports/f{i}")),
            ufskit_testkit::noise(10_000 * i + 1, i as u64),
        )
        .unwrap();
    }
    let makefs = tool("makefs").unwrap();
    for (version, sb) in [("version=2", 65536usize), ("version=1", 8192)] {
        let base = tmp.path().join(format!("m{sb}.img"));
        output_ok(
            command(&makefs)
                .args(["-t", "ffs", "-o", version, "-s", "48m"])
                .arg(&base)
                .arg(&src),
            "FreeBSD makefs",
        );
        compare(tmp.path(), &base, sb, &["-j", "enable"], false, version);
        let sized = ["-j", "enable", "-S", "12000000"];
        compare(tmp.path(), &base, sb, &sized, false, version);
        compare(tmp.path(), &base, sb, &["-j", "enable"], false, version);
        // Off, then on again: the journal file is still there.
        let once = tmp.path().join("theirs.img");
        let twice = tmp.path().join("twice.img");
        std::fs::copy(&once, &twice).unwrap();
        output_ok(
            command(&tool("tunefs").unwrap())
                .args(["-j", "disable"])
                .arg(&twice),
            "tunefs -j disable",
        );
        compare(tmp.path(), &twice, sb, &["-j", "enable"], false, version);
    }
}
