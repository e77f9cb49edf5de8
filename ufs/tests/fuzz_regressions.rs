//! Inputs the fuzz targets (fuzz/) found crashing, kept as regression
//! tests: each must now fail cleanly (a typed error or an fsck verdict),
//! never panic. Images live in tests/images/fuzz/: `*.bin` raw,
//! `*.img.zst` whole images (a mutated 1-2 MiB base) compressed.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use ufskit::fsck::{check, repair, AnswerMode, CollectingReporter, FsckOptions, Verdict};
use ufskit::io::SliceDevice;
use ufskit::{CgIdx, CorruptKind, Error, FileType, Follow, Ino, OpenOptions, Ufs};

fn load(name: &str) -> Vec<u8> {
    let rel = format!("fuzz/{name}");
    if name.ends_with(".zst") {
        common::load_zst(&rel)
    } else {
        let p = common::images_dir().join(&rel);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }
}

/// What reading the image everywhere (as the `open_walk` target does)
/// gives: the first error met, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Got {
    /// Every read succeeded.
    Ok,
    /// `Ufs::open` failed with this corruption kind.
    OpenCorrupt(CorruptKind),
    /// A read after a successful open failed with this corruption kind.
    Corrupt(CorruptKind),
    /// A read failed with an I/O error (e.g. past the end of the image).
    Io,
}

fn classify(e: &Error, opened: bool) -> Got {
    match (e.corrupt_kind(), opened) {
        (Some(k), false) => Got::OpenCorrupt(k),
        (Some(k), true) => Got::Corrupt(k),
        (None, _) => match e {
            Error::Io { .. } => Got::Io,
            other => panic!("unexpected error kind: {other}"),
        },
    }
}

/// Opens and reads everything reachable (tree, file data, symlinks,
/// xattrs, cylinder groups), returning the first error.
fn read_everything(img: Vec<u8>) -> Got {
    let fs = match Ufs::open(Box::new(img), &OpenOptions::read_only()) {
        Ok(fs) => fs,
        Err(e) => return classify(&e, false),
    };
    let mut first: Option<Got> = None;
    let mut note = |r: ufskit::Result<()>| {
        if let Err(e) = r {
            first.get_or_insert(classify(&e, true));
        }
    };
    for c in 0..fs.geometry().ncg {
        note(fs.cg(CgIdx(c)).map(drop));
    }
    note(fs.cg_summaries().map(drop));
    let mut inodes = Vec::new();
    let mut paths = Vec::new();
    note(fs.walk(Ino::ROOT, &mut |p, _, i| {
        paths.push(p.to_vec());
        inodes.push(i.clone());
        Ok(())
    }));
    for i in &inodes {
        note(fs.xattrs(i).map(drop));
        match i.file_type() {
            FileType::Symlink => note(fs.readlink_inode(i).map(drop)),
            FileType::Directory => {}
            _ if i.size() <= 4 << 20 => note(fs.copy_to(i, &mut std::io::sink()).map(drop)),
            _ => {}
        }
    }
    for p in &paths {
        note(fs.lookup_bytes(p, Follow::All).map(drop));
    }
    first.unwrap_or(Got::Ok)
}

fn fsck_verdict(img: &[u8]) -> Result<Verdict, String> {
    let mut rep = CollectingReporter::default();
    let opts = FsckOptions {
        force: true,
        ..Default::default()
    };
    check(&SliceDevice(img), &opts, &mut rep)
        .map(|o| o.verdict)
        .map_err(|e| e.to_string())
}

/// Runs both oracles without letting a panic escape unnamed.
fn run(name: &str) -> (Got, Result<Verdict, String>) {
    let img = load(name);
    let walk = catch_unwind(AssertUnwindSafe(|| read_everything(img.clone())))
        .unwrap_or_else(|_| panic!("{name}: reading the image panicked"));
    let fsck = catch_unwind(AssertUnwindSafe(|| fsck_verdict(&img)))
        .unwrap_or_else(|_| panic!("{name}: fsck -n panicked"));
    (walk, fsck)
}

/// `mutate_valid`: the superblock's `cs_nbfree` total set to ~2^62
/// (UFS2). fsck's summary line computed `nffree + frag * nbfree` and
/// overflowed. The edit also breaks the superblock check hash, which the
/// reader refuses and fsck reports and goes on past.
#[test]
fn fsck_summary_nbfree_overflow() {
    let (walk, fsck) = run("fsck-summary-nbfree-overflow.img.zst");
    assert_eq!(walk, Got::OpenCorrupt(CorruptKind::CheckHash));
    assert_eq!(fsck, Ok(Verdict::Problems));
}

// ---- the write path (`edit_ops`) -------------------------------------------

use ufskit::inode::Timespec;
use ufskit::newfs::NewfsOptions;
use ufskit::{NewNode, Session, UfsVersion};

const T: Timespec = Timespec {
    sec: 1_600_000_000,
    nsec: 0,
};

