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
//! out of the groups it removes: after each cut and one `fsck -y` (which
//! finishes the inode move the shrink's intent record names), the tree is
//! exactly as before: every path, link count and byte, hard links one
//! inode, nothing in lost+found; FreeBSD's fsck_ffs finds it clean too.

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
    fresh_session_with(version, size, 4096, 512)
}

/// [`fresh_session`] with other block and fragment sizes.
fn fresh_session_with(version: UfsVersion, size: u64, bsize: u32, fsize: u32) -> Session {
    let opts = NewfsOptions {
        version,
        bsize: Some(bsize),
        fsize: Some(fsize),
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
    populated_with(version, 4096, 512)
}

/// [`populated`] with other block and fragment sizes.
fn populated_with(version: UfsVersion, bsize: u32, fsize: u32) -> Vec<u8> {
    let mut fs = fresh_session_with(version, MOVE_OLD, bsize, fsize);
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
        if d % 3 == 1 {
            // A deep directory, which moves with its parent's group.
            let deep = fs.mkdir(sub, b"deep", &n).expect("mkdir deep");
            let er = fs.mkdir(deep, b"er", &n).expect("mkdir er");
            let f = fs
                .create(er, b"leaf", FileType::Regular, &n)
                .expect("create leaf");
            fs.write_file(f, 0, &[d as u8; 3000]).expect("write leaf");
        }
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
    check_move_sweep_of(version, populated(version), true);
}

/// The sweep on `img`; `coverage` asks that the shrink move each kind of
/// inode a move without its record got wrong.
fn check_move_sweep_of(version: UfsVersion, img: Vec<u8>, coverage: bool) {
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
    // What moves (inodes of the removed groups), to make sure the sweep
    // covers the cases a move without its record got wrong: a file with
    // names in different directories, a directory with subdirectories, a
    // deep directory.
    let links = hard_links(&img);
    let (split_link, parent_dir, deep_dir) = {
        let fs = Ufs::open(Box::new(img.clone()), &OpenOptions::read_only()).unwrap();
        let keep = new_size / u64::from(fs.geometry().fsize);
        let keep_cg = fs.geometry().dtog(ufskit::Frag(keep - 1)).0 + 1;
        let moves = |ino: Ino| fs.geometry().ino_to_cg(ino).0 >= keep_cg;
        let split = links.iter().any(|names| {
            let parents: std::collections::BTreeSet<&str> =
                names.iter().map(|p| &p[..p.rfind('/').unwrap()]).collect();
            moves(fs.lookup(&names[0], ufskit::Follow::Never).unwrap()) && parents.len() > 1
        });
        let (mut parent, mut deep) = (false, false);
        fs.walk(Ino::ROOT, &mut |p, e, inode| {
            if inode.is_dir() && moves(e.ino) {
                parent |= inode.nlink() > 2;
                deep |= p.iter().filter(|&&c| c == b'/').count() >= 3;
            }
            Ok(())
        })
        .unwrap();
        (split, parent, deep)
    };
    assert!(
        !coverage || (split_link && parent_dir && deep_dir),
        "{version}: the shrink should move a hard link across directories ({split_link}), \
         a directory with subdirectories ({parent_dir}) and a deep one ({deep_dir})"
    );
    // One file per sweep: the sweeps run in parallel.
    let fsize = Ufs::open(Box::new(img.clone()), &OpenOptions::read_only())
        .unwrap()
        .geometry()
        .fsize;
    let scratch =
        ufskit_testkit::artifacts_dir().join(format!("growfs_fault_move_{version}_{fsize}.img"));
    let mut outcomes = [0u32; 2];
    let mut freebsd_checked = 0;
    for n in 0..total {
        let (mut cut, ok, _, _) = move_shrink(&img, n);
        assert!(!ok, "{version}: moving shrink cut at {n} claimed success");
        let what = format!("{version}: moving shrink cut at {n} of {total}");
        repair_yes(&mut cut, &what);
        let size = size_of(&cut);
        assert!(size == MOVE_OLD || size == new_size, "{what}: size {size}");
        // Every path, type, link count and content as before; nothing new
        // in lost+found.
        same_tree(&tree(&cut), &want, &what);
        assert_eq!(xattrs_of(&cut), want_x, "{what}: xattrs changed");
        for names in &links {
            for other in &names[1..] {
                assert!(
                    same_inode(&cut, &names[0], other),
                    "{what}: {} and {other} are no longer one file",
                    names[0]
                );
            }
        }
        std::fs::write(&scratch, &cut).unwrap();
        if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&scratch) {
            r.unwrap_or_else(|e| panic!("{what}: FreeBSD fsck_ffs after fsck -y:\n{e}"));
            freebsd_checked += 1;
        }
        outcomes[usize::from(size == new_size)] += 1;
    }
    let _ = std::fs::remove_file(&scratch);
    eprintln!(
        "{version}: moving shrink, {total} writes; after a cut and one fsck -y: {} old size, {} \
         new, every tree exactly as before; FreeBSD fsck_ffs clean on {freebsd_checked}",
        outcomes[0], outcomes[1]
    );
}

