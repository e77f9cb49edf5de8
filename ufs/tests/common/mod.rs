//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The repository's tests/images directory.
pub fn images_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/images")
}

/// The FreeBSD 12.1 newfs images of `tests/images/freebsd/` (each
/// `NAME.img.zst` with its `NAME.cmd` and `NAME.dumpfs.txt`).
pub const FREEBSD_IMAGES: [&str; 8] = [
    "ufs1-4m",
    "ufs1-4m-R",
    "ufs2-4m",
    "ufs2-4m-R",
    "ufs2-16m",
    "ufs2-16m-R",
    "ufs2-16m-U-j",
    "ufs2-16m-U-j-R",
];

/// Decompresses a `.zst` image from tests/images into memory.
pub fn load_zst(rel: &str) -> Vec<u8> {
    let path = images_dir().join(rel);
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut dec = ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(f))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut dec, &mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

/// Opens a `.zst` image read-only in memory.
pub fn open_zst(rel: &str) -> ufskit::Ufs {
    let data = load_zst(rel);
    ufskit::Ufs::open(Box::new(data), &ufskit::OpenOptions::read_only())
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Whether `fsck -n -f` finds `img` clean (an error counts as not clean).
pub fn fsck_is_clean(img: &[u8]) -> bool {
    use ufskit::fsck::{check, CollectingReporter, FsckOptions, Verdict};
    let opts = FsckOptions {
        force: true,
        ..Default::default()
    };
    let mut rep = CollectingReporter::default();
    check(&ufskit::io::SliceDevice(img), &opts, &mut rep).is_ok_and(|o| o.verdict == Verdict::Clean)
}

pub mod manifest;

/// The clean sources of the FreeBSD fsck reference cases (tests/images/fsck-ref).
pub const REF_SOURCES: [&str; 4] = [
    "pop-ufs2-16m-b4096",
    "pop-ufs1-16m-b4096",
    "pop-ufs2-8m",
    "pop-ufs1-8m",
];

/// The corruption kinds recorded for every source.
pub const REF_KINDS: [&str; 8] = [
    "nlink",
    "unref_file",
    "unalloc_entry",
    "dup_block",
    "bitmap_free",
    "sb_counts",
    "dir_zero",
    "root_clear",
];