/// A fresh file system made in memory the way the fuzz crate makes its
/// bases (`ufskit_fuzz::fresh`), opened read-write.
fn fresh_rw(version: UfsVersion, size: u64, bsize: Option<u32>, fsize: Option<u32>) -> Session {
    let opts = NewfsOptions {
        version,
        bsize,
        fsize,
        no_snap: true,
        time: Some(T.sec),
        random_id: Some(1),
        ..Default::default()
    };
    let img = ufskit::newfs::in_memory(size, &opts).expect("newfs");
    let mut fs = Session::open(Box::new(img), &OpenOptions::read_write()).expect("open");
    fs.set_fixed_time(Some(T));
    fs
}

fn node() -> NewNode {
    NewNode {
        perm: 0o644,
        ..Default::default()
    }
}

/// Syncs, then `fsck -n -f` must find the image clean.
fn assert_fsck_clean(mut fs: Session, what: &str) {
    fs.sync().expect("sync");
    let dev = fs.into_device();
    let mut img = vec![0u8; dev.len() as usize];
    dev.read_at(0, &mut img).expect("read back");
    let mut rep = CollectingReporter::default();
    let opts = FsckOptions {
        force: true,
        ..Default::default()
    };
    let out = check(&SliceDevice(&img), &opts, &mut rep).expect("fsck runs");
    let texts: Vec<String> = rep.findings.iter().map(|f| f.0.message()).collect();
    assert_eq!(out.verdict, Verdict::Clean, "{what}: {texts:#?}");
}

/// Writes 64 KiB pieces to a new file until the file system is full.
fn fill(fs: &mut Session, name: &[u8]) -> Ino {
    let f = fs
        .create(Ino::ROOT, name, FileType::Regular, &node())
        .expect("create");
    let chunk = vec![0x5a; 64 << 10];
    let mut off = 0;
    loop {
        match fs.write_file(f, off, &chunk) {
            Ok(()) => off += chunk.len() as u64,
            Err(Error::NoSpace(_)) => return f,
            Err(e) => panic!("filling: {e}"),
        }
    }
}

/// `edit_ops` (UFS2 2 MiB/32 KiB base): `truncate` growing a file to a
/// size that needs new indirect blocks, on a file system with only a
/// couple of blocks free, fails with `NoSpace` after it took the first
/// indirect blocks; the inode was not written back, so those blocks stay
/// marked used with no owner (fsck: "BLK(S) MISSING IN BIT MAPS", "FREE
/// BLK COUNT(S) WRONG IN SUPERBLK"). `write_file` records a partial
/// write in the inode; `truncate` must too (or give the blocks back).
#[test]
fn truncate_grow_nospace_leaves_no_lost_blocks() {
    let mut fs = fresh_rw(UfsVersion::Ufs2, 2 << 20, None, None);
    let bsize = u64::from(fs.geometry().bsize);
    let big = fill(&mut fs, b"fill");
    // Give two blocks back: room for the first indirect blocks of the
    // far truncate below, not for all it needs.
    let size = fs.inode(big).expect("inode").size();
    fs.truncate(big, size - size % bsize - 2 * bsize)
        .expect("shrink");
    let f = fs
        .create(Ino::ROOT, b"far", FileType::Regular, &node())
        .expect("create");
    // Past the double-indirect range of 32 KiB blocks: a triple indirect
    // block, a double, a single and the data block.
    let far = 14_942_587_920_384;
    assert!(matches!(fs.truncate(f, far), Err(Error::NoSpace(_))));
    assert_fsck_clean(fs, "after a truncate that ran out of space");
}

// ---- the superblock decoder (`parse_structs`) --------------------------------

/// A UFS2 superblock whose `fs_size` (2^48 fragments of 64 KiB) is 2^64
/// bytes: `Geometry::from_superblock` computes the file system's length
/// as `size << fshift`, which wraps to 0 and passes the "fits the image"
/// check, so a 2 MiB image validates as a 16 EiB file system (every
/// other field is consistent: 131,073 groups of 2^31 - 1 fragments).
/// Found by reading the validation after `parse_structs` gained its
/// geometry-contract oracle; random mutation does not get that many
/// fields consistent.
fn wrapping_size_superblock() -> Vec<u8> {
    let fs = fresh_rw(UfsVersion::Ufs2, 2 << 20, None, None);
    let mut sb = fs.superblock().clone();
    let dev = fs.into_device();
    let mut img = vec![0u8; dev.len() as usize];
    dev.read_at(0, &mut img).expect("read back");
    let f = &mut sb.fs;
    (f.fs_bsize, f.fs_fsize, f.fs_frag) = (65536, 65536, 1);
    (f.fs_bshift, f.fs_fshift, f.fs_fragshift, f.fs_fsbtodb) = (16, 16, 0, 7);
    (f.fs_inopb, f.fs_nindir) = (256, 8192);
    (f.fs_ncg, f.fs_ipg, f.fs_fpg) = ((1 << 17) + 1, 256, i32::MAX);
    (f.fs_size, f.fs_dsize) = (1 << 48, 1 << 47);
    (f.fs_sblkno, f.fs_cblkno, f.fs_iblkno, f.fs_dblkno) = (1, 2, 3, 4);
    f.fs_cgsize = 32768;
    (f.fs_csaddr, f.fs_cssize) = (5, 1 << 22);
    let bytes = sb.encode();
    let at = sb.location as usize;
    img[at..at + bytes.len()].copy_from_slice(&bytes);
    img
}

