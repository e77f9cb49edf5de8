//! The superblock search (issue 15): on every base image of tests/images
//! (UFS1 and UFS2, both byte orders, FreeBSD newfs, FreeBSD makefs and
//! NetBSD makefs), with the primary destroyed, and with the primary and
//! group 0's copy destroyed, the search finds a copy whenever one is left,
//! with the geometry of the intact image, and fsck -y then repairs the
//! image without `-b`. On images holding no UFS at all it gives up with a
//! clear error, quickly.

#[allow(clippy::panic)]
mod common;
use common::{fsck_is_clean, load_zst};
use std::time::{Duration, Instant};
use ufskit::fsck::{repair, AnswerMode, CollectingReporter, FsckOptions, Verdict};
use ufskit::ondisk::consts::SBLOCKSIZE;
use ufskit::{superblock, CgIdx, CorruptKind, Superblock};
use ufskit_testkit::noise;

/// Every base image: each clean image of the fsck corpus and the
/// reference images, across versions, byte orders and makers.
const BASES: &[&str] = &[
    "real/ufs-little.img.zst",
    "real/ufs-big.img.zst",
    "populated/pop-ufs1-8m.img.zst",
    "populated/pop-ufs1-16m-b4096.img.zst",
    "populated/pop-ufs2-8m.img.zst",
    "populated/pop-ufs2-16m-b4096.img.zst",
    "freebsd/ufs1-4m.img.zst",
    "freebsd/ufs2-4m.img.zst",
    "freebsd/ufs2-16m.img.zst",
    "freebsd/ufs2-16m-U-j.img.zst",
    "ref/ufs1-le.img.zst",
    "ref/ufs1-be.img.zst",
    "ref/ufs1-le-b4096.img.zst",
    "ref/ufs2-le.img.zst",
    "ref/ufs2-be.img.zst",
    "ref/ufs2-le-b4096.img.zst",
];

fn zero(img: &mut [u8], at: u64) {
    let at = at as usize;
    img[at..at + SBLOCKSIZE].fill(0);
}

/// fsck -y (no -b) on `img`; returns the text it printed.
fn fsck_yes(img: &mut Vec<u8>) -> (Verdict, String) {
    let opts = FsckOptions {
        force: true,
        answer: AnswerMode::Yes,
        name: "./case.img".into(),
        ..Default::default()
    };
    let mut rep = CollectingReporter::default();
    let o = repair(img, &opts, &mut rep).unwrap_or_else(|e| panic!("fsck -y failed: {e}"));
    (o.verdict, rep.text)
}

/// FreeBSD fsck_ffs's verdict on the repaired `img`, when it checks the
/// untouched `clean` base clean (12.1 cannot read big-endian images and
/// does not know every feature of newer ones); `None` when the oracle is
/// absent or not applicable.
fn freebsd_verdict(clean: &[u8], img: &[u8]) -> Option<Result<(), String>> {
    let tool = ufskit_testkit::freebsd::tool("fsck_ffs_check")?;
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("img");
    std::fs::write(&p, clean).expect("write");
    let base = ufskit_testkit::freebsd::command(&tool)
        .arg(&p)
        .output()
        .expect("run fsck_ffs_check");
    if base.status.code() != Some(0) {
        return None;
    }
    std::fs::write(&p, img).expect("write");
    ufskit_testkit::freebsd::fsck_clean(&p)
}

