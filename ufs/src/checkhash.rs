//! CRC-32C metadata check hashes (superblock, cylinder groups, UFS2 inodes).
//!
//! FreeBSD computes each hash over the structure's on-disk bytes with the hash
//! field itself taken as zero (`ffs_calc_sbhash`, `cgckhash` in ffs_subr.c and
//! ffs_alloc.c, `ffs_update_dinode_ckhash`). Which hashes apply is given by
//! `fs_metackhash` (`CK_SUPERBLOCK`, `CK_CYLGRP`, `CK_INODE`).

// Hardware CRC-32C through the crc-fast crate (SSE 4.2 / ARMv8 CRC, chosen
// at run time, with a table fallback). fsck hashes every UFS2 inode in use,
// and a 256-byte inode is too short for the folding that makes long inputs
// fast: it is one chain of 32 dependent CRC instructions, bound by their
// latency (docs/performance.md, issue 18). An inode is therefore hashed as
// two independent halves whose chains overlap, joined by CRC linearity,
// and the hash field's own bytes are taken out the same way (a copy with
// the field zeroed cost a fifth more).

use crate::ondisk::DI_CKHASH_OFFSET;

/// Length of the records hashed in two halves: a UFS2 inode.
const HALVES_LEN: usize = 256;
const HALF: usize = HALVES_LEN / 2;

/// The reflected CRC-32C polynomial.
const POLY: u32 = 0x82F6_3B78;

/// The CRC register `x` after `bits` zero bits (no init, no final inversion).
const fn shift_zero_bits(mut x: u32, bits: usize) -> u32 {
    let mut i = 0;
    while i < bits {
        x = if x & 1 != 0 { (x >> 1) ^ POLY } else { x >> 1 };
        i += 1;
    }
    x
}

/// Byte tables of the linear map "register after `n` zero bytes": the
/// register's image is the XOR of its four bytes' images.
const fn zero_bytes_table(n: usize) -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut k = 0;
    while k < 4 {
        let mut v = 0u32;
        while v < 256 {
            t[k][v as usize] = shift_zero_bits(v << (8 * k), 8 * n);
            v += 1;
        }
        k += 1;
    }
    t
}

/// The register after `HALF` zero bytes, as byte tables (4 KiB).
static AFTER_HALF: [[u32; 256]; 4] = zero_bytes_table(HALF);

/// The register a CRC-32C that starts from all ones has after `HALF` zero
/// bytes: what the second half's standard CRC carries that a CRC started
/// from zero does not.
const ONES_AFTER_HALF: u32 = shift_zero_bits(!0, 8 * HALF);

/// What a UFS2 inode's 4 hash-field bytes add to the register at the end
/// of the inode: the register they make from zero (the field read as a
/// little-endian word) moved past the field and the bytes after it.
static FIELD_TO_END: [[u32; 256]; 4] = zero_bytes_table(HALVES_LEN - DI_CKHASH_OFFSET);

fn apply(table: &[[u32; 256]; 4], x: u32) -> u32 {
    let [a, b, c, d] = x.to_le_bytes();
    table[0][usize::from(a)]
        ^ table[1][usize::from(b)]
        ^ table[2][usize::from(c)]
        ^ table[3][usize::from(d)]
}

/// The register over a 256-byte record's two halves, as one chain.
fn halves(record: &[u8; HALVES_LEN]) -> u32 {
    let (first, second) = record.split_at(HALF);
    // The register over the whole is the first half's register moved past
    // the second half's bytes, XOR the second half's register started
    // from zero.
    let first = !crc_fast::crc32_iscsi(first);
    let second = !crc_fast::crc32_iscsi(second) ^ ONES_AFTER_HALF;
    apply(&AFTER_HALF, first) ^ second
}

/// CRC-32C of `bytes` with the 4 bytes at `hash_offset` taken as zero.
///
/// Returns the value FreeBSD stores: its `calculate_crc32c(~0, ...)` returns
/// the register without the final inversion, so the standard (inverted)
/// CRC-32C is inverted back here.
pub fn compute(bytes: &[u8], hash_offset: usize) -> u32 {
    let end = hash_offset.saturating_add(4).min(bytes.len());
    let start = hash_offset.min(bytes.len());
    if let Ok(record) = <&[u8; HALVES_LEN]>::try_from(bytes) {
        if hash_offset == DI_CKHASH_OFFSET {
            // A UFS2 inode: the field's bytes are hashed with the rest
            // and their part taken out again.
            let [a, b, c, d] = [0, 1, 2, 3].map(|k| record[DI_CKHASH_OFFSET + k]);
            let field = u32::from_le_bytes([a, b, c, d]);
            return halves(record) ^ apply(&FIELD_TO_END, field);
        }
        let mut copy = *record;
        copy[start..end].fill(0);
        return halves(&copy);
    }
    // Superblocks and cylinder groups, a few per check: a copy. (The
    // crate's streaming digest would serve any of its algorithms, and
    // keeps the tables of all of them in the binary: 650 KB.)
    let mut copy = bytes.to_vec();
    copy[start..end].fill(0);
    !crc_fast::crc32_iscsi(&copy)
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
        // 8-byte steps and its tails; at 256 bytes the field also lies
        // across and on either side of the two halves' boundary.
        let table = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
        let data: Vec<u8> = (0..256u32).map(|i| ((i * 151 + 7) & 0xff) as u8).collect();
        for len in [0usize, 1, 5, 8, 13, 64, 100, 255, 256] {
            for off in [0usize, 3, 8, 60, 120, 126, 128, 244, 252, 300] {
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
