//! newfs layout against FreeBSD 12.1's own newfs/dumpfs output.
//!
//! For every case of `tests/images/newfs/layout.tsv` (copied from the
//! reference pack), rebuilds the newfs options from the case's `.cmd`, runs
//! `compute` with FreeBSD 12.1's defaults and compares every superblock field
//! the table holds, the exact newfs stdout, the `cs[]` summary of every group
//! dumpfs printed, and the cg 0 / last cg sections (counts, frsum, cluster
//! sums, free-fragment and used-inode lists). All mismatches of a case are
//! collected and printed before the test fails.

// A test reports failure by panicking.
#![allow(clippy::panic)]

mod common;

use proptest::prelude::*;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use ufskit::newfs::layout::{compute, journal_text, summary_text, Layout};
use ufskit::newfs::options::{parse_size, NewfsOptions, Optim};
use ufskit::UfsVersion;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/images/newfs")
}

fn read(name: &str) -> String {
    let p = data_dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The device size and newfs arguments of a case, from its `.cmd` file.
fn case_command(case: &str) -> (u64, Vec<String>) {
    let cmd = read(&format!("{case}.cmd"));
    let mut size = None;
    let mut args = None;
    for line in cmd.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["truncate", "-s", s, _] => size = Some(parse_size(s).expect("size")),
            ["newfs", rest @ ..] => {
                let n = rest.len().saturating_sub(1);
                args = Some(rest[..n].iter().map(|s| s.to_string()).collect());
            }
            _ => {}
        }
    }
    (size.expect("truncate line"), args.expect("newfs line"))
}

fn options_for(args: &[String]) -> NewfsOptions {
    let mut o = NewfsOptions::freebsd_12_1();
    // getopt also takes a value glued to its flag ("-O1").
    let split: Vec<String> = args
        .iter()
        .flat_map(|a| {
            if a.len() > 2 && a.starts_with('-') && "OLSbcefghikmo".contains(&a[1..2]) {
                vec![a[..2].to_string(), a[2..].to_string()]
            } else {
                vec![a.clone()]
            }
        })
        .collect();
    let mut it = split.iter();
    let num = |v: Option<&String>| -> u32 { v.expect("value").parse().expect("number") };
    while let Some(a) = it.next() {
        match a.as_str() {
            "-O" => {
                o.version = match num(it.next()) {
                    1 => UfsVersion::Ufs1,
                    _ => UfsVersion::Ufs2,
                }
            }
            "-L" => o.label = it.next().cloned(),
            "-S" => o.sector_size = Some(num(it.next())),
            "-U" => o.soft_updates = true,
            "-R" => o.regression = true,
            "-j" => o.journal = true,
            "-n" => o.no_snap = true,
            "-t" => o.trim = true,
            "-b" => o.bsize = Some(num(it.next())),
            "-f" => o.fsize = Some(num(it.next())),
            "-c" => o.maxfpg = Some(num(it.next())),
            "-e" => o.maxbpg = Some(num(it.next())),
            "-g" => o.avgfilesize = Some(num(it.next())),
            "-h" => o.avgfpdir = Some(num(it.next())),
            "-i" => o.density = Some(num(it.next())),
            "-k" => o.metaspace = Some(num(it.next())),
            "-m" => o.minfree = Some(num(it.next())),
            "-o" => {
                o.optim = Some(match it.next().map(String::as_str) {
                    Some("space") => Optim::Space,
                    _ => Optim::Time,
                })
            }
            other => panic!("option {other} not handled by this test"),
        }
    }
    o
}

/// dumpfs's `flags` line as layout.tsv records it.
fn flags_text(flags: i32) -> String {
    if flags == 0 {
        return "none".into();
    }
    let mut names = Vec::new();
    if flags & 0x01 != 0 {
        names.push("unclean");
    }
    match (flags & 0x02 != 0, flags & 0x08 != 0) {
        (true, true) => names.push("soft-updates+journal"),
        (true, false) => names.push("soft-updates"),
        (false, true) => names.push("journal"),
        _ => {}
    }
    if flags & 0x04 != 0 {
        names.push("needs-fsck-run");
    }
    if flags & 0x40 != 0 {
        names.push("gjournal");
    }
    if flags & 0x20 != 0 {
        names.push("multilabel");
    }
    if flags & 0x400 != 0 {
        names.push("trim");
    }
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(" ")
    }
}