#[test]
fn geometry_size_in_bytes_does_not_wrap() {
    let img = wrapping_size_superblock();
    let len = img.len() as u64;
    match ufskit::Superblock::find(&img) {
        Err(e) => assert_eq!(e.corrupt_kind(), Some(CorruptKind::Truncated), "{e}"),
        Ok((_, g)) => panic!(
            "a {len}-byte image validated as {} fragments of {} bytes",
            g.size, g.fsize
        ),
    }
}

/// The same superblock through fsck and the reader: no panic, no
/// unbounded allocation.
#[test]
fn wrapping_size_superblock_fails_cleanly() {
    let img = wrapping_size_superblock();
    let walk = catch_unwind(AssertUnwindSafe(|| read_everything(img.clone())))
        .unwrap_or_else(|_| panic!("reading panicked"));
    let fsck = catch_unwind(AssertUnwindSafe(|| fsck_verdict(&img)))
        .unwrap_or_else(|_| panic!("fsck -n panicked"));
    eprintln!("walk {walk:?}, fsck {fsck:?}");
}

// ---- repair (`fsck_repair`, strict mode) -------------------------------------

/// `fsck -y -f` in memory, at the fixed time.
fn repair_yes(img: &mut Vec<u8>) -> ufskit::fsck::Outcome {
    let opts = FsckOptions {
        force: true,
        answer: AnswerMode::Yes,
        now: Some(T.sec),
        ..Default::default()
    };
    let mut rep = CollectingReporter::default();
    repair(img, &opts, &mut rep).expect("repair runs")
}

/// `fsck_repair` with `UFS_FUZZ_STRICT_REPAIR=1`, base `real/ufs-little`,
/// one edit: byte 0x350002 (the third byte of `d_ino` of the `.` entry of
/// `/dir1`, inode 768) set to 0x75, so `.` names inode 7,668,480. At
/// 9bb46e0 `fsck -y` cleared the entry as "I OUT OF RANGE" and a second
/// `fsck -n` still found "MISSING '.'" and a wrong link count; fixed by
/// the repair work that followed (3883876, 2ed4f65). The base image is
/// committed, so the edit is made here instead of storing a copy.
#[test]
fn repair_dot_entry_naming_an_out_of_range_inode() {
    let mut img = common::load_zst("real/ufs-little.img.zst");
    assert_eq!(img[0x350002], 0, "the base image changed");
    img[0x350002] = 0x75;
    let first = repair_yes(&mut img);
    assert!(first.modified);
    assert_eq!(fsck_verdict(&img), Ok(Verdict::Clean));
}

/// Found by `fsck_repair` (2026-12-04, after the 9-minute runs): an edit
/// made a UFS1 superblock's `fs_old_nrpos` 37633. The rotational tables
/// of a UFS1 group (`fs_old_cpg * fs_old_nrpos` 16-bit counts) then no
/// longer fit in `fs_cgsize`, but the superblock was accepted, phase 5
/// computed every group's map offsets from it (`cg_iusedoff` 75438 in a
/// 512-byte group) and `-y` wrote those headers into all groups, leaving
/// an image no check could read. Now such a superblock is rejected and
/// the repair goes on from the alternate, as for any other superblock
/// whose layout is impossible.
#[test]
fn ufs1_rotational_tables_must_fit_the_group() {
    use ufskit::ondisk::FS_MAGIC_OFFSET;
    let opts = NewfsOptions {
        version: UfsVersion::Ufs1,
        no_snap: true,
        time: Some(T.sec),
        random_id: Some(1),
        ..Default::default()
    };
    let mut img = ufskit::newfs::in_memory(4 << 20, &opts).expect("newfs");
    let (sb, _) = ufskit::Superblock::find(&SliceDevice(&img)).expect("fresh image");
    assert_eq!(sb.fs.fs_old_nrpos, 1);
    // fs_old_nrpos comes 12 bytes before the magic, then fs_spare5[2] (fs.h).
    let at = sb.location as usize + FS_MAGIC_OFFSET - 12;
    assert_eq!(img[at..at + 4], 1i32.to_le_bytes(), "fs_old_nrpos moved");
    img[at..at + 4].copy_from_slice(&37_633i32.to_le_bytes());
    assert!(
        ufskit::Superblock::find(&SliceDevice(&img)).is_err(),
        "a superblock whose groups cannot hold their maps is accepted"
    );
    let first = repair_yes(&mut img);
    assert!(first.modified);
    assert_eq!(fsck_verdict(&img), Ok(Verdict::Clean));
    let (sb, geo) = ufskit::Superblock::find(&SliceDevice(&img)).expect("repaired");
    assert_eq!(sb.fs.fs_old_nrpos, 1, "the alternate's value is back");
    let fs = Ufs::open(Box::new(img), &OpenOptions::read_only()).expect("open");
    for c in 0..geo.ncg {
        fs.cg(CgIdx(c)).unwrap_or_else(|e| panic!("cg {c}: {e}"));
    }
}
