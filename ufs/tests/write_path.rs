//! The write path against fsck and the reader: every change leaves an image
//! that `fsck -n -f` finds clean and that reads back as written.

mod common;
use common::*;
use ufskit::fsck::{check, CollectingReporter, FsckOptions, Verdict};
use ufskit::inode::Timespec;
use ufskit::xattr::Namespace;
use ufskit::{FileType, Follow, Ino, NewNode, OpenOptions, Session, Ufs};

fn fsck_clean(img: &[u8], what: &str) {
    let mut rep = CollectingReporter::default();
    let opts = FsckOptions {
        name: what.into(),
        force: true,
        ..Default::default()
    };
    let out = check(&img.to_vec(), &opts, &mut rep).expect("fsck runs");
    let texts: Vec<String> = rep.findings.iter().map(|f| f.0.message()).collect();
    assert_eq!(
        out.verdict,
        Verdict::Clean,
        "{what}: fsck findings: {texts:#?}"
    );
}

fn open_rw(img: Vec<u8>) -> Session {
    let mut fs = Session::open(Box::new(img), &OpenOptions::read_write()).expect("opens");
    fs.set_fixed_time(Some(Timespec {
        sec: 1_600_000_000,
        nsec: 5,
    }));
    fs
}

fn image_bytes(fs: Session) -> Vec<u8> {
    let dev = fs.into_device();
    let mut v = vec![0u8; dev.len() as usize];
    dev.read_at(0, &mut v).expect("read back");
    v
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

const BASES: [&str; 5] = [
    "populated/pop-ufs2-8m.img.zst",
    "populated/pop-ufs1-8m.img.zst",
    "populated/pop-ufs2-16m-b4096.img.zst",
    "real/ufs-little.img.zst",
    "real/ufs-big.img.zst",
];

#[test]
fn create_write_link_rename_remove_stay_fsck_clean() {
    for base in BASES {
        let mut fs = open_rw(load_zst(base));
        let attr = NewNode {
            perm: 0o644,
            uid: 1001,
            gid: 5,
            ..Default::default()
        };
        let dattr = NewNode {
            perm: 0o755,
            ..Default::default()
        };
        let d = fs.mkdir(Ino::ROOT, b"new", &dattr).expect("mkdir");
        let sub = fs.mkdir(d, b"sub", &dattr).expect("mkdir sub");
        let bs = fs.geometry().bsize as usize;
        let sizes = [
            0usize,
            1,
            100,
            4095,
            4097,
            5000,
            bs - 1,
            bs + 1,
            13 * bs + 7,
            600 * 1024,
        ];
        let mut files = Vec::new();
        for (k, &n) in sizes.iter().enumerate() {
            let name = format!("f{k}");
            let ino = fs
                .create(sub, name.as_bytes(), FileType::Regular, &attr)
                .expect("create");
            let data = pattern(n, k as u8);
            // Written in uneven pieces so tails grow and move.
            let mut off = 0;
            for piece in data.chunks(3001) {
                fs.write_file(ino, off as u64, piece).expect("write");
                off += piece.len();
            }
            files.push((name, data));
        }
        let sparse = fs
            .create(d, b"sparse", FileType::Regular, &attr)
            .expect("create sparse");
        fs.write_file(sparse, 0, b"start").expect("write");
        fs.write_file(sparse, 3 << 20, b"middle").expect("write");
        fs.truncate(sparse, (5 << 20) + 11).expect("extend");
        fs.symlink(d, b"short", b"sub/f1", &attr).expect("symlink");
        let long = vec![b'x'; 300];
        fs.symlink(d, b"long", &long, &attr).expect("long symlink");
        fs.link(
            d,
            b"hard",
            fs.lookup("/new/sub/f2", Follow::All).expect("f2"),
        )
        .expect("link");
        fs.create(d, b"fifo", FileType::Fifo, &attr).expect("fifo");
        fs.create(
            d,
            b"dev",
            FileType::CharDevice,
            &NewNode {
                rdev: Some((2, 3)),
                ..attr.clone()
            },
        )
        .expect("dev");
        for i in 0..300 {
            fs.create(
                d,
                format!("many-{i:04}").as_bytes(),
                FileType::Regular,
                &attr,
            )
            .expect("many");
        }
        for i in (0..300).step_by(3) {
            fs.unlink(d, format!("many-{i:04}").as_bytes())
                .expect("unlink");
        }
        fs.rename(d, b"many-0001", sub, b"moved")
            .expect("rename across");
        let other = fs.mkdir(Ino::ROOT, b"other", &dattr).expect("mkdir other");
        fs.rename(d, b"sub", other, b"sub2").expect("rename dir");
        fs.truncate(fs.lookup("/other/sub2/f8", Follow::All).expect("f8"), 5)
            .expect("shrink");
        let emptyd = fs.mkdir(other, b"gone", &dattr).expect("mkdir");
        let _ = emptyd;
        fs.rmdir(other, b"gone").expect("rmdir");
        if fs.geometry().version == ufskit::UfsVersion::Ufs2 {
            fs.set_xattr(sparse, Namespace::User, b"colour", b"blue")
                .expect("xattr");
            fs.set_xattr(sparse, Namespace::User, b"big", &pattern(5000, 9))
                .expect("big xattr");
            fs.remove_xattr(sparse, Namespace::User, b"colour")
                .expect("rm xattr");
        }
        fs.sync().expect("sync");
        // Read back.
        for (k, (name, data)) in files.iter().enumerate() {
            let ino = fs
                .lookup(&format!("/other/sub2/{name}"), Follow::All)
                .expect("lookup");
            let got = fs.read_all(ino).expect("read");
            if k == 8 {
                assert_eq!(got, data[..5], "{base}: truncated f8");
            } else {
                assert_eq!(got.len(), data.len(), "{base}: {name} length");
                assert!(got == *data, "{base}: {name} content");
            }
        }
        let sp = fs.read_all(sparse).expect("sparse");
        assert_eq!(sp.len(), (5 << 20) + 11);
        assert_eq!(&sp[..5], b"start");
        assert_eq!(&sp[3 << 20..(3 << 20) + 6], b"middle");
        assert!(sp[6..1000].iter().all(|&b| b == 0));
        assert_eq!(
            fs.readlink(fs.lookup("/new/long", Follow::NotLast).expect("l"))
                .expect("rl"),
            long
        );
        assert_eq!(
            fs.lookup("/new/hard", Follow::All).expect("hard"),
            fs.lookup("/other/sub2/f2", Follow::All).expect("f2")
        );
        assert_eq!(fs.lookup("/other/sub2/..", Follow::All).expect(".."), other);
        let img = image_bytes(fs);
        fsck_clean(&img, base);
        let fs = Ufs::open(Box::new(img), &OpenOptions::read_only()).expect("reopen");
        assert!(
            fs.superblock().is_clean(),
            "{base}: clean flag set after sync"
        );
    }
}

#[test]
fn filling_the_disk_fails_cleanly_and_keeps_what_was_there() {
    let mut fs = open_rw(load_zst("populated/pop-ufs2-8m.img.zst"));
    let before = fs
        .read_all(
            fs.lookup("/data/indirect420000.bin", Follow::All)
                .expect("f"),
        )
        .expect("r");
    let attr = NewNode {
        perm: 0o644,
        ..Default::default()
    };
    let big = fs
        .create(Ino::ROOT, b"big", FileType::Regular, &attr)
        .expect("create");
    let chunk = vec![7u8; 1 << 20];
    let mut off = 0u64;
    let err = loop {
        match fs.write_file(big, off, &chunk) {
            Ok(()) => off += chunk.len() as u64,
            Err(e) => break e,
        }
        assert!(off < 64 << 20, "an 8 MiB image cannot take 64 MiB");
    };
    assert!(matches!(err, ufskit::Error::NoSpace(_)), "{err}");
    // Out of inodes too.
    let mut n = 0;
    let ierr = loop {
        match fs.create(Ino::ROOT, format!("i{n}").as_bytes(), FileType::Fifo, &attr) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
        assert!(n < 100_000);
    };
    assert!(matches!(ierr, ufskit::Error::NoSpace(_)), "{ierr}");
    fs.sync().expect("sync");
    let got = fs
        .read_all(
            fs.lookup("/data/indirect420000.bin", Follow::All)
                .expect("f"),
        )
        .expect("r");
    assert_eq!(got, before);
    let img = image_bytes(fs);
    fsck_clean(&img, "full disk");
}

/// A device that counts every write and flush it is asked for (and
/// lets none through), shared with the test through `Rc`s.
struct Counting {
    data: Vec<u8>,
    writes: std::rc::Rc<std::cell::Cell<u64>>,
}

impl ufskit::io::Device for Counting {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.data.read_at(offset, buf)
    }
    fn write_at(&mut self, _: u64, _: &[u8]) -> std::io::Result<()> {
        self.writes.set(self.writes.get() + 1);
        Err(std::io::Error::other("counted write"))
    }
    fn len(&self) -> u64 {
        self.data.len() as u64
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writes.set(self.writes.get() + 1);
        Ok(())
    }
}

