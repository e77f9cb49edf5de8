//! Shared pieces of the ufskit fuzz targets: the bounded read-everything
//! walk (the oracle of `open_walk` and `mutate_valid`), the fsck run, and
//! the base images `mutate_valid` edits.

pub mod ops;

use std::sync::OnceLock;
use ufskit::fsck::{self, CollectingReporter, FsckOptions};
use ufskit::inode::Timespec;
use ufskit::io::SliceDevice;
use ufskit::newfs::NewfsOptions;
use ufskit::xattr::Namespace;
use ufskit::{CgIdx, FileType, Follow, Ino, NewNode, OpenOptions, Session, Ufs, UfsVersion};

/// Files larger than this are not read (their extents still are mapped).
pub const MAX_FILE: u64 = 4 << 20;
/// Total file bytes read per input.
pub const MAX_TOTAL_READ: u64 = 16 << 20;
/// Tree entries visited per input.
pub const MAX_ENTRIES: u32 = 20_000;
/// Inodes scanned directly (outside the tree) per input.
pub const MAX_INODE_SCAN: u32 = 2048;
/// Cylinder groups read per input.
pub const MAX_CGS: u32 = 4096;
/// Paths looked up again by name (exercises symlink resolution).
pub const MAX_LOOKUPS: u32 = 64;

/// Short inputs are also tried zero-padded to this size, so the fuzzer can
/// work on the first few hundred KiB of an image (superblock, first
/// cylinder groups, inode tables) while the image still has its full size.
pub const PAD_TO: usize = 4 << 20;

/// `data` as is, and zero-padded to [`PAD_TO`] when shorter.
pub fn variants(data: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let padded = (data.len() < PAD_TO).then(|| {
        let mut v = Vec::with_capacity(PAD_TO);
        v.extend_from_slice(data);
        v.resize(PAD_TO, 0);
        v
    });
    std::iter::once(data.to_vec()).chain(padded)
}

/// Opens `data` read-only and reads everything reachable, bounded. Every
/// error is fine; only panics, hangs and memory blow-ups are bugs.
pub fn open_and_walk(data: &[u8]) {
    // `Ufs::open` wants an owned ('static) device; the copy is cheap next
    // to what the walk does.
    let Ok(fs) = Ufs::open(Box::new(data.to_vec()), &OpenOptions::read_only()) else {
        return;
    };
    walk_all(&fs);
}

/// The walk itself, on an opened handle.
pub fn walk_all(fs: &Ufs) {
    let geo = fs.geometry().clone();
    let _ = fs.cg_summaries();
    for c in 0..geo.ncg.min(MAX_CGS) {
        let _ = fs.cg(CgIdx(c));
    }
    let _ = fs.read_dir(Ino::ROOT);

    let mut total_read = 0u64;
    let mut entries = 0u32;
    let mut paths: Vec<Vec<u8>> = Vec::new();
    let mut buf = vec![0u8; 4096];
    let _ = fs.walk(Ino::ROOT, &mut |path, _e, inode| {
        entries += 1;
        if entries > MAX_ENTRIES {
            return Err(ufskit::Error::InvalidInput("fuzz: entry budget".into()));
        }
        if paths.len() < MAX_LOOKUPS as usize {
            paths.push(path.to_vec());
        }
        read_inode(fs, inode, &mut buf, &mut total_read);
        Ok(())
    });
    for p in &paths {
        let _ = fs.lookup_bytes(p, Follow::All);
        let _ = fs.lookup_bytes(p, Follow::NotLast);
    }
    // Inodes the tree does not reach (unlinked, orphaned, corrupt).
    let ninodes = u64::from(geo.ipg) * u64::from(geo.ncg);
    for i in 0..ninodes.min(u64::from(MAX_INODE_SCAN)) {
        if let Ok(inode) = fs.inode(Ino(i as u32)) {
            if inode.is_allocated() {
                read_inode(fs, &inode, &mut buf, &mut total_read);
                if inode.is_dir() {
                    let _ = fs.read_dir_inode(&inode);
                }
            }
        }
    }
}

