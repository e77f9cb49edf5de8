//! Repairs over the fsck regression corpus (tests/images/fsck/<case>/):
//! each case is built as in fsck_corpus.rs, then `ufs fsck -y -f --undo`
//! repairs it; the output (with `Exit status is N`) must match
//! `expect.y` (`UFS_BLESS=1` rewrites it), a following `-n -f` must be
//! clean, and `ufs undo` must give back the corrupted image byte for
//! byte (sha256 compared). Where the case lists files its damage did not
//! touch (`intact`, one `#INO` per line: the undamaged sharer of a block),
//! their contents after the repair must equal the clean base's.

use sha2::{Digest, Sha256};
#[allow(clippy::panic)]
mod common;
use common::*;
use std::process::Command;

fn sha(b: &[u8]) -> Vec<u8> {
    Sha256::digest(b).to_vec()
}

#[test]
fn corpus_repairs() {
    let ufs = env!("CARGO_BIN_EXE_ufs");
    let bless = std::env::var_os("UFS_BLESS").is_some();
    let cases = corpus_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let Case {
            name,
            dir: tmp,
            img,
        } = build_case(case);
        let corrupted = std::fs::read(&img).expect("read");
        let out = Command::new(ufs)
            .args(["fsck", "-y", "-f", "--undo", "undo.bin", "./case.img"])
            .current_dir(tmp.path())
            .output()
            .expect("ufs fsck -y");
        let got = format!(
            "{}Exit status is {}\n",
            String::from_utf8_lossy(&out.stdout),
            out.status.code().unwrap_or(-1)
        );
        let exp_path = case.join("expect.y");
        if bless {
            std::fs::write(&exp_path, &got).expect("bless");
        } else {
            let want = std::fs::read_to_string(&exp_path).unwrap_or_default();
            if want != got {
                failures.push(format!("{name}: -y output differs:\n{got}"));
            }
        }
        let code = out.status.code().unwrap_or(-1);
        if code != 0 && code != 1 {
            failures.push(format!(
                "{name}: -y exit {code}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let after = Command::new(ufs)
            .args(["fsck", "-n", "-f", "./case.img"])
            .current_dir(tmp.path())
            .output()
            .expect("ufs fsck -n");
        let text = String::from_utf8_lossy(&after.stdout);
        // An SU+J image always says `USE JOURNAL? no` under -n.
        let unresolved = text
            .lines()
            .any(|l| l.ends_with("? no") && l != "USE JOURNAL? no");
        if after.status.code() != Some(0) || unresolved {
            failures.push(format!("{name}: not clean after -y:\n{text}"));
        }
        // `-n -f` above ignores the clean flag; the kernel and fsck without
        // -f do not: a finished repair must leave it set.
        if code == 0 || code == 1 {
            let sb = Command::new(ufs)
                .args(["debug", "./case.img", "print sb"])
                .current_dir(tmp.path())
                .output()
                .expect("ufs debug");
            let text = String::from_utf8_lossy(&sb.stdout);
            if !text.lines().any(|l| l.trim() == "fs_clean = 1") {
                failures.push(format!("{name}: clean flag not set after -y"));
            }
        }
        if let Ok(list) = std::fs::read_to_string(case.join("intact")) {
            failures.extend(intact_differs(ufs, case, &name, &img, &list));
        }
        let u = Command::new(ufs)
            .arg("undo")
            .arg(tmp.path().join("undo.bin"))
            .arg(&img)
            .output()
            .expect("ufs undo");
        let restored = std::fs::read(&img).expect("read");
        if !u.status.success() || sha(&restored) != sha(&corrupted) {
            failures.push(format!(
                "{name}: undo did not restore the corrupted image: {}",
                String::from_utf8_lossy(&u.stderr)
            ));
        }
    }
    eprintln!("{} repair cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The `intact` files of a case whose repaired contents differ from the
/// clean base's.
fn intact_differs(
    ufs: &str,
    case: &std::path::Path,
    name: &str,
    img: &std::path::Path,
    list: &str,
) -> Vec<String> {
    let base = std::fs::read_to_string(case.join("base")).expect("base");
    let clean_dir = tempfile::tempdir().expect("tempdir");
    let clean = clean_dir.path().join("clean.img");
    unpack_to(base.trim(), &clean);
    let cat = |image: &std::path::Path, what: &str| {
        Command::new(ufs)
            .arg("cat")
            .arg(image)
            .arg(what)
            .output()
            .expect("ufs cat")
    };
    let mut out = Vec::new();
    for ino in list.lines().filter(|l| !l.trim().is_empty()) {
        let want = cat(&clean, ino);
        let got = cat(img, ino);
        if !want.status.success() {
            out.push(format!("{name}: {ino} unreadable in the clean base"));
        } else if !got.status.success() || sha(&got.stdout) != sha(&want.stdout) {
            out.push(format!(
                "{name}: intact file {ino} lost or changed by the repair: {}",
                String::from_utf8_lossy(&got.stderr)
            ));
        }
    }
    out
}

/// `--max-memory`: a cap below what the check's tables need stops the run
/// with exit 8 and a message naming what and how much, before anything is
/// written (-y leaves the damaged image as it was); a cap above it changes
/// nothing.
#[test]
fn memory_cap_stops_before_writing() {
    let ufs = env!("CARGO_BIN_EXE_ufs");
    let case = corpus_cases()
        .into_iter()
        .find(|c| c.ends_with("f_nlink_mk2"))
        .expect("corpus case f_nlink_mk2");
    let Case { name, img, dir: _d } = build_case(&case);
    let before = std::fs::read(&img).expect("read");
    for cap in ["1k", "64"] {
        let out = Command::new(ufs)
            .args(["fsck", "-y", "-f", "--max-memory", cap])
            .arg(&img)
            .output()
            .expect("ufs fsck");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(8), "{name} cap {cap}: {err}");
        assert!(
            err.contains("memory limit:") && err.contains("over the limit of"),
            "{name} cap {cap}: {err}"
        );
        assert_eq!(
            std::fs::read(&img).expect("read"),
            before,
            "{name}: written under a cap"
        );
    }
    let bad = Command::new(ufs)
        .args(["fsck", "-n", "--max-memory", "12q"])
        .arg(&img)
        .output()
        .expect("ufs fsck");
    assert_eq!(bad.status.code(), Some(2));
    let out = Command::new(ufs)
        .args(["fsck", "-y", "-f", "--max-memory", "256m"])
        .arg(&img)
        .output()
        .expect("ufs fsck");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
