//! Writes the `parse_structs` seeds (real structures from the base images
//! and the big-endian FreeBSD image, in that target's input layout) to a
//! directory: `cargo run --release --example parse_seeds DIR`.
use ufskit::inode::Inode;
use ufskit::ondisk::CgHeader;
use ufskit::{CgIdx, Endian, FileType, Ino, OpenOptions, Ufs};

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let put = |name: &str, kind: u8, params: &[u8], payload: &[u8]| {
        let mut v = vec![kind];
        v.extend_from_slice(params);
        v.extend_from_slice(payload);
        std::fs::write(dir.join(name), v).expect("write seed");
    };
    let mut images: Vec<(&str, Vec<u8>)> = vec![("ufs2", ufskit_fuzz::bases()[0].image.clone())];
    if let Some(b) = ufskit_fuzz::real_base("ufs-big") {
        images.push(("be", b.image));
    }
    for (tag, img) in images {
        let fs = Ufs::open(Box::new(img.clone()), &OpenOptions::read_only()).expect("open");
        let g = fs.geometry().clone();
        let big = u8::from(g.endian == Endian::Big);
        // Superblock: location selector 2 (65536), image length, 8 KiB.
        let at = g.sblockloc as usize;
        let mut p = vec![2u8];
        p.extend_from_slice(&(img.len() as u64).to_le_bytes());
        let sbsize = fs.superblock().encode().len();
        put(&format!("sb-{tag}"), 0, &p, &img[at..at + sbsize]);
        // Root directory, first 512-byte chunk (byte order, inode 2, base 0).
        let root = fs.inode(Ino::ROOT).expect("root");
        let data = fs.read_all(Ino::ROOT).expect("root dir");
        let mut p = vec![big];
        p.extend_from_slice(&2u32.to_le_bytes());
        p.extend_from_slice(&0u32.to_le_bytes());
        put(&format!("dir-{tag}"), 2, &p, &data[..512]);
        // The root inode (geometry 0: the UFS2 base; the inode is UFS2 in
        // both images, the byte order is the geometry's).
        let off = g.inode_offset(Ino::ROOT) as usize;
        let isz = g.version.inode_size() as usize;
        let sel = if big == 1 { 3u8 } else { 0 };
        put(&format!("inode-{tag}"), 4, &[sel, 2, 0, 0, 0], &img[off..off + isz]);
        let _ = root;
        // An xattr area (the first file that has one).
        let mut area = None;
        let _ = fs.walk(Ino::ROOT, &mut |_, _, i: &Inode| {
            if area.is_none() && i.file_type() == FileType::Regular && i.extsize() > 0 {
                area = fs.xattr_area(i).ok().map(|a| (i.ino, a));
            }
            Ok(())
        });
        if let Some((ino, a)) = area {
            let mut p = vec![big];
            p.extend_from_slice(&ino.0.to_le_bytes());
            put(&format!("xattr-{tag}"), 3, &p, &a[..a.len().min(1024)]);
        }
    }
    // Cylinder group 0 of each base, with its own geometry (selectors
    // 0, 4, 8), and of the first as big-endian (selector 2: the header
    // re-encoded big-endian; the bitmaps are bytes).
    for (i, b) in ufskit_fuzz::bases().iter().enumerate() {
        let fs = Ufs::open(Box::new(b.image.clone()), &OpenOptions::read_only()).expect("open");
        let g = fs.geometry().clone();
        let off = g.frag_offset(g.cgtod(CgIdx(0))) as usize;
        let cg = b.image[off..off + g.cgsize as usize].to_vec();
        put(&format!("cg-base{i}"), 1, &[(i * 4) as u8, 0, 0, 0, 0], &cg);
        if i == 0 {
            let mut be = cg.clone();
            let h = CgHeader::decode(&cg, Endian::Little).expect("cg header");
            h.encode_into(&mut be, Endian::Big);
            put("cg-base0-be", 1, &[2, 0, 0, 0, 0], &be);
        }
    }
}
