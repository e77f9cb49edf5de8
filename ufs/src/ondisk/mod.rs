//! Raw on-disk structures: C field names, C offsets, no validation, no I/O.
//!
//! These are the exact layouts of FreeBSD's `struct fs` (sys/ufs/ffs/fs.h),
//! `struct cg`, `struct ufs1_dinode`/`ufs2_dinode` (sys/ufs/ufs/dinode.h),
//! `struct direct` (sys/ufs/ufs/dir.h) and `struct extattr`
//! (sys/ufs/ufs/extattr.h). Sizes and key offsets are asserted at compile
//! time. Code above this layer works on the native structs produced by
//! `decode`, never on raw bytes. fsck and `ufs debug` use this layer directly
//! because they must be able to look at values that fail validation.
//!
//! Toolkit surface, not a stable API: it follows the on-disk layouts
//! and the needs of `ufs debug` (see the crate docs, "What is stable").

pub mod consts;
pub mod disk;
pub(crate) mod wire;

use wire::wire_struct;

wire_struct! {
    /// `struct fs`: the superblock, all 1376 bytes, spares included, so that
    /// decode followed by encode gives back the same bytes.
    pub struct Fs (raw_fs, size = 1376) {
        fs_firstfield: i32,
        fs_unused_1: i32,
        fs_sblkno: i32,
        fs_cblkno: i32,
        fs_iblkno: i32,
        fs_dblkno: i32,
        fs_old_cgoffset: i32,
        fs_old_cgmask: i32,
        fs_old_time: i32,
        fs_old_size: i32,
        fs_old_dsize: i32,
        fs_ncg: u32,
        fs_bsize: i32,
        fs_fsize: i32,
        fs_frag: i32,
        fs_minfree: i32,
        fs_old_rotdelay: i32,
        fs_old_rps: i32,
        fs_bmask: i32,
        fs_fmask: i32,
        fs_bshift: i32,
        fs_fshift: i32,
        fs_maxcontig: i32,
        fs_maxbpg: i32,
        fs_fragshift: i32,
        fs_fsbtodb: i32,
        fs_sbsize: i32,
        fs_spare1: [i32; 2],
        fs_nindir: i32,
        fs_inopb: u32,
        fs_old_nspf: i32,
        fs_optim: i32,
        fs_old_npsect: i32,
        fs_old_interleave: i32,
        fs_old_trackskew: i32,
        fs_id: [i32; 2],
        fs_old_csaddr: i32,
        fs_cssize: i32,
        fs_cgsize: i32,
        fs_spare2: i32,
        fs_old_nsect: i32,
        fs_old_spc: i32,
        fs_old_ncyl: i32,
        fs_old_cpg: i32,
        fs_ipg: u32,
        fs_fpg: i32,
        /// `struct csum fs_old_cstotal`: ndir, nbfree, nifree, nffree.
        fs_old_cstotal: [i32; 4],
        fs_fmod: i8,
        fs_clean: i8,
        fs_ronly: i8,
        fs_old_flags: i8,
        fs_fsmnt: [u8; 468],
        fs_volname: [u8; 32],
        fs_swuid: u64,
        fs_pad: i32,
        fs_cgrotor: i32,
        /// `fs_ocsp[]` and `fs_si`: in-core pointers on LP64 hosts. Undefined on
        /// disk (FreeBSD 12.1 leaks heap addresses here); written as zeros.
        fs_ocsp: [u8; 128],
        fs_old_cpc: i32,
        fs_maxbsize: i32,
        fs_unrefs: i64,
        fs_providersize: i64,
        fs_metaspace: i64,
        fs_sparecon64: [i64; 13],
        fs_sblockactualloc: i64,
        fs_sblockloc: i64,
        /// `struct csum_total fs_cstotal`: ndir, nbfree, nifree, nffree,
        /// numclusters, `spare[3]`.
        fs_cstotal: [i64; 8],
        fs_time: i64,
        fs_size: i64,
        fs_dsize: i64,
        fs_csaddr: i64,
        fs_pendingblocks: i64,
        fs_pendinginodes: u32,
        fs_snapinum: [u32; 20],
        fs_avgfilesize: u32,
        fs_avgfpdir: u32,
        fs_save_cgsize: i32,
        fs_mtime: i64,
        fs_sujfree: i32,
        fs_sparecon32: [i32; 21],
        fs_ckhash: u32,
        fs_metackhash: u32,
        fs_flags: i32,
        fs_contigsumsize: i32,
        fs_maxsymlinklen: i32,
        fs_old_inodefmt: i32,
        fs_maxfilesize: u64,
        fs_qbmask: i64,
        fs_qfmask: i64,
        fs_state: i32,
        fs_old_postblformat: i32,
        fs_old_nrpos: i32,
        fs_spare5: [i32; 2],
        fs_magic: i32,
    }
}