/// Reads everything a reader can: every inode of the tree, every file's
/// data, every link, every extended attribute, the summaries and space.
fn read_everything(fs: &Ufs) -> usize {
    let mut n = 0;
    fs.walk(Ino::ROOT, &mut |_, e, inode| {
        n += 1;
        match inode.file_type() {
            FileType::Regular => drop(fs.read_all(e.ino)?),
            FileType::Symlink => drop(fs.readlink(e.ino)?),
            _ => {}
        }
        fs.xattrs(inode)?;
        Ok(())
    })
    .expect("walk");
    fs.space().expect("space");
    n
}

/// A handle opened read-only cannot write a byte: not by reading (no
/// write or flush reaches even a device that would take them), not by
/// starting a write session (refused before anything is written), and not
/// through the device it gives back. That `Ufs` has no write methods at
/// all is checked by the compiler (the `compile_fail` example in
/// `session.rs`).
#[test]
fn read_only_open_cannot_write_a_byte() {
    let data = load_zst("populated/pop-ufs2-8m.img.zst");
    let writes = std::rc::Rc::new(std::cell::Cell::new(0));
    let dev = Counting {
        data: data.clone(),
        writes: writes.clone(),
    };
    // The device itself would take writes (it says it is writable).
    assert!(!ufskit::io::Device::is_read_only(&dev));
    let fs = Ufs::open(Box::new(dev), &OpenOptions::read_only()).expect("open");
    assert!(read_everything(&fs) > 10);
    assert!(
        fs.device().is_read_only(),
        "the handle's device refuses writes"
    );
    let e = Session::new(fs).unwrap_err();
    assert!(matches!(e, ufskit::Error::ReadOnly), "{e}");
    // Neither does a device given back.
    let fs = Ufs::open(
        Box::new(Counting {
            data: data.clone(),
            writes: writes.clone(),
        }),
        &OpenOptions::read_only(),
    )
    .expect("open");
    let mut dev = fs.into_device();
    assert!(ufskit::io::write_all(dev.as_mut(), 0, &[1]).is_err());
    assert!(dev.write_at(0, &[1]).is_err());
    assert_eq!(writes.get(), 0, "writes reached the device");
    // A read-only device refuses a session even when opened "writable".
    let ro = ufskit::io::SliceDevice(Box::leak(data.clone().into_boxed_slice()));
    let e = Session::open(Box::new(ro), &OpenOptions::read_write()).unwrap_err();
    assert!(matches!(e, ufskit::Error::ReadOnly), "{e}");

    // The file: opened O_RDONLY (plain and mmap), its bytes and its
    // modification time unchanged after a session was attempted.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ro.img");
    std::fs::write(&path, &data).expect("write image");
    let mut perms = std::fs::metadata(&path).expect("stat").permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&path, perms).expect("chmod");
    let before = std::fs::metadata(&path)
        .expect("stat")
        .modified()
        .expect("mtime");
    for mmap in [false, true] {
        let opts = OpenOptions {
            mmap,
            ..OpenOptions::read_only()
        };
        let fs = Ufs::open_path(&path, opts).expect("open read-only file");
        assert!(read_everything(&fs) > 10);
        assert!(matches!(Session::new(fs), Err(ufskit::Error::ReadOnly)));
    }
    // mmap is for reading only.
    let both = OpenOptions {
        mmap: true,
        ..OpenOptions::read_write()
    };
    assert!(Ufs::open_path(&path, both).is_err());
    assert_eq!(std::fs::read(&path).expect("read"), data);
    let after = std::fs::metadata(&path)
        .expect("stat")
        .modified()
        .expect("mtime");
    assert_eq!(before, after);
}

