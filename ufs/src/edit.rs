//! Raw field access for `ufs debug` (fsdb-like editing for scripts and the
//! fsck regression corpus): get, set and list the fields of the
//! superblock, a cylinder-group header, an inode and a directory entry by
//! their C names, on raw bytes, and recompute the check hashes.
//!
//! Toolkit surface, not a stable API: it follows the on-disk layouts
//! and the needs of `ufs debug` (see the crate docs, "What is stable").
//!
//! Field tables are derived from the `ondisk` layouts (`offset_of!` on
//! the wire structs), so names and offsets cannot drift. Arrays are
//! addressed as `name[i]`.

use crate::checkhash;
use crate::error::{Error, Result};
use crate::ondisk::wire;
use crate::ondisk::{raw_cg, raw_csum, raw_dinode1, raw_dinode2, raw_direct, raw_fs};
use crate::ondisk::{CG_CKHASH_OFFSET, DI_CKHASH_OFFSET, FS_CKHASH_OFFSET};
use crate::Endian;

/// One field of an on-disk structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDesc {
    /// C name.
    pub name: &'static str,
    /// Byte offset in the structure.
    pub offset: usize,
    /// Size of one element in bytes.
    pub size: usize,
    /// Number of elements (1 for scalars).
    pub count: usize,
    /// Whether the C type is signed.
    pub signed: bool,
}

macro_rules! fd {
    ($raw:ident, $f:ident, $size:expr, $count:expr, $signed:expr) => {
        FieldDesc {
            name: stringify!($f),
            offset: core::mem::offset_of!($raw::Le, $f),
            size: $size,
            count: $count,
            signed: $signed,
        }
    };
}

