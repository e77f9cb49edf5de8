//! Sparse files from tar archives stay sparse in `ufs makefs` images, in
//! every format GNU tar writes them (`-S` in GNU format: old GNU sparse;
//! `--format=posix -S` with sparse versions 0.0, 0.1 and 1.0), with the
//! right name and contents, and FreeBSD's fsck_ffs agrees with the result.

// A test reports failure by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{output_ok, require};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ufs");

#[test]
fn gnu_and_pax_sparse_members_keep_their_holes() {
    if !require("tar", "GNU tar; apt-get install tar") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    std::fs::create_dir(&src).unwrap();
    // 100 MiB with two islands of data.
    let f = std::fs::File::create(src.join("sparse")).unwrap();
    f.set_len(100 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(b"hello", 50_000_000).unwrap();
    f.write_all_at(b"end", (100 << 20) - 3).unwrap();
    let want = std::fs::read(src.join("sparse")).unwrap();
    for (name, args) in [
        ("gnu", &["-S"][..]),
        ("pax00", &["--format=posix", "--sparse-version=0.0", "-S"]),
        ("pax01", &["--format=posix", "--sparse-version=0.1", "-S"]),
        ("pax10", &["--format=posix", "--sparse-version=1.0", "-S"]),
    ] {
        let tar = d.join(format!("{name}.tar"));
        output_ok(
            Command::new("tar")
                .arg("-cf")
                .arg(&tar)
                .args(args)
                .arg("-C")
                .arg(&src)
                .arg("sparse"),
            "tar",
        );
        let img = d.join(format!("{name}.img"));
        output_ok(
            Command::new(BIN).arg("makefs").arg(&img).arg(&tar),
            "makefs",
        );
        let ls = output_ok(Command::new(BIN).arg("ls").arg(&img).arg("/"), "ls");
        assert_eq!(String::from_utf8_lossy(&ls.stdout), "sparse\n", "{name}");
        let got = output_ok(Command::new(BIN).arg("cat").arg(&img).arg("/sparse"), "cat");
        assert!(got.stdout == want, "{name}: contents differ");
        let st = output_ok(
            Command::new(BIN).arg("stat").arg(&img).arg("/sparse"),
            "stat",
        );
        let text = String::from_utf8_lossy(&st.stdout);
        let blocks: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("blocks:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no blocks line in {text}"));
        // Two data pieces and the indirect blocks, not 100 MiB.
        assert!(blocks < 1024, "{name}: {blocks} sectors allocated");
        if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&img) {
            r.unwrap_or_else(|e| panic!("{name}: FreeBSD fsck_ffs: {e}"));
        }
    }
}
