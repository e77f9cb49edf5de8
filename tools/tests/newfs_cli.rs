//! `ufs newfs` through the binary: FreeBSD's newfs stdout and dumpfs text
//! for every case of the layout matrix, the argv[0] personalities, refusals.

// A test reports failure by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ufs");

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/images/newfs")
}

fn run_in(dir: &Path, prog: &Path, args: &[&str]) -> Output {
    Command::new(prog)
        .current_dir(dir)
        .env("TZ", "UTC")
        .env_remove("SOURCE_DATE_EPOCH")
        .args(args)
        .output()
        .expect("run ufs")
}

fn ufs(dir: &Path, args: &[&str]) -> Output {
    run_in(dir, Path::new(BIN), args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Size and newfs arguments of a layout case, from its `.cmd`.
fn case_command(case: &str) -> (String, Vec<String>) {
    let cmd = std::fs::read_to_string(data_dir().join(format!("{case}.cmd"))).expect("cmd");
    let mut size = None;
    let mut args = None;
    for line in cmd.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["truncate", "-s", s, _] => size = Some(s.to_string()),
            ["newfs", rest @ .., _img] => args = Some(rest.iter().map(|s| s.to_string()).collect()),
            _ => {}
        }
    }
    (size.expect("truncate"), args.expect("newfs"))
}

/// `(line count, sha256)` of FreeBSD's full dumpfs output for a cut case.
fn full_dumpfs(case: &str) -> Option<(usize, String)> {
    let cmd = std::fs::read_to_string(data_dir().join(format!("{case}.cmd"))).ok()?;
    let i = cmd.find("full output ")?;
    let rest = &cmd[i + "full output ".len()..];
    let lines = rest.split_whitespace().next()?.parse().ok()?;
    let j = rest.find("sha256 ")?;
    let sha = rest[j + 7..]
        .split(|c: char| !c.is_ascii_hexdigit())
        .next()?;
    Some((lines, sha.to_string()))
}

fn cases() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data_dir())
        .expect("newfs dir")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".dumpfs.txt").map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

/// The creation time and `fs_id[1]` of a reference case, from its dumpfs
/// `id` line (newfs sets `fs_id[0]` to the creation time).
fn reference_id(dumpfs: &str) -> (i64, u32) {
    let l = dumpfs
        .lines()
        .find(|l| l.starts_with("superblock location") || l.starts_with("id\t["))
        .expect("id line");
    let ids: Vec<&str> = l
        .split('[')
        .nth(1)
        .expect("[")
        .split_whitespace()
        .take(2)
        .collect();
    let t = i64::from_str_radix(ids[0], 16).expect("hex");
    let r = u32::from_str_radix(ids[1], 16).expect("hex");
    (t, r)
}

