//! Crash safety of growfs: a grow is cut off after its Nth device write,
//! for every N it makes, on UFS1 and UFS2 images holding files, with a grow
//! that moves the cylinder-group summary. The library must return an
//! error, never panic; one `fsck -y` must then leave a clean file system
//! that is either the old one (old size) or the new one (new size); and
//! every file must read as before. Without a cut the result is clean at
//! the new size at once. The same sweep for a shrink (`ufskit::shrink`)
//! of the grown image back to a size between the two. (A cut just before
//! the primary superblock, with every backup already new, is taken to the
//! new size by fsck, which then trusts the backups; every earlier cut
//! comes back as the old one.) And a shrink that moves inodes and blocks
//! out of the groups it removes: after each cut and `fsck -y`, every
//! file's content is still there and every path too, but for the one
//! write per moved directory with subdirectories where they land in
//! lost+found (docs/growfs.md says why).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fsck_is_clean;
use common::manifest::manifest;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use ufskit::fsck::{repair, AnswerMode, CollectingReporter, FsckOptions};
use ufskit::inode::Timespec;
use ufskit::io::Device;
use ufskit::newfs::options::NewfsOptions;
use ufskit::{growfs, shrink};
use ufskit::{FileType, Ino, NewNode, OpenOptions, Session, Ufs, UfsVersion};

/// Two handles on one in-memory image sharing one write budget: what
/// growfs's two devices (past the old end, and inside it) are in the CLI.
#[derive(Clone)]
struct Shared {
    img: Rc<RefCell<Vec<u8>>>,
    budget: Rc<Cell<u64>>,
    writes: Rc<Cell<u64>>,
}

