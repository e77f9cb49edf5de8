//! What else an image may hold: the signatures of other file systems,
//! volume formats and partition tables, so that newfs and makefs do not
//! destroy one without being told to (`--force`).
//!
//! Offsets and magic values are each format's own (recorded with their
//! sources in docs/format.md, "Other formats' signatures"). A match is a
//! reason to stop and ask, not a proof: the caller names what was found
//! and lets the user override.

use crate::io::Device;
use crate::ondisk::wire;
use crate::Endian;

/// Something found on an image that is not UFS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// What it is, in words ("an ext4 file system", "a GPT partition table").
    pub what: String,
    /// Byte offset of the signature.
    pub offset: u64,
}

fn bytes_at(dev: &dyn Device, offset: u64, len: usize) -> Option<Vec<u8>> {
    if offset.checked_add(len as u64)? > dev.len() {
        return None;
    }
    let mut b = vec![0u8; len];
    dev.read_at(offset, &mut b).ok()?;
    Some(b)
}

fn has(dev: &dyn Device, offset: u64, magic: &[u8]) -> bool {
    bytes_at(dev, offset, magic.len()).is_some_and(|b| b == magic)
}

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..)
        .and_then(|s| wire::get_u32(s, Endian::Little))
        .unwrap_or(0)
}

/// The ext2/3/4 superblock at byte 1024: `s_magic` 0xEF53 at +56; the
/// journal (`s_feature_compat` bit 0x4 at +92) makes ext3, extents or
/// 64-bit (`s_feature_incompat` 0x40 or 0x80 at +96) make ext4.
fn ext(dev: &dyn Device) -> Option<Found> {
    let sb = bytes_at(dev, 1024, 100)?;
    if sb.get(56..58)? != [0x53, 0xef] {
        return None;
    }
    let (compat, incompat) = (le32(&sb, 92), le32(&sb, 96));
    let v = if incompat & (0x40 | 0x80) != 0 {
        4
    } else if compat & 0x4 != 0 {
        3
    } else {
        2
    };
    Some(Found {
        what: format!("an ext{v} file system"),
        offset: 1024 + 56,
    })
}

/// ZFS vdev labels: an uberblock array at 128 KiB into label 0 (at byte
/// 0) and label 1 (at 256 KiB), each uberblock starting with the u64
/// magic 0x00bab10c in the writer's byte order, in 1 KiB slots (larger
/// with a larger ashift, whose first slots are still 1 KiB-aligned).
fn zfs(dev: &dyn Device) -> Option<Found> {
    const MAGIC: u64 = 0x00ba_b10c;
    for label in [0u64, 256 << 10] {
        let base = label + (128 << 10);
        let Some(ring) = bytes_at(dev, base, 128 << 10) else {
            continue;
        };
        for (i, slot) in ring.chunks_exact(1024).enumerate() {
            let Some(m) = slot.get(..8).and_then(|s| <[u8; 8]>::try_from(s).ok()) else {
                continue;
            };
            if [Endian::Little, Endian::Big]
                .into_iter()
                .any(|e| wire::get_uint(&m, e) == Some(MAGIC))
            {
                return Some(Found {
                    what: "a ZFS pool member (vdev label)".into(),
                    offset: base + i as u64 * 1024,
                });
            }
        }
    }
    None
}

/// Boot-sector formats, all with 0x55 0xAA at 510: NTFS and exFAT name
/// themselves at byte 3 (OEM name); FAT12/16 carry "FAT" at 54 and FAT32
/// at 82 (the BPB's file-system type field).
fn boot_sector(dev: &dyn Device) -> Option<Found> {
    let s = bytes_at(dev, 0, 512)?;
    if s.get(510..512)? != [0x55, 0xaa] {
        return None;
    }
    let found = |what: &str, offset: u64| {
        Some(Found {
            what: what.into(),
            offset,
        })
    };
    match (s.get(3..11)?, s.get(54..59)?, s.get(82..87)?) {
        (b"NTFS    ", _, _) => found("an NTFS file system", 3),
        (b"EXFAT   ", _, _) => found("an exFAT file system", 3),
        (_, _, b"FAT32") => found("a FAT32 file system", 82),
        (_, b"FAT12" | b"FAT16" | b"FAT  ", _) => found("a FAT file system", 54),
        _ => None,
    }
}

/// Linux swap: "SWAPSPACE2" (or the old "SWAP-SPACE") in the last 10
/// bytes of the first page, for the page sizes Linux uses.
fn swap(dev: &dyn Device) -> Option<Found> {
    [4096u64, 8192, 16384, 65536].into_iter().find_map(|page| {
        let at = page - 10;
        (has(dev, at, b"SWAPSPACE2") || has(dev, at, b"SWAP-SPACE")).then(|| Found {
            what: "Linux swap space".into(),
            offset: at,
        })
    })
}

/// Every signature this module knows, most specific first. `None` when
/// none is there (a UFS superblock is not looked for here; see
/// [`crate::Superblock::probe`]).
pub fn foreign(dev: &dyn Device) -> Option<Found> {
    let simple: &[(u64, &[u8], &str)] = &[
        // LUKS1 and LUKS2 headers start with "LUKS\xba\xbe".
        (0, b"LUKS\xba\xbe", "a LUKS encrypted volume"),
        // XFS: sb_magicnum "XFSB" at byte 0.
        (0, b"XFSB", "an XFS file system"),
        // Btrfs: the superblock at 64 KiB, magic "_BHRfS_M" at +64.
        (65536 + 64, b"_BHRfS_M", "a Btrfs file system"),
        // ISO 9660: volume descriptors from sector 16 (2048-byte sectors),
        // "CD001" after the one-byte type.
        (32769, b"CD001", "an ISO 9660 file system"),
    ];
    for &(offset, magic, what) in simple {
        if has(dev, offset, magic) {
            return Some(Found {
                what: what.into(),
                offset,
            });
        }
    }
    if let Some(f) = ext(dev).or_else(|| zfs(dev)).or_else(|| swap(dev)) {
        return Some(f);
    }
    // A partition table before a FAT/NTFS boot sector: an MBR's entries
    // are checked to be entries, which a boot sector's code is not.
    if let Some(d) = crate::disk::probe(dev) {
        return Some(Found {
            what: format!(
                "a {} partition table ({} partitions)",
                d.scheme,
                d.partitions.len()
            ),
            offset: match d.scheme {
                crate::disk::Scheme::Gpt => 512,
                crate::disk::Scheme::Mbr => 510,
                crate::disk::Scheme::BsdLabel => 512,
            },
        });
    }
    boot_sector(dev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_hold_nothing() {
        assert_eq!(foreign(&vec![0u8; 1 << 20]), None);
    }

    #[test]
    fn short_images_are_not_read_past_their_end() {
        assert_eq!(foreign(&vec![0u8; 10]), None);
    }

    #[test]
    fn ext4_is_told_from_ext2() {
        let mut d = vec![0u8; 1 << 16];
        d[1024 + 56] = 0x53;
        d[1024 + 57] = 0xef;
        assert_eq!(foreign(&d).unwrap().what, "an ext2 file system");
        d[1024 + 96] = 0x40;
        assert_eq!(foreign(&d).unwrap().what, "an ext4 file system");
    }

    #[test]
    fn zfs_uberblock_in_either_byte_order() {
        let mut d = vec![0u8; 1 << 20];
        let at = (128 << 10) + 5 * 1024;
        wire::put_uint(&mut d[at..at + 8], Endian::Big, 0x00ba_b10c);
        assert_eq!(foreign(&d).unwrap().offset, at as u64);
    }
}
