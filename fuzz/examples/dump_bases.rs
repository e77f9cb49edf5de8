//! Writes the `mutate_valid` base images to a directory (seeds for the
//! byte-level targets): `cargo run --release --example dump_bases DIR`.
fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    for (i, b) in ufskit_fuzz::bases().iter().enumerate() {
        let p = std::path::Path::new(&dir).join(format!("base-{i}.img"));
        std::fs::write(&p, &b.image).expect("write");
        println!("{}", p.display());
    }
}
