//! Read tools bounded by real data (issue 14, item 5): an inode that
//! claims 119,846,767,427,584 bytes with no blocks must not be hashed for
//! hours, and `extract` goes on past a file it cannot write.

mod common;

use common::{run_bounded, ufs_bin, unpack, unpack_to};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// The size the issue saw.
const HUGE: u64 = 119_846_767_427_584;

fn ufs(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Command {
    let mut c = Command::new(ufs_bin());
    for a in args {
        c.arg(a);
    }
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The inode number of `name` in directory `dir` of `img`.
fn ino_of(img: &Path, dir: &str, name: &str) -> u64 {
    let ls = common::ufs_ok(["ls".as_ref(), "-i".as_ref(), img.as_os_str(), dir.as_ref()]);
    ls.lines()
        .find(|l| l.split_whitespace().last() == Some(name))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{dir}/{name} not in:\n{ls}"))
}

/// `populated/NAME.img.zst` with `/docs/empty` claiming [`HUGE`] bytes.
fn huge_image(name: &str) -> common::Img {
    let img = unpack(&format!("populated/{name}.img.zst"));
    let ino = ino_of(&img.path, "/docs", "empty");
    let script = img.dir.path().join("huge.script");
    std::fs::write(&script, format!("set inode {ino} di_size {HUGE}\n")).expect("script");
    let st = Command::new(ufs_bin())
        .args(["debug", "-f"])
        .arg(&script)
        .arg(&img.path)
        .status()
        .expect("ufs debug");
    assert!(st.success(), "ufs debug");
    img
}

fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Every regular file below `dir` (relative path -> sha256).
fn file_digests(dir: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    let mut m = std::collections::BTreeMap::new();
    for rel in common::tree_listing(dir) {
        let p = dir.join(&rel);
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        if meta.is_file() {
            m.insert(
                PathBuf::from(rel),
                sha_hex(&std::fs::read(&p).expect("read")),
            );
        }
    }
    m
}

const LIMIT: Duration = Duration::from_secs(20);

/// UFS2 with 32 KiB blocks: the block tree can address 2 PiB, so the size
/// is a (very) sparse file: its digest is left out with a warning, exit 1;
/// every other digest is printed and right.
#[test]
fn mtree_leaves_out_the_digest_of_a_huge_sparse_file() {
    let img = huge_image("pop-ufs2-8m");
    let (m, took) = run_bounded(&mut ufs(&[&"mtree", &img.path]), LIMIT);
    assert_eq!(m.status.code(), Some(1), "{}", stderr(&m));
    let err = stderr(&m);
    assert!(
        err.contains("./docs/empty: no sha256digest: 119846767427584 bytes of holes"),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "mtree took {took:?}");
    let spec = String::from_utf8_lossy(&m.stdout).into_owned();
    let line = spec
        .lines()
        .find(|l| l.trim_start().starts_with("empty\t"))
        .expect("empty's line");
    assert!(line.contains(&format!("size={HUGE}")) && !line.contains("sha256digest"));

    // The other digests agree with the extracted files.
    let clean = unpack("populated/pop-ufs2-8m.img.zst");
    let out = clean.dir.path().join("x");
    common::ufs_ok(["extract".as_ref(), clean.path.as_os_str(), out.as_os_str()]);
    let want = file_digests(&out);
    let hundred = &want[Path::new("docs/hundred.txt")];
    assert!(spec.contains(&format!("sha256digest={hundred}")), "{spec}");
    let n = spec.matches("sha256digest=").count();
    assert_eq!(n, want.len() - 1, "digests in the spec:\n{spec}");
}

/// A file of one MiB of holes: hashed as zeros by default (the digest of
/// a MiB of zeros), left out under `--max-hash-bytes 512k`.
#[test]
fn max_hash_bytes_limits_the_holes_hashed() {
    let img = unpack("populated/pop-ufs2-8m.img.zst");
    let ino = ino_of(&img.path, "/docs", "empty");
    let script = img.dir.path().join("mib.script");
    std::fs::write(&script, format!("set inode {ino} di_size 1048576\n")).expect("script");
    common::ufs_ok([
        "debug".as_ref(),
        "-f".as_ref(),
        script.as_os_str(),
        img.path.as_os_str(),
    ]);
    let zeros = sha_hex(&vec![0u8; 1 << 20]);
    let (m, _) = run_bounded(&mut ufs(&[&"mtree", &img.path]), LIMIT);
    assert_eq!(m.status.code(), Some(0), "{}", stderr(&m));
    let spec = String::from_utf8_lossy(&m.stdout).into_owned();
    assert!(
        spec.contains(&format!("size=1048576 sha256digest={zeros}")),
        "{spec}"
    );
    let (m, _) = run_bounded(
        &mut ufs(&[&"mtree", &"--max-hash-bytes", &"512k", &img.path]),
        LIMIT,
    );
    assert_eq!(m.status.code(), Some(1), "{}", stderr(&m));
    assert!(
        stderr(&m).contains("docs/empty: no sha256digest: 1048576 bytes of holes, more than the 524288 left of --max-hash-bytes"),
        "{}",
        stderr(&m)
    );
}

/// UFS1 with 4 KiB blocks: 4 TiB at most, so the size is damage, named by
/// mtree and extract, and nothing is hashed or written for it.
#[test]
fn size_beyond_the_block_tree_is_damage() {
    let img = huge_image("pop-ufs1-16m-b4096");
    let (m, took) = run_bounded(&mut ufs(&[&"mtree", &img.path]), LIMIT);
    assert_eq!(m.status.code(), Some(1), "{}", stderr(&m));
    assert!(
        stderr(&m).contains("docs/empty: no sha256digest")
            && stderr(&m).contains("more than its block tree can address"),
        "{}",
        stderr(&m)
    );
    assert!(took < Duration::from_secs(5), "mtree took {took:?}");

    let out = img.dir.path().join("x");
    let (x, took) = run_bounded(&mut ufs(&[&"extract", &img.path, &out]), LIMIT);
    assert_eq!(x.status.code(), Some(1), "{}", stderr(&x));
    assert!(took < Duration::from_secs(5), "extract took {took:?}");
    let err = stderr(&x);
    assert!(
        err.contains("docs/empty: ") && err.contains("more than its block tree can address"),
        "{err}"
    );
    assert!(!out.join("docs/empty").exists(), "a file was made for it");

    // Everything else is there, with the clean image's contents.
    let clean = img.dir.path().join("clean.img");
    unpack_to("populated/pop-ufs1-16m-b4096.img.zst", &clean);
    let full = img.dir.path().join("full");
    common::ufs_ok(["extract".as_ref(), clean.as_os_str(), full.as_os_str()]);
    let mut want = file_digests(&full);
    want.remove(Path::new("docs/empty"));
    assert_eq!(file_digests(&out), want);
}

/// A host limit (RLIMIT_FSIZE, as a full disk or a quota would) stops two
/// files; each is named with its reason, the rest is extracted, exit 1.
#[test]
fn extract_goes_on_past_files_it_cannot_write() {
    let img = unpack("populated/pop-ufs2-8m.img.zst");
    let full = img.dir.path().join("full");
    common::ufs_ok(["extract".as_ref(), img.path.as_os_str(), full.as_os_str()]);
    let out = img.dir.path().join("x");
    // 400 blocks of 512 (dash) or 1024 (bash) bytes: under 420,000 bytes.
    // SIGXFSZ ignored (inherited through exec), so the writes fail EFBIG.
    let script = "trap '' XFSZ; ulimit -f 400 && exec \"$0\" extract \"$1\" \"$2\"";
    let (x, _) = run_bounded(
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(ufs_bin())
            .arg(&img.path)
            .arg(&out),
        LIMIT,
    );
    let err = stderr(&x);
    assert_eq!(x.status.code(), Some(1), "{err}");
    for f in ["data/indirect420000.bin", "data/sparse.bin"] {
        assert!(
            err.contains(&format!("{f}: File too large")),
            "{f} not reported:\n{err}"
        );
    }
    assert!(err.contains("2 item(s) could not be extracted"), "{err}");
    assert_eq!(common::tree_listing(&out), common::tree_listing(&full));
    let mut want = file_digests(&full);
    let mut got = file_digests(&out);
    for f in ["data/indirect420000.bin", "data/sparse.bin"] {
        want.remove(Path::new(f));
        got.remove(Path::new(f));
    }
    assert_eq!(got, want);
}