fn ckhash_text(h: u32) -> String {
    let mut names = Vec::new();
    if h & 1 != 0 {
        names.push("superblock");
    }
    if h & 2 != 0 {
        names.push("cylinder-groups");
    }
    if h & 4 != 0 {
        names.push("inodes");
    }
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(" ")
    }
}

/// Numbers as dumpfs prints lists: "0-3", "57-63, 65-71".
fn ranges_text(ranges: &[std::ops::Range<u64>]) -> String {
    ranges
        .iter()
        .map(|r| {
            if r.end - r.start == 1 {
                r.start.to_string()
            } else {
                format!("{}-{}", r.start, r.end - 1)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn inode_ranges(mut inos: Vec<u32>) -> Vec<std::ops::Range<u64>> {
    inos.sort_unstable();
    let mut out: Vec<std::ops::Range<u64>> = Vec::new();
    for i in inos.into_iter().map(u64::from) {
        match out.last_mut() {
            Some(r) if r.end == i => r.end += 1,
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// The values of the superblock fields layout.tsv names.
fn layout_fields(l: &Layout) -> HashMap<&'static str, String> {
    let sb = &l.sb;
    let ufs1 = sb.fs_magic == 0x011954;
    let mut m = HashMap::new();
    let mut put = |k: &'static str, v: String| {
        m.insert(k, v);
    };
    put("ncg", sb.fs_ncg.to_string());
    put("size", sb.fs_size.to_string());
    put("blocks", sb.fs_dsize.to_string());
    put("bsize", sb.fs_bsize.to_string());
    put("fsize", sb.fs_fsize.to_string());
    put("frag", sb.fs_frag.to_string());
    put("fsbtodb", sb.fs_fsbtodb.to_string());
    put("minfree", sb.fs_minfree.to_string());
    put(
        "optim",
        if sb.fs_optim == 1 { "space" } else { "time" }.to_string(),
    );
    put("symlinklen", sb.fs_maxsymlinklen.to_string());
    put(
        "maxbsize",
        if ufs1 {
            String::new()
        } else {
            sb.fs_maxbsize.to_string()
        },
    );
    put("maxbpg", sb.fs_maxbpg.to_string());
    put("maxcontig", sb.fs_maxcontig.to_string());
    put("contigsumsize", sb.fs_contigsumsize.to_string());
    put("ndir", sb.fs_cstotal[0].to_string());
    put("nbfree", sb.fs_cstotal[1].to_string());
    put("nifree", sb.fs_cstotal[2].to_string());
    put("nffree", sb.fs_cstotal[3].to_string());
    put(
        "cpg",
        if ufs1 {
            sb.fs_old_cpg.to_string()
        } else {
            String::new()
        },
    );
    put("bpg", (sb.fs_fpg / sb.fs_frag).to_string());
    put("fpg", sb.fs_fpg.to_string());
    put("ipg", sb.fs_ipg.to_string());
    put("nindir", sb.fs_nindir.to_string());
    put("inopb", sb.fs_inopb.to_string());
    put("maxfilesize", sb.fs_maxfilesize.to_string());
    put("sbsize", sb.fs_sbsize.to_string());
    put("cgsize", sb.fs_cgsize.to_string());
    put(
        "cgoffset",
        if ufs1 {
            sb.fs_old_cgoffset.to_string()
        } else {
            String::new()
        },
    );
    put("csaddr", sb.fs_csaddr.to_string());
    put("cssize", sb.fs_cssize.to_string());
    put("sblkno", sb.fs_sblkno.to_string());
    put("cblkno", sb.fs_cblkno.to_string());
    put("iblkno", sb.fs_iblkno.to_string());
    put("dblkno", sb.fs_dblkno.to_string());
    put("metaspace", sb.fs_metaspace.to_string());
    put("avgfpdir", sb.fs_avgfpdir.to_string());
    put("avgfilesize", sb.fs_avgfilesize.to_string());
    put("flags", flags_text(sb.fs_flags));
    put("check_hashes", ckhash_text(sb.fs_metackhash));
    let vol = sb.fs_volname.split(|&b| b == 0).next().unwrap_or(&[]);
    put("volname", String::from_utf8_lossy(vol).into_owned());
    put("providersize", sb.fs_providersize.to_string());
    let last_blocks = match l.cgs.last() {
        Some(cg) if sb.fs_size % i64::from(sb.fs_fpg) != 0 => {
            (i64::from(cg.ndblk) / i64::from(sb.fs_frag)).to_string()
        }
        _ => String::new(),
    };
    put("last_cg_blocks", last_blocks);
    put(
        "initiblk_cg0",
        if ufs1 {
            String::new()
        } else {
            l.cgs.first().map_or(0, |c| c.initediblk).to_string()
        },
    );
    put("magic", if ufs1 { "UFS1" } else { "UFS2" }.to_string());
    m
}

/// The `cg N:` section of a dumpfs text, if present.
fn cg_section(dumpfs: &str, n: usize) -> Option<&str> {
    let head = format!("cg {n}:\n");
    let start = dumpfs.find(&head)?;
    let rest = &dumpfs[start..];
    let end = rest.find("\n\n").map_or(rest.len(), |e| e + 1);
    Some(&rest[..end])
}

fn field_after<'a>(section: &'a str, prefix: &str) -> Option<&'a str> {
    section
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::trim)
}

/// Compares one `cg N:` section with the plan.
fn check_cg(l: &Layout, n: usize, section: &str, errs: &mut Vec<String>) {
    let Some(cg) = l.cgs.get(n) else {
        errs.push(format!("cg {n}: no plan"));
        return;
    };
    let nums = |s: &str| -> Vec<i64> {
        s.split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect()
    };
    // "nbfree N ndir N nifree N nffree N"
    if let Some(line) = section.lines().find(|l| l.starts_with("nbfree")) {
        let v = nums(line);
        let mine = vec![
            i64::from(cg.cs.cs_nbfree),
            i64::from(cg.cs.cs_ndir),
            i64::from(cg.cs.cs_nifree),
            i64::from(cg.cs.cs_nffree),
        ];
        if v != mine {
            errs.push(format!("cg {n} counts: dumpfs {v:?}, ours {mine:?}"));
        }
    }
    if let Some(line) = section.lines().find(|l| l.starts_with("cgx")) {
        let w: Vec<&str> = line.split_whitespace().collect();
        for pair in w.chunks(2) {
            if let [k, v] = pair {
                let mine = match *k {
                    "ndblk" => cg.ndblk.to_string(),
                    "niblk" if cg.old_niblk != 0 => cg.old_niblk.to_string(),
                    "niblk" => cg.niblk.to_string(),
                    "initiblk" => cg.initediblk.to_string(),
                    "ncyl" => cg.old_ncyl.to_string(),
                    _ => continue,
                };
                if *v != mine {
                    errs.push(format!("cg {n} {k}: dumpfs {v}, ours {mine}"));
                }
            }
        }
    }
    if let Some(f) = field_after(section, "frsum") {
        let v = nums(f);
        let mine: Vec<i64> = cg.frsum[1..].iter().map(|&x| i64::from(x)).collect();
        let len = v.len().min(mine.len());
        if v[..len] != mine[..len] || mine[len..].iter().any(|&x| x != 0) {
            errs.push(format!("cg {n} frsum: dumpfs {v:?}, ours {mine:?}"));
        }
    }
    let mut sums = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("clusters ")) {
        if line.starts_with("clusters free") {
            continue;
        }
        if let Some(rest) = line.split(':').nth(1) {
            sums.extend(nums(rest));
        }
    }
    if !sums.is_empty() {
        let mine: Vec<i64> = cg
            .clustersum
            .iter()
            .skip(1)
            .map(|&x| i64::from(x))
            .collect();
        if sums != mine {
            errs.push(format!(
                "cg {n} cluster sums: dumpfs {sums:?}, ours {mine:?}"
            ));
        }
    }
    let frag = u32::try_from(l.sb.fs_frag).unwrap_or(1);
    if let Some(v) = field_after(section, "blks free:") {
        let mine: Vec<std::ops::Range<u64>> = cg
            .free_ranges(frag)
            .into_iter()
            .map(|r| u64::from(r.start)..u64::from(r.end))
            .collect();
        let mine = ranges_text(&mine);
        if v != mine {
            errs.push(format!("cg {n} blks free: dumpfs [{v}], ours [{mine}]"));
        }
    }
    if let Some(v) = field_after(section, "inodes used:") {
        let mine = ranges_text(&inode_ranges(cg.inodes_used.clone()));
        if v != mine {
            errs.push(format!("cg {n} inodes used: dumpfs [{v}], ours [{mine}]"));
        }
    }
}

/// newfs computes each group's counts analytically; here they are
/// recomputed by the library's one owner of that arithmetic
/// (`ufskit::counts::group_counts`) from the fragment map newfs writes
/// (`CgPlan::free_ranges`), for every group (groups with the same map are
/// computed once).
fn owner_counts_disagree(l: &Layout, errs: &mut Vec<String>) {
    let frag = u32::try_from(l.sb.fs_frag).unwrap_or(1);
    let contig = u32::try_from(l.sb.fs_contigsumsize).unwrap_or(0);
    let mut seen: HashMap<(Vec<std::ops::Range<u32>>, u32), ufskit::counts::GroupCounts> =
        HashMap::new();
    for cg in &l.cgs {
        let ranges = cg.free_ranges(frag);
        let key = (ranges, cg.ndblk);
        let got = seen.entry(key.clone()).or_insert_with(|| {
            let mut map = vec![false; key.1 as usize];
            for r in &key.0 {
                for f in r.clone() {
                    map[f as usize] = true;
                }
            }
            ufskit::counts::group_counts(|n| map[n as usize], u64::from(key.1), frag, contig)
        });
        let analytic = (
            i64::from(cg.cs.cs_nbfree),
            i64::from(cg.cs.cs_nffree),
            cg.frsum.map(i64::from).to_vec(),
            cg.clustersum
                .iter()
                .map(|&v| i64::from(v))
                .collect::<Vec<_>>(),
        );
        let owner = (
            got.nbfree as i64,
            got.nffree as i64,
            got.frsum.map(i64::from).to_vec(),
            got.clustersum
                .iter()
                .map(|&v| i64::from(v))
                .collect::<Vec<_>>(),
        );
        if analytic != owner {
            errs.push(format!(
                "cg {} (nbfree, nffree, frsum, clustersum): newfs {analytic:?}, from its map {owner:?}",
                cg.cgx
            ));
        }
    }
}

/// Every check for one case (`case` is a path under the data directory
/// without extension); the list of mismatches. `row` is its layout.tsv line.
fn check_case(case: &str, row: Option<(&[&str], &[&str])>) -> Vec<String> {
    let mut errs = Vec::new();
    let (size, args) = case_command(case);
    let opts = options_for(&args);
    let layout = match compute(size, &opts) {
        Ok(l) => l,
        Err(e) => return vec![format!("compute failed: {e}")],
    };
    owner_counts_disagree(&layout, &mut errs);
    let mine = layout_fields(&layout);
    if let Some((header, row)) = row {
        for (k, v) in header.iter().zip(row.iter()) {
            if let Some(m) = mine.get(k) {
                if m != v {
                    errs.push(format!("{k}: reference {v:?}, ours {m:?}"));
                }
            }
        }
    }
    let case_name = case.rsplit('/').next().unwrap_or(case);

    // newfs stdout; with -j tunefs's line follows newfs's lost last newline.
    let expected = read(&format!("{case}.newfs.txt"));
    let mut got = summary_text(&format!("./{case_name}.img"), &layout);
    if let Some(j) = journal_text(&layout) {
        got.pop();
        got.push_str(&j);
    }
    if got != expected {
        errs.push(format!(
            "newfs stdout differs:\n--- reference\n{expected}--- ours\n{got}---"
        ));
    }
    if let Ok(stderr) = std::fs::read_to_string(data_dir().join(format!("{case}.newfs.stderr.txt")))
    {
        let got: String = layout.warnings.iter().map(|w| format!("{w}\n")).collect();
        if got != stderr {
            errs.push(format!("stderr: reference {stderr:?}, ours {got:?}"));
        }
    }

    let dumpfs = read(&format!("{case}.dumpfs.txt"));
    if opts.regression && layout.sb.fs_magic != 0x011954 {
        let want = format!(
            "id\t[ {:x} {:08x} ]",
            layout.sb.fs_id[0], layout.sb.fs_id[1]
        );
        if !dumpfs.contains(&want) {
            errs.push(format!("dumpfs has no {want:?}"));
        }
    }
    if let Some(start) = dumpfs.find("cs[].cs_(nbfree,ndir,nifree,nffree):\n") {
        let body = &dumpfs[start..];
        let body = &body[..body.find("\n\n").unwrap_or(body.len())];
        let tuples: Vec<Vec<i64>> = body
            .split('(')
            .skip(2)
            .map(|t| {
                t.split(')')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .filter_map(|x| x.trim().parse().ok())
                    .collect()
            })
            .collect();
        if tuples.len() != layout.cgs.len() {
            errs.push(format!(
                "cs[]: dumpfs lists {} groups, ours {}",
                tuples.len(),
                layout.cgs.len()
            ));
        }
        let mut bad = 0;
        for (i, (t, cg)) in tuples.iter().zip(&layout.cgs).enumerate() {
            let mine = vec![
                i64::from(cg.cs.cs_nbfree),
                i64::from(cg.cs.cs_ndir),
                i64::from(cg.cs.cs_nifree),
                i64::from(cg.cs.cs_nffree),
            ];
            if *t != mine {
                bad += 1;
                if bad <= 5 {
                    errs.push(format!("cs[{i}]: dumpfs {t:?}, ours {mine:?}"));
                }
            }
        }
        if bad > 5 {
            errs.push(format!("cs[]: {} more groups differ", bad - 5));
        }
    } else {
        errs.push("dumpfs has no cs[] summary".into());
    }
    let last = layout.cgs.len().saturating_sub(1);
    for n in (0..=last).filter(|&n| n < 2 || n + 1 >= last) {
        if let Some(sec) = cg_section(&dumpfs, n) {
            check_cg(&layout, n, sec, &mut errs);
        } else if n == 0 {
            errs.push("dumpfs has no cg 0 section".into());
        }
    }
    errs
}

#[test]
fn every_reference_case_matches_freebsd_12_1() {
    let tsv = read("layout.tsv");
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let mut report = String::new();
    let mut cases = 0;
    let mut failed = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let row: Vec<&str> = line.split('\t').collect();
        cases += 1;
        let errs = check_case(row[0], Some((&header, &row)));
        if !errs.is_empty() {
            failed += 1;
            let _ = writeln!(report, "== {} ({} mismatches)", row[0], errs.len());
            for e in errs {
                let _ = writeln!(report, "  {e}");
            }
        }
    }
    assert_eq!(cases, 30, "layout.tsv should list 30 cases");
    assert!(failed == 0, "{failed} of {cases} cases differ:\n{report}");
}

