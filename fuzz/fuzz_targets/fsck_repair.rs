//! A valid image with a few byte edits (the `mutate_valid` input): repair
//! it in memory with `fsck -y -f`, then check the result with `fsck -n -f`.
//!
//! Always: no panic, no hang. Whenever the repair says it left the file
//! system clean after changing it (it verifies that itself before marking
//! it clean), the written image must check clean: a difference means the
//! image written is not the state the repair verified.
//!
//! And every repair that ran must leave an image `fsck -n -f` finds
//! clean (or finds no superblock in): one `-y` converges.
//! `UFS_FUZZ_STRICT_REPAIR=0` relaxes that to the first oracle (for
//! hunting other bugs while a convergence bug is open).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use ufskit::fsck::Verdict;

#[derive(Debug, arbitrary::Arbitrary)]
struct Input {
    base: u8,
    edits: Vec<(u32, u8)>,
}

fn strict() -> bool {
    static S: OnceLock<bool> = OnceLock::new();
    *S.get_or_init(|| std::env::var("UFS_FUZZ_STRICT_REPAIR").map_or(true, |v| v != "0"))
}

fuzz_target!(|input: Input| {
    let bases = ufskit_fuzz::repair_bases();
    let base = &bases[input.base as usize % bases.len()];
    let mut img = ufskit_fuzz::apply_edits(base, &input.edits, false);
    let strict = strict();
    let Some((first, rep)) = ufskit_fuzz::fsck_y(&mut img) else {
        return;
    };
    if !strict && !(first.repaired && first.modified) {
        return;
    }
    let Some((second, rep2)) = ufskit_fuzz::fsck_n_report(&img) else {
        panic!("fsck -n fails on the repaired image");
    };
    if matches!(second.verdict, Verdict::Clean | Verdict::NoSuperblock) {
        return;
    }
    panic!(
        "after fsck -y ({:?}, repaired {}, modified {}), fsck -n says {:?}:\n{:#?}\nthe repair said:\n{:#?}",
        first.verdict,
        first.repaired,
        first.modified,
        second.verdict,
        ufskit_fuzz::findings(&rep2),
        ufskit_fuzz::findings(&rep)
    );
});