#[test]
fn dumpfs_and_summary_match_freebsd_for_every_layout_case() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut bad = Vec::new();
    let all = cases();
    for case in &all {
        let (size, args) = case_command(case);
        let img = format!("./{case}.img");
        let path = tmp.path().join(format!("{case}.img"));
        let bytes = ufskit::newfs::parse_size(&size).expect("size");
        std::fs::File::create(&path)
            .and_then(|f| f.set_len(bytes))
            .expect("sparse file");
        let reference =
            std::fs::read_to_string(data_dir().join(format!("{case}.dumpfs.txt"))).expect("dumpfs");
        let (t, id) = reference_id(&reference);
        let (t, id) = (t.to_string(), id.to_string());
        let mut argv: Vec<&str> = vec!["newfs", "--compat", "12.1"];
        if !args.iter().any(|a| a == "-R") {
            argv.extend(["--creation-time", &t, "--fs-id", &id]);
        }
        argv.extend(args.iter().map(String::as_str));
        argv.push(&img);
        let out = ufs(tmp.path(), &argv);
        if !out.status.success() {
            bad.push(format!("{case}: newfs failed: {}", text(&out.stderr)));
            continue;
        }
        // newfs -j loses its last newline before tunefs's line.
        let want = std::fs::read_to_string(data_dir().join(format!("{case}.newfs.txt")))
            .expect("newfs.txt")
            .replace("Using inode", "\nUsing inode")
            .replace("\n\nUsing inode", "\nUsing inode");
        if text(&out.stdout) != want {
            bad.push(format!(
                "{case}: newfs stdout differs:\n{}\n---\n{want}",
                text(&out.stdout)
            ));
        }
        let d = ufs(tmp.path(), &["info", "--dumpfs", &img]);
        let ours = text(&d.stdout);
        let strip = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| {
                    !l.starts_with("magic")
                        && !l.starts_with("superblock location")
                        && !l.starts_with("id\t")
                })
                .map(str::to_string)
                .collect()
        };
        let marker = reference.lines().position(|l| l.starts_with("####"));
        let ok = match marker {
            None => {
                let same_all = ours == reference;
                let same_body = strip(&ours) == strip(&reference);
                if !same_all && same_body {
                    println!("{case}: only the time/id lines differ");
                }
                same_body
            }
            Some(m) => {
                let rl: Vec<&str> = reference.lines().collect();
                let ol: Vec<&str> = ours.lines().collect();
                let tail = rl.len() - m - 1;
                let head_ok = ol.len() >= m && ol[..m] == rl[..m];
                let tail_ok = ol.len() >= tail && ol[ol.len() - tail..] == rl[m + 1..];
                let (n, sha) = full_dumpfs(case).expect("full output info");
                let full = format!("{:x}", Sha256::digest(ours.as_bytes()));
                if full != sha {
                    println!(
                        "{case}: full dumpfs sha256 {full} (FreeBSD {sha}), {} lines (FreeBSD {n})",
                        ol.len()
                    );
                }
                head_ok && tail_ok && ol.len() == n
            }
        };
        if !ok {
            bad.push(format!("{case}: dumpfs differs"));
        }
        let _ = std::fs::remove_file(&path);
    }
    println!(
        "dumpfs/summary matches: {}/{}",
        all.len() - bad.len(),
        all.len()
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn personalities_and_refusals() {
    let tmp = tempfile::tempdir().expect("tmp");
    let link = tmp.path().join("newfs.ufs");
    #[cfg(unix)]
    std::os::unix::fs::symlink(BIN, &link).expect("symlink");
    let out = run_in(tmp.path(), &link, &["-s", "8m", "-n", "p.img"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("p.img: 8.0MB (16384 sectors)"));
    // The new image opens and has no /.snap (-n).
    let ls = ufs(tmp.path(), &["ls", "p.img", "/"]);
    assert!(ls.status.success(), "{}", text(&ls.stderr));
    assert!(!text(&ls.stdout).contains(".snap"));

    // Refuses to overwrite a UFS image without --force, and says why.
    let out = run_in(tmp.path(), &link, &["p.img"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("newfs.ufs: p.img already holds a UFS2 file system"),
        "{err}"
    );
    assert!(err.contains("jail") && err.contains("--force"), "{err}");
    let out = ufs(tmp.path(), &["newfs", "--force", "-O", "1", "p.img"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info = ufs(tmp.path(), &["info", "p.img"]);
    assert!(
        text(&info.stdout).contains("UFS1"),
        "{}",
        text(&info.stdout)
    );

    // Bad options: newfs-like message, non-zero exit, nothing written.
    for (args, msg) in [
        (vec!["-b", "3000"], "block size must be a power of 2"),
        (vec!["-O", "3"], "bad file system format value"),
        (vec!["-o", "fast"], "unknown optimization preference"),
        (vec!["-L", "bad label"], "bad volume label"),
        (vec!["-m", "100"], "bad free space"),
    ] {
        let mut a = vec!["newfs", "-s", "8m"];
        a.extend(args);
        a.push("q.img");
        let out = ufs(tmp.path(), &a);
        assert_eq!(out.status.code(), Some(1), "{a:?}");
        assert!(
            text(&out.stderr).contains(msg),
            "{a:?}: {}",
            text(&out.stderr)
        );
        assert!(
            !tmp.path().join("q.img").exists(),
            "{a:?} created the image"
        );
    }
    // A missing image needs -s; -N writes nothing.
    let out = ufs(tmp.path(), &["newfs", "q.img"]);
    assert_eq!(out.status.code(), Some(1));
    let out = ufs(tmp.path(), &["newfs", "-N", "-s", "1t", "q.img"]);
    assert!(out.status.success());
    assert!(!tmp.path().join("q.img").exists());
    // Plain sector counts for -s.
    let out = ufs(tmp.path(), &["newfs", "-s", "16384", "r.img"]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::metadata(tmp.path().join("r.img")).unwrap().len(),
        8 << 20
    );
    // The help mentions the journal limitation.
    let h = ufs(tmp.path(), &["newfs", "--help"]);
    assert!(text(&h.stdout).contains("does not check or replay the journal"));
}

#[test]
fn reproducible_runs_are_identical_and_erase_works() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut sums = Vec::new();
    for n in ["a.img", "b.img"] {
        let out = ufs(
            tmp.path(),
            &["newfs", "--reproducible", "-j", "-s", "64m", n],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        sums.push(Sha256::digest(std::fs::read(tmp.path().join(n)).unwrap()));
    }
    assert_eq!(sums[0], sums[1]);
    // SOURCE_DATE_EPOCH gives the same bytes too, with that time.
    let mut sums = Vec::new();
    for n in ["c.img", "d.img"] {
        let out = Command::new(BIN)
            .current_dir(tmp.path())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["newfs", "-s", "32m", n])
            .output()
            .unwrap();
        assert!(out.status.success());
        sums.push(Sha256::digest(std::fs::read(tmp.path().join(n)).unwrap()));
    }
    assert_eq!(sums[0], sums[1]);
    // -E on an image full of junk: the result equals a fresh one.
    let e = tmp.path().join("e.img");
    std::fs::write(&e, vec![0x5au8; 32 << 20]).unwrap();
    let out = Command::new(BIN)
        .current_dir(tmp.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["newfs", "-E", "e.img"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("Erasing sectors [128...65535]"));
    assert_eq!(Sha256::digest(std::fs::read(&e).unwrap()), sums[0]);
}

/// Every file system newfs makes checks clean with `ufs fsck -n -f`: all
/// five phases, no question asked except the journal one fsck_ffs asks of
/// every SU+J file system under -n.
#[test]
fn every_new_file_system_checks_clean() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases: [&[&str]; 8] = [
        &["-O2"],
        &["-O1"],
        &["-O2", "-j"],
        &["-O2", "-n", "-U"],
        &["-O2", "-b", "4096", "-f", "512"],
        &["-O2", "-b", "65536", "-f", "8192"],
        &["-O1", "-b", "16384", "-f", "2048"],
        &["-O2", "-i", "65536", "-m", "0", "-L", "jailroot"],
    ];
    for opts in cases {
        let img = dir.path().join("n.img");
        let _ = std::fs::remove_file(&img);
        let mut args = vec!["newfs", "-s", "64m"];
        args.extend_from_slice(opts);
        let img_s = img.to_str().expect("utf-8 path");
        args.push(img_s);
        let out = ufs(dir.path(), &args);
        assert!(
            out.status.success(),
            "newfs {opts:?}: {}",
            text(&out.stderr)
        );
        let out = ufs(dir.path(), &["fsck", "-n", "-f", img_s]);
        let report = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "fsck after newfs {opts:?}:\n{report}"
        );
        let questions: Vec<&str> = report.lines().filter(|l| l.ends_with("? no")).collect();
        let journal = opts.contains(&"-j");
        assert!(
            questions.is_empty() || journal && questions == ["USE JOURNAL? no"],
            "newfs {opts:?}: fsck asked {questions:?}\n{report}"
        );
        assert!(report.contains("** Phase 5 - Check Cyl groups"), "{report}");
    }
}
