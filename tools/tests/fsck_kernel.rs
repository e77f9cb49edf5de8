//! Repairs the Linux kernel accepts: every fsck corpus case
//! (tests/images/fsck/<case>/) and every FreeBSD reference corruption
//! (tests/images/fsck-ref/<source>/<kind>.img.zst) is repaired with
//! `ufs fsck -y -f`; a following `ufs fsck -n -f` must be clean; then the
//! Linux kernel's ufs driver (tests/interop/kernel-batch.sh: one guest boot
//! for many images, user-mode-linux or QEMU) mounts each repaired image read-only, must read
//! every file without an error, log no ufs error or warning, and see exactly
//! the tree ufskit's reader sees (manifests compared, every column: type,
//! mode, owner, link count, size, mtime, sha256 of the contents).
//!
//! Both byte orders: the Linux driver detects big-endian images by their
//! magic, so nothing is skipped. Skipped, with the reason printed, when no
//! kernel backend is installed; `UFS_REQUIRE_INTEROP=1` makes that a failure.
//! `UFS_KERNEL_JOBS` sets how many guests run at once (default: 2, or 1 on a
//! single CPU); `UFS_KERNEL_ONLY=TEXT` shows the kernel only the images
//! whose name (the case name, or `ref-SOURCE-KIND`) contains TEXT.
#![allow(clippy::panic)] // a failing test panics

mod common;
use common::*;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use std::time::Instant;

/// The manifest computed from the library (as in interop.rs).
#[path = "../../ufs/tests/common/manifest.rs"]
mod manifest;

/// One repaired image to show the kernel.
struct Repaired {
    /// The name in the batch list and in reports.
    name: String,
    /// Where the damaged image came from, for reports.
    from: String,
    path: PathBuf,
    /// The Linux driver's `ufstype=`.
    ufstype: &'static str,
}

/// The kernel's ufstype for an image: `ufs2` for UFS2 (superblock at
/// 65536), `44bsd` for UFS1.
fn ufstype(img: &Path) -> &'static str {
    let fs = ufskit::Ufs::open_path(img, ufskit::OpenOptions::read_only())
        .unwrap_or_else(|e| panic!("{}: {e}", img.display()));
    match fs.superblock().version() {
        ufskit::UfsVersion::Ufs1 => "44bsd",
        ufskit::UfsVersion::Ufs2 => "ufs2",
    }
}