/// Fields of `Fs`.
pub const FS_FIELDS: &[FieldDesc] = &[
    fd!(raw_fs, fs_firstfield, 4, 1, true),
    fd!(raw_fs, fs_unused_1, 4, 1, true),
    fd!(raw_fs, fs_sblkno, 4, 1, true),
    fd!(raw_fs, fs_cblkno, 4, 1, true),
    fd!(raw_fs, fs_iblkno, 4, 1, true),
    fd!(raw_fs, fs_dblkno, 4, 1, true),
    fd!(raw_fs, fs_old_cgoffset, 4, 1, true),
    fd!(raw_fs, fs_old_cgmask, 4, 1, true),
    fd!(raw_fs, fs_old_time, 4, 1, true),
    fd!(raw_fs, fs_old_size, 4, 1, true),
    fd!(raw_fs, fs_old_dsize, 4, 1, true),
    fd!(raw_fs, fs_ncg, 4, 1, false),
    fd!(raw_fs, fs_bsize, 4, 1, true),
    fd!(raw_fs, fs_fsize, 4, 1, true),
    fd!(raw_fs, fs_frag, 4, 1, true),
    fd!(raw_fs, fs_minfree, 4, 1, true),
    fd!(raw_fs, fs_old_rotdelay, 4, 1, true),
    fd!(raw_fs, fs_old_rps, 4, 1, true),
    fd!(raw_fs, fs_bmask, 4, 1, true),
    fd!(raw_fs, fs_fmask, 4, 1, true),
    fd!(raw_fs, fs_bshift, 4, 1, true),
    fd!(raw_fs, fs_fshift, 4, 1, true),
    fd!(raw_fs, fs_maxcontig, 4, 1, true),
    fd!(raw_fs, fs_maxbpg, 4, 1, true),
    fd!(raw_fs, fs_fragshift, 4, 1, true),
    fd!(raw_fs, fs_fsbtodb, 4, 1, true),
    fd!(raw_fs, fs_sbsize, 4, 1, true),
    fd!(raw_fs, fs_spare1, 4, 2, true),
    fd!(raw_fs, fs_nindir, 4, 1, true),
    fd!(raw_fs, fs_inopb, 4, 1, false),
    fd!(raw_fs, fs_old_nspf, 4, 1, true),
    fd!(raw_fs, fs_optim, 4, 1, true),
    fd!(raw_fs, fs_old_npsect, 4, 1, true),
    fd!(raw_fs, fs_old_interleave, 4, 1, true),
    fd!(raw_fs, fs_old_trackskew, 4, 1, true),
    fd!(raw_fs, fs_id, 4, 2, true),
    fd!(raw_fs, fs_old_csaddr, 4, 1, true),
    fd!(raw_fs, fs_cssize, 4, 1, true),
    fd!(raw_fs, fs_cgsize, 4, 1, true),
    fd!(raw_fs, fs_spare2, 4, 1, true),
    fd!(raw_fs, fs_old_nsect, 4, 1, true),
    fd!(raw_fs, fs_old_spc, 4, 1, true),
    fd!(raw_fs, fs_old_ncyl, 4, 1, true),
    fd!(raw_fs, fs_old_cpg, 4, 1, true),
    fd!(raw_fs, fs_ipg, 4, 1, false),
    fd!(raw_fs, fs_fpg, 4, 1, true),
    fd!(raw_fs, fs_old_cstotal, 4, 4, true),
    fd!(raw_fs, fs_fmod, 1, 1, true),
    fd!(raw_fs, fs_clean, 1, 1, true),
    fd!(raw_fs, fs_ronly, 1, 1, true),
    fd!(raw_fs, fs_old_flags, 1, 1, true),
    fd!(raw_fs, fs_fsmnt, 1, 468, false),
    fd!(raw_fs, fs_volname, 1, 32, false),
    fd!(raw_fs, fs_swuid, 8, 1, false),
    fd!(raw_fs, fs_pad, 4, 1, true),
    fd!(raw_fs, fs_cgrotor, 4, 1, true),
    fd!(raw_fs, fs_ocsp, 1, 128, false),
    fd!(raw_fs, fs_old_cpc, 4, 1, true),
    fd!(raw_fs, fs_maxbsize, 4, 1, true),
    fd!(raw_fs, fs_unrefs, 8, 1, true),
    fd!(raw_fs, fs_providersize, 8, 1, true),
    fd!(raw_fs, fs_metaspace, 8, 1, true),
    fd!(raw_fs, fs_sparecon64, 8, 13, true),
    fd!(raw_fs, fs_sblockactualloc, 8, 1, true),
    fd!(raw_fs, fs_sblockloc, 8, 1, true),
    fd!(raw_fs, fs_cstotal, 8, 8, true),
    fd!(raw_fs, fs_time, 8, 1, true),
    fd!(raw_fs, fs_size, 8, 1, true),
    fd!(raw_fs, fs_dsize, 8, 1, true),
    fd!(raw_fs, fs_csaddr, 8, 1, true),
    fd!(raw_fs, fs_pendingblocks, 8, 1, true),
    fd!(raw_fs, fs_pendinginodes, 4, 1, false),
    fd!(raw_fs, fs_snapinum, 4, 20, false),
    fd!(raw_fs, fs_avgfilesize, 4, 1, false),
    fd!(raw_fs, fs_avgfpdir, 4, 1, false),
    fd!(raw_fs, fs_save_cgsize, 4, 1, true),
    fd!(raw_fs, fs_mtime, 8, 1, true),
    fd!(raw_fs, fs_sujfree, 4, 1, true),
    fd!(raw_fs, fs_sparecon32, 4, 21, true),
    fd!(raw_fs, fs_ckhash, 4, 1, false),
    fd!(raw_fs, fs_metackhash, 4, 1, false),
    fd!(raw_fs, fs_flags, 4, 1, true),
    fd!(raw_fs, fs_contigsumsize, 4, 1, true),
    fd!(raw_fs, fs_maxsymlinklen, 4, 1, true),
    fd!(raw_fs, fs_old_inodefmt, 4, 1, true),
    fd!(raw_fs, fs_maxfilesize, 8, 1, false),
    fd!(raw_fs, fs_qbmask, 8, 1, true),
    fd!(raw_fs, fs_qfmask, 8, 1, true),
    fd!(raw_fs, fs_state, 4, 1, true),
    fd!(raw_fs, fs_old_postblformat, 4, 1, true),
    fd!(raw_fs, fs_old_nrpos, 4, 1, true),
    fd!(raw_fs, fs_spare5, 4, 2, true),
    fd!(raw_fs, fs_magic, 4, 1, true),
];

