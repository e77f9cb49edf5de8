//! `ufs extract` (and `cat`, `mtree`) on hostile images never write or read
//! outside what they were given.
//!
//! Each test takes the NetBSD-makefs UFS1 image of the fixture tree
//! (tests/images/ref/ufs1-le: no check hashes, so edited bytes need no new
//! hashes), edits directory entries and symlink inodes in a temp copy, and
//! runs the binary with the destination inside a temp work dir. A canary
//! dir elsewhere (also the target of the image's hostile symlinks) and the
//! rest of the work dir must be exactly as before; the extraction either
//! fails with one clear line or leaves the hostile entry out.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use ufskit::dir::{self, RawEntry};
use ufskit::{Follow, Ino, OpenOptions, Ufs};

const BASE: &str = "ref/ufs1-le.img.zst";
/// `DT_LNK` and `DT_REG` of `<sys/dirent.h>`.
const DT_LNK: u8 = 10;
const DT_REG: u8 = 8;
const SECRET: &[u8] = b"HOST SECRET, must never be read or overwritten\n";

/// An image being edited in memory.
struct Image {
    data: Vec<u8>,
}

impl Image {
    fn load() -> Image {
        let i = unpack(BASE);
        Image {
            data: std::fs::read(&i.path).expect("read image"),
        }
    }

    fn fs(&self) -> Ufs {
        Ufs::open(Box::new(self.data.clone()), &OpenOptions::read_only())
            .expect("open edited image")
    }

    fn lookup(&self, path: &str) -> Ino {
        self.fs()
            .lookup(path, Follow::NotLast)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The entries of directory `path` in on-disk order, each with the byte
    /// offset of the entry in the image.
    fn entries(&self, path: &str) -> Vec<(RawEntry, u64)> {
        let fs = self.fs();
        let ino = self.lookup(path);
        let inode = fs.inode(ino).expect("inode");
        let ext = fs.extents(&inode).expect("extents");
        let mut data = vec![0u8; inode.size() as usize];
        assert_eq!(
            fs.read_at(&inode, &ext, 0, &mut data).expect("read"),
            data.len()
        );
        let bsize = fs.geometry().bsize64();
        dir::parse_all(ino, &data, fs.geometry().endian)
            .expect("parse")
            .into_iter()
            .map(|e| {
                let x = ext
                    .iter()
                    .find(|x| x.lbn * bsize <= e.offset && e.offset < x.lbn * bsize + x.len)
                    .expect("entry in an extent");
                let at = fs.geometry().frag_offset(x.addr) + (e.offset - x.lbn * bsize);
                (e, at)
            })
            .collect()
    }

    /// Rewrites the entry `name` of directory `dir` in place (same record
    /// length): new name, and optionally a new inode and type.
    fn rewrite_entry(
        &mut self,
        dir: &str,
        name: &str,
        new_name: &[u8],
        ino: Option<Ino>,
        dtype: Option<u8>,
    ) {
        let endian = self.fs().geometry().endian;
        let (e, at) = self
            .entries(dir)
            .into_iter()
            .find(|(e, _)| e.name == name.as_bytes())
            .unwrap_or_else(|| panic!("{dir}/{name} not found"));
        let at = at as usize;
        let slot = &mut self.data[at..at + usize::from(e.reclen)];
        assert!(
            dir::encode_entry(
                slot,
                ino.unwrap_or(e.ino),
                e.reclen,
                dtype.unwrap_or(e.dtype),
                new_name,
                endian
            ),
            "{dir}/{name}: {new_name:?} does not fit in {} bytes",
            e.reclen
        );
    }

    /// Makes symlink inode `ino` a fast symlink to `target` (UFS1: size at
    /// byte 8, the target in the 60 bytes of block pointers at byte 40).
    fn set_symlink(&mut self, ino: Ino, target: &[u8]) {
        let fs = self.fs();
        assert_eq!(fs.geometry().endian, ufskit::Endian::Little);
        assert!(target.len() < 60, "a fast UFS1 symlink holds < 60 bytes");
        let off = fs.geometry().inode_offset(ino) as usize;
        self.data[off + 8..off + 16].copy_from_slice(&(target.len() as u64).to_le_bytes());
        let area = &mut self.data[off + 40..off + 100];
        area.fill(0);
        area[..target.len()].copy_from_slice(target);
        // di_blocks (byte 104): a fast symlink has none.
        self.data[off + 104..off + 108].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(self.fs().readlink(ino).expect("readlink"), target);
    }
}

/// Metadata and contents of everything under `dir` (not following links).
fn snapshot(dir: &Path, skip: Option<&Path>) -> BTreeMap<PathBuf, String> {
    let mut m = BTreeMap::new();
    fn walk(d: &Path, skip: Option<&Path>, m: &mut BTreeMap<PathBuf, String>) {
        for e in std::fs::read_dir(d).expect("read_dir").flatten() {
            let p = e.path();
            if Some(p.as_path()) == skip {
                continue;
            }
            let md = std::fs::symlink_metadata(&p).expect("lstat");
            let what = if md.is_file() {
                format!("{:?}", std::fs::read(&p).expect("read"))
            } else if md.file_type().is_symlink() {
                format!("-> {:?}", std::fs::read_link(&p).expect("readlink"))
            } else {
                String::new()
            };
            m.insert(
                p.clone(),
                format!(
                    "mode {:o} size {} mtime {}.{} ino {} {what}",
                    md.mode(),
                    md.size(),
                    md.mtime(),
                    md.mtime_nsec(),
                    md.ino()
                ),
            );
            if md.is_dir() {
                walk(&p, skip, m);
            }
        }
    }
    walk(dir, skip, &mut m);
    m
}

/// A work dir holding the image (and later the destination) and a canary
/// dir elsewhere holding a secret file.
struct Scene {
    work: tempfile::TempDir,
    canary: tempfile::TempDir,
    image: PathBuf,
    dest: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        // Both in /tmp with short names: the canary path must fit in a
        // fast symlink.
        let work = tempfile::Builder::new()
            .prefix("ux")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let canary = tempfile::Builder::new()
            .prefix("uc")
            .tempdir_in("/tmp")
            .expect("tempdir");
        std::fs::write(canary.path().join("secret"), SECRET).expect("write");
        std::fs::create_dir(canary.path().join("sub")).expect("mkdir");
        let image = work.path().join("hostile.img");
        let dest = work.path().join("dest");
        Scene {
            work,
            canary,
            image,
            dest,
        }
    }