/// The small images of the pack (section 2), including `-R` runs and the
/// 16 MiB `-U -j` image whose journal does not fit in cg 0.
#[test]
fn reference_images_match_freebsd_12_1() {
    let mut report = String::new();
    let mut n = 0;
    for case in common::FREEBSD_IMAGES {
        n += 1;
        let errs = check_case(&format!("images/{case}"), None);
        if !errs.is_empty() {
            let _ = writeln!(report, "== {case}");
            for e in errs {
                let _ = writeln!(report, "  {e}");
            }
        }
    }
    assert_eq!(n, 8);
    assert!(report.is_empty(), "{report}");
}

#[test]
fn current_freebsd_defaults_differ_only_where_documented() {
    let old = compute(1 << 30, &NewfsOptions::freebsd_12_1()).expect("12.1");
    let new = compute(1 << 30, &NewfsOptions::default()).expect("current");
    assert_eq!(old.sb.fs_metackhash, 0x2);
    assert_eq!(new.sb.fs_metackhash, 0x7);
    // 1 MiB MAXPHYS: maxcontig 32, so the full 16-entry cluster summary.
    assert_eq!(new.sb.fs_maxcontig, 32);
    assert_eq!(new.sb.fs_contigsumsize, 16);
    assert_eq!(new.sb.fs_flags, 0x200);
}

