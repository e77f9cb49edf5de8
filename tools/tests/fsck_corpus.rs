//! The fsck regression corpus (tests/images/fsck/<case>/, in the style of
//! e2fsprogs' tests/f_*): each case is a base image, a `ufs debug` script
//! that damages it, and the expected `ufs fsck -n -f` output with a final
//! `Exit status is N` line. This test builds every case into a temporary
//! file, runs fsck, checks that -n left the image byte for byte unchanged
//! and compares the output, printing a diff on mismatch. `UFS_BLESS=1`
//! rewrites the expected outputs instead.

use std::path::{Path, PathBuf};
use std::process::Command;

fn images() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/images")
}

fn load_zst(path: &Path) -> Vec<u8> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut dec = ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(f))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut dec, &mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

fn diff(want: &str, got: &str) -> String {
    let (a, b): (Vec<_>, Vec<_>) = (want.lines().collect(), got.lines().collect());
    let mut s = String::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or("<none>"),
            b.get(i).copied().unwrap_or("<none>"),
        );
        if x != y {
            s.push_str(&format!("  line {}:\n    -{x}\n    +{y}\n", i + 1));
        }
    }
    s
}

#[test]
fn corpus() {
    let ufs = env!("CARGO_BIN_EXE_ufs");
    let root = images().join("fsck");
    let bless = std::env::var_os("UFS_BLESS").is_some();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/images/fsck")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("script").exists())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let base = std::fs::read_to_string(case.join("base"))
            .expect("base")
            .trim()
            .to_string();
        let tmp = tempfile::tempdir().expect("tempdir");
        let img = tmp.path().join("case.img");
        std::fs::write(&img, load_zst(&images().join(&base))).expect("write image");
        let st = Command::new(ufs)
            .args(["debug", "-f"])
            .arg(case.join("script"))
            .arg(&img)
            .status()
            .expect("ufs debug");
        assert!(st.success(), "{name}: ufs debug failed");
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
            failures.push(format!("{name}: output differs\n{}", diff(&want, &got)));
        }
    }
    eprintln!("{} corpus cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
