//! Raw bytes through the structure decoders, both byte orders: the
//! superblock (decode, validate into a geometry, and the geometry's
//! address arithmetic), a cylinder group (header + every bitmap) for one
//! of the base images' geometries, directory blocks, an extended-attribute
//! area and an inode. No panic; bounded.
//!
//! Input: byte 0 picks the decoder, then a few parameter bytes
//! (`Unstructured`), then the payload (see `seeds/parse_structs/`).
//! Besides "no panic", the oracles are round trips (encode(decode(x))
//! decodes to the same value) and the geometry contract: a validated
//! superblock describes a file system that fits the image.
#![no_main]
use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use ufskit::cg::CylGroup;
use ufskit::dir;
use ufskit::inode::Inode;
use ufskit::superblock::{Geometry, Superblock};
use ufskit::{xattr, CgIdx, Endian, Frag, Ino};

/// Decoders, picked by byte 0 modulo this.
const KINDS: u8 = 5;

/// The largest image length tried: the largest file a host allows.
const MAX_IMAGE: u64 = i64::MAX as u64;

fn endian(b: bool) -> Endian {
    if b {
        Endian::Big
    } else {
        Endian::Little
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(kind) = u.arbitrary::<u8>() else {
        return;
    };
    let _ = match kind % KINDS {
        0 => superblock(u),
        1 => cylinder_group(u),
        2 => directory(u),
        3 => xattrs(u),
        _ => inode(u),
    };
});

/// Params: location selector (u8), image length (u64); payload: the
/// superblock bytes (the magic is at 1372).
fn superblock(mut u: Unstructured) -> arbitrary::Result<()> {
    let loc = match u.arbitrary::<u8>()? % 5 {
        0 => 0,
        1 => 8192,
        2 => 65536,
        3 => 262144,
        _ => u64::from(u.arbitrary::<u32>()?),
    };
    // Image lengths a host can have (files end below 2^63 bytes); at
    // u64::MAX the "fits the image" test has nothing left to compare with.
    let image_len = u.arbitrary::<u64>()? & MAX_IMAGE;
    let bytes = u.take_rest();
    // The payload as a whole device too: the standard locations 0 and
    // 8192 are inside a long enough payload.
    let dev = bytes.to_vec();
    let _ = Superblock::candidates(&dev);
    if let Ok((sb, geo)) = Superblock::find(&dev) {
        geometry(&sb, &geo, dev.len() as u64);
    }
    // The search reads the whole payload (it is below the head-scan size):
    // whatever it accepts must be a geometry the crate can use.
    if let Ok(f) = ufskit::superblock::search(&dev) {
        geometry(&f.sb, &f.geo, dev.len() as u64);
    }
    let Ok(sb) = Superblock::decode(bytes, loc) else {
        return Ok(());
    };
    let _ = (sb.volname(), sb.fsmnt(), sb.is_clean(), sb.version(), sb.compute_ckhash());
    // Round trip: encoding and decoding again gives the same superblock
    // (the check hash is recomputed by encode when enabled).
    let enc = sb.encode();
    let mut back = Superblock::decode(&enc, loc).expect("an encoded superblock decodes");
    back.fs.fs_ckhash = sb.fs.fs_ckhash;
    assert_eq!(back, sb, "superblock round trip");
    for len in [image_len, bytes.len() as u64, 1 << 30, 1 << 44, MAX_IMAGE] {
        if let Ok(geo) = sb.validate(len) {
            geometry(&sb, &geo, len);
        }
    }
    Ok(())
}

/// A validated geometry: it fits the image, and its address arithmetic
/// works (no overflow) on every valid argument.
fn geometry(sb: &Superblock, g: &Geometry, image_len: u64) {
    let bytes = u128::from(g.size) << g.fshift;
    assert!(
        bytes <= u128::from(image_len),
        "validated geometry of {bytes} bytes ({} frags of {}) in an image of {image_len}: {sb:?}",
        g.size,
        g.fsize
    );
    let last = CgIdx(g.ncg - 1);
    for cg in [CgIdx(0), last] {
        let _ = (g.cgbase(cg), g.cgstart(cg), g.cgsblock(cg), g.cgimin(cg), g.cgdmin(cg), g.cg_frags(cg));
        let _ = g.frag_offset(g.cgtod(cg));
    }
    let end = Frag(g.size - 1);
    let _ = (g.dtog(end), g.dtogd(end), g.frag_offset(end), g.frags_in_range(end, 1));
    let top = Ino((g.ninodes - 1) as u32);
    assert!(g.ino_valid(top));
    let _ = (g.ino_to_cg(top), g.inode_offset(top));
    for (size, lbn) in [(0, 0), (1, 0), (g.maxfilesize, 11), (u64::MAX, 12), (u64::MAX, u64::MAX)] {
        let _ = g.blksize(size, lbn);
    }
    if g.ncg <= 1 << 16 {
        let _ = g.backup_offsets();
    }
}