#[test]
fn bad_options_are_typed_errors() {
    use ufskit::newfs::options::LayoutError as E;
    let with = |f: &dyn Fn(&mut NewfsOptions)| {
        let mut o = NewfsOptions::freebsd_12_1();
        f(&mut o);
        compute(1 << 30, &o)
    };
    assert!(matches!(
        with(&|o| o.fsize = Some(3000)),
        Err(E::FragSizeNotPowerOf2(3000))
    ));
    assert!(matches!(
        with(&|o| o.bsize = Some(2048)),
        Err(E::BlockSizeTooSmall(2048))
    ));
    assert!(matches!(
        with(&|o| o.bsize = Some(131072)),
        Err(E::BlockSizeTooLarge(_))
    ));
    assert!(matches!(
        with(&|o| {
            o.bsize = Some(32768);
            o.fsize = Some(2048)
        }),
        Err(E::FragSizeTooSmallForBlock { .. })
    ));
    assert!(matches!(
        with(&|o| {
            o.bsize = Some(8192);
            o.fsize = Some(16384)
        }),
        Err(E::FragSizeLargerThanBlock { .. })
    ));
    assert!(matches!(
        with(&|o| o.density = Some(0)),
        Err(E::BadDensity(0))
    ));
    assert!(matches!(
        with(&|o| o.minfree = Some(100)),
        Err(E::BadMinfree(100))
    ));
    assert!(matches!(
        with(&|o| o.label = Some("a b".into())),
        Err(E::BadLabelChars)
    ));
    assert!(matches!(
        compute(64 * 1024, &NewfsOptions::freebsd_12_1()),
        Err(E::TooSmall { .. })
    ));
    assert!(compute(100, &NewfsOptions::default()).is_err());
    // A defaulted fragment size follows a large block size, as in newfs.
    let mut o = NewfsOptions::freebsd_12_1();
    o.bsize = Some(65536);
    let l = compute(1 << 30, &o).expect("-b 65536 alone");
    assert_eq!(l.sb.fs_fsize, 8192);
}

