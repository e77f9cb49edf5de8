//! Mutation sweep (issue 14): random metadata mutations of a populated
//! image (fixed seed), each read by `info`, `ls -R`, `mtree`, `extract`
//! and `fsck -n -f`: every command finishes within 5 s and never panics.
//!
//! `UFS_SWEEP_MUTATIONS` sets the number of mutated images (default 100;
//! docs/testing.md records a 1,000 run), `UFS_SWEEP_SEED` the seed,
//! `UFS_SWEEP_FIRST` the first image's index (a failure names its index;
//! `UFS_SWEEP_FIRST=i UFS_SWEEP_MUTATIONS=1` replays it alone).

mod common;

use common::{run_bounded, ufs_bin, ufs_ok, unpack};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// splitmix64: a fixed, dependency-free sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The image's metadata as byte ranges, named: the primary superblock,
/// each cylinder group's header and its first inodes, and every
/// directory and indirect block (from `ufs stat`).
fn metadata(img: &Path) -> Vec<(String, u64, u64)> {
    let f = common::dumpfs_fields(img, &["fsize", "fpg", "ncg", "cblkno", "iblkno", "bsize"]);
    let (fsize, fpg, ncg, cblkno, iblkno, bsize) = (f[0], f[1], f[2], f[3], f[4], f[5]);
    let mut r = vec![("superblock".to_string(), 65536, 8192)];
    for c in 0..ncg {
        r.push((format!("cg {c} header"), (c * fpg + cblkno) * fsize, bsize));
        r.push((
            format!("cg {c} inodes"),
            (c * fpg + iblkno) * fsize,
            64 * 256,
        ));
    }
    let ls = ufs_ok(["ls".as_ref(), "-R".as_ref(), img.as_os_str()]);
    let mut dirs = vec!["/".to_string()];
    dirs.extend(
        ls.lines()
            .filter(|l| l.starts_with('/') && l.ends_with(':'))
            .map(|l| l.trim_end_matches(':').to_string()),
    );
    for p in ["/data/indirect420000.bin", "/data/sparse.bin"] {
        dirs.push(p.to_string());
    }
    for p in dirs {
        let st = ufs_ok(["stat".as_ref(), img.as_os_str(), p.as_ref()]);
        for l in st.lines().filter(|l| l.starts_with("block:")) {
            // "block: lbn 0..11 -> frags A..B (N bytes)" or
            // "block: indirect level 1 (from lbn 12) at frag N"
            let w: Vec<&str> = l.split_whitespace().collect();
            if let Some(k) = w.iter().position(|x| *x == "frags") {
                let (a, b) = w[k + 1].split_once("..").expect("range");
                let a: u64 = a.parse().expect("frag");
                let b: u64 = b.parse().expect("frag");
                if !p.starts_with("/data/") {
                    r.push((format!("dir {p}"), a * fsize, (b + 1 - a) * fsize));
                }
            } else if let Some(k) = w.iter().position(|x| *x == "frag") {
                let a: u64 = w[k + 1].parse().expect("frag");
                r.push((format!("indirect of {p}"), a * fsize, bsize));
            }
        }
    }
    r
}

/// One mutation of `img` in memory: a bit flip, a random byte, or a
/// 4- or 8-byte word set to 0, all ones or a random value.
fn mutate(img: &mut [u8], rng: &mut Rng, regions: &[(String, u64, u64)]) -> String {
    let (name, start, len) = &regions[rng.below(regions.len() as u64) as usize];
    let off = (start + rng.below(*len)) as usize;
    let off = off.min(img.len() - 8);
    match rng.below(5) {
        0 => {
            let bit = rng.below(8);
            img[off] ^= 1 << bit;
            format!("{name}: bit {bit} of byte {off}")
        }
        1 => {
            img[off] = rng.next() as u8;
            format!("{name}: byte {off} random")
        }
        k => {
            let w = if rng.below(2) == 0 { 4 } else { 8 };
            let o = off & !(w - 1);
            let v: u64 = match k {
                2 => 0,
                3 => u64::MAX,
                _ => rng.next(),
            };
            let v = if w == 4 { v & 0xffff_ffff } else { v };
            img[o..o + w].copy_from_slice(&v.to_le_bytes()[..w]);
            format!("{name}: {w}-byte word at {o} = {v:#x}")
        }
    }
}

#[test]
fn random_metadata_mutations_are_read_quickly_and_without_panic() {
    let n = env_u64("UFS_SWEEP_MUTATIONS", 100);
    let seed = env_u64("UFS_SWEEP_SEED", 14);
    let limit = Duration::from_secs(5);
    let base = unpack("populated/pop-ufs2-16m-b4096.img.zst");
    let regions = metadata(&base.path);
    let pristine = std::fs::read(&base.path).expect("read");
    let first = env_u64("UFS_SWEEP_FIRST", 0);
    let mut worst: BTreeMap<&str, (Duration, String)> = BTreeMap::new();
    let mut codes: BTreeMap<(&str, i32), u64> = BTreeMap::new();
    let started = std::time::Instant::now();
    for i in first..first + n {
        // Each image from its own stream: any one replays alone
        // (UFS_SWEEP_FIRST=i UFS_SWEEP_MUTATIONS=1).
        let mut rng = Rng(seed ^ i.wrapping_mul(0xa076_1d64_78bd_642f));
        let mut bytes = pristine.clone();
        let k = 1 + rng.below(4);
        let what: Vec<String> = (0..k)
            .map(|_| mutate(&mut bytes, &mut rng, &regions))
            .collect();
        let dir = tempfile::tempdir().expect("tmp");
        let img = dir.path().join("m.img");
        std::fs::write(&img, &bytes).expect("write");
        let out = dir.path().join("x");
        let cmds: [(&str, Vec<&std::ffi::OsStr>); 5] = [
            ("info", vec!["info".as_ref(), img.as_os_str()]),
            ("ls -R", vec!["ls".as_ref(), "-R".as_ref(), img.as_os_str()]),
            ("mtree", vec!["mtree".as_ref(), img.as_os_str()]),
            (
                "extract",
                vec!["extract".as_ref(), img.as_os_str(), out.as_os_str()],
            ),
            (
                "fsck -n -f",
                vec![
                    "fsck".as_ref(),
                    "-n".as_ref(),
                    "-f".as_ref(),
                    img.as_os_str(),
                ],
            ),
        ];
        for (name, args) in cmds {
            let mut c = Command::new(ufs_bin());
            c.args(&args);
            let (o, took) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_bounded(&mut c, limit)
            }))
            .unwrap_or_else(|_| panic!("mutation {i} (seed {seed}): {name}: {what:?}"));
            let e = worst.entry(name).or_default();
            if took > e.0 {
                *e = (took, format!("mutation {i}: {what:?}"));
            }
            *codes
                .entry((name, o.status.code().unwrap_or(-1)))
                .or_default() += 1;
        }
    }
    eprintln!(
        "mutation sweep: {n} images (seed {seed}), {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (name, (t, what)) in &worst {
        eprintln!("  {name}: slowest {:.3} s ({what})", t.as_secs_f64());
    }
    for ((name, code), count) in &codes {
        eprintln!("  {name}: exit {code} x{count}");
    }
}
