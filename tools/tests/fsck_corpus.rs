//! The fsck regression corpus (tests/images/fsck/<case>/, in the style of
//! e2fsprogs' tests/f_*): each case is a base image, a `ufs debug` script
//! that damages it, and the expected `ufs fsck -n -f` output with a final
//! `Exit status is N` line. This test builds every case into a temporary
//! file, runs fsck, checks that -n left the image byte for byte unchanged
//! and compares the output, printing a diff on mismatch. `UFS_BLESS=1`
//! rewrites the expected outputs instead.

#[allow(clippy::panic)]
mod common;
use common::*;
use std::process::Command;

#[test]
fn corpus() {
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
        let before = std::fs::read(&img).expect("read");
        let out = Command::new(ufs)
            .args(["fsck", "-n", "-f", "./case.img"])
            .current_dir(tmp.path())
            .output()
            .expect("ufs fsck");
        let after = std::fs::read(&img).expect("read");
        if before != after {
            failures.push(format!("{name}: fsck -n changed the image"));
        }
        let got = format!(
            "{}Exit status is {}\n",
            String::from_utf8_lossy(&out.stdout),
            out.status.code().unwrap_or(-1)
        );
        let exp_path = case.join("expect.n");
        if bless {
            std::fs::write(&exp_path, &got).expect("bless");
            continue;
        }
        let want = std::fs::read_to_string(&exp_path).unwrap_or_default();
        if want != got {
            failures.push(format!(
                "{name}: output differs\n{}",
                diff(&want, &got).unwrap_or_default()
            ));
        }
    }
    eprintln!("{} corpus cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