/// The paths of each file with more than one name (sorted).
fn hard_links(img: &[u8]) -> Vec<Vec<String>> {
    let fs = Ufs::open(Box::new(img.to_vec()), &OpenOptions::read_only()).expect("open");
    let mut by_ino: std::collections::BTreeMap<Ino, Vec<String>> = Default::default();
    fs.walk(Ino::ROOT, &mut |p, e, inode| {
        if !inode.is_dir() && inode.nlink() > 1 {
            by_ino
                .entry(e.ino)
                .or_default()
                .push(format!("/{}", String::from_utf8_lossy(p)));
        }
        Ok(())
    })
    .expect("walk");
    let out: Vec<Vec<String>> = by_ino.into_values().filter(|v| v.len() > 1).collect();
    assert!(!out.is_empty(), "the image has hard links");
    out
}

#[test]
fn interrupted_moving_shrink_keeps_every_file_ufs2() {
    check_move_sweep(UfsVersion::Ufs2);
}

#[test]
fn interrupted_moving_shrink_keeps_every_file_ufs1() {
    check_move_sweep(UfsVersion::Ufs1);
}

/// 4096-byte fragments: a directory's last fragment holds more than its
/// size (chunks past it are not entries), which the 512-byte ones of the
/// sweeps above never show.
#[test]
fn interrupted_moving_shrink_with_large_fragments() {
    for version in [UfsVersion::Ufs2, UfsVersion::Ufs1] {
        check_move_sweep_of(version, populated_with(version, 32768, 4096), false);
    }
}

/// The superblock's move record of `img`, if one is pending.
fn pending_move(img: &[u8]) -> Option<ufskit::intent::MoveIntent> {
    let (sb, _) = ufskit::Superblock::find(&img.to_vec()).expect("superblock");
    ufskit::intent::MoveIntent::pending(&sb.fs)
}

/// `img` with its primary superblock's fields changed by `edit`,
/// re-encoded (check hash included).
fn edit_sb(img: &[u8], edit: impl FnOnce(&mut ufskit::ondisk::Fs)) -> Vec<u8> {
    let mut out = img.to_vec();
    let (mut sb, _) = ufskit::Superblock::find(&out).expect("superblock");
    edit(&mut sb.fs);
    let bytes = sb.encode();
    let at = sb.location as usize;
    out[at..at + bytes.len()].copy_from_slice(&bytes);
    out
}