#[test]
fn search_finds_a_copy_when_the_primary_and_the_first_copy_are_gone() {
    let mut failures = Vec::new();
    for base in BASES {
        let clean = load_zst(base);
        let (sb, geo) = Superblock::find(&clean).unwrap_or_else(|e| panic!("{base}: {e}"));
        let backups = geo.backup_offsets();
        let primary = sb.location;
        for first_copy_too in [false, true] {
            let what = if first_copy_too {
                "primary and group 0's copy zeroed"
            } else {
                "primary zeroed"
            };
            let mut img = clean.clone();
            zero(&mut img, primary);
            if first_copy_too {
                zero(&mut img, geo.frag_offset(geo.cgsblock(CgIdx(0))));
            }
            assert!(
                Superblock::find(&img).is_err(),
                "{base}: {what}: still found at a standard location"
            );
            let intact_left = if first_copy_too {
                backups.len() > 1
            } else {
                true
            };
            match superblock::search(&img) {
                Ok(f) if intact_left => {
                    let ok = backups.contains(&f.sb.location)
                        && f.geo.ncg == geo.ncg
                        && f.geo.fpg == geo.fpg
                        && f.geo.fsize == geo.fsize
                        && f.geo.bsize == geo.bsize
                        && f.geo.endian == geo.endian
                        && f.geo.version == geo.version
                        && f.report.groups_agreeing == f.report.groups_checked;
                    if !ok {
                        failures.push(format!("{base}: {what}: found a wrong copy: {f:?}"));
                        continue;
                    }
                    // And fsck -y, without -b, uses it and leaves a clean
                    // file system with its primary back.
                    let (v, text) = fsck_yes(&mut img);
                    let said = format!("USING ALTERNATE SUPERBLOCK AT {}", f.report.sector());
                    if v == Verdict::NoSuperblock || !text.contains(&said) {
                        failures.push(format!("{base}: {what}: fsck -y did not use it: {text}"));
                    } else if !fsck_is_clean(&img) || Superblock::find(&img).is_err() {
                        failures.push(format!("{base}: {what}: not clean after fsck -y"));
                    } else if let Some(Err(e)) = freebsd_verdict(&clean, &img) {
                        failures.push(format!("{base}: {what}: FreeBSD's fsck_ffs after -y: {e}"));
                    }
                }
                Ok(f) => failures.push(format!(
                    "{base}: {what}: no intact copy is left, yet found {:?}",
                    f.report
                )),
                Err(e) if intact_left => failures.push(format!("{base}: {what}: not found: {e}")),
                Err(e) => assert_eq!(e.corrupt_kind(), Some(CorruptKind::NoSuperblock)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Gives up cleanly (a `NoSuperblock` error naming what was searched) and
/// within the time bound.
fn gives_up(what: &str, img: Vec<u8>) {
    let t = Instant::now();
    let r = superblock::search(&img);
    let took = t.elapsed();
    match r {
        Ok(f) => panic!(
            "{what}: found a superblock in no file system: {:?}",
            f.report
        ),
        Err(e) => {
            assert_eq!(
                e.corrupt_kind(),
                Some(CorruptKind::NoSuperblock),
                "{what}: {e}"
            );
            assert!(
                e.to_string().contains("search"),
                "{what}: unclear error: {e}"
            );
        }
    }
    assert!(
        took < Duration::from_secs(2),
        "{what}: the search took {took:?} on {} bytes",
        img.len()
    );
}

#[test]
fn search_gives_up_fast_on_images_without_a_file_system() {
    const LEN: usize = 64 << 20;
    gives_up("zeros", vec![0u8; LEN]);
    gives_up("random bytes", noise(LEN, 0x9e37_79b9_7f4a_7c15));
    // A shorter image than a superblock, and an empty one.
    gives_up("a 100-byte image", noise(100, 7));
    gives_up("an empty image", Vec::new());
    if ufskit_testkit::require(
        "mkfs.ext4",
        "an ext4 image for the search to reject (e2fsprogs)",
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("ext4.img");
        std::fs::write(&p, vec![0u8; LEN]).expect("write");
        let o = std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(&p)
            .output()
            .expect("run mkfs.ext4");
        assert!(
            o.status.success(),
            "mkfs.ext4: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        gives_up("an ext4 image", std::fs::read(&p).expect("read"));
    }
}

/// Noise that happens to hold superblock magics must not be taken for a
/// file system: a copy is accepted only when the cylinder groups it
/// predicts are there.
#[test]
fn search_rejects_a_lone_superblock_without_its_cylinder_groups() {
    let clean = load_zst("ref/ufs2-le.img.zst");
    let (sb, _) = Superblock::find(&clean).expect("find");
    let mut img = noise(clean.len(), 3);
    // The primary's bytes, copied where a backup of its geometry would be,
    // in an image whose groups are noise.
    let geo = sb.validate(img.len() as u64).expect("geometry");
    let at = geo.frag_offset(geo.cgsblock(CgIdx(0))) as usize;
    img[at..at + SBLOCKSIZE].copy_from_slice(&clean[65536..65536 + SBLOCKSIZE]);
    gives_up("a superblock copy in noise", img);
}

/// A hostile image: every sector holds a superblock magic and a
/// cylinder-group header (so every sector is a candidate and every header
/// predicts group starts). The caps on candidates and predictions keep
/// the search short, and nothing is accepted.
#[test]
fn search_is_bounded_on_an_image_full_of_magic_numbers() {
    use ufskit::ondisk::consts::{CG_MAGIC, FS_UFS2_MAGIC};
    let mut img = noise(64 << 20, 11);
    for (i, s) in img.chunks_exact_mut(512).enumerate() {
        s[4..8].copy_from_slice(&CG_MAGIC.to_le_bytes());
        s[12..16].copy_from_slice(&(i as u32 % 7).to_le_bytes()); // cg_cgx
        s[20..24].copy_from_slice(&(1000 + i as u32 % 13).to_le_bytes()); // cg_ndblk
    }
    for at in (0..img.len() - 2048).step_by(512) {
        img[at + 1372..at + 1376].copy_from_slice(&FS_UFS2_MAGIC.to_le_bytes());
    }
    gives_up("an image full of magic numbers", img);
}
