//! Crash safety of the write path: an editing session (directories, files
//! with fragments and an indirect block, a slow symlink, a rename across
//! directories, an unlink, an rmdir, an extended attribute) is cut off
//! after its Nth device write, for every N the session makes, on UFS1 and
//! UFS2 images and on the FreeBSD-made ones of both byte orders (soft
//! updates, check hashes on superblock, groups and inodes). The library
//! must return an error rather than panic or claim success; the image on
//! disk must be untouched (N = 0) or say "not clean", so that nothing
//! mounts it unchecked; one `fsck -y` must then leave it clean; and every
//! file the session did not touch must read as before.

mod common;

use common::fsck_is_clean;
use ufskit::fsck::{repair, AnswerMode, CollectingReporter, FsckOptions};
use ufskit::inode::Timespec;
use ufskit::io::{Device, FaultyDevice};
use ufskit::xattr::Namespace;
use ufskit::{FileType, Follow, Ino, NewNode, OpenOptions, Session, Ufs, UfsVersion};

/// Gives the base what the session renames and removes, uninterrupted.
fn prepare(img: Vec<u8>) -> Vec<u8> {
    let mut fs = open_rw(FaultyDevice::new(img, u64::MAX)).expect("open");
    let v = fs
        .mkdir(Ino::ROOT, b"victims", &NewNode::default())
        .expect("mkdir");
    for (name, len) in [(&b"f001"[..], 5000), (b"f002", 70_000)] {
        let f = fs
            .create(v, name, FileType::Regular, &NewNode::default())
            .expect("create");
        fs.write_file(f, 0, &pattern(len, 3)).expect("write");
    }
    fs.mkdir(v, b"emptydir", &NewNode::default())
        .expect("mkdir");
    fs.sync().expect("sync");
    bytes_of(fs)
}

/// The session; any error ends it, as it would end an editing command.
fn session(fs: &mut Session) -> ufskit::Result<()> {
    let file = NewNode {
        perm: 0o644,
        uid: 1001,
        gid: 5,
        ..Default::default()
    };
    let dir = NewNode {
        perm: 0o755,
        ..Default::default()
    };
    let bsize = fs.geometry().bsize as usize;
    let d = fs.mkdir(Ino::ROOT, b"fault", &dir)?;
    // Past the direct blocks, so an indirect block is allocated too.
    let big = fs.create(d, b"big", FileType::Regular, &file)?;
    fs.write_file(big, 0, &pattern(13 * bsize + 1000, 7))?;
    let small = fs.create(d, b"small", FileType::Regular, &file)?;
    fs.write_file(small, 0, &pattern(100, 9))?;
    fs.symlink(d, b"slow", &[b'x'; 200], &file)?;
    let v = fs.lookup("/victims", Follow::All)?;
    fs.rename(v, b"f001", d, b"f001")?;
    fs.unlink(v, b"f002")?;
    fs.rmdir(v, b"emptydir")?;
    if fs.geometry().version == UfsVersion::Ufs2 {
        fs.set_xattr(small, Namespace::User, b"note", b"kept")?;
    }
    fs.sync()
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed))
        .collect()
}

fn open_rw(dev: FaultyDevice<Vec<u8>>) -> ufskit::Result<Session> {
    let mut fs = Session::open(Box::new(dev), &OpenOptions::read_write())?;
    fs.set_fixed_time(Some(Timespec {
        sec: 1_600_000_000,
        nsec: 0,
    }));
    Ok(fs)
}

fn bytes_of(fs: Session) -> Vec<u8> {
    let dev = fs.into_device();
    let mut v = vec![0u8; dev.len() as usize];
    dev.read_at(0, &mut v).expect("read back");
    v
}

/// `fsck -f -y`.
fn repair_opts() -> FsckOptions {
    FsckOptions {
        name: "img".into(),
        force: true,
        answer: AnswerMode::Yes,
        now: Some(1_600_000_100),
        ..Default::default()
    }
}