fn read_inode(fs: &Ufs, inode: &ufskit::Inode, buf: &mut [u8], total_read: &mut u64) {
    let _ = fs.xattrs(inode);
    match inode.file_type() {
        FileType::Symlink => {
            let _ = fs.readlink_inode(inode);
        }
        FileType::Directory => {}
        _ => {
            let Ok(extents) = fs.extents(inode) else { return };
            let size = inode.size();
            if size > MAX_FILE || *total_read >= MAX_TOTAL_READ {
                // Still poke the end of the file.
                let _ = fs.read_at(inode, &extents, size.saturating_sub(1), &mut buf[..1]);
                return;
            }
            let mut off = 0u64;
            while let Ok(n) = fs.read_at(inode, &extents, off, buf) {
                if n == 0 {
                    break;
                }
                off += n as u64;
                *total_read += n as u64;
            }
        }
    }
}

/// Runs `fsck -n -f` on `data`, answers collected.
pub fn fsck_n(data: &[u8]) -> Option<fsck::Outcome> {
    let mut rep = CollectingReporter::default();
    let opts = FsckOptions { force: true, ..Default::default() };
    fsck::check(&SliceDevice(data), &opts, &mut rep).ok()
}

/// Fixed time for everything the fuzz images stamp.
pub const T: Timespec = Timespec { sec: 1_600_000_000, nsec: 0 };

/// A fresh, empty file system of `size` bytes.
pub fn fresh(version: UfsVersion, size: u64, bsize: Option<u32>, fsize: Option<u32>) -> Vec<u8> {
    let opts = NewfsOptions {
        version,
        bsize,
        fsize,
        no_snap: true,
        time: Some(T.sec),
        random_id: Some(1),
        ..Default::default()
    };
    ufskit::newfs::in_memory(size, &opts).expect("newfs")
}

fn attr(perm: u16) -> NewNode {
    NewNode {
        perm,
        uid: 1001,
        gid: 1001,
        atime: Some(T),
        mtime: Some(T),
        ctime: Some(T),
        birthtime: Some(T),
        ..Default::default()
    }
}

/// A populated base image for `mutate_valid`, with the byte ranges most
/// worth editing (superblock, cylinder group headers, inode blocks and
/// every metadata block of the tree).
#[derive(Clone)]
pub struct Base {
    /// The image.
    pub image: Vec<u8>,
    /// Byte ranges of metadata, for biased edits.
    pub hot: Vec<(u64, u64)>,
}