/// Fields of `CgHeader`.
pub const CGHEADER_FIELDS: &[FieldDesc] = &[
    fd!(raw_cg, cg_firstfield, 4, 1, true),
    fd!(raw_cg, cg_magic, 4, 1, true),
    fd!(raw_cg, cg_old_time, 4, 1, true),
    fd!(raw_cg, cg_cgx, 4, 1, false),
    fd!(raw_cg, cg_old_ncyl, 2, 1, true),
    fd!(raw_cg, cg_old_niblk, 2, 1, true),
    fd!(raw_cg, cg_ndblk, 4, 1, false),
    fd!(raw_cg, cg_cs, 4, 4, true),
    fd!(raw_cg, cg_rotor, 4, 1, false),
    fd!(raw_cg, cg_frotor, 4, 1, false),
    fd!(raw_cg, cg_irotor, 4, 1, false),
    fd!(raw_cg, cg_frsum, 4, 8, false),
    fd!(raw_cg, cg_old_btotoff, 4, 1, true),
    fd!(raw_cg, cg_old_boff, 4, 1, true),
    fd!(raw_cg, cg_iusedoff, 4, 1, false),
    fd!(raw_cg, cg_freeoff, 4, 1, false),
    fd!(raw_cg, cg_nextfreeoff, 4, 1, false),
    fd!(raw_cg, cg_clustersumoff, 4, 1, false),
    fd!(raw_cg, cg_clusteroff, 4, 1, false),
    fd!(raw_cg, cg_nclusterblks, 4, 1, false),
    fd!(raw_cg, cg_niblk, 4, 1, false),
    fd!(raw_cg, cg_initediblk, 4, 1, false),
    fd!(raw_cg, cg_unrefs, 4, 1, false),
    fd!(raw_cg, cg_sparecon32, 4, 1, true),
    fd!(raw_cg, cg_ckhash, 4, 1, false),
    fd!(raw_cg, cg_time, 8, 1, true),
    fd!(raw_cg, cg_sparecon64, 8, 3, true),
];

/// Fields of `Dinode1`.
pub const DINODE1_FIELDS: &[FieldDesc] = &[
    fd!(raw_dinode1, di_mode, 2, 1, false),
    fd!(raw_dinode1, di_nlink, 2, 1, true),
    fd!(raw_dinode1, di_freelink, 4, 1, false),
    fd!(raw_dinode1, di_size, 8, 1, false),
    fd!(raw_dinode1, di_atime, 4, 1, true),
    fd!(raw_dinode1, di_atimensec, 4, 1, true),
    fd!(raw_dinode1, di_mtime, 4, 1, true),
    fd!(raw_dinode1, di_mtimensec, 4, 1, true),
    fd!(raw_dinode1, di_ctime, 4, 1, true),
    fd!(raw_dinode1, di_ctimensec, 4, 1, true),
    fd!(raw_dinode1, di_db, 4, 12, true),
    fd!(raw_dinode1, di_ib, 4, 3, true),
    fd!(raw_dinode1, di_flags, 4, 1, false),
    fd!(raw_dinode1, di_blocks, 4, 1, false),
    fd!(raw_dinode1, di_gen, 4, 1, false),
    fd!(raw_dinode1, di_uid, 4, 1, false),
    fd!(raw_dinode1, di_gid, 4, 1, false),
    fd!(raw_dinode1, di_modrev, 8, 1, false),
];

