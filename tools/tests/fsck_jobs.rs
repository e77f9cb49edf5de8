//! `ufs fsck --jobs N` (issue 18): phase 1's cylinder groups checked on
//! several threads must change nothing but the time. For every fsck
//! corpus case and for generated images of several groups with damage
//! that crosses groups (a block claimed from two groups, a file claiming
//! a group's metadata, a zeroed group header, link counts, modes), `-n`
//! with 2 and 3 threads gives the output and exit status of `--jobs 1`
//! byte for byte, and `-y` (through the library, with a fixed clock)
//! gives the same output, outcome and repaired image. Each run must also
//! have used the threads asked for whenever the image has several groups,
//! so the comparison is never of the one-thread path with itself. A
//! worker that panics (every read of its handle panics) must change
//! nothing either: its groups are checked again on the calling thread.
//! With the image's pages dropped from the page cache first, a check reads
//! its inode tables ahead on a thread of its own: it must say so and,
//! again, change nothing but the time.

#[allow(clippy::panic)]
mod common;
use common::damage::*;
use common::*;
use std::path::Path;
use std::sync::Arc;
use ufskit::fsck::{self, AnswerMode, CollectingReporter, FsckOptions, SharedDevice};
use ufskit::io::FileDevice;

const JOBS: [usize; 3] = [1, 2, 3];

