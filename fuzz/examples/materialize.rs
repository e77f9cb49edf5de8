//! Turns a `mutate_valid` input into the image it describes (for
//! regression tests): `cargo run --release --example materialize IN OUT`;
//! with `--fsck-repair` after OUT, an `fsck_repair` input (its five bases).
use arbitrary::{Arbitrary, Unstructured};

#[derive(Debug, Arbitrary)]
struct Input {
    base: u8,
    edits: Vec<(u32, u8)>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("read input");
    let input = Input::arbitrary_take_rest(Unstructured::new(&data)).expect("decode");
    eprintln!("{input:?}");
    let bases = if args.get(3).is_some_and(|a| a == "--fsck-repair") {
        ufskit_fuzz::repair_bases()
    } else {
        ufskit_fuzz::bases()
    };
    let base = &bases[input.base as usize % bases.len()];
    let mut img = base.image.clone();
    for &(off, val) in input.edits.iter().take(64) {
        let at = ufskit_fuzz::edit_offset(base, off);
        eprintln!("  byte {at:#x}: {:#04x} -> {val:#04x}", img[at]);
        img[at] = val;
    }
    std::fs::write(&args[2], &img).expect("write");
}