/// A cut that leaves a move half done (its record pending, the new inode
/// written): `fsck -n` names it and writes nothing, growfs and shrink
/// refuse it, FreeBSD's fsck_ffs says exactly what it says without the
/// record, and on a clean image a record is ignored by both fscks.
#[test]
fn an_interrupted_move_is_named_and_refused() {
    let img = populated(UfsVersion::Ufs2);
    // The first cut after which some entry names the new inode: the record
    // is pending and going forward is needed.
    let (cut, rec) = (1..)
        .find_map(|n| {
            let (cut, ok, _, _) = move_shrink(&img, n);
            assert!(!ok, "no cut left the move half done");
            let rec = pending_move(&cut)?;
            let fs = Ufs::open(Box::new(cut.clone()), &OpenOptions::read_only()).ok()?;
            let named = fs
                .inode(rec.new)
                .is_ok_and(|i| i.is_allocated() && i.nlink() == 0);
            named.then_some((cut, rec))
        })
        .unwrap();
    let line = format!(
        "INTERRUPTED SHRINK: INODE {} MOVING TO {}",
        rec.old, rec.new
    );
    let opts = FsckOptions {
        name: "img".into(),
        force: true,
        ..Default::default()
    };
    let mut rep = CollectingReporter::default();
    let before = cut.clone();
    let o = ufskit::fsck::check(&cut, &opts, &mut rep).expect("fsck -n");
    assert!(rep.text.contains(&line), "fsck -n:\n{}", rep.text);
    assert!(o.unresolved > 0 && cut == before, "fsck -n");
    assert!(matches!(
        growfs::plan(&cut, 2 * MOVE_OLD, 2 * MOVE_OLD, true),
        Err(growfs::GrowError::InterruptedShrink { .. })
    ));
    let refused = shrink::plan(&cut, MOVE_SMALL, true)
        .map(|_| ())
        .unwrap_err();
    assert!(
        refused.to_string().contains("run `ufs fsck -y` first"),
        "{refused}"
    );
    // fsck -y: the line, the move finished, the image clean in one run.
    let mut fixed = cut.clone();
    let mut rep = CollectingReporter::default();
    let yes = FsckOptions {
        answer: AnswerMode::Yes,
        now: Some(1_600_000_300),
        ..opts.clone()
    };
    let o = repair(&mut fixed, &yes, &mut rep).expect("fsck -y");
    assert!(
        rep.text.contains(&line) && o.repaired,
        "fsck -y:\n{}",
        rep.text
    );
    assert!(pending_move(&fixed).is_none() && fsck_is_clean(&fixed));
    // A record on a clean image is stale: ignored.
    let stale = edit_sb(&img, |fs| {
        ufskit::intent::MoveIntent::new(fs, rec.old, rec.new, 1, 0o100_644, 1).store(fs)
    });
    assert!(fsck_is_clean(&stale), "ufs fsck on a stale record");
    // FreeBSD's fsck_ffs ignores the record: clean on the clean image,
    // word for word the same report on the cut one.
    let Some(fsck_ffs) = ufskit_testkit::freebsd::tool("fsck_ffs") else {
        return;
    };
    let dir = ufskit_testkit::artifacts_dir();
    let with = dir.join("growfs_fault_record.img");
    std::fs::write(&with, &stale).unwrap();
    let r = ufskit_testkit::freebsd::fsck_clean(&with).expect("fsck_ffs_check");
    r.unwrap_or_else(|e| panic!("FreeBSD fsck_ffs on a clean image with a record:\n{e}"));
    let report = |img: &[u8]| {
        std::fs::write(&with, img).unwrap();
        let o = ufskit_testkit::freebsd::command(&fsck_ffs)
            .arg("-n")
            .arg(&with)
            .output()
            .expect("fsck_ffs -n");
        format!(
            "{}{}{:?}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            o.status.code()
        )
    };
    let erased = edit_sb(&cut, ufskit::intent::MoveIntent::clear);
    let (a, b) = (report(&cut), report(&erased));
    let _ = std::fs::remove_file(&with);
    assert_eq!(a, b, "FreeBSD fsck_ffs -n sees the record");
    eprintln!("FreeBSD fsck_ffs -n on the cut image, the same with or without the record:\n{a}");
    assert!(a.contains("UNREF") || a.contains("LINK COUNT"), "{a}");
}
