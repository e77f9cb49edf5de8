//! The clean-flag rule (issue 14, item 3): a file system whose superblock
//! says clean but whose inodes are damaged. As `fsck_ffs`/`fsck_ufs`,
//! FreeBSD 12.1's rule: `-p` skips it, `-n` and `-y` check it fully — with
//! FreeBSD's messages and exit codes (compared with FreeBSD's own fsck_ffs
//! when it is there). As `ufs fsck`/`fsck.ufs`, e2fsck's: skipped unless `-f`.

mod common;

use common::{build_case, images_dir, ufs_bin};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The damaged, clean-flagged image: inode 40's link count set to 5 (a
/// case whose repair FreeBSD's fsck_ffs words exactly as ufskit does).
const CASE: &str = "f_nlink_mk2";
/// What a full check of it says.
const FOUND: &str = "LINK COUNT FILE I=40";

fn run(dir: &Path, argv0: &str, args: &[&str]) -> Output {
    let link = dir.join(argv0);
    if !link.exists() {
        std::os::unix::fs::symlink(ufs_bin(), &link).expect("symlink");
    }
    let out = Command::new(&link)
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .expect("spawn");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{argv0} {args:?}: {err}");
    out
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// FreeBSD's fsck_ffs with `args` in `dir`, or `None` when it is absent.
fn oracle(dir: &Path, args: &[&str]) -> Option<Output> {
    let t = ufskit_testkit::freebsd::tool("fsck_ffs")?;
    let out = ufskit_testkit::freebsd::command(&t)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("spawn fsck_ffs");
    Some(out)
}

fn copy(dir: &Path, from: &str, to: &str) {
    std::fs::copy(dir.join(from), dir.join(to)).expect("copy");
}

#[test]
fn freebsd_personalities_check_clean_flagged_damage_unless_preen() {
    let case = build_case(&images_dir().join("fsck").join(CASE));
    let dir = case.dir.path();
    let info = common::ufs_ok(["info".as_ref(), case.img.as_os_str()]);
    assert!(
        info.contains("clean"),
        "{CASE} is not clean-flagged:\n{info}"
    );

    for argv0 in ["fsck_ffs", "fsck_ufs"] {
        // -n: a full check that reports the damage, exit 0 as fsck_ffs -n.
        let n = run(dir, argv0, &["-n", "./case.img"]);
        assert_eq!(n.status.code(), Some(0), "{argv0} -n:\n{}", text(&n));
        assert!(
            text(&n).contains(FOUND),
            "{argv0} -n skipped the damage:\n{}",
            text(&n)
        );
        assert!(!text(&n).contains("SKIPPING"), "{}", text(&n));

        // -p: skipped, preen's words.
        let p = run(dir, argv0, &["-p", "./case.img"]);
        assert_eq!(p.status.code(), Some(0), "{argv0} -p:\n{}", text(&p));
        assert!(
            text(&p)
                .starts_with("./case.img: FILE SYSTEM CLEAN; SKIPPING CHECKS\n./case.img: clean, "),
            "{argv0} -p:\n{}",
            text(&p)
        );
    }

    // -y: repaired on a copy, then clean when checked again.
    copy(dir, "case.img", "y.img");
    let y = run(dir, "fsck_ffs", &["-y", "./y.img"]);
    assert_eq!(y.status.code(), Some(0), "fsck_ffs -y:\n{}", text(&y));
    assert!(text(&y).contains(FOUND), "{}", text(&y));
    assert!(text(&y).contains("***** FILE SYSTEM WAS MODIFIED *****"));
    let again = run(dir, "fsck_ffs", &["-n", "./y.img"]);
    assert!(
        !text(&again).contains('?'),
        "a question after the repair:\n{}",
        text(&again)
    );

    // FreeBSD's own fsck_ffs: the same words and exit codes on the same image.
    let n = run(dir, "fsck_ffs", &["-n", "./case.img"]);
    let p = run(dir, "fsck_ffs", &["-p", "./case.img"]);
    copy(dir, "case.img", "y.img");
    let y = run(dir, "fsck_ffs", &["-y", "./y.img"]);
    for (args, ours) in [
        (["-n", "./case.img"], &n),
        (["-p", "./case.img"], &p),
        (["-y", "./y.img"], &y),
    ] {
        if args[0] == "-y" {
            copy(dir, "case.img", "y.img");
        }
        let Some(theirs) = oracle(dir, &args) else {
            return;
        };
        common::assert_same(
            &format!("fsck_ffs {args:?} (FreeBSD vs ufskit)"),
            &text(&theirs),
            &text(ours),
        );
        assert_eq!(
            theirs.status.code(),
            ours.status.code(),
            "fsck_ffs {args:?}: exit codes differ"
        );
    }
    if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&dir.join("y.img")) {
        r.unwrap_or_else(|e| panic!("FreeBSD's fsck_ffs after our -y: {e}"));
    }
}

#[test]
fn ufs_fsck_skips_clean_flagged_unless_forced() {
    let case = build_case(&images_dir().join("fsck").join(CASE));
    let dir = case.dir.path();
    for argv0 in ["fsck.ufs", "ufs"] {
        let pre: &[&str] = if argv0 == "ufs" { &["fsck"] } else { &[] };
        let args = |more: &[&'static str]| -> Vec<&str> {
            pre.iter().copied().chain(more.iter().copied()).collect()
        };
        let n = run(dir, argv0, &args(&["-n", "./case.img"]));
        assert_eq!(n.status.code(), Some(0), "{argv0} -n:\n{}", text(&n));
        assert!(text(&n).contains("FILE SYSTEM CLEAN; SKIPPING CHECKS"));
        let f = run(dir, argv0, &args(&["-n", "-f", "./case.img"]));
        assert_eq!(f.status.code(), Some(4), "{argv0} -n -f:\n{}", text(&f));
        assert!(text(&f).contains(FOUND));
        copy(dir, "case.img", "y.img");
        let y = run(dir, argv0, &args(&["-y", "./y.img"]));
        assert_eq!(y.status.code(), Some(0), "{argv0} -y:\n{}", text(&y));
        assert!(text(&y).contains("SKIPPING CHECKS"));
        let yf = run(dir, argv0, &args(&["-y", "-f", "./y.img"]));
        assert_eq!(yf.status.code(), Some(1), "{argv0} -y -f:\n{}", text(&yf));
    }
}