/// A write session refuses an image whose superblock asks for a check
/// unless forced; a forced session leaves it asking.
#[test]
fn a_session_refuses_an_unclean_image_unless_forced() {
    let mut fs = open_rw(load_zst("populated/pop-ufs2-8m.img.zst"));
    fs.mkdir(Ino::ROOT, b"d", &NewNode::default())
        .expect("mkdir");
    // Interrupted: the first change cleared the flag on disk.
    let img = image_bytes(fs);
    let reopen = || Ufs::open(Box::new(img.clone()), &OpenOptions::read_write()).expect("open");
    assert!(reopen().superblock().needs_fsck());
    let e = Session::new(reopen()).unwrap_err();
    assert!(matches!(e, ufskit::Error::Unclean), "{e}");
    let mut s = Session::new_forced(reopen()).expect("forced");
    assert!(s.was_unclean());
    s.mkdir(Ino::ROOT, b"e", &NewNode::default())
        .expect("mkdir");
    s.sync().expect("sync");
    assert!(!s.superblock().is_clean(), "a forced edit stays unclean");
    let img = image_bytes(s);
    let back = Ufs::open(Box::new(img), &OpenOptions::read_only()).expect("reopen");
    assert!(back.superblock().needs_fsck());
    back.lookup("/e", Follow::All).expect("the change is there");
}

