//! Arbitrary bytes as an image (as is, and zero-padded to 4 MiB): open,
//! then read everything reachable.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for img in ufskit_fuzz::variants(data) {
        ufskit_fuzz::open_and_walk(&img);
    }
});
