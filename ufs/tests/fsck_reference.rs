//! Runs ufskit's fsck (read-only, forced) on every corrupted image of the
//! FreeBSD reference pack (tests/images/fsck-ref/) and compares with the
//! recorded `fsck_ffs -n` output: first the set of (phase, kind, inode)
//! findings, then the exact text. Also checks that the clean sources, the
//! FreeBSD-made real images and the newfs images check clean.

mod common;

use std::collections::BTreeSet;
use ufskit::fsck::{check, CollectingReporter, FsckOptions, Verdict};

use common::{REF_KINDS as KINDS, REF_SOURCES as SOURCES};

fn run(img: &[u8], name: &str) -> (CollectingReporter, ufskit::fsck::Outcome) {
    let mut rep = CollectingReporter::default();
    let opts = FsckOptions {
        name: name.into(),
        force: true,
        ..Default::default()
    };
    let out = check(&img.to_vec(), &opts, &mut rep).expect("check runs");
    (rep, out)
}

/// (phase, message head, inode) triples parsed from fsck_ffs text.
fn parse(text: &str) -> BTreeSet<(String, String, String)> {
    let mut phase = "setup".to_string();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("** Phase ") {
            phase = rest.split(' ').next().unwrap_or("").to_string();
            continue;
        }
        if line.starts_with("** ")
            || line.is_empty()
            || line.ends_with("? no")
            || line.starts_with("SIZE=")
        {
            continue;
        }
        if line.contains(" files, ")
            || line.starts_with("*****")
            || line.starts_with("NAME=")
            || line.starts_with("DIR=")
            || line.starts_with("FILE=")
        {
            continue;
        }
        let (head, ino) = match line.find("I=") {
            Some(p) => {
                let ino: String = line[p + 2..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                (line[..p].trim().to_string(), ino)
            }
            None => (line.trim().to_string(), String::new()),
        };
        // Block numbers in DUP lines vary in position only.
        let head = head
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ')
            .to_string();
        out.insert((phase.clone(), head, ino));
    }
    out
}

fn diff(a: &str, b: &str) -> String {
    let (al, bl): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    let mut s = String::new();
    for i in 0..al.len().max(bl.len()) {
        let (x, y) = (
            al.get(i).copied().unwrap_or("<none>"),
            bl.get(i).copied().unwrap_or("<none>"),
        );
        if x != y {
            s.push_str(&format!(
                "line {}:\n  fsck_ffs: {x:?}\n  ufskit:   {y:?}\n",
                i + 1
            ));
        }
    }
    s
}

#[test]
fn reference_corruptions_match_fsck_ffs() {
    let mut failures = Vec::new();
    let mut exact = 0;
    for s in SOURCES {
        for k in KINDS {
            let img = common::load_zst(&format!("fsck-ref/{s}/{k}.img.zst"));
            let want = std::fs::read_to_string(
                common::images_dir().join(format!("fsck-ref/{s}/{k}.fsck-n.txt")),
            )
            .expect("reference text");
            let (rep, _) = run(&img, &format!("./{k}.img"));
            let (pw, pg) = (parse(&want), parse(&rep.text));
            if pw != pg {
                failures.push(format!(
                    "{s}/{k}: findings differ\n  only fsck_ffs: {:?}\n  only ufskit: {:?}\n{}",
                    pw.difference(&pg).collect::<Vec<_>>(),
                    pg.difference(&pw).collect::<Vec<_>>(),
                    diff(&want, &rep.text)
                ));
            } else if want != rep.text {
                failures.push(format!(
                    "{s}/{k}: same findings, text differs:\n{}",
                    diff(&want, &rep.text)
                ));
            } else {
                exact += 1;
            }
        }
    }
    eprintln!(
        "{exact} of {} reference cases match fsck_ffs byte for byte",
        SOURCES.len() * KINDS.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn clean_images_check_clean() {
    let mut bad = Vec::new();
    let mut imgs: Vec<String> = SOURCES
        .iter()
        .map(|s| format!("populated/{s}.img.zst"))
        .collect();
    imgs.extend(["real/ufs-little.img.zst", "real/ufs-big.img.zst"].map(String::from));
    for n in common::FREEBSD_IMAGES {
        imgs.push(format!("freebsd/{n}.img.zst"));
    }
    for rel in imgs {
        let img = common::load_zst(&rel);
        let (rep, out) = run(&img, "./x.img");
        if out.verdict != Verdict::Clean {
            bad.push(format!("{rel}: {:?}\n{}", out.verdict, rep.text));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn clean_sources_match_recorded_text() {
    let mut bad = Vec::new();
    for s in SOURCES {
        let img = common::load_zst(&format!("populated/{s}.img.zst"));
        let want =
            std::fs::read_to_string(common::images_dir().join(format!("populated/{s}.fsck-n.txt")))
                .expect("text");
        let name = want
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("** "))
            .and_then(|l| l.strip_suffix(" (NO WRITE)"))
            .unwrap_or("x")
            .to_string();
        let (rep, _) = run(&img, &name);
        if rep.text != want {
            bad.push(format!("{s}:\n{}", diff(&want, &rep.text)));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