/// `mkdir_p` makes the missing directories only, with the attributes it
/// is asked for; `remove_tree` takes a whole tree away and fsck finds the
/// image clean.
#[test]
fn mkdir_p_and_remove_tree() {
    let mut fs = open_rw(load_zst("populated/pop-ufs2-8m.img.zst"));
    let made = std::cell::RefCell::new(Vec::new());
    let a = fs
        .mkdir_p(b"/x/y/z", |parent, last| {
            made.borrow_mut().push((parent.ino, last));
            NewNode {
                perm: if last { 0o700 } else { 0o755 },
                gid: 7,
                ..Default::default()
            }
        })
        .expect("mkdir -p");
    assert_eq!(made.borrow().len(), 3);
    assert_eq!(made.borrow()[0], (Ino::ROOT, false));
    assert!(made.borrow()[2].1);
    assert_eq!(fs.lookup("/x/y/z", Follow::All).expect("made"), a);
    assert_eq!(fs.inode(a).expect("inode").mode() & 0o7777, 0o700);
    // Again: nothing new is made.
    let again = fs
        .mkdir_p(b"x//y/./z/", |_, _| panic!("nothing to make"))
        .expect("exists");
    assert_eq!(again, a);
    let f = fs
        .create(a, b"f", FileType::Regular, &NewNode::default())
        .expect("create");
    fs.write_file(f, 0, &pattern(100_000, 9)).expect("write");
    let e = fs
        .mkdir_p(b"/x/y/z/f/g", |_, _| NewNode::default())
        .unwrap_err();
    assert!(
        matches!(&e, ufskit::Error::NotADirectory { path } if path == "/x/y/z/f"),
        "{e}"
    );
    let x = fs.lookup("/x", Follow::All).expect("x");
    fs.symlink(x, b"l", b"/", &NewNode::default())
        .expect("symlink");
    fs.remove_tree(Ino::ROOT, b"x").expect("rm -r");
    fs.remove_tree(Ino::ROOT, b"x")
        .expect("a missing name is no error");
    assert!(fs.lookup("/x", Follow::All).is_err());
    let img = image_bytes(fs);
    fsck_clean(&img, "after rm -r");
}

/// `sync` marks the image clean; `sync_unclean` writes the same changes
/// but leaves the superblock saying "not clean" (a forced edit of an image
/// that still needs a check must not hide that).
#[test]
fn sync_unclean_writes_everything_but_the_clean_flag() {
    let mut images = Vec::new();
    for clean in [true, false] {
        let mut fs = open_rw(load_zst("populated/pop-ufs2-8m.img.zst"));
        let f = fs
            .create(Ino::ROOT, b"new", FileType::Regular, &NewNode::default())
            .expect("create");
        fs.write_file(f, 0, &pattern(70_000, 3)).expect("write");
        if clean {
            fs.sync().expect("sync");
        } else {
            fs.sync_unclean().expect("sync_unclean");
        }
        assert_eq!(fs.superblock().is_clean(), clean);
        let img = image_bytes(fs);
        let back = Ufs::open(Box::new(img.clone()), &OpenOptions::read_only()).expect("reopen");
        assert_eq!(back.superblock().is_clean(), clean, "on disk");
        let ino = back.lookup_bytes(b"/new", Follow::All).expect("lookup");
        assert_eq!(back.read_all(ino).expect("read"), pattern(70_000, 3));
        images.push(img);
    }
    // fsck -f finds both consistent: only the flag differs.
    fsck_clean(&images[0], "synced clean");
    fsck_clean(&images[1], "synced unclean");
}