    fn canary_path(&self) -> String {
        self.canary.path().to_str().expect("utf8").to_string()
    }

    fn write(&self, img: &Image) {
        std::fs::write(&self.image, &img.data).expect("write image");
    }

    fn state(&self) -> (BTreeMap<PathBuf, String>, BTreeMap<PathBuf, String>) {
        (
            snapshot(self.canary.path(), None),
            snapshot(self.work.path(), Some(&self.dest)),
        )
    }

    /// Runs `ufs extract` and checks nothing outside the destination changed.
    fn extract(&self) -> std::process::Output {
        let before = self.state();
        let out = ufs([
            "extract".as_ref(),
            self.image.as_os_str(),
            self.dest.as_os_str(),
        ]);
        let after = self.state();
        assert_eq!(before.0, after.0, "the canary dir changed");
        assert_eq!(
            before.1, after.1,
            "the work dir changed outside the destination"
        );
        out
    }

    /// Runs `ufs ARGS` on the image; checks nothing changed anywhere and
    /// that the secret did not come out.
    fn read_cmd(&self, args: &[&str]) -> std::process::Output {
        let before = self.state();
        let mut v: Vec<&str> = vec![args[0], self.image.to_str().expect("utf8")];
        v.extend(&args[1..]);
        let out = ufs(&v);
        assert_eq!(before, self.state(), "ufs {v:?} changed the host");
        assert!(
            !out.stdout.windows(SECRET.len()).any(|w| w == SECRET),
            "ufs {v:?} printed the host's secret file"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || (out.status.code() == Some(1) && err.lines().count() == 1),
            "ufs {v:?}: {:?}\n{err}",
            out.status
        );
        out
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The unedited image extracts cleanly (so a failure below is the edit's).
#[test]
fn baseline_extracts_completely() {
    let s = Scene::new();
    s.write(&Image::load());
    let out = s.extract();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(s.dest.join("files/hello.txt").is_file());
    assert_eq!(
        std::fs::read_link(s.dest.join("links/short")).expect("link"),
        Path::new("../files/hello.txt")
    );
}

/// Entries named `..` and `.` that point at regular files are never
/// extracted (they would replace or escape the directory).
#[test]
fn dot_and_dotdot_entries_pointing_at_files() {
    let mut img = Image::load();
    img.rewrite_entry("/files", "hello.txt", b"..", None, Some(DT_REG));
    img.rewrite_entry("/files", "tiny1", b".", None, Some(DT_REG));
    img.rewrite_entry(
        "/",
        "times",
        b"..",
        Some(img.lookup("/files/frag5000.bin")),
        Some(DT_REG),
    );
    let s = Scene::new();
    s.write(&img);
    let out = s.extract();
    let err = stderr(&out);
    // Skipped, each with a warning naming the directory, and a summary.
    assert!(out.status.success(), "{err}");
    let warned: Vec<&str> = err.lines().filter(|l| l.contains("named '..'")).collect();
    assert_eq!(
        warned.len(),
        2,
        "one warning for / and one for /files:\n{err}"
    );
    assert!(warned.iter().any(|l| l.contains("dest/files:")), "{err}");
    assert!(err.contains("item(s) skipped"), "{err}");
    // The directories are still directories, the rest of the tree is
    // there, and the hijacked names produced nothing.
    assert!(s.dest.is_dir() && s.dest.join("files").is_dir());
    assert!(s.dest.join("files/frag5000.bin").is_file());
    assert!(s.dest.join("links/short").symlink_metadata().is_ok());
    assert!(!s.dest.join("files/hello.txt").exists() && !s.dest.join("files/tiny1").exists());
    assert!(!s.dest.join("times").exists());
    let o = s.read_cmd(&["ls", "/files"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "empty\nfrag5000.bin\nhard-a\nind420000.bin\nsparse1m.bin\n"
    );
    let o = s.read_cmd(&["mtree"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("tiny1"));
}

/// A name containing `/` (`../x`, `../../x`) is a corrupt entry: the
/// extraction stops with one line naming the directory entry.
#[test]
fn name_with_a_slash() {
    let mut img = Image::load();
    img.rewrite_entry("/files", "hello.txt", b"../../esc", None, None);
    img.rewrite_entry("/links", "short", b"../sx", None, None);
    let s = Scene::new();
    s.write(&img);
    let out = s.extract();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // Each directory holding a bad name is named, the rest extracted.
    assert_eq!(err.lines().count(), 3, "{err}");
    assert!(
        err.contains("dest/files: ") && err.contains("dest/links: "),
        "{err}"
    );
    assert!(err.ends_with("2 item(s) could not be extracted (see errors above)\n"));
    let extracted = std::fs::read_dir(&s.dest).expect("dest").count();
    assert!(
        extracted > 2,
        "the rest was not extracted: {extracted} entries"
    );
    assert!(
        err.contains("'/'"),
        "the message should say what is wrong: {err}"
    );
    assert!(!s.work.path().join("esc").exists() && !Path::new("/tmp/esc").exists());
    for args in [
        &["mtree"][..],
        &["ls", "-R"],
        &["cat", "/files/../../esc"],
        &["cat", "/links/short"],
    ] {
        s.read_cmd(args);
    }
}

/// A symlink X and a directory X in the same directory, the symlink
/// pointing at the canary dir: the directory's children must not be
/// written through the link, whichever entry comes first.
#[test]
fn symlink_and_directory_with_the_same_name() {
    for symlink_first in [true, false] {
        let mut img = Image::load();
        let s = Scene::new();
        let link = img.lookup("/links/short");
        img.set_symlink(link, s.canary_path().as_bytes());
        // Root order: . .. (then makefs's order); take an entry before or
        // after `deep` and turn it into a symlink named `deep`.
        let names: Vec<String> = img
            .entries("/")
            .into_iter()
            .map(|(e, _)| String::from_utf8_lossy(&e.name).into_owned())
            .filter(|n| n != "." && n != "..")
            .collect();
        let deep = names.iter().position(|n| n == "deep").expect("deep");
        let victim = if symlink_first {
            names[..deep].iter().rev().find(|n| n.len() >= 4)
        } else {
            names[deep + 1..].iter().find(|n| n.len() >= 4)
        };
        let Some(victim) = victim.cloned() else {
            // makefs put `deep` at an end; the other order is tested.
            eprintln!(
                "no entry {} `deep` in {names:?}",
                if symlink_first { "before" } else { "after" }
            );
            continue;
        };
        img.rewrite_entry("/", &victim, b"deep", Some(link), Some(DT_LNK));
        s.write(&img);
        let out = s.extract();
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "symlink first: {symlink_first}: {err}"
        );
        // The clash, then the count (extract goes on past it).
        assert_eq!(err.lines().count(), 2, "{err}");
        assert!(
            err.contains("deep"),
            "the message names the clashing path: {err}"
        );
        assert!(!s.canary.path().join("d01").exists());
        // The directory (not the link) is what sits at dest/deep.
        let md = std::fs::symlink_metadata(s.dest.join("deep")).expect("dest/deep");
        assert!(md.is_dir(), "dest/deep is {md:?}");
        // Reading through the image's symlink stays in the image.
        s.read_cmd(&["mtree"]);
        s.read_cmd(&["ls", "-lR"]);
        let o = s.read_cmd(&["cat", "/deep/secret"]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "cat through the link found a file"
        );
    }
}

/// Symlinks to absolute host paths and up out of the tree are extracted as
/// symlinks, never followed; `cat` resolves them inside the image.
#[test]
fn symlinks_pointing_outside() {
    let mut img = Image::load();
    let s = Scene::new();
    let abs = format!("{}/secret", s.canary_path());
    img.set_symlink(img.lookup("/links/short"), abs.as_bytes());
    img.set_symlink(img.lookup("/links/dot"), b"../../../../../../../..");
    s.write(&img);
    let out = s.extract();
    assert!(out.status.success(), "{}", stderr(&out));
    let l = s.dest.join("links");
    assert_eq!(
        std::fs::read_link(l.join("short")).expect("short"),
        Path::new(&abs)
    );
    assert_eq!(
        std::fs::read_link(l.join("dot")).expect("dot"),
        Path::new("../../../../../../../..")
    );
    // Everything else is as in the unedited image.
    assert!(s.dest.join("files/hello.txt").is_file());
    // Inside the image, /tmp/... and ../../.. do not reach the host.
    let o = s.read_cmd(&["cat", "/links/short"]);
    assert_eq!(o.status.code(), Some(1), "cat of a link to a host path");
    let o = s.read_cmd(&["ls", "/links/dot"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "deep\nfiles\nlinks\nmany\nmodes\nnames\nowners\nspecial\ntimes\n",
        "../../.. from /links resolves to the image's root"
    );
    let o = s.read_cmd(&["cat", "/links/dot/../../../etc/hostname"]);
    assert_eq!(o.status.code(), Some(1), "found a host file through ..");
    let o = s.read_cmd(&["mtree"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("link={abs}")));
}

/// The destination itself: a symlink to elsewhere, or a non-empty
/// directory, is refused before anything is written.
#[test]
fn destination_that_is_a_symlink_or_not_empty() {
    let s = Scene::new();
    s.write(&Image::load());
    std::os::unix::fs::symlink(s.canary.path(), &s.dest).expect("symlink");
    let before = snapshot(s.canary.path(), None);
    let out = ufs(["extract".as_ref(), s.image.as_os_str(), s.dest.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert_eq!(
        before,
        snapshot(s.canary.path(), None),
        "extract wrote through the destination symlink"
    );

    std::fs::remove_file(&s.dest).expect("rm");
    std::fs::create_dir(&s.dest).expect("mkdir");
    std::fs::write(s.dest.join("mine"), b"keep").expect("write");
    let out = ufs(["extract".as_ref(), s.image.as_os_str(), s.dest.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(tree_listing(&s.dest), ["mine"]);
}
