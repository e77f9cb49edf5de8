//! Repairs of the FreeBSD reference corruptions (tests/images/fsck-ref/):
//! one `-y` run must leave each image clean (a read-only check after it
//! finds nothing), and every regular file of the clean source that the
//! repair did not itself decide to remove (the inodes its output names
//! in REMOVE/CLEAR findings, which FreeBSD's recorded repair removes as
//! well) must still be there, under its path or as lost+found/#INO, with
//! the same contents. Files that shared a block are kept (phase 1b gives
//! them copies) but may hold what they shared.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use ufskit::fsck::{check, repair, AnswerMode, CollectingReporter, FsckOptions, Problem, Verdict};
use ufskit::{Follow, Ino, OpenOptions, Ufs};

use common::{REF_KINDS as KINDS, REF_SOURCES as SOURCES};

/// Regular files: inode -> (path, contents).
fn files(img: Vec<u8>) -> BTreeMap<u32, (String, Vec<u8>)> {
    let fs = Ufs::open(Box::new(img), &OpenOptions::read_only()).expect("open");
    let mut out = BTreeMap::new();
    let mut stack = vec![(Ino(2), String::new())];
    let mut seen = BTreeSet::new();
    while let Some((dir, path)) = stack.pop() {
        if !seen.insert(dir.0) {
            continue;
        }
        let Ok(ents) = fs.read_dir(dir) else { continue };
        for e in ents {
            let name = e.name_lossy();
            if name == "." || name == ".." {
                continue;
            }
            let p = format!("{path}/{name}");
            let Ok(ip) = fs.inode(e.ino) else { continue };
            if ip.is_dir() {
                stack.push((e.ino, p));
            } else if ip.mode() & 0o170000 == 0o100000 {
                if let Ok(data) = fs.read_all(e.ino) {
                    out.insert(e.ino.0, (p, data));
                }
            }
        }
    }
    let _ = Follow::All;
    out
}

#[test]
fn reference_corruptions_repair_in_one_run() {
    let mut n = 0;
    let mut failures = Vec::new();
    for src in SOURCES {
        let clean = files(common::load_zst(&format!("populated/{src}.img.zst")));
        for kind in KINDS {
            let mut img = common::load_zst(&format!("fsck-ref/{src}/{kind}.img.zst"));
            let opts = FsckOptions {
                name: format!("{kind}.img"),
                force: true,
                answer: AnswerMode::Yes,
                now: Some(1_588_334_400),
                ..Default::default()
            };
            let mut rep = CollectingReporter::default();
            let o = repair(&mut img, &opts, &mut rep).expect("repair runs");
            n += 1;
            let mut rep2 = CollectingReporter::default();
            let o2 = check(
                &img,
                &FsckOptions {
                    force: true,
                    ..Default::default()
                },
                &mut rep2,
            )
            .expect("check");
            if o2.verdict != Verdict::Clean || !o.repaired {
                failures.push(format!(
                    "{src}/{kind}: not clean after -y:\n{}\n--\n{}",
                    rep.text, rep2.text
                ));
                continue;
            }
            // Inodes the repair removed or cleared on purpose.
            let removed: BTreeSet<u32> = rep
                .findings
                .iter()
                .filter(|(f, _)| matches!(f.question, Some("REMOVE") | Some("CLEAR")))
                .filter_map(|(f, _)| f.ino)
                .collect();
            // Files that shared blocks: fsck_ffs removes them all; ufskit
            // gives all but one copies, so they stay, but the damaged one
            // now holds what it shared (which one was damaged is not known
            // here), so only their presence is checked.
            let shared: BTreeSet<u32> = rep
                .findings
                .iter()
                .filter(|(f, _)| matches!(f.problem, Problem::DupBlock | Problem::DupBlockOwner))
                .filter_map(|(f, _)| f.ino)
                .collect();
            let after = files(img);
            for (ino, (path, data)) in &clean {
                if removed.contains(ino) {
                    continue;
                }
                match after.get(ino) {
                    Some((_, d)) if d == data || shared.contains(ino) => {}
                    Some((p, _)) => {
                        failures.push(format!("{src}/{kind}: {path} (now {p}) changed"))
                    }
                    None => failures.push(format!("{src}/{kind}: {path} (I={ino}) lost")),
                }
            }
        }
    }
    eprintln!(
        "{n} reference corruptions repaired, {} failures",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