impl Device for Shared {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let img = self.img.borrow();
        let s = offset as usize;
        let src = img
            .get(s..s + buf.len())
            .ok_or_else(|| std::io::Error::other("read past the end"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        if self.budget.get() == 0 {
            return Err(std::io::Error::other("injected crash"));
        }
        self.budget.set(self.budget.get() - 1);
        self.writes.set(self.writes.get() + 1);
        let mut img = self.img.borrow_mut();
        let s = offset as usize;
        img.get_mut(s..s + buf.len())
            .ok_or_else(|| std::io::Error::other("write past the end"))?
            .copy_from_slice(buf);
        Ok(())
    }
    fn len(&self) -> u64 {
        self.img.borrow().len() as u64
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const OLD: u64 = 4 << 20;
const NEW: u64 = 16 << 20;

/// A session on a fresh `size`-byte file system of many small groups (4K
/// blocks, 512-byte fragments, at most 1000 fragments a group), stamping
/// a fixed time.
fn fresh_session(version: UfsVersion, size: u64) -> Session {
    let opts = NewfsOptions {
        version,
        bsize: Some(4096),
        fsize: Some(512),
        maxfpg: Some(1000),
        time: Some(1_600_000_000),
        random_id: Some(1),
        ..NewfsOptions::freebsd_12_1()
    };
    let img = ufskit::newfs::in_memory(size, &opts).expect("newfs");
    let mut fs = Session::open(Box::new(img), &OpenOptions::read_write()).expect("open");
    fs.set_fixed_time(Some(Timespec {
        sec: 1_600_000_000,
        nsec: 0,
    }));
    fs
}

/// Syncs and returns the image bytes.
fn image_of(mut fs: Session) -> Vec<u8> {
    fs.sync().expect("sync");
    let dev = fs.into_device();
    let mut v = vec![0u8; dev.len() as usize];
    dev.read_at(0, &mut v).unwrap();
    v
}

/// A 4 MiB file system of many small groups (4K blocks, 512-byte
/// fragments, one summary fragment for 32 groups) holding some files.
fn base(version: UfsVersion) -> Vec<u8> {
    let mut fs = fresh_session(version, OLD);
    let d = fs
        .mkdir(Ino::ROOT, b"dir", &NewNode::default())
        .expect("mkdir");
    for (i, len) in [0usize, 100, 5000, 70_000, 300_000].into_iter().enumerate() {
        let name = format!("f{i}");
        let f = fs
            .create(d, name.as_bytes(), FileType::Regular, &NewNode::default())
            .expect("create");
        let data: Vec<u8> = (0..len).map(|j| (j * 31 + i) as u8).collect();
        fs.write_file(f, 0, &data).expect("write");
    }
    image_of(fs)
}

fn tree(img: &[u8]) -> String {
    let fs = Ufs::open(Box::new(img.to_vec()), &OpenOptions::read_only()).expect("open");
    manifest(&fs)
}

fn size_of(img: &[u8]) -> u64 {
    let fs = Ufs::open(Box::new(img.to_vec()), &OpenOptions::read_only()).expect("open");
    fs.geometry().size * u64::from(fs.geometry().fsize)
}

/// Grows a copy of `img` with `budget` writes allowed; returns the
/// image, whether the grow finished, and the writes it made.
fn grow(img: &[u8], budget: u64) -> (Vec<u8>, bool, u64) {
    let mut v = img.to_vec();
    v.resize(NEW as usize, 0);
    let shared = Shared {
        img: Rc::new(RefCell::new(v)),
        budget: Rc::new(Cell::new(budget)),
        writes: Rc::new(Cell::new(0)),
    };
    let plan = growfs::plan(&shared, NEW, NEW, false).expect("plan");
    assert!(plan.moves_summary, "the test grow should move the summary");
    let (mut a, mut b) = (shared.clone(), shared.clone());
    let ok = growfs::apply(&plan, &mut a, &mut b, 1_600_000_200).is_ok();
    let n = shared.writes.get();
    drop((a, b));
    let img = Rc::try_unwrap(shared.img).ok().unwrap().into_inner();
    (img, ok, n)
}

/// Shrinks a copy of `img` to `SMALL` with `budget` writes allowed;
/// returns the image, whether the shrink finished, the writes it made and
/// the planned new size in bytes.
fn shrink_cut(img: &[u8], budget: u64) -> (Vec<u8>, bool, u64, u64) {
    let shared = Shared {
        img: Rc::new(RefCell::new(img.to_vec())),
        budget: Rc::new(Cell::new(budget)),
        writes: Rc::new(Cell::new(0)),
    };
    let plan = shrink::plan(&shared, SMALL, false).expect("shrink plan");
    let new_size = plan.new_geo.size * u64::from(plan.new_geo.fsize);
    let mut dev = shared.clone();
    let ok = shrink::apply(&plan, &mut dev, 1_600_000_400).is_ok();
    let n = shared.writes.get();
    drop(dev);
    let img = Rc::try_unwrap(shared.img).ok().unwrap().into_inner();
    (img, ok, n, new_size)
}

const SMALL: u64 = 7 << 20;

/// `fsck -y` on `img`, which must then be clean.
fn repair_yes(img: &mut Vec<u8>, what: &str) {
    let opts = FsckOptions {
        name: "img".into(),
        force: true,
        answer: AnswerMode::Yes,
        now: Some(1_600_000_300),
        ..Default::default()
    };
    let mut rep = CollectingReporter::default();
    repair(img, &opts, &mut rep).unwrap_or_else(|e| panic!("{what}: fsck -y: {e}"));
    assert!(fsck_is_clean(img), "{what}: not clean after fsck -y");
}

fn check_shrink_sweep(version: UfsVersion) {
    let (grown, ok, _) = grow(&base(version), u64::MAX);
    assert!(ok && fsck_is_clean(&grown), "{version}: grow");
    let want = tree(&grown);
    let (full, ok, total, new_size) = shrink_cut(&grown, u64::MAX);
    assert!(ok, "{version}: uninterrupted shrink failed");
    assert!(fsck_is_clean(&full), "{version}: shrunk image not clean");
    assert_eq!(size_of(&full), new_size);
    assert!(new_size < NEW && new_size > OLD, "{new_size}");
    // The grow moved the summary area; the shrink puts it back where
    // newfs had it, the start of group 0's data.
    let csaddr = |img: &[u8]| {
        let fs = Ufs::open(Box::new(img.to_vec()), &OpenOptions::read_only()).unwrap();
        let g = fs.geometry();
        (g.csaddr, g.cgdmin(ufskit::CgIdx(0)).0)
    };
    assert_ne!(csaddr(&grown).0, csaddr(&grown).1);
    assert_eq!(
        csaddr(&full).0,
        csaddr(&full).1,
        "{version}: summary not home"
    );
    // The file system must not need the removed part: cut it off.
    let cut_off = full[..new_size as usize].to_vec();
    assert!(
        fsck_is_clean(&cut_off),
        "{version}: truncated image not clean"
    );
    assert_eq!(tree(&cut_off), want, "{version}: tree changed");
    let mut outcomes = [0u32; 2];
    for n in 0..total {
        let (mut cut, ok, _, _) = shrink_cut(&grown, n);
        assert!(
            !ok,
            "{version}: shrink cut after {n} writes claimed success"
        );
        repair_yes(
            &mut cut,
            &format!("{version}: shrink cut at {n} of {total}"),
        );
        let size = size_of(&cut);
        assert!(
            size == NEW || size == new_size,
            "{version}: size {size} after a shrink cut at {n}"
        );
        assert_eq!(
            tree(&cut),
            want,
            "{version}: tree changed, shrink cut at {n}"
        );
        outcomes[usize::from(size == new_size)] += 1;
    }
    eprintln!(
        "{version}: shrink, {total} writes; after a cut and fsck -y: {} old, {} new",
        outcomes[0], outcomes[1]
    );
    assert!(total >= 3, "{version}: only {total} writes");
}

#[test]
fn interrupted_shrink_leaves_old_or_new_after_fsck_ufs2() {
    check_shrink_sweep(UfsVersion::Ufs2);
}

#[test]
fn interrupted_shrink_leaves_old_or_new_after_fsck_ufs1() {
    check_shrink_sweep(UfsVersion::Ufs1);
}

fn check_sweep(version: UfsVersion) {
    let img = base(version);
    assert!(fsck_is_clean(&img), "{version}: base not clean");
    let want = tree(&img);
    let (full, ok, total) = grow(&img, u64::MAX);
    assert!(ok, "{version}: uninterrupted grow failed");
    assert!(fsck_is_clean(&full), "{version}: grown image not clean");
    assert_eq!(size_of(&full), NEW);
    assert_eq!(tree(&full), want, "{version}: tree changed");
    let mut outcomes = [0u32; 2];
    for n in 0..total {
        let (mut cut, ok, _) = grow(&img, n);
        assert!(!ok, "{version}: cut after {n} writes claimed success");
        repair_yes(
            &mut cut,
            &format!("{version}: cut after {n} of {total} writes"),
        );
        let size = size_of(&cut);
        assert!(
            size == OLD || size == NEW,
            "{version}: size {size} after a cut at {n}"
        );
        assert_eq!(tree(&cut), want, "{version}: tree changed, cut at {n}");
        outcomes[usize::from(size == NEW)] += 1;
    }
    eprintln!(
        "{version}: {total} writes; after a cut and fsck -y: {} old, {} new",
        outcomes[0], outcomes[1]
    );
    assert!(total > 10, "{version}: only {total} writes");
}

#[test]
fn interrupted_grow_leaves_old_or_new_after_fsck_ufs2() {
    check_sweep(UfsVersion::Ufs2);
}

#[test]
fn interrupted_grow_leaves_old_or_new_after_fsck_ufs1() {
    check_sweep(UfsVersion::Ufs1);
}

// ---- a shrink that moves data -------------------------------------------

const MOVE_OLD: u64 = 16 << 20;
const MOVE_SMALL: u64 = 6 << 20;

/// A 16 MiB file system of many small groups whose files are spread over
/// all of them: directories (the allocator spreads those) with files,
/// nested directories, hard links across directories, short and long
/// symlinks, a file with indirect blocks and, on UFS2, extended
/// attributes.
fn populated(version: UfsVersion) -> Vec<u8> {
    let mut fs = fresh_session(version, MOVE_OLD);
    let n = NewNode::default();
    let mut first_file = None;
    for d in 0..8usize {
        let dir = fs
            .mkdir(Ino::ROOT, format!("d{d}").as_bytes(), &n)
            .expect("mkdir");
        let sub = fs.mkdir(dir, b"sub", &n).expect("mkdir sub");
        for (i, len) in [0usize, 700, 5000, 20_000].into_iter().enumerate() {
            let f = fs
                .create(dir, format!("f{i}").as_bytes(), FileType::Regular, &n)
                .expect("create");
            let data: Vec<u8> = (0..len).map(|j| (j * 31 + i + d * 7) as u8).collect();
            fs.write_file(f, 0, &data).expect("write");
            if i == 2 {
                fs.link(sub, format!("hard{i}").as_bytes(), f)
                    .expect("link");
            }
            if version == UfsVersion::Ufs2 && i == 1 {
                fs.set_xattr(f, ufskit::Namespace::User, b"k", &[d as u8; 300])
                    .expect("xattr");
            }
            first_file.get_or_insert(f);
        }
        fs.symlink(sub, b"short", b"../f1", &n).expect("symlink");
        let long = vec![b'x'; 200];
        fs.symlink(sub, b"long", &long, &n).expect("symlink");
        if d == 5 {
            // 12 direct blocks of 4 KiB are 48 KiB: the rest is mapped
            // through an indirect block.
            let big = fs
                .create(sub, b"big", FileType::Regular, &n)
                .expect("create big");
            let data: Vec<u8> = (0..300_000).map(|j| (j % 251) as u8).collect();
            fs.write_file(big, 0, &data).expect("write big");
        }
    }
    // A link in the root to a file living in some other group.
    fs.link(Ino::ROOT, b"rootlink", first_file.unwrap())
        .expect("link");
    image_of(fs)
}

/// The manifest without what `fsck -y` may add: `lost+found` and the
/// link counts (which count what it holds).
fn tree_sans_lost(img: &[u8]) -> (String, bool) {
    let t = tree(img);
    let lost = t.lines().any(|l| l.starts_with("lost+found"));
    let kept: Vec<String> = t
        .lines()
        .filter(|l| !l.starts_with("lost+found"))
        .map(|l| {
            let mut f: Vec<&str> = l.split('\t').collect();
            f[5] = "-";
            f.join("\t")
        })
        .collect();
    (kept.join("\n"), lost)
}

/// Every extended attribute of every path.
fn xattrs_of(img: &[u8]) -> Vec<(String, Vec<ufskit::Xattr>)> {
    let fs = Ufs::open(Box::new(img.to_vec()), &OpenOptions::read_only()).expect("open");
    let mut out = Vec::new();
    fs.walk(Ino::ROOT, &mut |p, _e, inode| {
        let x = fs.xattrs(inode)?;
        if !x.is_empty() {
            out.push((String::from_utf8_lossy(p).into_owned(), x));
        }
        Ok(())
    })
    .expect("walk");
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Shrinks a copy of `img` to `MOVE_SMALL`, moving data first, with
/// `budget` writes allowed: (image, finished, writes, new size).
fn move_shrink(img: &[u8], budget: u64) -> (Vec<u8>, bool, u64, u64) {
    let shared = Shared {
        img: Rc::new(RefCell::new(img.to_vec())),
        budget: Rc::new(Cell::new(budget)),
        writes: Rc::new(Cell::new(0)),
    };
    let plan = shrink::plan(&shared, MOVE_SMALL, false).expect("shrink plan");
    assert!(plan.moves.is_some(), "the test shrink should move data");
    let new_size = plan.new_geo.size * u64::from(plan.new_geo.fsize);
    let ok = shrink::evacuate(&plan, Box::new(shared.clone()), 1_600_000_400)
        .map_err(|e| e.to_string())
        .and_then(|_| shrink::plan(&shared, MOVE_SMALL, false).map_err(|e| e.to_string()))
        .and_then(|p| {
            assert!(p.moves.is_none(), "still in the way after moving");
            shrink::apply(&p, &mut shared.clone(), 1_600_000_400).map_err(|e| e.to_string())
        })
        .is_ok();
    let n = shared.writes.get();
    let img = Rc::try_unwrap(shared.img).ok().unwrap().into_inner();
    (img, ok, n, new_size)
}

/// Asserts two manifests are equal, showing only the lines that differ.
fn same_tree(got: &str, want: &str, what: &str) {
    if got != want {
        let g: std::collections::BTreeSet<&str> = got.lines().collect();
        let w: std::collections::BTreeSet<&str> = want.lines().collect();
        let extra: Vec<&&str> = g.difference(&w).collect();
        let missing: Vec<&&str> = w.difference(&g).collect();
        panic!("{what}: tree changed\nnow:    {extra:#?}\nbefore: {missing:#?}");
    }
}

/// Inode numbers of the paths that were hard links of one file.
fn same_inode(img: &[u8], a: &str, b: &str) -> bool {
    let fs = Ufs::open(Box::new(img.to_vec()), &OpenOptions::read_only()).expect("open");
    let l = |p| fs.lookup(p, ufskit::Follow::Never).expect("lookup");
    l(a) == l(b)
}

fn check_move_sweep(version: UfsVersion) {
    let img = populated(version);
    assert!(fsck_is_clean(&img), "{version}: populated image not clean");
    let want = tree(&img);
    let want_x = xattrs_of(&img);
    // Dropping the groups without moving first is refused, unwritten.
    let mut copy = img.clone();
    let plan = shrink::plan(&copy, MOVE_SMALL, false).expect("plan");
    assert!(shrink::apply(&plan, &mut copy, 1_600_000_400).is_err());
    assert!(copy == img, "{version}: a refused apply wrote");
    let (full, ok, total, new_size) = move_shrink(&img, u64::MAX);
    assert!(ok, "{version}: uninterrupted moving shrink failed");
    let cut_off = full[..new_size as usize].to_vec();
    assert!(fsck_is_clean(&cut_off), "{version}: shrunk image not clean");
    assert_eq!(size_of(&cut_off), new_size);
    same_tree(&tree(&cut_off), &want, &format!("{version}: shrunk"));
    assert_eq!(xattrs_of(&cut_off), want_x, "{version}: xattrs changed");
    assert!(same_inode(&cut_off, "/d2/f2", "/d2/sub/hard2"));
    // A directory with subdirectories has one write (its new inode
    // written, its parent's entry not yet switched) where a crash makes
    // fsck put its subdirectories in lost+found: no data lost, but paths
    // changed. Count those directories: the sweep may see that many.
    let windows = {
        let fs = Ufs::open(Box::new(img.clone()), &OpenOptions::read_only()).unwrap();
        let keep = u32::try_from(new_size / u64::from(fs.geometry().fsize)).unwrap();
        let keep_cg = fs.geometry().dtog(ufskit::Frag(u64::from(keep) - 1)).0 + 1;
        let mut n = 0;
        fs.walk(Ino::ROOT, &mut |_p, e, inode| {
            if inode.is_dir() && inode.nlink() > 2 && fs.geometry().ino_to_cg(e.ino).0 >= keep_cg {
                n += 1;
            }
            Ok(())
        })
        .unwrap();
        n
    };
    let contents = |t: &str| -> std::collections::BTreeSet<String> {
        t.lines()
            .filter(|l| !l.contains("\tdir\t"))
            .map(|l| l.split('\t').skip(1).collect::<Vec<_>>())
            .map(|f| format!("{} {} {}", f[0], f[5], f[7]))
            .collect()
    };
    let all_contents = contents(&want);
    let mut outcomes = [0u32; 4];
    for n in 0..total {
        let (mut cut, ok, _, _) = move_shrink(&img, n);
        assert!(!ok, "{version}: moving shrink cut at {n} claimed success");
        repair_yes(
            &mut cut,
            &format!("{version}: moving shrink cut at {n} of {total}"),
        );
        let size = size_of(&cut);
        assert!(
            size == MOVE_OLD || size == new_size,
            "{version}: size {size} after a cut at {n}"
        );
        let (got, lost) = tree_sans_lost(&cut);
        // Every file's content is somewhere, lost+found included.
        let now = tree(&cut);
        assert!(
            contents(&now).is_superset(&all_contents),
            "{version}: cut at {n}: file contents lost"
        );
        let xs = xattrs_of(&cut);
        for (p, x) in &want_x {
            if let Some((_, found)) = xs.iter().find(|(q, _)| q == p) {
                assert_eq!(found, x, "{version}: cut at {n}: xattrs of {p}");
            }
        }
        if got != tree_sans_lost(&img).0 {
            // A path moved to lost+found: only in a directory's window.
            assert!(lost, "{version}: cut at {n}: a path is gone");
            outcomes[3] += 1;
        } else if now != want {
            // Link counts differ: an extra copy in lost+found, or a hard
            // link split in two equal files while its entries switched.
            outcomes[2] += 1;
        }
        outcomes[usize::from(size == new_size)] += 1;
    }
    eprintln!(
        "{version}: moving shrink, {total} writes; after a cut and fsck -y: {} old size, {} new; \
         every path as before but link counts in {} (lost+found, split hard links), {} with a \
         path moved to lost+found ({windows} directories with subdirectories moved)",
        outcomes[0], outcomes[1], outcomes[2], outcomes[3]
    );
    assert!(
        outcomes[3] <= windows,
        "{version}: more misplaced paths than windows"
    );
}

#[test]
fn interrupted_moving_shrink_keeps_every_file_ufs2() {
    check_move_sweep(UfsVersion::Ufs2);
}

#[test]
fn interrupted_moving_shrink_keeps_every_file_ufs1() {
    check_move_sweep(UfsVersion::Ufs1);
}