/// A file's bytes; for a huge sparse file (the real images hold a 549 GB
/// one), its size, where its data lies and those bytes.
fn contents(fs: &Ufs, inode: &ufskit::inode::Inode) -> ufskit::Result<Vec<u8>> {
    let extents = fs.extents(inode)?;
    // read_at may stop short; read until a range is full.
    let read = |off: u64, len: u64| -> ufskit::Result<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        let mut done = 0;
        while done < buf.len() {
            let n = fs.read_at(inode, &extents, off + done as u64, &mut buf[done..])?;
            if n == 0 {
                break;
            }
            done += n;
        }
        buf.truncate(done);
        Ok(buf)
    };
    if inode.size() <= 16 << 20 {
        return read(0, inode.size());
    }
    let bsize = u64::from(fs.geometry().bsize);
    let mut out = inode.size().to_le_bytes().to_vec();
    for x in &extents {
        out.extend_from_slice(&x.lbn.to_le_bytes());
        out.extend_from_slice(&read(x.lbn * bsize, x.len)?);
    }
    Ok(out)
}

/// Every regular file's path and contents.
fn files(img: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let fs = Ufs::open(Box::new(img), &OpenOptions::read_only()).expect("open");
    let mut out = Vec::new();
    fs.walk(Ino::ROOT, &mut |path, _, inode| {
        if inode.file_type() == FileType::Regular {
            out.push((
                String::from_utf8_lossy(path).into_owned(),
                contents(&fs, inode)?,
            ));
        }
        Ok(())
    })
    .expect("walk");
    out
}

#[test]
fn every_interrupted_edit_is_detected_and_repaired() {
    for base in [
        "populated/pop-ufs2-8m.img.zst",
        "populated/pop-ufs1-8m.img.zst",
        "real/ufs-little.img.zst",
        "real/ufs-big.img.zst",
    ] {
        let orig = prepare(common::load_zst(base));
        assert!(fsck_is_clean(&orig), "{base}: not clean once prepared");
        let before: Vec<(String, Vec<u8>)> = files(orig.clone())
            .into_iter()
            .filter(|(p, _)| !p.starts_with("victims/"))
            .collect();
        assert!(before.len() >= 5, "{base}: too few files to compare");

        // The whole session: what every interrupted one is compared with.
        let mut fs = open_rw(FaultyDevice::new(orig.clone(), u64::MAX)).expect("open");
        session(&mut fs).expect("uninterrupted session");
        let done = bytes_of(fs);
        assert!(fsck_is_clean(&done), "{base}: the uninterrupted session");

        // Cut after 0, 1, 2, ... writes until the session gets through;
        // it must then have written exactly what the whole session did
        // (a swallowed write error would show as a difference).
        let mut n = 0u64;
        loop {
            let mut fs = open_rw(FaultyDevice::new(orig.clone(), n)).expect("open");
            let r = session(&mut fs);
            let mut img = bytes_of(fs);
            if r.is_ok() {
                assert!(
                    img == done,
                    "{base}: the session said ok with only {n} writes allowed, \
                     but the image differs from an uninterrupted one"
                );
                break;
            }
            if n == 0 {
                assert!(
                    img == orig,
                    "{base}: a failed first write changed the image"
                );
            } else {
                let fs = Ufs::open(Box::new(img.clone()), &OpenOptions::read_only())
                    .unwrap_or_else(|e| panic!("{base}: fault at write {n}: does not open: {e}"));
                assert!(
                    !fs.superblock().is_clean(),
                    "{base}: a fault at write {n} left the image marked clean"
                );
            }
            let mut rep = CollectingReporter::default();
            repair(&mut img, &repair_opts(), &mut rep)
                .unwrap_or_else(|e| panic!("{base}: fsck -y after a fault at {n}: {e}"));
            assert!(
                fsck_is_clean(&img),
                "{base}: not clean after fsck -y (fault at write {n})"
            );
            let after = files(img);
            for (path, data) in &before {
                let got = after.iter().find(|(p, _)| p == path);
                assert!(
                    got.is_some_and(|(_, d)| d == data),
                    "{base}: {path} changed or lost after a fault at write {n}"
                );
            }
            n += 1;
            assert!(n < 100_000, "{base}: the session never completes");
        }
        eprintln!("{base}: cut at each of {n} writes");
    }
}