fn populate(version: UfsVersion, size: u64, bsize: Option<u32>, fsize: Option<u32>) -> Base {
    let img = fresh(version, size, bsize, fsize);
    let mut fs = Session::open(Box::new(img), &OpenOptions::read_write()).expect("open base");
    fs.set_fixed_time(Some(T));
    let root = Ino::ROOT;
    let etc = fs.mkdir(root, b"etc", &attr(0o755)).expect("mkdir");
    let sub = fs.mkdir(etc, b"deep", &attr(0o700)).expect("mkdir");
    let small = fs.create(etc, b"small", FileType::Regular, &attr(0o644)).expect("create");
    fs.write_file(small, 0, b"hello, fuzzer\n").expect("write");
    let mid = fs.create(sub, b"mid", FileType::Regular, &attr(0o644)).expect("create");
    let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs.write_file(mid, 0, &data).expect("write");
    // Sparse file reaching the single and double indirect blocks.
    let sparse = fs.create(root, b"sparse", FileType::Regular, &attr(0o600)).expect("create");
    let bs = u64::from(fs.geometry().bsize);
    let nindir = fs.geometry().nindir;
    fs.write_file(sparse, 13 * bs, b"single").expect("write");
    fs.write_file(sparse, (12 + nindir + 1) * bs, b"double").expect("write");
    fs.symlink(root, b"fast", b"etc/small", &attr(0o755)).expect("symlink");
    let long: Vec<u8> = std::iter::repeat_n(b"../etc/".as_slice(), 30).flatten().copied().chain(*b"small").collect();
    fs.symlink(sub, b"slow", &long, &attr(0o755)).expect("symlink");
    fs.symlink(root, b"loop", b"loop", &attr(0o755)).expect("symlink");
    fs.link(root, b"hard", small).expect("link");
    fs.create(root, b"fifo", FileType::Fifo, &attr(0o600)).expect("fifo");
    for i in 0..40u32 {
        let name = format!("f{i:02}-{}", "x".repeat(i as usize));
        let f = fs.create(sub, name.as_bytes(), FileType::Regular, &attr(0o644)).expect("create");
        fs.write_file(f, 0, name.as_bytes()).expect("write");
    }
    if version == UfsVersion::Ufs2 {
        fs.set_xattr(small, Namespace::User, b"comment", b"a value").expect("xattr");
        fs.set_xattr(small, Namespace::System, b"posix1e.acl_access", &[1, 2, 3, 4, 5, 6, 7, 8]).expect("xattr");
        fs.set_xattr(mid, Namespace::User, b"big", &vec![0x5a; 3000]).expect("xattr");
    }
    fs.sync().expect("sync");

    // Hot ranges: superblock, cg headers, the first inode blocks of every
    // group, and every block of directories, symlinks and indirect blocks.
    let geo = fs.geometry().clone();
    let mut hot = vec![(geo.sblockloc, 8192)];
    for c in 0..geo.ncg {
        let cg = CgIdx(c);
        hot.push((geo.frag_offset(geo.cgtod(cg)), u64::from(geo.cgsize)));
        hot.push((geo.frag_offset(geo.cgimin(cg)), bs.min(u64::from(geo.ipg) * u64::from(version.inode_size()))));
    }
    hot.push((geo.frag_offset(ufskit::Frag(geo.csaddr)), geo.cssize));
    let mut dirs = vec![root];
    let _ = fs.walk(root, &mut |_, e, i| {
        if i.is_dir() || i.file_type() == FileType::Symlink {
            dirs.push(e.ino);
        }
        Ok(())
    });
    for ino in dirs.into_iter().chain([sparse, mid]) {
        if let Ok(i) = fs.inode(ino) {
            if ino != sparse && ino != mid {
                if let Ok(ext) = fs.extents(&i) {
                    for e in ext {
                        hot.push((geo.frag_offset(e.addr), e.len));
                    }
                }
            }
            for p in i.all_pointers().iter().skip(12) {
                if *p != 0 {
                    hot.push((geo.frag_offset(ufskit::Frag(*p)), bs));
                }
            }
            for k in 0..2 {
                let b = i.extb(k);
                if b != 0 {
                    hot.push((geo.frag_offset(ufskit::Frag(b)), bs));
                }
            }
        }
    }
    let dev = fs.into_device();
    let mut image = vec![0u8; dev.len() as usize];
    dev.read_at(0, &mut image).expect("read back");
    hot.retain(|&(o, l)| l > 0 && o + l <= image.len() as u64);
    Base { image, hot }
}

/// The base images, made once per process.
pub fn bases() -> &'static [Base] {
    static BASES: OnceLock<Vec<Base>> = OnceLock::new();
    BASES.get_or_init(|| {
        vec![
            populate(UfsVersion::Ufs2, 2 << 20, None, None),
            populate(UfsVersion::Ufs1, 1 << 20, Some(4096), Some(512)),
            populate(UfsVersion::Ufs2, 1 << 20, Some(4096), Some(512)),
        ]
    })
}

/// Maps an edit offset to a byte of `base`: with the top bit set it lands
/// in the hot (metadata) ranges, otherwise anywhere in the image.
pub fn edit_offset(base: &Base, off: u32) -> usize {
    if off & 0x8000_0000 != 0 && !base.hot.is_empty() {
        let total: u64 = base.hot.iter().map(|r| r.1).sum();
        let mut k = u64::from(off & 0x7fff_ffff) % total;
        for &(o, l) in &base.hot {
            if k < l {
                return (o + k) as usize;
            }
            k -= l;
        }
    }
    off as usize % base.image.len()
}

/// `base.image` with `edits` applied (at most 64, placed by
/// [`edit_offset`]; with `hot_only` every offset lands in the metadata
/// ranges).
pub fn apply_edits(base: &Base, edits: &[(u32, u8)], hot_only: bool) -> Vec<u8> {
    let mut img = base.image.clone();
    for &(off, val) in edits.iter().take(64) {
        let off = if hot_only { off | 0x8000_0000 } else { off };
        img[edit_offset(base, off)] = val;
    }
    img
}

