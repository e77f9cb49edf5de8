//! A valid, populated image with a few byte edits (biased towards
//! metadata): open + walk everything, then `fsck -n -f`.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[derive(Debug, arbitrary::Arbitrary)]
struct Input {
    base: u8,
    edits: Vec<(u32, u8)>,
}

fuzz_target!(|input: Input| {
    let bases = ufskit_fuzz::bases();
    let base = &bases[input.base as usize % bases.len()];
    let mut img = base.image.clone();
    for &(off, val) in input.edits.iter().take(64) {
        let at = ufskit_fuzz::edit_offset(base, off);
        img[at] = val;
    }
    ufskit_fuzz::open_and_walk(&img);
    let _ = ufskit_fuzz::fsck_n(&img);
});
