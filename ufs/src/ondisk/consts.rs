//! Constants of the on-disk format, with the FreeBSD header each comes from.

/// UFS1 superblock magic (`FS_UFS1_MAGIC`, fs.h).
pub const FS_UFS1_MAGIC: i32 = 0x011954;
/// UFS2 superblock magic (`FS_UFS2_MAGIC`, fs.h).
pub const FS_UFS2_MAGIC: i32 = 0x1954_0119;
/// Magic newfs writes while a file system is being built (`FS_BAD_MAGIC`).
pub const FS_BAD_MAGIC: i32 = 0x1996_0408;
/// Cylinder-group magic (`CG_MAGIC`, fs.h).
pub const CG_MAGIC: i32 = 0x090255;
/// Superblock search order in bytes (`SBLOCKSEARCH`, fs.h).
pub const SBLOCKSEARCH: [u64; 4] = [65536, 8192, 0, 262144];
/// UFS1 superblock location.
pub const SBLOCK_UFS1: u64 = 8192;
/// UFS2 superblock location.
pub const SBLOCK_UFS2: u64 = 65536;
/// Bytes reserved for a superblock (`SBLOCKSIZE`).
pub const SBLOCKSIZE: usize = 8192;
/// Smallest and largest block sizes (`MINBSIZE`, `MAXBSIZE` of sys/param.h).
pub const MINBSIZE: u32 = 4096;
/// Largest block size FreeBSD supports.
pub const MAXBSIZE: u32 = 65536;
/// Most fragments in a block (`MAXFRAG`).
pub const MAXFRAG: u32 = 8;
/// Direct block pointers in an inode (`UFS_NDADDR`, dinode.h).
pub const NDADDR: usize = 12;
/// Indirect block pointers in an inode (`UFS_NIADDR`).
pub const NIADDR: usize = 3;
/// Extended-attribute block pointers in a UFS2 inode (`UFS_NXADDR`).
pub const NXADDR: usize = 2;
/// The root directory's inode number (`UFS_ROOTINO`).
pub const ROOTINO: u32 = 2;
/// The historical bad-block inode (`UFS_WINO` is 1).
pub const WINO: u32 = 1;
/// Directory block size (`DIRBLKSIZ`, dir.h): entries never cross it.
pub const DIRBLKSIZ: usize = 512;
/// `DIRBLKSIZ` as a 16-bit record length (`d_reclen` of an entry spanning
/// a whole directory block).
pub const DIRBLKSIZ_U16: u16 = 512;
const _: () = assert!(DIRBLKSIZ_U16 as usize == DIRBLKSIZ);
/// Longest name in a directory entry (`UFS_MAXNAMLEN`).
pub const MAXNAMLEN: usize = 255;
/// Sector size the superblock's `fsbtodb` counts in (`DEV_BSIZE`).
pub const DEV_BSIZE: u64 = 512;
/// Size of the superblock's volume-name field (`MAXVOLLEN`).
pub const MAXVOLLEN: usize = 32;
/// Size of the superblock's last-mounted-on field (`MAXMNTLEN`).
pub const MAXMNTLEN: usize = 468;
/// Most cluster-summary entries (`FS_MAXCONTIG`).
pub const FS_MAXCONTIG: i32 = 16;
/// 4.4BSD inode format (`FS_44INODEFMT`); older ones are not supported.
pub const FS_44INODEFMT: i32 = 2;
/// `fs_old_flags` bit meaning the flags moved to `fs_flags`.
pub const FS_FLAGS_UPDATED: i8 = i8::MIN; // 0x80

/// `fs_flags` bits (fs.h).
pub mod fsflags {
    /// Not clean at mount.
    pub const FS_UNCLEAN: i32 = 0x01;
    /// Soft updates.
    pub const FS_DOSOFTDEP: i32 = 0x02;
    /// Needs a foreground fsck.
    pub const FS_NEEDSFSCK: i32 = 0x04;
    /// Soft-updates journal.
    pub const FS_SUJ: i32 = 0x08;
    /// POSIX.1e ACLs.
    pub const FS_ACLS: i32 = 0x10;
    /// MAC multilabel.
    pub const FS_MULTILABEL: i32 = 0x20;
    /// gjournal.
    pub const FS_GJOURNAL: i32 = 0x40;
    /// Flags moved from `fs_old_flags`.
    pub const FS_FLAGS_UPDATED: i32 = 0x80;
    /// NFSv4 ACLs.
    pub const FS_NFS4ACLS: i32 = 0x100;
    /// Metadata check hashes maintained.
    pub const FS_METACKHASH: i32 = 0x200;
    /// TRIM.
    pub const FS_TRIM: i32 = 0x400;
}

/// `fs_metackhash` bits (fs.h).
pub mod ckhash {
    /// Superblock check hash.
    pub const CK_SUPERBLOCK: u32 = 0x1;
    /// Cylinder-group check hash.
    pub const CK_CYLGRP: u32 = 0x2;
    /// Inode check hash.
    pub const CK_INODE: u32 = 0x4;
    /// Indirect blocks (defined, unused by FreeBSD).
    pub const CK_INDIR: u32 = 0x8;
    /// Directories (defined, unused by FreeBSD).
    pub const CK_DIR: u32 = 0x10;
}

/// File type bits of `di_mode` (sys/ufs/ufs/dinode.h `IFMT` and friends).
pub mod mode {
    /// Mask of the type bits.
    pub const IFMT: u16 = 0o170000;
    /// Named pipe.
    pub const IFIFO: u16 = 0o010000;
    /// Character device.
    pub const IFCHR: u16 = 0o020000;
    /// Directory.
    pub const IFDIR: u16 = 0o040000;
    /// Block device.
    pub const IFBLK: u16 = 0o060000;
    /// Regular file.
    pub const IFREG: u16 = 0o100000;
    /// Symbolic link.
    pub const IFLNK: u16 = 0o120000;
    /// Socket.
    pub const IFSOCK: u16 = 0o140000;
    /// Whiteout.
    pub const IFWHT: u16 = 0o160000;
}

/// Directory entry types (`DT_*`, dir.h).
pub mod dt {
    /// Unknown.
    pub const DT_UNKNOWN: u8 = 0;
    /// FIFO.
    pub const DT_FIFO: u8 = 1;
    /// Character device.
    pub const DT_CHR: u8 = 2;
    /// Directory.
    pub const DT_DIR: u8 = 4;
    /// Block device.
    pub const DT_BLK: u8 = 6;
    /// Regular file.
    pub const DT_REG: u8 = 8;
    /// Symbolic link.
    pub const DT_LNK: u8 = 10;
    /// Socket.
    pub const DT_SOCK: u8 = 12;
    /// Whiteout.
    pub const DT_WHT: u8 = 14;
}