const _: () = {
    use core::mem::offset_of;
    type F = raw_fs::Le;
    assert!(offset_of!(F, fs_old_cstotal) == 192);
    assert!(offset_of!(F, fs_old_flags) == 211);
    assert!(offset_of!(F, fs_ocsp) == 728);
    assert!(offset_of!(F, fs_sblockloc) == 1000);
    assert!(offset_of!(F, fs_cstotal) == 1008);
    assert!(offset_of!(F, fs_time) == 1072);
    assert!(offset_of!(F, fs_ckhash) == 1304);
    assert!(offset_of!(F, fs_magic) == 1372);
};

/// Byte offset of `fs_ckhash` within the superblock.
pub const FS_CKHASH_OFFSET: usize = 1304;
/// Byte offset of `fs_magic` within the superblock.
pub const FS_MAGIC_OFFSET: usize = 1372;

wire_struct! {
    /// `struct cg`: the fixed header of a cylinder-group block. The maps
    /// (inodes used, blocks free, cluster sums and map) follow at the offsets
    /// it names and are handled as byte slices by `cg.rs`.
    pub struct CgHeader (raw_cg, size = 168) {
        cg_firstfield: i32,
        cg_magic: i32,
        cg_old_time: i32,
        cg_cgx: u32,
        cg_old_ncyl: i16,
        cg_old_niblk: i16,
        cg_ndblk: u32,
        /// `struct csum cg_cs`: ndir, nbfree, nifree, nffree.
        cg_cs: [i32; 4],
        cg_rotor: u32,
        cg_frotor: u32,
        cg_irotor: u32,
        cg_frsum: [u32; 8],
        cg_old_btotoff: i32,
        cg_old_boff: i32,
        cg_iusedoff: u32,
        cg_freeoff: u32,
        cg_nextfreeoff: u32,
        cg_clustersumoff: u32,
        cg_clusteroff: u32,
        cg_nclusterblks: u32,
        cg_niblk: u32,
        cg_initediblk: u32,
        cg_unrefs: u32,
        cg_sparecon32: [i32; 1],
        cg_ckhash: u32,
        cg_time: i64,
        cg_sparecon64: [i64; 3],
    }
}

const _: () = {
    use core::mem::offset_of;
    type C = raw_cg::Le;
    assert!(offset_of!(C, cg_cs) == 24);
    assert!(offset_of!(C, cg_iusedoff) == 92);
    assert!(offset_of!(C, cg_ckhash) == 132);
    assert!(offset_of!(C, cg_time) == 136);
};

/// Byte offset of `cg_ckhash` within a cylinder-group block.
pub const CG_CKHASH_OFFSET: usize = 132;

wire_struct! {
    /// `struct ufs1_dinode` (128 bytes).
    pub struct Dinode1 (raw_dinode1, size = 128) {
        di_mode: u16,
        di_nlink: i16,
        /// `di_freelink` / `di_dirdepth` union.
        di_freelink: u32,
        di_size: u64,
        di_atime: i32,
        di_atimensec: i32,
        di_mtime: i32,
        di_mtimensec: i32,
        di_ctime: i32,
        di_ctimensec: i32,
        di_db: [i32; 12],
        di_ib: [i32; 3],
        di_flags: u32,
        di_blocks: u32,
        di_gen: u32,
        di_uid: u32,
        di_gid: u32,
        di_modrev: u64,
    }
}

const _: () = {
    use core::mem::offset_of;
    type D = raw_dinode1::Le;
    assert!(offset_of!(D, di_db) == 40);
    assert!(offset_of!(D, di_gen) == 108);
};

wire_struct! {
    /// `struct ufs2_dinode` (256 bytes).
    pub struct Dinode2 (raw_dinode2, size = 256) {
        di_mode: u16,
        di_nlink: i16,
        di_uid: u32,
        di_gid: u32,
        di_blksize: u32,
        di_size: u64,
        di_blocks: u64,
        di_atime: i64,
        di_mtime: i64,
        di_ctime: i64,
        di_birthtime: i64,
        di_mtimensec: i32,
        di_atimensec: i32,
        di_ctimensec: i32,
        di_birthnsec: i32,
        di_gen: u32,
        di_kernflags: u32,
        di_flags: u32,
        di_extsize: u32,
        di_extb: [i64; 2],
        di_db: [i64; 12],
        di_ib: [i64; 3],
        di_modrev: u64,
        /// `di_freelink` / `di_dirdepth` union.
        di_freelink: u32,
        di_ckhash: u32,
        di_spare: [u32; 2],
    }
}

