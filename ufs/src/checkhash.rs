//! CRC-32C metadata check hashes (superblock, cylinder groups, UFS2 inodes).
//!
//! FreeBSD computes each hash over the structure's on-disk bytes with the hash
//! field itself taken as zero (`ffs_calc_sbhash`, `cgckhash` in ffs_subr.c and
//! ffs_alloc.c, `ffs_update_dinode_ckhash`). Which hashes apply is given by
//! `fs_metackhash` (`CK_SUPERBLOCK`, `CK_CYLGRP`, `CK_INODE`).

// Hardware CRC-32C (SSE 4.2 / ARMv8 CRC, chosen at run time, with a
// table fallback): fsck hashes every inode in use, and with slice-by-16
// tables that was still a third of a full check's instructions, more than
// FreeBSD's fsck_ffs spent on the whole check.

/// CRC-32C of `bytes` with the 4 bytes at `hash_offset` taken as zero.
///
/// Returns the value FreeBSD stores: its `calculate_crc32c(~0, ...)` returns
/// the register without the final inversion, so the standard (inverted)
/// CRC-32C is inverted back here.
pub fn compute(bytes: &[u8], hash_offset: usize) -> u32 {
    // An inode is hashed in one call from a copy with the field zeroed:
    // three calls cost more than the copy.
    let mut copy = [0u8; 256];
    if let Some(c) = copy.get_mut(..bytes.len()) {
        c.copy_from_slice(bytes);
        if let Some(f) = c.get_mut(hash_offset..hash_offset.saturating_add(4).min(bytes.len())) {
            f.fill(0);
        }
        return !crc32c::crc32c(c);
    }
    let end = hash_offset.saturating_add(4).min(bytes.len());
    let start = hash_offset.min(bytes.len());
    let crc = crc32c::crc32c(&bytes[..start]);
    let crc = crc32c::crc32c_append(crc, &[0u8; 4][..end - start]);
    !crc32c::crc32c_append(crc, &bytes[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ignores_its_own_field() {
        let mut a = vec![7u8; 64];
        let h1 = compute(&a, 8);
        a[8..12].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(compute(&a, 8), h1);
        a[20] = 0;
        assert_ne!(compute(&a, 8), h1);
    }

    #[test]
    fn matches_the_crc32c_check_value_uninverted() {
        // The standard CRC-32C check value of "123456789" is 0xE3069283;
        // FreeBSD's stored form is its complement. A hash field past the
        // end covers nothing.
        let d = b"123456789";
        assert_eq!(compute(&d[..], d.len()), !0xE306_9283);
    }

    #[test]
    fn agrees_with_the_table_crc_over_inode_sized_records() {
        // The table-driven CRC-32C of the `crc` crate, with the hash field
        // zeroed by hand, is the independent reference; every length up to
        // a UFS2 inode and every field position meets the hardware path's
        // 8-byte steps and its tails.
        let table = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
        let data: Vec<u8> = (0..256u32).map(|i| ((i * 151 + 7) & 0xff) as u8).collect();
        for len in [0usize, 1, 5, 8, 13, 64, 100, 255, 256] {
            for off in [0usize, 3, 8, 60, 120, 252, 300] {
                let mut z = data[..len].to_vec();
                let s = off.min(len);
                let e = (off + 4).min(len);
                z[s..e].fill(0);
                assert_eq!(
                    compute(&data[..len], off),
                    !table.checksum(&z),
                    "len {len} off {off}"
                );
            }
        }
    }
}