/// A real FreeBSD image from `tests/images/real/` (`ufs-little` or
/// `ufs-big`, 4 MiB, populated: indirect blocks up to triple, xattrs,
/// long symlinks, soft updates), decompressed, with its metadata ranges:
/// the superblock, every cg header and first inode block, the summary
/// area, and every block of directories, symlinks, indirect blocks and
/// xattr areas. `None` when the file is missing (a trimmed checkout).
pub fn real_base(name: &str) -> Option<Base> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/images/real/{name}.img.zst"));
    let f = std::fs::File::open(path).ok()?;
    let mut dec = ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(f)).ok()?;
    let mut image = Vec::new();
    std::io::Read::read_to_end(&mut dec, &mut image).ok()?;
    let fs = Ufs::open(Box::new(image), &OpenOptions::read_only()).ok()?;
    let geo = fs.geometry().clone();
    let bs = u64::from(geo.bsize);
    let mut hot = vec![(geo.sblockloc, 8192)];
    for c in 0..geo.ncg {
        let cg = CgIdx(c);
        hot.push((geo.frag_offset(geo.cgtod(cg)), u64::from(geo.cgsize)));
        hot.push((geo.frag_offset(geo.cgimin(cg)), bs));
    }
    hot.push((geo.frag_offset(ufskit::Frag(geo.csaddr)), geo.cssize));
    let mut inodes = vec![fs.inode(Ino::ROOT).ok()?];
    fs.walk(Ino::ROOT, &mut |_, _, i| {
        inodes.push(i.clone());
        Ok(())
    })
    .ok()?;
    for i in &inodes {
        if i.is_dir() || i.file_type() == FileType::Symlink {
            for e in fs.extents(i).unwrap_or_default() {
                hot.push((geo.frag_offset(e.addr), e.len));
            }
        }
        for p in i.all_pointers().iter().skip(12).chain([i.extb(0), i.extb(1)].iter()) {
            if *p != 0 {
                hot.push((geo.frag_offset(ufskit::Frag(*p)), bs));
            }
        }
    }
    let dev = fs.into_device();
    let mut image = vec![0u8; dev.len() as usize];
    dev.read_at(0, &mut image).ok()?;
    hot.retain(|&(o, l)| l > 0 && o + l <= image.len() as u64);
    Some(Base { image, hot })
}

/// The `fsck_repair` bases: the three [`bases`], then the real FreeBSD
/// images (little- and big-endian) when tests/images is there.
pub fn repair_bases() -> &'static [Base] {
    static B: OnceLock<Vec<Base>> = OnceLock::new();
    B.get_or_init(|| {
        let mut v = bases().to_vec();
        v.extend(["ufs-little", "ufs-big"].into_iter().filter_map(real_base));
        v
    })
}

/// `fsck -y -f` on `img` in memory (fixed time stamp, answers collected).
/// `None` when the repair returns an error (e.g. a write failure).
pub fn fsck_y(img: &mut Vec<u8>) -> Option<(fsck::Outcome, CollectingReporter)> {
    let mut rep = CollectingReporter::default();
    let opts = FsckOptions { force: true, answer: fsck::AnswerMode::Yes, now: Some(T.sec), ..Default::default() };
    fsck::repair(img, &opts, &mut rep).ok().map(|o| (o, rep))
}

/// `fsck -n -f` on `data` with its findings, for oracles that print them.
pub fn fsck_n_report(data: &[u8]) -> Option<(fsck::Outcome, CollectingReporter)> {
    let mut rep = CollectingReporter::default();
    let opts = FsckOptions { force: true, ..Default::default() };
    fsck::check(&SliceDevice(data), &opts, &mut rep).ok().map(|o| (o, rep))
}

/// The findings of a report, one message each.
pub fn findings(rep: &CollectingReporter) -> Vec<String> {
    rep.findings.iter().map(|f| f.0.message()).collect()
}

/// The geometries of the [`bases`], each also as big-endian and with the
/// check hashes off: plausible geometries for decoding raw cylinder
/// groups and inodes.
pub fn geometries() -> &'static [ufskit::Geometry] {
    static G: OnceLock<Vec<ufskit::Geometry>> = OnceLock::new();
    G.get_or_init(|| {
        let mut out = Vec::new();
        for b in bases() {
            let Ok(fs) = Ufs::open(Box::new(b.image.clone()), &OpenOptions::read_only()) else {
                continue;
            };
            let g = fs.geometry().clone();
            for endian in [ufskit::Endian::Little, ufskit::Endian::Big] {
                for ck in [g.metackhash, 0] {
                    let mut v = g.clone();
                    v.endian = endian;
                    v.metackhash = ck;
                    out.push(v);
                }
            }
        }
        out
    })
}