/// Params: geometry selector (u8), group index (u32); payload: the
/// cylinder-group block.
fn cylinder_group(mut u: Unstructured) -> arbitrary::Result<()> {
    let geos = ufskit_fuzz::geometries();
    let geo = &geos[usize::from(u.arbitrary::<u8>()?) % geos.len()];
    let idx = CgIdx(u.arbitrary::<u32>()? % geo.ncg);
    let mut cg = CylGroup::from_bytes(u.take_rest().to_vec(), geo, idx);
    let _ = cg.validate(geo);
    let _ = cg.check_maps();
    let _ = (cg.has_clusters(), cg.idx(), cg.initialized_inodes(geo.version));
    let mut used = 0u32;
    for n in 0..geo.ipg + 8 {
        used += u32::from(cg.inode_used(n));
    }
    let nfrags = cg.nfrags();
    let mut free = 0u64;
    for n in 0..nfrags + 8 {
        free += u64::from(cg.frag_free(n));
    }
    let nblk = nfrags / u64::from(geo.frag);
    for b in 0..nblk + 2 {
        let _ = (cg.block_free(b), cg.cluster_free(b));
    }
    for i in 0..40 {
        let _ = cg.cluster_sum(i, geo.endian);
    }
    // Flip some of everything, then encode.
    cg.set_inode_used(used % geo.ipg.max(1), true);
    cg.set_frag_free(free % nfrags.max(1), false);
    cg.set_cluster_free(0, true);
    cg.set_cluster_sum(1, geo.endian, used);
    let _ = cg.encode(geo);
    Ok(())
}

/// Params: byte order (bool), directory inode (u32), base offset (u32);
/// payload: directory data (512-byte chunks).
fn directory(mut u: Unstructured) -> arbitrary::Result<()> {
    let e = endian(u.arbitrary()?);
    let ino = Ino(u.arbitrary()?);
    let base = u64::from(u.arbitrary::<u32>()?);
    let data = u.take_rest();
    for (i, chunk) in data.chunks(512).enumerate() {
        let start = base + (i * 512) as u64;
        let (entries, bad) = dir::parse_chunk(chunk, start, e);
        let mut pos = start;
        for ent in &entries {
            // Entries are consecutive, inside the chunk, and long enough.
            assert_eq!(ent.offset, pos);
            assert!(ent.name.len() <= 255);
            assert!(usize::from(ent.reclen) >= dir::direct_size(ent.name.len()));
            pos += u64::from(ent.reclen);
            assert!(pos <= start + chunk.len() as u64);
        }
        if let Some((at, _)) = bad {
            assert_eq!(at, pos, "the bad entry follows the good ones");
        } else {
            // Re-encoding every entry in place parses back the same.
            let mut re = vec![0u8; chunk.len()];
            for ent in &entries {
                let p = (ent.offset - start) as usize;
                assert!(dir::encode_entry(&mut re[p..], ent.ino, ent.reclen, ent.dtype, &ent.name, e));
            }
            let (again, bad2) = dir::parse_chunk(&re, start, e);
            assert!(bad2.is_none());
            assert_eq!(again, entries);
        }
    }
    if let Ok(all) = dir::parse_all(ino, data, e) {
        // Packed the way a new directory is, the used entries read back
        // in order.
        let list: Vec<(&[u8], Ino, u8)> = all.iter().map(|x| (x.name.as_slice(), x.ino, x.dtype)).collect();
        match dir::pack(&list, e) {
            Ok(packed) => {
                let back = dir::parse_all(ino, &packed, e).expect("packed entries parse");
                let got: Vec<(&[u8], Ino, u8)> = back.iter().map(|x| (x.name.as_slice(), x.ino, x.dtype)).collect();
                assert_eq!(got, list);
            }
            // Only a name pack refuses may make it fail.
            Err(_) => assert!(list.iter().any(|(n, _, _)| !dir::valid_entry_name(n))),
        }
    }
    Ok(())
}

/// Params: byte order (bool), inode (u32); payload: the area.
fn xattrs(mut u: Unstructured) -> arbitrary::Result<()> {
    let e = endian(u.arbitrary()?);
    let ino = Ino(u.arbitrary()?);
    let area = u.take_rest();
    if let Ok(attrs) = xattr::parse(ino, area, e) {
        if let Ok(enc) = xattr::encode(&attrs, e) {
            assert_eq!(xattr::parse(ino, &enc, e).expect("encoded area parses"), attrs);
        } else {
            assert!(attrs.iter().any(|a| a.name.is_empty()), "encode refused parsed attributes");
        }
    }
    Ok(())
}

/// Params: geometry selector (u8), inode number (u32); payload: the inode.
fn inode(mut u: Unstructured) -> arbitrary::Result<()> {
    let geos = ufskit_fuzz::geometries();
    let geo = &geos[usize::from(u.arbitrary::<u8>()?) % geos.len()];
    let ino = Ino(u.arbitrary()?);
    let bytes = u.take_rest();
    let Ok(mut i) = Inode::decode(ino, bytes, geo) else {
        return Ok(());
    };
    let _ = i.ckhash_mismatch(bytes, geo);
    let _ = (i.mode(), i.perm(), i.file_type(), i.is_allocated(), i.is_dir(), i.nlink(), i.uid(), i.gid());
    let _ = (i.size(), i.blocks(), i.flags(), i.gen(), i.atime(), i.mtime(), i.ctime(), i.birthtime());
    let _ = (i.all_pointers(), i.extsize(), i.extb(0), i.extb(1), i.extb(2), i.ib(0), i.ib(2), i.db(11));
    let _ = (i.inline_bytes(geo), i.is_fast_symlink(geo), i.rdev());
    let enc = i.encode(geo);
    let back = Inode::decode(ino, &enc, geo).expect("an encoded inode decodes");
    assert_eq!(back, i, "inode round trip");
    assert!(back.ckhash_mismatch(&enc, geo).is_none(), "encode leaves a good check hash");
    Ok(())
}
