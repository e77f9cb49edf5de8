//! Up to 32 write-path operations (create with data, writes at offsets
//! with holes, appends, truncate, mkdir, symlink, link, unlink, rmdir,
//! rename, chmod/chown/utimes/chflags, xattrs, sync) on one of the
//! `mutate_valid` base images, optionally after 1 to 8 byte edits of its
//! metadata (input layout and operations: `src/ops.rs`).
//!
//! Oracle: never a panic. On an unedited base every operation may succeed
//! or fail with an error, but afterwards `sync` succeeds and `fsck -n -f`
//! finds the image clean. On an edited (corrupt) base: only no panic, no
//! hang, bounded memory (the result is then checked with `fsck -n -f`,
//! also only for panics). Reading the result everywhere (the `open_walk`
//! walk) is left out: it cost two thirds of the time per input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ufskit_fuzz::ops;

fuzz_target!(|input: ops::Input| {
    let Some(r) = ops::run(&input) else { return };
    if ops::verbose() {
        eprintln!("base {}, edits {:?}\n{}\nsync -> {:?}", r.base, input.edits, r.log.join("\n"), r.synced);
    }
    if r.clean {
        if let Err(msg) = ops::oracle(&r) {
            panic!("{msg}");
        }
    } else {
        let _ = ufskit_fuzz::fsck_n(&r.image);
    }
});