const _: () = {
    use core::mem::offset_of;
    type D = raw_dinode2::Le;
    assert!(offset_of!(D, di_gen) == 80);
    assert!(offset_of!(D, di_db) == 112);
    assert!(offset_of!(D, di_ckhash) == 244);
};

/// Byte offset of `di_ckhash` within a UFS2 inode.
pub const DI_CKHASH_OFFSET: usize = 244;

/// Whether the bytes of an on-disk inode (UFS2 when `ufs2`) hold a free
/// inode as fsck_ffs wants one: mode, size and every block pointer zero.
/// Zero reads the same in either byte order, so nothing is decoded: most
/// of an inode table is free inodes, and decoding each one in full was a
/// large part of fsck's phase 1.
pub fn dinode_cleared(bytes: &[u8], ufs2: bool) -> bool {
    use core::mem::offset_of;
    let zero = |at: usize, end: usize| bytes.get(at..end).is_some_and(all_zero);
    if ufs2 {
        type D = raw_dinode2::Le;
        zero(offset_of!(D, di_mode), offset_of!(D, di_nlink))
            && zero(offset_of!(D, di_size), offset_of!(D, di_blocks))
            && zero(offset_of!(D, di_db), offset_of!(D, di_modrev))
    } else {
        type D = raw_dinode1::Le;
        zero(offset_of!(D, di_mode), offset_of!(D, di_nlink))
            && zero(offset_of!(D, di_size), offset_of!(D, di_atime))
            && zero(offset_of!(D, di_db), offset_of!(D, di_flags))
    }
}

/// Whether every byte is zero, looked at eight at a time (a UFS1 group's
/// inode table is read whole, and most of it is free inodes).
fn all_zero(b: &[u8]) -> bool {
    let mut words = b.chunks_exact(8);
    let mut any = 0u64;
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        any |= u64::from_ne_bytes(a);
    }
    any == 0 && words.remainder().iter().all(|&x| x == 0)
}

wire_struct! {
    /// The fixed 8-byte head of `struct direct`; the name follows.
    pub struct DirectHdr (raw_direct, size = 8) {
        d_ino: u32,
        d_reclen: u16,
        d_type: u8,
        d_namlen: u8,
    }
}

wire_struct! {
    /// `struct csum`: one entry of the cylinder-group summary area.
    pub struct Csum (raw_csum, size = 16) {
        cs_ndir: i32,
        cs_nbfree: i32,
        cs_nifree: i32,
        cs_nffree: i32,
    }
}

wire_struct! {
    /// The fixed head of `struct extattr` (an entry of the UFS2 extended
    /// attribute area); the name and the padded content follow.
    pub struct ExtattrHdr (raw_extattr, size = 7) {
        ea_length: u32,
        ea_namespace: u8,
        ea_contentpadlen: u8,
        ea_namelength: u8,
    }
}

wire_struct! {
    /// `struct fsrecovery`, stored by newfs in the last 20 bytes before the
    /// UFS2 superblock so fsck can find alternates.
    pub struct FsRecovery (raw_fsrecovery, size = 20) {
        fsr_magic: i32,
        fsr_fsbtodb: i32,
        fsr_sblkno: i32,
        fsr_fpg: i32,
        fsr_ncg: u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Endian;

    #[test]
    fn superblock_round_trips_byte_exact_in_both_orders() {
        let bytes: Vec<u8> = (0..Fs::SIZE)
            .map(|i| (i * 7 + 3).to_le_bytes()[0])
            .collect();
        for order in [Endian::Little, Endian::Big] {
            let fs = Fs::decode(&bytes, order).expect("long enough");
            assert_eq!(fs.encode(order), bytes);
        }
    }

    #[test]
    fn magic_is_read_at_its_c_offset() {
        let mut bytes = vec![0u8; Fs::SIZE];
        bytes[FS_MAGIC_OFFSET..FS_MAGIC_OFFSET + 4].copy_from_slice(&0x1954_0119u32.to_be_bytes());
        assert_eq!(
            Fs::decode(&bytes, Endian::Big).map(|f| f.fs_magic),
            Some(0x1954_0119)
        );
        assert_eq!(
            Fs::decode(&bytes, Endian::Little).map(|f| f.fs_magic),
            Some(0x1901_5419)
        );
    }

    #[test]
    fn all_zero_sees_a_set_byte_anywhere() {
        for len in 0..40usize {
            let mut b = vec![0u8; len];
            assert!(all_zero(&b), "len {len}");
            for i in 0..len {
                b[i] = 0x80;
                assert!(!all_zero(&b), "len {len} byte {i}");
                b[i] = 0;
            }
        }
    }

    #[test]
    fn short_input_is_refused() {
        assert!(Dinode2::decode(&[0u8; 255], Endian::Little).is_none());
    }
}
