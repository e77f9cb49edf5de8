//! Partition-table structures, with the C names of FreeBSD's headers:
//! `struct gpt_hdr` and `struct gpt_ent` (sys/sys/disk/gpt.h),
//! `struct dos_partition` (sys/sys/disk/mbr.h), and `struct disklabel` with
//! its `struct partition` (sys/sys/disk/bsd.h). All are little-endian on
//! disk (GPT and MBR by definition; the BSD label in the byte order of the
//! machine that wrote it, which for the images this crate meets is x86).

use super::wire::wire_struct;

wire_struct! {
    /// `struct gpt_hdr`: the GPT header, in LBA 1 (primary) and the last
    /// LBA (backup). `hdr_crc_self` covers `hdr_size` bytes with itself zero.
    pub struct GptHdr (raw_gpt_hdr, size = 92) {
        hdr_sig: [u8; 8],
        hdr_revision: u32,
        hdr_size: u32,
        hdr_crc_self: u32,
        __reserved: u32,
        hdr_lba_self: u64,
        hdr_lba_alt: u64,
        hdr_lba_start: u64,
        hdr_lba_end: u64,
        hdr_uuid: [u8; 16],
        hdr_lba_table: u64,
        hdr_entries: u32,
        hdr_entsz: u32,
        hdr_crc_table: u32,
    }
}

wire_struct! {
    /// `struct gpt_ent`: one GPT partition entry; `ent_lba_end` is inclusive.
    pub struct GptEnt (raw_gpt_ent, size = 128) {
        ent_type: [u8; 16],
        ent_uuid: [u8; 16],
        ent_lba_start: u64,
        ent_lba_end: u64,
        ent_attr: u64,
        ent_name: [u16; 36],
    }
}

wire_struct! {
    /// `struct dos_partition`: one of the four MBR (or EBR) entries at byte
    /// 446 of the sector; `dp_start` counts sectors from the table's base.
    pub struct DosPartition (raw_dos_partition, size = 16) {
        dp_flag: u8,
        dp_shd: u8,
        dp_ssect: u8,
        dp_scyl: u8,
        dp_typ: u8,
        dp_ehd: u8,
        dp_esect: u8,
        dp_ecyl: u8,
        dp_start: u32,
        dp_size: u32,
    }
}

wire_struct! {
    /// `struct disklabel` up to (not including) `d_partitions`, which
    /// follow as [`BsdPartition`]s at byte 148.
    pub struct Disklabel (raw_disklabel, size = 148) {
        d_magic: u32,
        d_type: u16,
        d_subtype: u16,
        d_typename: [u8; 16],
        d_packname: [u8; 16],
        d_secsize: u32,
        d_nsectors: u32,
        d_ntracks: u32,
        d_ncylinders: u32,
        d_secpercyl: u32,
        d_secperunit: u32,
        d_sparespertrack: u16,
        d_sparespercyl: u16,
        d_acylinders: u32,
        d_rpm: u16,
        d_interleave: u16,
        d_trackskew: u16,
        d_cylskew: u16,
        d_headswitch: u32,
        d_trkseek: u32,
        d_flags: u32,
        d_drivedata: [u32; 5],
        d_spare: [u32; 5],
        d_magic2: u32,
        d_checksum: u16,
        d_npartitions: u16,
        d_bbsize: u32,
        d_sbsize: u32,
    }
}

wire_struct! {
    /// `struct partition`: one BSD label entry; `p_offset` counts sectors
    /// from the start of the disk (see `disk.rs` on how the raw partition
    /// rebases it).
    pub struct BsdPartition (raw_bsd_partition, size = 16) {
        p_size: u32,
        p_offset: u32,
        p_fsize: u32,
        p_fstype: u8,
        p_frag: u8,
        p_cpg: u16,
    }
}

/// `BSD_MAGIC`: `d_magic` and `d_magic2`.
pub const BSD_MAGIC: u32 = 0x8256_4557;
/// `BSD_NPARTS_MAX`: the most entries a label may declare.
pub const BSD_NPARTS_MAX: u16 = 20;
/// `BSD_PART_RAW`: the entry covering the whole disk or slice (`c`).
pub const BSD_PART_RAW: usize = 2;
/// `FS_BSDFFS`: `p_fstype` of a UFS partition.
pub const FS_BSDFFS: u8 = 7;
/// `DOSPARTOFF`: where the four MBR entries start.
pub const DOSPARTOFF: usize = 446;
/// `DOSMAGICOFFSET`: where the 0x55 0xAA boot signature is.
pub const DOSMAGICOFFSET: usize = 510;
/// `DOSPTYP_386BSD`: a FreeBSD slice.
pub const DOSPTYP_386BSD: u8 = 0xa5;
/// `DOSPTYP_PMBR`: the protective entry in front of a GPT.
pub const DOSPTYP_PMBR: u8 = 0xee;
/// `DOSPTYP_EXT`, `DOSPTYP_EXTLBA` and Linux's 0x85: extended partitions.
pub const DOSPTYP_EXTENDED: [u8; 3] = [0x05, 0x0f, 0x85];
/// `GPT_HDR_SIG`.
pub const GPT_HDR_SIG: &[u8; 8] = b"EFI PART";

/// The kind of partition table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// GUID partition table.
    Gpt,
    /// DOS/MBR table, including logical partitions in extended ones.
    Mbr,
    /// BSD disklabel.
    BsdLabel,
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Scheme::Gpt => "GPT",
            Scheme::Mbr => "MBR",
            Scheme::BsdLabel => "BSD",
        })
    }
}
