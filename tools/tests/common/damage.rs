//! Damaged-image helpers for the hard-damage fsck tests (fsck_hard.rs,
//! fsck_matrix.rs): a generated tree, images of it, what an image holds
//! (every regular file's contents by path), and one repair by ufskit and
//! by FreeBSD's fsck_ffs.

use super::{ufs, ufs_bin};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A small deterministic generator (xorshift64*), so every run builds
/// the same tree and the same damage.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf.iter_mut() {
            *b = self.next() as u8;
        }
    }
}

/// Writes `dirs` directories of `per_dir` files each under `root`: sizes
/// from empty through a few blocks (direct blocks, fragments, and a few
/// files with an indirect block), a nested level, long names and
/// symbolic links, so every kind of block pointer is in use.
pub fn make_tree(root: &Path, dirs: usize, per_dir: usize, seed: u64) {
    let mut r = Rng(seed | 1);
    let sizes = [0usize, 10, 700, 3000, 5000, 12_000, 40_000, 150_000];
    for d in 0..dirs {
        let dir = root
            .join(format!("d{d:03}"))
            .join(if d % 4 == 0 { "sub" } else { "" });
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..per_dir {
            // Mostly small files; one in 64 is large enough for indirect
            // blocks at every block size used here.
            let mut n = sizes[r.below(7) as usize];
            if r.below(64) == 0 {
                n = sizes[7] * 3;
            }
            let mut data = vec![0u8; n];
            r.fill(&mut data);
            let name = if f % 50 == 7 {
                format!("long-{}-{f}", "n".repeat(200))
            } else {
                format!("f{f:04}")
            };
            std::fs::write(dir.join(name), &data).expect("write");
            if f % 97 == 3 {
                std::os::unix::fs::symlink(format!("f{f:04}"), dir.join(format!("l{f:04}")))
                    .expect("symlink");
            }
        }
    }
}

/// `ufs makefs -O version` of `tree` into `img` (extra args passed on).
pub fn makefs(img: &Path, tree: &Path, version: u32, extra: &[&str]) {
    let mut args: Vec<String> = vec!["makefs".into(), "-O".into(), version.to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(img.display().to_string());
    args.push(tree.display().to_string());
    let out = ufs(&args);
    assert!(
        out.status.success(),
        "ufs makefs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The geometry of an image, read with the library.
pub fn geometry(img: &Path) -> ufskit::Geometry {
    let fs = ufskit::Ufs::open_path(img, ufskit::OpenOptions::default()).expect("open image");
    fs.geometry().clone()
}

/// Every regular file and symbolic link the image holds, by path, with a
/// digest of its contents (`ufs extract` into a scratch directory). An
/// image `ufs extract` cannot read at all holds nothing.
pub fn snapshot(img: &Path) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let dest = dir.path().join("x");
    let _ = Command::new(ufs_bin())
        .args(["extract", "--no-same-owner"])
        .arg(img)
        .arg(&dest)
        .output()
        .expect("ufs extract");
    let mut out = BTreeMap::new();
    walk(&dest, &dest, &mut out);
    out
}

/// Reads a host tree the way [`snapshot`] reads an image.
pub fn host_snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let rel = p
            .strip_prefix(root)
            .map(|r| r.display().to_string())
            .unwrap_or_default();
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if md.is_dir() {
            walk(root, &p, out);
        } else if md.file_type().is_symlink() {
            let t = std::fs::read_link(&p).unwrap_or_default();
            out.insert(rel, t.display().to_string().into_bytes());
        } else if md.is_file() {
            let data = std::fs::read(&p).unwrap_or_default();
            out.insert(rel, Sha256::digest(&data).to_vec());
        }
    }
}

/// How many of `want`'s files `got` holds with the same contents.
pub fn kept(want: &BTreeMap<String, Vec<u8>>, got: &BTreeMap<String, Vec<u8>>) -> usize {
    want.iter().filter(|(k, v)| got.get(*k) == Some(v)).count()
}

/// How many of `want`'s files `got` holds with the same contents under any
/// name (a repair may have moved them to lost+found): each file of `got`
/// counts once.
pub fn kept_anywhere(want: &BTreeMap<String, Vec<u8>>, got: &BTreeMap<String, Vec<u8>>) -> usize {
    let mut have: BTreeMap<&Vec<u8>, usize> = BTreeMap::new();
    for v in got.values() {
        *have.entry(v).or_default() += 1;
    }
    want.values()
        .filter(|v| match have.get_mut(v) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        })
        .count()
}

/// `ufs fsck ARGS IMG`: exit status and standard output.
pub fn fsck(img: &Path, args: &[&str]) -> (i32, String) {
    let mut a: Vec<String> = vec!["fsck".into()];
    a.extend(args.iter().map(|s| s.to_string()));
    a.push(img.display().to_string());
    let out = ufs(&a);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Whether `ufs fsck -n -f` finds `img` clean (exit 0, no question
/// refused, no rerun asked).
pub fn ufs_clean(img: &Path) -> Result<(), String> {
    let (code, text) = fsck(img, &["-n", "-f"]);
    let refused = text.lines().any(|l| l.ends_with("? no"));
    if code == 0 && !refused && !text.contains("RERUN") {
        Ok(())
    } else {
        Err(format!("exit {code}:\n{text}"))
    }
}

/// FreeBSD 12.1's `fsck_ffs -y` on `img` (a copy; its path made absolute
/// so it holds a `/`): its output, or `None` when the oracle is missing.
pub fn freebsd_repair(img: &Path) -> Option<String> {
    let tool = ufskit_testkit::freebsd::tool("fsck_ffs")?;
    let img: PathBuf = std::path::absolute(img).unwrap_or_else(|_| img.to_path_buf());
    let o = ufskit_testkit::freebsd::command(&tool)
        .arg("-y")
        .arg(&img)
        .output()
        .expect("run fsck_ffs");
    Some(format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    ))
}

/// FreeBSD's `fsck_ffs_check` verdict on `img`: `Some(true)` clean,
/// `Some(false)` not clean or not checkable (a repair that left no
/// usable superblock), `None` when the oracle is missing.
pub fn freebsd_clean(img: &Path) -> Option<bool> {
    let tool = ufskit_testkit::freebsd::tool("fsck_ffs_check")?;
    let img: PathBuf = std::path::absolute(img).unwrap_or_else(|_| img.to_path_buf());
    assert!(img.exists(), "{} is missing", img.display());
    let o = ufskit_testkit::freebsd::command(&tool)
        .arg(&img)
        .output()
        .expect("run fsck_ffs_check");
    Some(o.status.code() == Some(0))
}

/// Overwrites `len` bytes of `img` at `off` with zeros.
pub fn zero(img: &Path, off: u64, len: usize) {
    overwrite(img, off, &vec![0u8; len]);
}

/// Overwrites bytes of `img` at `off`.
pub fn overwrite(img: &Path, off: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(img)
        .expect("open image");
    f.seek(SeekFrom::Start(off)).expect("seek");
    f.write_all(bytes).expect("write");
}