/// Fields of `Dinode2`.
pub const DINODE2_FIELDS: &[FieldDesc] = &[
    fd!(raw_dinode2, di_mode, 2, 1, false),
    fd!(raw_dinode2, di_nlink, 2, 1, true),
    fd!(raw_dinode2, di_uid, 4, 1, false),
    fd!(raw_dinode2, di_gid, 4, 1, false),
    fd!(raw_dinode2, di_blksize, 4, 1, false),
    fd!(raw_dinode2, di_size, 8, 1, false),
    fd!(raw_dinode2, di_blocks, 8, 1, false),
    fd!(raw_dinode2, di_atime, 8, 1, true),
    fd!(raw_dinode2, di_mtime, 8, 1, true),
    fd!(raw_dinode2, di_ctime, 8, 1, true),
    fd!(raw_dinode2, di_birthtime, 8, 1, true),
    fd!(raw_dinode2, di_mtimensec, 4, 1, true),
    fd!(raw_dinode2, di_atimensec, 4, 1, true),
    fd!(raw_dinode2, di_ctimensec, 4, 1, true),
    fd!(raw_dinode2, di_birthnsec, 4, 1, true),
    fd!(raw_dinode2, di_gen, 4, 1, false),
    fd!(raw_dinode2, di_kernflags, 4, 1, false),
    fd!(raw_dinode2, di_flags, 4, 1, false),
    fd!(raw_dinode2, di_extsize, 4, 1, false),
    fd!(raw_dinode2, di_extb, 8, 2, true),
    fd!(raw_dinode2, di_db, 8, 12, true),
    fd!(raw_dinode2, di_ib, 8, 3, true),
    fd!(raw_dinode2, di_modrev, 8, 1, false),
    fd!(raw_dinode2, di_freelink, 4, 1, false),
    fd!(raw_dinode2, di_ckhash, 4, 1, false),
    fd!(raw_dinode2, di_spare, 4, 2, false),
];

/// Fields of `DirectHdr`.
pub const DIRECTHDR_FIELDS: &[FieldDesc] = &[
    fd!(raw_direct, d_ino, 4, 1, false),
    fd!(raw_direct, d_reclen, 2, 1, false),
    fd!(raw_direct, d_type, 1, 1, false),
    fd!(raw_direct, d_namlen, 1, 1, false),
];

/// Fields of `Csum`.
pub const CSUM_FIELDS: &[FieldDesc] = &[
    fd!(raw_csum, cs_ndir, 4, 1, true),
    fd!(raw_csum, cs_nbfree, 4, 1, true),
    fd!(raw_csum, cs_nifree, 4, 1, true),
    fd!(raw_csum, cs_nffree, 4, 1, true),
];

/// Finds `name` or `name[i]` in a table: (descriptor, element index).
pub fn lookup(table: &'static [FieldDesc], name: &str) -> Result<(FieldDesc, usize)> {
    let (base, idx) = match name.split_once('[') {
        Some((b, rest)) => {
            let i = rest
                .trim_end_matches(']')
                .parse::<usize>()
                .map_err(|_| Error::InvalidInput(format!("bad index in {name}")))?;
            (b, i)
        }
        None => (name, 0),
    };
    let d = table
        .iter()
        .find(|d| d.name == base)
        .ok_or_else(|| Error::InvalidInput(format!("no field named {base}")))?;
    if idx >= d.count {
        return Err(Error::InvalidInput(format!(
            "{base} has {} elements",
            d.count
        )));
    }
    Ok((*d, idx))
}

/// Reads a field element from `buf` (the structure's bytes).
pub fn get(buf: &[u8], d: &FieldDesc, idx: usize, e: Endian) -> Result<i128> {
    let off = d.offset + idx * d.size;
    let b = buf
        .get(off..off + d.size)
        .ok_or_else(|| Error::InvalidInput(format!("{} is outside the buffer", d.name)))?;
    let v = wire::get_uint(b, e)
        .ok_or_else(|| Error::InvalidInput(format!("{} has no integer width", d.name)))?;
    let bits = d.size * 8;
    Ok(if d.signed && bits < 64 && v >> (bits - 1) & 1 == 1 {
        i128::from(v) - (1i128 << bits)
    } else if d.signed && bits == 64 {
        i128::from(i64::from_ne_bytes(v.to_ne_bytes()))
    } else {
        i128::from(v)
    })
}

