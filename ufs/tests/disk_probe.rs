//! Partition-table and signature probing on untrusted bytes: whatever the
//! image holds, `disk::probe`, `disk::locate` and `signature::foreign`
//! return (no panic, no read past the image) and every partition
//! `locate` chooses lies inside the image.

use proptest::prelude::*;
use ufskit::{disk, signature};

/// A disk whose sector 0 (MBR), 1 (GPT header or BSD label) and the
/// sectors after them are random, with the signatures set often enough
/// that the parsers get past their first checks.
fn image() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(any::<u8>(), 512 * 4..512 * 40),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mut d, mbr, gpt, label)| {
            if mbr {
                d[510] = 0x55;
                d[511] = 0xaa;
                for i in 0..4 {
                    d[446 + 16 * i] = 0;
                }
            }
            if gpt {
                d[512..520].copy_from_slice(b"EFI PART");
            }
            if label {
                let at = if gpt { 1024 } else { 512 };
                d[at..at + 4].copy_from_slice(&0x8256_4557u32.to_le_bytes());
                d[at + 132..at + 136].copy_from_slice(&0x8256_4557u32.to_le_bytes());
                // A valid checksum over a declared count of random entries
                // (sometimes more than the 20 allowed).
                let n = usize::from(d[at + 138] % 24);
                d[at + 138..at + 140].copy_from_slice(&(n as u16).to_le_bytes());
                d[at + 136..at + 138].fill(0);
                let end = (148 + 16 * n).min(512);
                let sum = d[at..at + end]
                    .chunks_exact(2)
                    .fold(0u16, |x, w| x ^ u16::from_le_bytes([w[0], w[1]]));
                d[at + 136..at + 138].copy_from_slice(&sum.to_le_bytes());
            }
            d
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn probing_random_disks_never_fails_badly(d in image(), want in proptest::option::of("[0-9a-h]{1,3}")) {
        let _ = signature::foreign(&d);
        if let Some(disk) = disk::probe(&d) {
            prop_assert!(disk.partitions.len() < 10_000);
        }
        if let Ok(Some(p)) = disk::locate(&d, want.as_deref()) {
            prop_assert!(p.offset.checked_add(p.size).is_some_and(|e| e <= d.len() as u64));
        }
    }
}
