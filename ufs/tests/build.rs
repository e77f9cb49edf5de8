//! The library's image builder used as a library user would: a host
//! directory (with a hole, a hard link, a symlink), a tar archive merged
//! over it and an mtree spec, built with a progress callback; the image is
//! read back through `Ufs` and, when the FreeBSD tools are present,
//! checked by FreeBSD's fsck_ffs.

// A test reports failure by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
#![cfg(all(unix, feature = "tar"))]

use std::os::unix::fs::FileExt;
use std::path::Path;
use ufskit::build::{BuildOptions, Builder, Progress};
use ufskit::{Follow, OpenOptions, Ufs};

/// `b` with the test's three sources added.
fn with_sources<'p>(b: Builder<'p>, d: &Path) -> Builder<'p> {
    b.add_dir(&d.join("tree"))
        .unwrap()
        .add_tar(&d.join("more.tar"))
        .unwrap()
        .spec(&d.join("spec"))
        .unwrap()
}

#[test]
fn a_directory_a_tar_and_a_spec_make_one_image() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let tree = d.join("tree");
    std::fs::create_dir_all(tree.join("a")).unwrap();
    // 4 bytes, a 1 MiB hole, 4 bytes.
    let sparse = std::fs::File::create(tree.join("a/sparse")).unwrap();
    sparse.write_all_at(b"head", 0).unwrap();
    sparse.write_all_at(b"tail", 1 << 20).unwrap();
    drop(sparse);
    std::fs::write(tree.join("a/f"), b"from the directory").unwrap();
    std::fs::hard_link(tree.join("a/f"), tree.join("a/f-link")).unwrap();
    std::os::unix::fs::symlink("f", tree.join("a/sym")).unwrap();

    // The archive replaces a/f's sibling and adds b/x.
    let archive = d.join("more.tar");
    let mut t = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    for (name, data) in [("b/x", &b"from the archive"[..]), ("a/sym2", b"tar file")] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(1_700_000_000);
        t.append_data(&mut h, name, data).unwrap();
    }
    t.into_inner().unwrap();

    let spec = d.join("spec");
    std::fs::write(
        &spec,
        "/set type=file uid=0 gid=0\n./a/f uid=1001 mode=0640\n./missing uid=1\n",
    )
    .unwrap();

    let mut phases = Vec::new();
    let mut warnings = Vec::new();
    let (mut total, mut copied) = (None, 0u64);
    let image = d.join("out.img");
    let b = Builder::new(BuildOptions::reproducible()).on_progress(|p| match p {
        Progress::Phase(name) => phases.push(name),
        Progress::Start { total: t } => total = Some(t),
        Progress::Copied(n) => copied += n,
        Progress::Warning(w) => warnings.push(w.to_string()),
        _ => {}
    });
    let report = with_sources(b, d).write(&image).unwrap();

    assert_eq!(phases, ["scan", "newfs", "inodes", "data", "directories"]);
    // Every byte announced was copied: the sparse file's hole is not.
    assert_eq!(total, Some(report.bytes));
    assert_eq!(report.bytes, 18 + (1 << 20) + 4 + 16 + 8);
    assert!(
        copied < report.bytes && copied >= 18 + 8 + 16 + 8,
        "{copied}"
    );
    assert_eq!(report.files, 4, "{report:?}"); // f (linked once), sparse, x, sym2
    assert_eq!(report.directories, 3);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("missing is not in the tree")),
        "{warnings:?}"
    );
    assert_eq!(std::fs::metadata(&image).unwrap().len(), report.size);

    let fs = Ufs::open_path(&image, OpenOptions::read_only()).unwrap();
    let get = |p: &str| fs.lookup(p, Follow::NotLast).unwrap();
    assert_eq!(fs.read_all(get("/a/f")).unwrap(), b"from the directory");
    assert_eq!(get("/a/f"), get("/a/f-link"));
    let f = fs.allocated_inode(get("/a/f")).unwrap();
    assert_eq!((f.uid(), f.perm(), f.nlink()), (1001, 0o640, 2));
    assert_eq!(fs.read_all(get("/b/x")).unwrap(), b"from the archive");
    assert_eq!(fs.read_all(get("/a/sym2")).unwrap(), b"tar file");
    assert_eq!(fs.readlink(get("/a/sym")).unwrap(), b"f");
    let s = fs.allocated_inode(get("/a/sparse")).unwrap();
    let data = fs.read_all(get("/a/sparse")).unwrap();
    assert_eq!(data.len(), (1 << 20) + 4);
    assert!(data[..4] == *b"head" && data[1 << 20..] == *b"tail");
    assert!(data[4..1 << 20].iter().all(|&b| b == 0));
    // Three blocks (the first, the last and the indirect block that maps
    // it), not the 34 a file without its hole would take.
    assert_eq!(s.blocks() * 512, 3 * 32768, "{} sectors", s.blocks());
    drop(fs);

    if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&image) {
        r.unwrap_or_else(|e| panic!("FreeBSD fsck_ffs: {e}"));
    }

    // The same input gives the same bytes.
    let again = d.join("again.img");
    with_sources(Builder::new(BuildOptions::reproducible()), d)
        .write(&again)
        .unwrap();
    assert!(std::fs::read(&image).unwrap() == std::fs::read(&again).unwrap());
}

#[test]
fn failures_say_what_kind_and_leave_no_image() {
    use ufskit::build::BuildErrorKind;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let missing = Builder::new(BuildOptions::default())
        .add_dir(&d.join("nope"))
        .err()
        .unwrap();
    assert_eq!(missing.kind(), BuildErrorKind::Source);
    assert!(missing.to_string().contains("nope"), "{missing}");

    std::fs::create_dir(d.join("t")).unwrap();
    std::fs::write(d.join("t/big"), vec![1u8; 4 << 20]).unwrap();
    let image = d.join("small.img");
    let e = Builder::new(BuildOptions {
        size: Some(2 << 20),
        ..Default::default()
    })
    .add_dir(&d.join("t"))
    .unwrap()
    .write(&image)
    .err()
    .unwrap();
    assert_eq!(e.kind(), BuildErrorKind::Size, "{e}");
    assert!(!image.exists());
    // Nothing half-built beside it either.
    let left: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("small.img"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// UFS owners are 32 bits: a tar member owned by a larger id is refused,
/// naming the member, rather than given to the owner its low bits name.
#[test]
fn a_tar_member_whose_uid_does_not_fit_32_bits_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let archive = d.join("big.tar");
    let mut t = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    // GNU headers store numbers too large for octal in base 256.
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_uid(5_000_000_000);
    h.set_gid(7);
    t.append_data(&mut h, "dir/owned", &b"abc"[..]).unwrap();
    t.into_inner().unwrap();

    // Refused when the archive is scanned, before any image exists.
    let err = Builder::new(BuildOptions::reproducible())
        .add_tar(&archive)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("big.tar: dir/owned"), "{err}");
    assert!(err.contains("uid 5000000000"), "{err}");
}
