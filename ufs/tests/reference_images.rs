//! The reader against images made by FreeBSD (real hosts, newfs, makefs).

mod common;
use common::*;
use ufskit::{CgIdx, Endian, Follow, UfsVersion};

#[test]
fn real_little_and_big_endian_images_open_with_all_check_hashes() {
    for (name, endian) in [
        ("real/ufs-little.img.zst", Endian::Little),
        ("real/ufs-big.img.zst", Endian::Big),
    ] {
        let fs = open_zst(name);
        let g = fs.geometry();
        assert_eq!(g.endian, endian, "{name}");
        assert_eq!(g.version, UfsVersion::Ufs2);
        assert_eq!(g.metackhash, 0x7, "{name}: superblock, cg and inode hashes");
        for c in 0..g.ncg {
            fs.cg(CgIdx(c)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

/// The kernel's view of the real images (recorded by the Linux ufs driver in
/// the .manifest files) is exactly what ufskit reads: names, types, modes,
/// owners, link counts, sizes, times, file contents (single, double and
/// triple indirect, sparse), symlink targets (fast and slow).
#[test]
fn real_images_read_exactly_as_the_linux_kernel_sees_them() {
    for name in ["real/ufs-little.img", "real/ufs-big.img"] {
        let fs = open_zst(&format!("{name}.zst"));
        let want = std::fs::read_to_string(images_dir().join(format!("{name}.manifest")))
            .expect("manifest");
        let got = manifest::manifest(&fs);
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn xattrs_of_the_real_images() {
    for name in ["real/ufs-little.img.zst", "real/ufs-big.img.zst"] {
        let fs = open_zst(name);
        let x = fs
            .inode(fs.lookup("/xattrs", Follow::All).expect("lookup"))
            .expect("inode");
        let attrs = fs.xattrs(&x).expect("xattrs");
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0].name, b"test");
        assert_eq!(attrs[0].value, b"testvalue");
        let x2 = fs
            .inode(fs.lookup("/xattrs2", Follow::All).expect("lookup"))
            .expect("inode");
        let attrs2 = fs.xattrs(&x2).expect("xattrs2");
        assert_eq!(attrs2.len(), 2297, "{name}");
        assert!(attrs2
            .iter()
            .any(|a| a.name == b"attr2296" && a.value == b"value2296"));
        let x3 = fs
            .inode(fs.lookup("/xattrs3", Follow::All).expect("lookup"))
            .expect("inode");
        let attrs3 = fs.xattrs(&x3).expect("xattrs3");
        assert_eq!(attrs3.len(), 1);
        // 4,000 lines of 15 hex digits and a newline, the last newline dropped
        // by the shell that passed the value to setextattr.
        assert_eq!(attrs3[0].value.len(), 4000 * 16 - 1);
    }
}

#[test]
fn symlinks_resolve_inside_the_image() {
    let fs = open_zst("real/ufs-little.img.zst");
    let via_link = fs.lookup("/link1", Follow::All).expect("follows");
    let direct = fs
        .lookup("/dir1/dir2/dir3/file2", Follow::All)
        .expect("direct");
    assert_eq!(via_link, direct);
    assert_ne!(fs.lookup("/link1", Follow::NotLast).expect("lstat"), direct);
    assert_eq!(fs.read_all(direct).expect("read"), b"Hello World\n");
    let long = fs
        .lookup("/long-link", Follow::All)
        .expect("long link resolves");
    assert_eq!(long, fs.lookup("/file1", Follow::All).expect("file1"));
}

/// `Superblock::probe` names the version from the magic alone, in either
/// byte order, also where the rest of the superblock is damaged beyond
/// what `find` accepts, and nothing for an image without a magic.
#[test]
fn probe_finds_the_magic_where_find_gives_up() {
    use ufskit::io::Device;
    use ufskit::Superblock;
    for (name, want) in [
        ("real/ufs-little.img.zst", UfsVersion::Ufs2),
        ("real/ufs-big.img.zst", UfsVersion::Ufs2),
        ("freebsd/ufs1-4m.img.zst", UfsVersion::Ufs1),
    ] {
        let mut img = load_zst(name);
        assert_eq!(Superblock::probe(&img), Some(want), "{name}");
        let (sb, _) = Superblock::find(&img).expect("find");
        // fs_bsize (offset 48 in struct fs) zeroed: no longer a superblock
        // find takes, but still the magic of one.
        img.write_at(sb.location + 48, &[0; 4]).expect("poke");
        assert!(Superblock::find(&img).is_err(), "{name}: find after damage");
        assert_eq!(Superblock::probe(&img), Some(want), "{name}: damaged");
    }
    assert_eq!(Superblock::probe(&vec![0u8; 1 << 20]), None, "zeros");
    assert_eq!(Superblock::probe(&vec![0u8; 100]), None, "too short");
}