/// Shrinking a file into a hole (data only past the new end): FreeBSD's
/// ffs_truncate allocates the block of the new last byte, and fsck_ffs
/// 12.1 calls a size past the last allocated block damage. Found by the
/// write model once fsck learned that check.
#[test]
fn shrinking_into_a_hole_allocates_the_last_block() {
    for base in BASES {
        let mut fs = open_rw(load_zst(base));
        let f = fs
            .create(Ino::ROOT, b"shrunk", FileType::Regular, &NewNode::default())
            .expect("create");
        let data = pattern(2801, 7);
        fs.write_file(f, 655_360, &data).expect("write past a hole");
        fs.truncate(f, 646_140).expect("shrink into the hole");
        fs.sync().expect("sync");
        let back = fs.read_all(f).expect("read");
        assert_eq!(back.len(), 646_140, "{base}");
        assert!(
            back.iter().all(|&b| b == 0),
            "{base}: only the hole is left"
        );
        let img = image_bytes(fs);
        fsck_clean(&img, base);
    }
}

/// A write far past the end that finds no room for its first block
/// fails and leaves the size where it was (it used to move the size to the
/// write's offset: a file ending in a hole, which fsck_ffs 12.1 calls
/// damage). Found by the edit_ops fuzz target.
#[test]
fn a_write_that_finds_no_room_leaves_the_size_alone() {
    let mut fs = open_rw(load_zst("populated/pop-ufs2-8m.img.zst"));
    let f = fs
        .create(Ino::ROOT, b"far", FileType::Regular, &NewNode::default())
        .expect("create");
    fs.write_file(f, 0, &pattern(1000, 3)).expect("small write");
    // Fill the file system, so the far write finds no room.
    let filler = fs
        .create(Ino::ROOT, b"filler", FileType::Regular, &NewNode::default())
        .expect("create");
    let chunk = pattern(1 << 20, 9);
    let mut off = 0;
    while fs.write_file(filler, off, &chunk).is_ok() {
        off += chunk.len() as u64;
    }
    let r = fs.write_file(f, 7_861_445_054_464, &pattern(62_206, 79));
    assert!(r.is_err(), "a full image has no room: {r:?}");
    assert_eq!(fs.inode(f).expect("inode").size(), 1000);
    fs.sync().expect("sync");
    let img = image_bytes(fs);
    fsck_clean(&img, "far write");
}

/// A write past a fragment tail first makes the tail a whole block. When
/// the write then fails before writing a byte, the block must go back to
/// the fragments the size needs (resize_block's shrinking mode): the block
/// count, the size and the maps stay what fsck_ffs expects. Here the disk
/// keeps room for the tail's block but not for the indirect blocks of a
/// write far past the end.
#[test]
fn a_failed_write_gives_back_the_tail_it_made_whole() {
    let mut fs = open_rw(load_zst("populated/pop-ufs2-8m.img.zst"));
    let bsize = u64::from(fs.geometry().bsize);
    assert!(fs.geometry().frag > 1, "the image must have fragments");
    let f = fs
        .create(Ino::ROOT, b"tail", FileType::Regular, &NewNode::default())
        .expect("create");
    fs.write_file(f, 0, &pattern(1000, 3)).expect("small write");
    let blocks = fs.inode(f).expect("inode").blocks();
    // Fill the disk, then give back two whole blocks.
    let filler = fs
        .create(Ino::ROOT, b"filler", FileType::Regular, &NewNode::default())
        .expect("create");
    for chunk in [pattern(1 << 20, 9), pattern(1 << 12, 9)] {
        loop {
            let off = fs.inode(filler).expect("inode").size();
            if fs.write_file(filler, off, &chunk).is_err() {
                break;
            }
        }
    }
    let size = fs.inode(filler).expect("inode").size();
    fs.truncate(filler, (size / bsize).saturating_sub(2) * bsize)
        .expect("truncate");
    let r = fs.write_file(f, 7_861_445_054_464, &pattern(62_206, 79));
    assert!(r.is_err(), "no room for the indirect blocks: {r:?}");
    let ip = fs.inode(f).expect("inode");
    assert_eq!(ip.size(), 1000);
    assert_eq!(ip.blocks(), blocks, "the tail is back to its fragments");
    assert_eq!(fs.read_all(f).expect("read"), pattern(1000, 3));
    fs.sync().expect("sync");
    let img = image_bytes(fs);
    fsck_clean(&img, "failed write after a tail grew");
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("tail.img");
    std::fs::write(&p, &img).expect("write image");
    if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&p) {
        r.expect("FreeBSD fsck_ffs calls the image clean");
    }
}