/// Cylinder groups of `img` as `ufs info` prints them (None when it
/// cannot read the image).
fn groups(img: &Path) -> Option<u32> {
    let out = ufs([std::ffi::OsStr::new("info"), img.as_os_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("cylinder groups:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The threads a run used, from `--timings`.
fn threads_used(stderr: &str) -> Option<usize> {
    let rest = stderr.split("phase 1 on ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// `ufs fsck -n -f --timings --jobs J`.
fn fsck_n(img: &Path, j: usize) -> std::process::Output {
    ufs([
        "fsck",
        "-n",
        "-f",
        "--timings",
        "--jobs",
        &j.to_string(),
        &img.display().to_string(),
    ])
}

/// `ufs fsck -n -f --jobs J` for every J must print and exit as J = 1
/// does and leave the image alone. Returns the differences found.
fn same_check(name: &str, img: &Path, several: bool) -> Vec<String> {
    let before = std::fs::read(img).expect("read");
    let mut first: Option<(Option<i32>, String)> = None;
    let mut bad = Vec::new();
    for j in JOBS {
        let out = fsck_n(img, j);
        let got = (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        let used = threads_used(&err);
        if several && got.1.contains("** Phase 1") && used != Some(j) {
            bad.push(format!("{name}: -n --jobs {j} used {used:?} threads"));
        }
        match &first {
            None => first = Some(got),
            Some(want) if *want != got => bad.push(format!(
                "{name}: -n --jobs {j} differs from --jobs 1 (exit {:?} vs {:?})\n{}",
                got.0,
                want.0,
                diff(&want.1, &got.1).unwrap_or_default()
            )),
            Some(_) => {}
        }
    }
    if std::fs::read(img).expect("read") != before {
        bad.push(format!("{name}: fsck -n changed the image"));
    }
    bad
}

/// What a library repair with `jobs` threads of a copy of `img` said,
/// returned and left, and how many threads it used.
fn repair_with(img: &Path, jobs: usize) -> (String, Vec<u8>, usize) {
    let (said, image, used, _) = repair_through(img, jobs, |d| SharedDevice(Arc::new(d)));
    (said, image, used)
}

/// As [`repair_with`], with the workers reading through what `reader`
/// makes of a read-only handle on the copy.
fn repair_through(
    img: &Path,
    jobs: usize,
    reader: impl FnOnce(FileDevice) -> SharedDevice,
) -> (String, Vec<u8>, usize, bool) {
    let copy = img.with_extension(format!("jobs{jobs}"));
    std::fs::copy(img, &copy).expect("copy");
    let reader = reader(FileDevice::open_read_only(&copy).expect("open"));
    let opts = FsckOptions {
        name: "img".into(),
        force: true,
        answer: AnswerMode::Yes,
        now: Some(1_700_000_000),
        jobs,
        reader: Some(reader),
        ..Default::default()
    };
    let mut rep = CollectingReporter::default();
    let said = {
        let mut dev = FileDevice::open_read_write(&copy).expect("open");
        match fsck::repair(&mut dev, &opts, &mut rep) {
            Ok(o) => {
                let head = format!(
                    "{:?} problems {} unresolved {} rerun {} modified {} repaired {} written {}\n",
                    o.verdict,
                    o.problems,
                    o.unresolved,
                    o.rerun,
                    o.modified,
                    o.repaired,
                    o.pages_written
                );
                (head, o.jobs, o.read_ahead)
            }
            Err(e) => (format!("error: {e}\n"), 0, false),
        }
    };
    let image = std::fs::read(&copy).expect("read");
    std::fs::remove_file(&copy).expect("remove");
    (format!("{}{}", said.0, rep.text), image, said.1, said.2)
}

/// Drops `path`'s pages from the page cache (written out first: dirty
/// pages stay). Whether that took, asked where the check looks first, the
/// first inode block: a file system that keeps its files only in memory
/// (tmpfs) cannot drop them, and a hole (much of a fresh sparse image)
/// never needs the disk, so "cached" would answer yes there.
fn evict(path: &Path) -> bool {
    use ufskit::io::Device;
    // Before the drop: opening the image reads the root inode.
    let at = geometry(path).inode_offset(ufskit::Ino(0));
    let f = std::fs::File::open(path).expect("open");
    f.sync_all().expect("sync");
    let _ = rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed);
    let dev = FileDevice::open_read_only(path).expect("open");
    dev.cached(at) == Some(false)
}

/// `-n` (1 and 2 threads) and `-y` (1 and 2 threads, through the library)
/// of `img` with its pages dropped from the cache must print, return and
/// write what the same runs print with the cache warm, and must have read
/// ahead. Returns the differences found; None when pages cannot be dropped
/// here.
fn same_cold(name: &str, img: &Path) -> Option<Vec<String>> {
    let warm = fsck_n(img, 1);
    let (want, want_img, _) = repair_with(img, 1);
    let mut bad = Vec::new();
    for j in [1, 2] {
        if !evict(img) {
            return None;
        }
        let out = fsck_n(img, j);
        let err = String::from_utf8_lossy(&out.stderr);
        if !err.contains("read ahead") {
            bad.push(format!(
                "{name}: cold -n --jobs {j} did not read ahead:\n{err}"
            ));
        }
        if (out.status.code(), &out.stdout) != (warm.status.code(), &warm.stdout) {
            bad.push(format!(
                "{name}: cold -n --jobs {j} differs from a warm run\n{}",
                diff(
                    &String::from_utf8_lossy(&warm.stdout),
                    &String::from_utf8_lossy(&out.stdout)
                )
                .unwrap_or_default()
            ));
        }
        let mut dropped = true;
        let (got, got_img, _, ahead) = repair_through(img, j, |d| {
            let copy = img.with_extension(format!("jobs{j}"));
            dropped = evict(&copy);
            SharedDevice(Arc::new(d))
        });
        if dropped && !ahead {
            bad.push(format!("{name}: cold -y with {j} jobs did not read ahead"));
        }
        if got != want || got_img != want_img {
            bad.push(format!(
                "{name}: cold -y with {j} jobs differs from a warm run\n{}",
                diff(&want, &got).unwrap_or_default()
            ));
        }
    }
    Some(bad)
}

/// A `-y` repair with 2 and 3 threads must say, return and write what one
/// thread does. Returns the differences found.
fn same_repair(name: &str, img: &Path, several: bool) -> Vec<String> {
    let (want, want_img, _) = repair_with(img, 1);
    let mut bad = Vec::new();
    for j in &JOBS[1..] {
        let (got, got_img, used) = repair_with(img, *j);
        if several && want.contains("** Phase 1") && used != *j {
            bad.push(format!("{name}: -y with {j} jobs used {used} threads"));
        }
        if got != want {
            bad.push(format!(
                "{name}: -y with {j} jobs differs from one thread\n{}",
                diff(&want, &got).unwrap_or_default()
            ));
        }
        if got_img != want_img {
            bad.push(format!(
                "{name}: -y with {j} jobs left another image than one thread"
            ));
        }
    }
    bad
}

#[test]
fn corpus_output_and_repairs_do_not_depend_on_jobs() {
    let mut bad = Vec::new();
    let mut parallel = 0;
    let cases = corpus_cases();
    for case in &cases {
        let Case { name, dir: _d, img } = build_case(case);
        let several = groups(&img).is_some_and(|n| n > 1);
        parallel += usize::from(several);
        bad.extend(same_check(&name, &img, several));
        bad.extend(same_repair(&name, &img, several));
    }
    eprintln!(
        "{} corpus cases ({parallel} of several groups), {} differences",
        cases.len(),
        bad.len()
    );
    assert!(
        parallel * 2 > cases.len(),
        "most cases must run on several threads"
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The first regular file of group `cg` with a first data block:
/// (inode, that block), if the group holds one.
fn file_in(img: &Path, geo: &ufskit::Geometry, cg: u32) -> Option<(u32, u64)> {
    let first = (cg * geo.ipg).max(3);
    // One `ufs debug` run for the group's first inodes; each print starts
    // with di_mode.
    let inos: Vec<u32> = (first..first + geo.ipg.min(256)).collect();
    let mut a = vec!["debug".to_string(), img.display().to_string()];
    a.extend(inos.iter().map(|i| format!("print inode {i}")));
    let text = ufs_ok(a);
    for (ino, rec) in inos.iter().zip(text.split("di_mode = ").skip(1)) {
        let get = |name: &str| {
            rec.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} = ")))
                .unwrap_or_default()
        };
        let regular = rec
            .lines()
            .next()
            .and_then(|m| m.trim().parse::<u32>().ok())
            .is_some_and(|m| m & 0o170000 == 0o100000);
        let b0: u64 = get("di_db")
            .trim_start_matches('[')
            .split(',')
            .next()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        if regular && b0 != 0 {
            return Some((*ino, b0));
        }
    }
    None
}

/// `ufs debug` commands on `img`.
fn damage(img: &Path, cmds: &[String]) {
    let mut a = vec!["debug".to_string(), img.display().to_string()];
    a.extend(cmds.iter().cloned());
    ufs_ok(a);
}

fn generated(version: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    make_tree(&tree, 40, 60, 18);
    let clean = dir.path().join("base.img");
    makefs(&clean, &tree, version, &[]);
    let geo = geometry(&clean);
    assert!(geo.ncg >= 3, "several groups ({} here)", geo.ncg);
    let held: Vec<(u32, (u32, u64))> = (0..geo.ncg)
        .filter_map(|g| file_in(&clean, &geo, g).map(|f| (g, f)))
        .collect();
    assert!(held.len() >= 3, "files in several groups: {held:?}");
    let (a, a_blk) = held[0].1;
    let (c, _) = held[1].1;
    let (b, b_blk) = held[held.len() - 1].1;
    let meta = geo.cgtod(ufskit::CgIdx(1)).0;
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("clean", vec![]),
        // The later group's file takes the earlier one's block: its group
        // must be checked again in order (DUP there, phase 1b).
        ("dup-later", vec![format!("set inode {b} di_db[0] {a_blk}")]),
        // The earlier group's file takes the later one's block: the later
        // group, quiet when checked alone, claims it second.
        (
            "dup-earlier",
            vec![format!("set inode {a} di_db[0] {b_blk}")],
        ),
        // A file claiming group 1's header block (metadata).
        ("metadata", vec![format!("set inode {b} di_db[0] {meta}")]),
        ("cg-header", vec!["set cg 1 cg_magic 0".to_string()]),
        (
            "mixed",
            vec![
                format!("set inode {c} di_nlink 5"),
                format!("set inode {b} di_blocks 1"),
                format!("set inode {a} di_mode 0"),
            ],
        ),
    ];
    let mut bad = Vec::new();
    for (name, cmds) in &cases {
        let img = dir.path().join(format!("{name}.img"));
        std::fs::copy(&clean, &img).expect("copy");
        damage(&img, cmds);
        let name = format!("UFS{version} {name}");
        bad.extend(same_check(&name, &img, true));
        bad.extend(same_repair(&name, &img, true));
        match same_cold(&name, &img) {
            Some(b) => bad.extend(b),
            None => {
                ufskit_testkit::skip(&format!(
                    "{name}: cold-cache runs (this file system keeps its pages: tmpfs?)"
                ));
            }
        }
        if !cmds.is_empty() {
            let (_, out) = fsck(&img, &["-n", "-f"]);
            assert!(out.contains("? no"), "{name}: the damage is found:\n{out}");
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn damage_across_groups_ufs1() {
    generated(1);
}

#[test]
fn damage_across_groups_ufs2() {
    generated(2);
}

/// A reader whose every read panics: only phase 1's workers read through
/// it, so each of their groups fails.
struct PanickingReader(FileDevice);

impl ufskit::io::Device for PanickingReader {
    fn read_at(&self, offset: u64, _buf: &mut [u8]) -> std::io::Result<()> {
        panic!("worker read at {offset} (planted by the test)");
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_at(offset, buf)
    }
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A worker that panics loses nothing: its group is checked again on the
/// calling thread, so the repair says, returns and writes what one thread
/// does, and the run still counts as the threads asked for.
#[test]
fn a_panicking_worker_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    make_tree(&tree, 40, 60, 18);
    let img = dir.path().join("damaged.img");
    makefs(&img, &tree, 2, &[]);
    let geo = geometry(&img);
    assert!(geo.ncg >= 3, "several groups ({} here)", geo.ncg);
    let (a, _) = (0..geo.ncg)
        .find_map(|g| file_in(&img, &geo, g))
        .expect("a file");
    damage(&img, &[format!("set inode {a} di_nlink 7")]);
    let (want, want_img, _) = repair_with(&img, 1);
    assert!(want.contains("LINK COUNT"), "the damage is found:\n{want}");
    let (got, got_img, used, _) =
        repair_through(&img, 2, |d| SharedDevice(Arc::new(PanickingReader(d))));
    assert_eq!(used, 2, "the run went through the workers");
    if let Some(d) = diff(&want, &got) {
        panic!("a panicking worker changed the output:\n{d}");
    }
    assert!(got_img == want_img, "a panicking worker changed the repair");
}

/// An entry of a directory block as the test damages it: where it starts
/// in the image, its inode number and name.
struct RawEnt {
    off: u64,
    ino: u32,
    name: Vec<u8>,
}

/// Bytes written over an image: where, and what.
type Edits = Vec<(u64, Vec<u8>)>;

/// The entries of directory `dir`'s first block (little-endian images).
fn dir_entries(img: &Path, geo: &ufskit::Geometry, dir: u32) -> Vec<RawEnt> {
    let text = ufs_ok([
        "debug".to_string(),
        img.display().to_string(),
        format!("print inode {dir}"),
    ]);
    let db0: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("di_db = "))
        .and_then(|v| v.trim_start_matches('[').split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .expect("a first block");
    let at = geo.frag_offset(ufskit::Frag(db0));
    let bytes = std::fs::read(img).expect("read");
    let end = (at as usize + geo.bsize as usize).min(bytes.len());
    let block = &bytes[at as usize..end];
    let mut out = Vec::new();
    let mut loc = 0usize;
    while loc + 8 <= block.len() {
        let ino = u32::from_le_bytes(block[loc..loc + 4].try_into().expect("4 bytes"));
        let reclen = u16::from_le_bytes([block[loc + 4], block[loc + 5]]);
        let namlen = usize::from(block[loc + 7]);
        if reclen == 0 {
            break;
        }
        out.push(RawEnt {
            off: at + loc as u64,
            ino,
            name: block[loc + 8..loc + 8 + namlen].to_vec(),
        });
        loc += usize::from(reclen);
    }
    out
}

/// Several threads must say, return and write what one thread does for
/// directories damaged in their blocks (a bad record length, a `/` in a
/// name), in `.` and `..` (wrong `..`, `.` naming another inode), and in
/// what entries name (unallocated and out-of-range inodes, wrong types,
/// an extra `.`, a second name for a directory), alone and together: the
/// guard for phase 2 work split across threads (issue 18), and for phase
/// 1's merge on images whose damage phase 2 finds.
fn damaged_directories(version: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    // Many directories of a few KiB, in several groups.
    for d in 0..48 {
        let sub = tree.join(format!("dir{d:02}"));
        std::fs::create_dir_all(sub.join("child")).expect("mkdir");
        for f in 0..150 {
            // Some data, so that the image has several groups.
            let data = vec![b'x'; if f == 0 { 200_000 } else { 1 }];
            std::fs::write(sub.join(format!("a-longer-file-name-{f:04}")), data).expect("write");
        }
    }
    let clean = dir.path().join("base.img");
    makefs(&clean, &tree, version, &[]);
    let geo = geometry(&clean);
    let root = dir_entries(&clean, &geo, 2);
    let sub: Vec<&RawEnt> = root.iter().filter(|e| e.name.starts_with(b"dir")).collect();
    assert!(sub.len() >= 40, "the subdirectories: {}", sub.len());
    let pick = |k: usize| dir_entries(&clean, &geo, sub[k].ino);
    let set_ino = |e: &RawEnt, ino: u32| (e.off, ino.to_le_bytes().to_vec());
    let free_ino = u32::try_from(geo.ninodes - 2).expect("fits");
    let (early, mid, late) = (pick(1), pick(20), pick(sub.len() - 2));
    let child = |es: &[RawEnt]| {
        es.iter()
            .find(|e| e.name == b"child")
            .map(|e| e.ino)
            .expect("child")
    };
    let cases: Vec<(&str, Edits)> = vec![
        ("clean", vec![]),
        (
            "bad-reclen",
            vec![(mid[5].off + 4, 3u16.to_le_bytes().to_vec())],
        ),
        ("slash-in-name", vec![(mid[7].off + 8, b"/".to_vec())]),
        ("wrong-dotdot", vec![set_ino(&late[1], sub[3].ino)]),
        ("wrong-dot", vec![set_ino(&early[0], sub[4].ino)]),
        ("unallocated", vec![set_ino(&mid[9], free_ino)]),
        ("out-of-range", vec![set_ino(&late[12], u32::MAX - 5)]),
        ("bad-type", vec![(early[20].off + 6, vec![4])]),
        (
            "extra-dot",
            vec![
                (mid[30].off + 7, vec![1]),
                (mid[30].off + 8, b".\0".to_vec()),
            ],
        ),
        (
            "dir-hard-link",
            vec![
                set_ino(&late[40], child(&early)),
                (late[40].off + 6, vec![4]),
            ],
        ),
    ];
    let all: Edits = cases.iter().flat_map(|c| c.1.clone()).collect();
    let mut bad = Vec::new();
    for (name, edits) in cases.iter().chain([("all", all)].iter()) {
        let img = dir.path().join(format!("{name}.img"));
        std::fs::copy(&clean, &img).expect("copy");
        for (off, bytes) in edits {
            overwrite(&img, *off, bytes);
        }
        let name = format!("UFS{version} {name}");
        bad.extend(same_check(&name, &img, true));
        bad.extend(same_repair(&name, &img, true));
        let out = fsck_n(img.as_path(), 2);
        let text = String::from_utf8_lossy(&out.stdout);
        if !edits.is_empty() && !text.contains("? no") {
            bad.push(format!("{name}: the damage is not found:\n{text}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn damaged_directories_ufs1() {
    damaged_directories(1);
}

#[test]
fn damaged_directories_ufs2() {
    damaged_directories(2);
}

/// Without `--jobs`, a check of a file system of 65,536 inodes or more
/// uses the cores (at most four) with the cache warm, and one fewer with
/// it cold, where a thread of its own reads the inode tables ahead.
#[test]
fn default_threads_leave_a_core_to_the_read_ahead() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("inodes.img");
    let path = img.display().to_string();
    ufs_ok([
        "newfs", "-s", "64m", "-i", "1024", "-f", "1024", "-b", "8192", &path,
    ]);
    // Written out whole: newfs leaves never-used inode blocks as holes,
    // which read without the disk, so a fresh image is never cold.
    std::fs::write(&img, std::fs::read(&img).expect("read")).expect("write");
    let geo = geometry(&img);
    assert!(u64::from(geo.ncg) * u64::from(geo.ipg) >= 65_536 && geo.ncg > 1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let run = || {
        let out = ufs(["fsck", "-n", "-f", "--timings", &path]);
        assert_eq!(out.status.code(), Some(0), "a fresh file system is clean");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (threads_used(&err), err.contains("read ahead"))
    };
    assert_eq!(run(), (Some(cores), false), "warm");
    if !evict(&img) {
        ufskit_testkit::skip("cold-cache runs (this file system keeps its pages: tmpfs?)");
        return;
    }
    assert_eq!(run(), (Some(cores.saturating_sub(1).max(1)), true), "cold");
}