/// `ufs fsck -y -f`, then `ufs fsck -n -f`; `Err` says what went wrong.
fn repair(img: &Path) -> Result<(), String> {
    let y = ufs([
        OsStr::new("fsck"),
        OsStr::new("-y"),
        OsStr::new("-f"),
        img.as_os_str(),
    ]);
    let code = y.status.code().unwrap_or(-1);
    if code != 0 && code != 1 {
        return Err(format!(
            "fsck -y -f exit {code}:\n{}{}",
            String::from_utf8_lossy(&y.stdout),
            String::from_utf8_lossy(&y.stderr)
        ));
    }
    let n = ufs([
        OsStr::new("fsck"),
        OsStr::new("-n"),
        OsStr::new("-f"),
        img.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&n.stdout);
    // An SU+J image always says `USE JOURNAL? no` under -n.
    let unresolved = text
        .lines()
        .any(|l| l.ends_with("? no") && l != "USE JOURNAL? no");
    if n.status.code() != Some(0) || unresolved {
        return Err(format!(
            "not clean after -y (fsck -n -f exit {:?}):\n{text}",
            n.status.code()
        ));
    }
    Ok(())
}

/// Builds and repairs every case into `work`; failures of the repair itself
/// go to `failures` (those images are not shown to the kernel).
fn repaired_images(work: &Path, failures: &mut Vec<String>) -> Vec<Repaired> {
    let mut out = Vec::new();
    let mut add =
        |name: String, from: String, path: PathBuf, failures: &mut Vec<String>| match repair(&path)
        {
            Ok(()) => out.push(Repaired {
                ufstype: ufstype(&path),
                name,
                from,
                path,
            }),
            Err(e) => failures.push(format!("{name} ({from}): {e}")),
        };
    for case in corpus_cases() {
        let c = build_case(&case);
        let path = work.join(format!("{}.img", c.name));
        std::fs::rename(&c.img, &path).expect("move the case image");
        let base = std::fs::read_to_string(case.join("base")).unwrap_or_default();
        let from = format!(
            "{} damaged by tests/images/fsck/{}/script",
            base.trim(),
            c.name
        );
        add(c.name, from, path, failures);
    }
    let mut refs = 0;
    let mut sources: Vec<PathBuf> = std::fs::read_dir(images_dir().join("fsck-ref"))
        .expect("tests/images/fsck-ref")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    sources.sort();
    for src in sources {
        let s = src
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        for img in list(&format!("fsck-ref/{s}"), ".img.zst") {
            let kind = img.rsplit('/').next().expect("name");
            let name = format!("ref-{s}-{}", kind.trim_end_matches(".img.zst"));
            let path = work.join(format!("{name}.img"));
            unpack_to(&img, &path);
            add(name, format!("tests/images/{img}"), path, failures);
            refs += 1;
        }
    }
    assert_eq!(
        refs, 32,
        "FreeBSD reference corruptions (4 sources x 8 kinds)"
    );
    out
}

/// Runs tests/interop/kernel-batch.sh on `images`, split over `jobs`
/// guests running at once; each image gets OUTDIR/J/NAME.manifest or
/// NAME.error. Returns the backend and the partial-hash limit it used.
fn kernel_manifests(images: &[Repaired], outdir: &Path, jobs: usize) -> (String, u64) {
    let batches: Vec<(usize, String)> = (0..jobs)
        .map(|j| {
            // Round robin, so that the slow images (big trees, huge sparse
            // files) spread over the guests.
            let list: String = images
                .iter()
                .skip(j)
                .step_by(jobs)
                .map(|i| format!("{} {} {}\n", i.path.display(), i.ufstype, i.name))
                .collect();
            (j, list)
        })
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let results: Vec<ufskit_testkit::kernel::Batch> = std::thread::scope(|s| {
        let hs: Vec<_> = batches
            .iter()
            .map(|(j, list)| {
                let dir = outdir.join(format!("{j}"));
                s.spawn(move || {
                    ufskit_testkit::kernel::batch(
                        list,
                        &dir,
                        &format!("fsck_kernel guest {j}"),
                        true,
                    )
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    for b in &results {
        // Status 1 only says that some image has a NAME.error; those are
        // reported one by one by the caller.
        eprint!("{}", b.log);
    }
    let first = results
        .first()
        .map(|b| (b.backend.clone(), b.partial_above));
    first.unwrap_or_else(|| ("none".into(), manifest::PARTIAL_ABOVE))
}

/// The kernel messages about an image other than the loop driver's
/// routine note, each with what it means when the driver's source says so
/// (fs/ufs/super.c: it reads `fs_clean` at the UFS1 offset for 4.4BSD and
/// UFS2 alike, and mounts read-only whatever it says).
fn kernel_complaints(kmsg: &str) -> Vec<String> {
    kmsg.lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("detected capacity change"))
        .map(|l| {
            let why = if l.contains("fs is active") {
                " (fs_clean is 0: the superblock is not marked clean)"
            } else if l.contains("fs is bad") {
                " (fs_clean is FS_BAD)"
            } else if l.contains("fs needs fsck") {
                " (the superblock's state/flags say it needs a check)"
            } else {
                ""
            };
            format!("{l}{why}")
        })
        .collect()
}

/// Prints the images the guests spent longest on (progress.log lines
/// `NAME ok|error MILLISECONDS ms`).
fn slowest(outdir: &Path, jobs: usize) {
    let mut times: Vec<(u64, String)> = (0..jobs)
        .filter_map(|j| std::fs::read_to_string(outdir.join(format!("{j}/progress.log"))).ok())
        .flat_map(|t| {
            t.lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    Some((f.get(2)?.parse().ok()?, f.first()?.to_string()))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    times.sort_unstable_by(|a, b| b.cmp(a));
    let total: u64 = times.iter().map(|t| t.0).sum();
    let top: Vec<String> = times
        .iter()
        .take(5)
        .map(|(ms, n)| format!("{n} {:.1} s", *ms as f64 / 1000.0))
        .collect();
    eprintln!(
        "guest time {:.1} s over {} images; slowest: {}",
        total as f64 / 1000.0,
        times.len(),
        top.join(", ")
    );
}

fn library_manifest(img: &Path, partial_above: u64) -> Result<String, String> {
    std::panic::catch_unwind(|| {
        let fs = ufskit::Ufs::open_path(img, ufskit::OpenOptions::read_only()).expect("open");
        manifest::manifest_partial(&fs, partial_above)
    })
    .map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panicked".into())
    })
}

#[test]
fn linux_mounts_and_reads_every_repaired_image() {
    if !ufskit_testkit::kernel::available() {
        return;
    }
    let t0 = Instant::now();
    let work = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let mut images = repaired_images(work.path(), &mut failures);
    if let Ok(only) = std::env::var("UFS_KERNEL_ONLY") {
        images.retain(|i| i.name.contains(&only));
        eprintln!("UFS_KERNEL_ONLY={only}: {} images", images.len());
    }
    let repaired_s = t0.elapsed().as_secs_f64();

    let jobs = std::env::var("UFS_KERNEL_JOBS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get().min(2))
                .unwrap_or(1)
        });
    let outdir = work.path().join("kernel");
    let t1 = Instant::now();
    let (backend, partial_above) = kernel_manifests(&images, &outdir, jobs);
    let kernel_s = t1.elapsed().as_secs_f64();
    slowest(&outdir, jobs);

    let mut checked = 0;
    for (k, img) in images.iter().enumerate() {
        let dir = outdir.join(format!("{}", k % jobs));
        let file = |ext: &str| dir.join(format!("{}.{ext}", img.name));
        let what = format!("{} ({}, ufstype={})", img.name, img.from, img.ufstype);
        if let Ok(err) = std::fs::read_to_string(file("error")) {
            failures.push(format!(
                "{what}: the kernel could not mount or read it:\n{err}"
            ));
            continue;
        }
        let Ok(kernel) = std::fs::read_to_string(file("manifest")) else {
            failures.push(format!("{what}: no kernel manifest"));
            continue;
        };
        let kmsg = std::fs::read_to_string(file("kmsg")).unwrap_or_default();
        let said = kernel_complaints(&kmsg);
        if !said.is_empty() {
            failures.push(format!(
                "{what}: the kernel complained:\n{}",
                said.join("\n")
            ));
        }
        match library_manifest(&img.path, partial_above) {
            Err(e) => failures.push(format!("{what}: ufskit cannot read it: {e}")),
            Ok(ours) => {
                if let Some(d) = diff(&ours, &kernel) {
                    failures.push(format!(
                        "{what}: the kernel (+) and ufskit (-) disagree: {d}"
                    ));
                }
            }
        }
        checked += 1;
    }
    eprintln!(
        "{} images repaired ({repaired_s:.1} s), {checked} read by the kernel in {jobs} guest(s) \
         ({kernel_s:.1} s), {} failures",
        images.len(),
        failures.len()
    );
    ufskit_testkit::kernel::record(
        "fsck_kernel",
        &backend,
        &format!("{checked} repaired images, files over {partial_above} bytes hashed partially"),
        t0,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