/// Writes a field element (the value is truncated to the field's size).
pub fn set(buf: &mut [u8], d: &FieldDesc, idx: usize, value: i128, e: Endian) -> Result<()> {
    let off = d.offset + idx * d.size;
    let b = buf
        .get_mut(off..off + d.size)
        .ok_or_else(|| Error::InvalidInput(format!("{} is outside the buffer", d.name)))?;
    // Documented: the value is cut to the field's size (two's complement
    // for negative values), as fsdb does.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let raw = value as u64;
    if !wire::put_uint(b, e, raw) {
        return Err(Error::InvalidInput(format!(
            "{} has no integer width",
            d.name
        )));
    }
    Ok(())
}

/// Every field as `name = value` lines (arrays element by element).
pub fn dump(buf: &[u8], table: &'static [FieldDesc], e: Endian) -> Vec<String> {
    let mut out = Vec::new();
    for d in table {
        if d.count == 1 {
            if let Ok(v) = get(buf, d, 0, e) {
                out.push(format!("{} = {v}", d.name));
            }
        } else if d.size == 1 && d.count > 16 {
            let end = buf.len().min(d.offset + d.count);
            let bytes = buf.get(d.offset..end).unwrap_or(&[]);
            let s: Vec<u8> = bytes.iter().copied().take_while(|&c| c != 0).collect();
            out.push(format!("{} = {:?}", d.name, String::from_utf8_lossy(&s)));
        } else {
            let vals: Vec<String> = (0..d.count)
                .filter_map(|i| get(buf, d, i, e).ok())
                .map(|v| v.to_string())
                .collect();
            out.push(format!("{} = [{}]", d.name, vals.join(", ")));
        }
    }
    out
}

/// Recomputes the superblock check hash in `buf` (`fs_sbsize` bytes).
pub fn rehash_superblock(buf: &mut [u8], e: Endian) {
    let h = checkhash::compute(buf, FS_CKHASH_OFFSET);
    if let Some(b) = buf.get_mut(FS_CKHASH_OFFSET..) {
        crate::ondisk::wire::put_u32(b, e, h);
    }
}

/// Recomputes a cylinder group's check hash in `buf` (`fs_cgsize` bytes).
pub fn rehash_cg(buf: &mut [u8], e: Endian) {
    let h = checkhash::compute(buf, CG_CKHASH_OFFSET);
    if let Some(b) = buf.get_mut(CG_CKHASH_OFFSET..) {
        crate::ondisk::wire::put_u32(b, e, h);
    }
}

/// Recomputes a UFS2 inode's check hash in `buf` (256 bytes); an all-zero
/// inode keeps no hash.
pub fn rehash_inode(buf: &mut [u8], e: Endian) {
    if buf
        .iter()
        .enumerate()
        .all(|(i, &b)| b == 0 || (DI_CKHASH_OFFSET..DI_CKHASH_OFFSET + 4).contains(&i))
    {
        if let Some(b) = buf.get_mut(DI_CKHASH_OFFSET..DI_CKHASH_OFFSET + 4) {
            b.fill(0);
        }
        return;
    }
    let h = checkhash::compute(buf, DI_CKHASH_OFFSET);
    if let Some(b) = buf.get_mut(DI_CKHASH_OFFSET..) {
        crate::ondisk::wire::put_u32(b, e, h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_c() {
        assert_eq!(
            lookup(FS_FIELDS, "fs_magic").map(|x| x.0.offset).ok(),
            Some(1372)
        );
        assert_eq!(
            lookup(CGHEADER_FIELDS, "cg_cs[1]")
                .map(|x| (x.0.offset, x.1))
                .ok(),
            Some((24, 1))
        );
        assert_eq!(
            lookup(DINODE2_FIELDS, "di_db").map(|x| x.0.offset).ok(),
            Some(112)
        );
    }

    #[test]
    fn set_then_get_both_orders() {
        for e in [Endian::Little, Endian::Big] {
            let mut b = vec![0u8; 256];
            let (d, i) = lookup(DINODE2_FIELDS, "di_nlink").expect("field");
            set(&mut b, &d, i, -3, e).expect("set");
            assert_eq!(get(&b, &d, i, e).ok(), Some(-3));
        }
    }
}
