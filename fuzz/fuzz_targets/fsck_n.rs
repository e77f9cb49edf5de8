//! Arbitrary bytes as an image (as is, and zero-padded to 4 MiB):
//! `fsck -n -f`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for img in ufskit_fuzz::variants(data) {
        let _ = ufskit_fuzz::fsck_n(&img);
    }
});