fn arb_options() -> impl Strategy<Value = NewfsOptions> {
    let pow2 = |lo: u32, hi: u32| prop_oneof![(lo..=hi).prop_map(|e| 1u32 << e), any::<u32>()];
    (
        any::<bool>(),
        proptest::option::of(pow2(9, 17)),
        proptest::option::of(pow2(8, 17)),
        proptest::option::of(any::<u32>()),
        proptest::option::of(0u32..120),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(pow2(9, 16)),
        ),
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
        ),
    )
        .prop_map(
            |(ufs1, bsize, fsize, density, minfree, maxfpg, metaspace, maxcontig, flags, more)| {
                let mut o = NewfsOptions::freebsd_12_1();
                if ufs1 {
                    o.version = UfsVersion::Ufs1;
                }
                o.bsize = bsize;
                o.fsize = fsize;
                o.density = density;
                o.minfree = minfree;
                o.maxfpg = maxfpg;
                o.metaspace = metaspace;
                o.maxcontig = maxcontig;
                o.no_snap = flags.0;
                o.journal = flags.1;
                o.sector_size = flags.2;
                o.maxbpg = more.0;
                o.maxbsize = more.1;
                o.regression = true;
                o
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Arbitrary sizes and options give a layout or an error, never a panic,
    /// and a layout's own invariants hold.
    #[test]
    fn compute_never_panics(
        size in prop_oneof![0u64..(64 << 20), any::<u64>(), (1u64 << 20)..(1u64 << 42)],
        opts in arb_options(),
    ) {
        if let Ok(l) = compute(size, &opts) {
            prop_assert_eq!(l.cgs.len() as u64, u64::from(l.sb.fs_ncg));
            prop_assert!(l.sb.fs_cgsize <= l.sb.fs_bsize);
            let sum: i64 = l.cgs.iter().map(|c| i64::from(c.cs.cs_nbfree)).sum();
            prop_assert_eq!(sum, l.sb.fs_cstotal[1]);
            let _ = summary_text("./x.img", &l);
        }
    }
}
