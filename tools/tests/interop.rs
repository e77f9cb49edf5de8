//! Round trips with independent tools (tests/images/README.md):
//!
//! * NetBSD `mtree`: the tree `ufs extract` writes passes the spec recorded
//!   from the source tree, and the spec `ufs mtree` prints passes on the
//!   extracted tree and on the source (fixture) tree; the host manifest of
//!   the extracted tree is the recorded one.
//! * The Linux kernel's ufs driver (user-mode-linux): what it sees equals
//!   the manifest computed from ufskit's reader.
//! * The Sleuth Kit: `fls -r -p` and `fsstat` agree with `ufs ls -R` and
//!   `ufs info`.
//!
//! A missing tool skips the test with a printed reason, unless
//! `UFS_REQUIRE_INTEROP=1` (CI), where it fails.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The manifest computed from the library (the same code the library's
/// own reference tests use).
#[path = "../../ufs/tests/common/manifest.rs"]
mod manifest;

/// Runs an external command; returns (success, stdout, stderr).
fn run(cmd: &str, args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

/// Runs NetBSD `mtree -f spec -p dir` and fails with its report.
#[track_caller]
fn mtree_check(spec: &Path, dir: &Path, what: &str) {
    let (ok, out, err) = run(
        "mtree",
        &[os("-f"), spec.as_os_str(), os("-p"), dir.as_os_str()],
    );
    assert!(
        ok,
        "{what}: mtree -f {} -p {} failed:\n{out}{err}",
        spec.display(),
        dir.display()
    );
}

/// The images of the fixture tree and populated trees, with the mtree spec
/// of their source tree and (for ref/) its manifest.
fn tree_images() -> Vec<(String, PathBuf, Option<String>)> {
    let mut v = Vec::new();
    for img in list("ref", ".img.zst") {
        v.push((
            img,
            images_dir().join("ref/tree.mtree"),
            Some("ref/tree.manifest".to_string()),
        ));
    }
    for img in list("populated", ".img.zst") {
        let cmd = std::fs::read_to_string(images_dir().join(img.replace(".img.zst", ".cmd")))
            .expect("cmd");
        let tree = if cmd.contains("../tree-big") {
            "tree-big"
        } else {
            "tree-small"
        };
        assert!(cmd.contains(&format!("../{tree}")), "{img}: which tree?");
        v.push((
            img,
            images_dir().join(format!("populated/{tree}.mtree")),
            None,
        ));
    }
    assert_eq!(v.len(), 10, "6 ref + 4 populated images: {v:?}");
    v
}

/// Owners, setuid bits and device nodes of the trees can only be made by
/// root; without it the comparisons that need them are skipped.
fn root_or_skip(what: &str) -> bool {
    if is_root() {
        return true;
    }
    let msg = format!(
        "{what}: not root, so the extracted tree cannot have the image's owners and device nodes"
    );
    ufskit_testkit::skip(&msg)
}

#[test]
fn extracted_trees_pass_the_source_mtree_specs() {
    if !require("mtree", "apt-get install mtree-netbsd")
        || !root_or_skip("mtree of extracted trees")
    {
        return;
    }
    for (img, spec, man) in tree_images() {
        let i = unpack(&img);
        let dest = i.dir.path().join("x");
        ufs_ok([os("extract"), i.path.as_os_str(), dest.as_os_str()]);
        mtree_check(&spec, &dest, &format!("{img} extracted vs source spec"));
        // The spec ufs prints from the image, on the extracted tree.
        let ours = i.dir.path().join("ufs.mtree");
        let text = ufs_ok([os("mtree"), i.path.as_os_str()]);
        std::fs::write(&ours, &text).expect("write spec");
        mtree_check(&ours, &dest, &format!("{img}: ufs mtree vs extracted"));
        if let Some(man) = man {
            let got = host_manifest(&dest, &i.dir.path().join("x.manifest"));
            assert_same(
                &format!("{img}: host manifest of the extracted tree vs {man}"),
                &read_manifest(&man),
                &got,
            );
        }
    }
}

/// `ufs mtree` of each ref image describes the fixture tree it was made
/// from (built fresh by tests/fixtures/mktree.sh --small).
#[test]
fn ufs_mtree_specs_pass_on_the_fixture_tree() {
    if !require("mtree", "apt-get install mtree-netbsd")
        || !root_or_skip("mtree of the fixture tree")
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    let (ok, _, err) = run(
        "bash",
        &[
            repo_dir().join("tests/fixtures/mktree.sh").as_os_str(),
            os("--small"),
            tree.as_os_str(),
        ],
    );
    assert!(ok, "mktree.sh: {err}");
    for img in list("ref", ".img.zst") {
        let i = unpack(&img);
        let spec = i.dir.path().join("ufs.mtree");
        std::fs::write(&spec, ufs_ok([os("mtree"), i.path.as_os_str()])).expect("write");
        mtree_check(
            &spec,
            &tree,
            &format!("{img}: ufs mtree vs the fixture tree"),
        );
    }
}

/// Symlink modes: a Linux host makes every symlink 0777, whatever the image
/// says (FreeBSD-made symlinks are 0755).
fn host_symlink_modes(manifest: &str) -> String {
    manifest
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split('\t').collect();
            if f.get(1) == Some(&"symlink") {
                f[2] = "0777";
            }
            f.join("\t") + "\n"
        })
        .collect()
}

/// The real FreeBSD images: never through mtree (it would hash the whole
/// 549 GB sparse3); host-manifest.sh hashes big files partially.
#[test]
fn extracted_real_images_match_the_kernel_manifests() {
    // `.snap` is owned by group 5 (operator).
    if !root_or_skip("manifest of the extracted real images") {
        return;
    }
    for name in ["real/ufs-little.img", "real/ufs-big.img"] {
        let i = unpack(&format!("{name}.zst"));
        let dest = i.dir.path().join("x");
        ufs_ok([os("extract"), i.path.as_os_str(), dest.as_os_str()]);
        // sparse3 stays sparse on the host: far less allocated than its size.
        let md = std::fs::metadata(dest.join("sparse3")).expect("sparse3");
        assert_eq!(md.len(), 549_890_457_600);
        assert!(
            std::os::unix::fs::MetadataExt::blocks(&md) < 64 * 1024,
            "sparse3 was written out"
        );
        let got = host_manifest(&dest, &i.dir.path().join("x.manifest"));
        assert_same(
            &format!("{name}: host manifest of the extracted tree vs the kernel's (symlink modes as Linux makes them)"),
            &host_symlink_modes(&read_manifest(&format!("{name}.manifest"))),
            &got,
        );
    }
}

fn library_manifest(img: &Path) -> String {
    let fs = ufskit::Ufs::open_path(img, ufskit::OpenOptions::read_only()).expect("open");
    manifest::manifest(&fs)
}

/// The manifests the kernel recorded (tests/images, committed) equal what
/// ufskit reads: the UFS1 ref images and the two real images.
#[test]
fn recorded_kernel_manifests_equal_ufskit() {
    let mut n = 0;
    for img in list("ref", ".img.zst") {
        let man = img.replace(".img.zst", ".kernel.manifest");
        let text = read_manifest(&man);
        if text.starts_with("ERROR:") {
            // UFS2 from makefs: the kernel does not find the superblock at 8192.
            assert!(
                text.contains("bad magic") || text.contains("failed"),
                "{man}: {text}"
            );
            continue;
        }
        let i = unpack(&img);
        assert_same(
            &format!("{man} vs ufskit"),
            &text,
            &library_manifest(&i.path),
        );
        n += 1;
    }
    assert_eq!(n, 3, "three UFS1 ref images");
    for name in ["real/ufs-little.img", "real/ufs-big.img"] {
        let i = unpack(&format!("{name}.zst"));
        assert_same(
            &format!("{name}.manifest vs ufskit"),
            &read_manifest(&format!("{name}.manifest")),
            &library_manifest(&i.path),
        );
    }
}

/// Boots the kernel on an image now and compares what it sees with
/// ufskit's manifest.
fn fresh_kernel_manifest(img: &str, ufstype: &str) {
    if !kernel_available() {
        return;
    }
    let t = std::time::Instant::now();
    let i = unpack(img);
    // Under an emulated CPU the guest may hash big files partially; the
    // library manifest then uses the same limit.
    let (kernel, _, b) = ufskit_testkit::kernel::manifest(&i.path, ufstype, i.dir.path(), true);
    let fs = ufskit::Ufs::open_path(&i.path, ufskit::OpenOptions::read_only()).expect("open");
    assert_same(
        &format!("{img}: the kernel ({}) now vs ufskit", b.backend),
        &kernel,
        &manifest::manifest_partial(&fs, b.partial_above),
    );
    ufskit_testkit::kernel::record(
        &format!("interop::{img}"),
        &b.backend,
        &format!(
            "as {ufstype}, files over {} bytes hashed partially",
            b.partial_above
        ),
        t,
    );
}

#[test]
fn kernel_now_ufs1_big_endian() {
    fresh_kernel_manifest("ref/ufs1-be.img.zst", "44bsd");
}

#[test]
fn kernel_now_ufs2_big_endian_freebsd() {
    fresh_kernel_manifest("real/ufs-big.img.zst", "ufs2");
}

/// Images TSK reads, with its type: the UFS1 ones (NetBSD and FreeBSD
/// makefs, FreeBSD newfs) and the FreeBSD UFS2 ones (superblock at 65536;
/// TSK cannot find NetBSD's UFS2 superblock at 8192).
fn tsk_images() -> Vec<(String, &'static str)> {
    let mut v = Vec::new();
    for img in [
        "ref/ufs1-le.img.zst",
        "ref/ufs1-be.img.zst",
        "ref/ufs1-le-b4096.img.zst",
    ] {
        v.push((img.to_string(), "ufs1"));
    }
    for sub in ["freebsd", "populated"] {
        for img in list(sub, ".img.zst") {
            let t = if img.contains("ufs1") { "ufs1" } else { "ufs2" };
            v.push((img, t));
        }
    }
    v.push(("real/ufs-little.img.zst".into(), "ufs2"));
    v.push(("real/ufs-big.img.zst".into(), "ufs2"));
    v
}

fn ls_type(mode: char) -> char {
    match mode {
        '-' => 'r',
        c => c,
    }
}

/// `fls -r -p` lists the same (type, inode, path) set as `ufs ls -R -l -i`.
/// TSK extras left out: its virtual `$OrphanFiles` (type V) and deleted
/// names (marked `*`; none in these images, checked).
#[test]
fn tsk_fls_agrees_with_ufs_ls() {
    if !require("fls", "apt-get install sleuthkit") {
        return;
    }
    for (img, t) in tsk_images() {
        let i = unpack(&img);
        let (ok, fls, err) = run(
            "fls",
            &[os("-r"), os("-p"), os("-f"), os(t), i.path.as_os_str()],
        );
        assert!(ok, "fls -f {t} {img}: {err}");
        let mut want = BTreeSet::new();
        for line in fls.lines() {
            let (head, path) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("{img}: fls line {line:?}"));
            assert!(
                !head.contains('*'),
                "{img}: fls shows a deleted name: {line}"
            );
            let kind = head.chars().nth(2).expect("type");
            if kind == 'V' {
                assert_eq!(path, "$OrphanFiles", "{img}: {line}");
                continue;
            }
            let name_type = head.chars().next().expect("type");
            assert_eq!(
                name_type, kind,
                "{img}: d_type and inode type differ: {line}"
            );
            let ino: u32 = head[4..]
                .trim_end_matches(':')
                .parse()
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            want.insert(format!("{kind} {ino} {path}"));
        }
        let out = ufs_ok([os("ls"), os("-R"), os("-l"), os("-i"), i.path.as_os_str()]);
        let mut got = BTreeSet::new();
        let mut dir = String::new();
        for line in out.lines().filter(|l| !l.is_empty()) {
            if let Some(d) = line.strip_suffix(':').filter(|d| d.starts_with('/')) {
                dir = d.trim_start_matches('/').to_string();
                continue;
            }
            // "     INO MODE NLINK UID GID SIZE DATE TIME NAME[ -> TARGET]"
            let mut f = line.split_whitespace();
            let ino = f.next().expect("ino");
            let mode = f.next().expect("mode");
            let dev = mode.starts_with('c') || mode.starts_with('b');
            let skip = if dev { 6 } else { 5 };
            let date_pos = {
                // Byte offset of the name: after the time field.
                let mut rest = line.trim_start();
                for _ in 0..(2 + skip + 1) {
                    rest = rest.trim_start_matches(' ');
                    rest = &rest[rest.find(' ').expect("field")..];
                }
                rest.strip_prefix(' ').expect("name")
            };
            let name = if mode.starts_with('l') {
                date_pos.split_once(" -> ").expect("->").0
            } else {
                date_pos
            };
            let path = if dir.is_empty() {
                name.to_string()
            } else {
                format!("{dir}/{name}")
            };
            got.insert(format!(
                "{} {ino} {path}",
                ls_type(mode.chars().next().expect("mode"))
            ));
        }
        let want: Vec<String> = want.into_iter().collect();
        let got: Vec<String> = got.into_iter().collect();
        assert!(!want.is_empty(), "{img}: fls listed nothing");
        assert_same(
            &format!("{img}: fls -r -p -f {t} vs ufs ls -R -l -i"),
            &(want.join("\n") + "\n"),
            &(got.join("\n") + "\n"),
        );
    }
}

/// `fsstat` reports the numbers `ufs info --json` reports. TSK quirks
/// (tests/images/README.md): its inode range ends at `ninodes`, one past
/// the last inode (TSK's virtual orphan-files inode); for big-endian UFS2
/// it reads the 64-bit `fs_time` as 32 bits and prints "empty".
#[test]
fn tsk_fsstat_agrees_with_ufs_info() {
    if !require("fsstat", "apt-get install sleuthkit") {
        return;
    }
    for (img, t) in tsk_images() {
        let i = unpack(&img);
        let (ok, text, err) = run("fsstat", &[os("-f"), os(t), i.path.as_os_str()]);
        assert!(ok, "fsstat -f {t} {img}: {err}");
        let j: Value =
            serde_json::from_str(&ufs_ok([os("info"), os("--json"), i.path.as_os_str()]))
                .expect("json");
        let field = |label: &str| -> String {
            text.lines()
                .find_map(|l| l.strip_prefix(label).map(|r| r.trim().to_string()))
                .unwrap_or_else(|| panic!("{img}: no `{label}` in fsstat:\n{text}"))
        };
        let ctx = format!("{img}: fsstat -f {t} vs ufs info --json");
        let v = |k: &str| j[k].as_i64().unwrap_or_else(|| panic!("{ctx}: {k}"));
        let free = |k: &str| {
            j["free"][k]
                .as_i64()
                .unwrap_or_else(|| panic!("{ctx}: free.{k}"))
        };
        assert_eq!(
            field("File System Type:"),
            if t == "ufs1" { "UFS 1" } else { "UFS 2" },
            "{ctx}"
        );
        let written = format!("{} (UTC)", format_utc(v("time")));
        let big_ufs2 = t == "ufs2" && j["endian"] == "big";
        assert_eq!(
            field("Last Written:"),
            if big_ufs2 { "empty".into() } else { written },
            "{ctx}"
        );
        assert_eq!(
            field("Last Mount Point:"),
            j["fsmnt"].as_str().expect("fsmnt"),
            "{ctx}"
        );
        assert_eq!(
            field("Inode Range:"),
            format!("0 - {}", v("inodes")),
            "{ctx}"
        );
        assert_eq!(field("Root Directory:"), "2", "{ctx}");
        assert_eq!(
            field("Num of Avail Inodes:"),
            free("nifree").to_string(),
            "{ctx}"
        );
        assert_eq!(
            field("Num of Directories:"),
            free("ndir").to_string(),
            "{ctx}"
        );
        assert_eq!(
            field("Fragment Range:"),
            format!("0 - {}", v("size_frags") - 1),
            "{ctx}"
        );
        assert_eq!(field("Block Size:"), v("bsize").to_string(), "{ctx}");
        assert_eq!(field("Fragment Size:"), v("fsize").to_string(), "{ctx}");
        assert_eq!(
            field("Num of Avail Full Blocks:"),
            free("nbfree").to_string(),
            "{ctx}"
        );
        assert_eq!(
            field("Num of Avail Fragments:"),
            free("nffree").to_string(),
            "{ctx}"
        );
        assert_eq!(
            field("Number of Cylinder Groups:"),
            v("ncg").to_string(),
            "{ctx}"
        );
        assert_eq!(field("Inodes per group:"), v("ipg").to_string(), "{ctx}");
        assert_eq!(field("Fragments per group:"), v("fpg").to_string(), "{ctx}");
        // Per group: TSK's summaries (the csum area, and for UFS1 also the
        // group descriptor) against the group's counts.
        let groups: Vec<&str> = text.split("\nGroup ").skip(1).collect();
        assert_eq!(groups.len() as i64, v("ncg"), "{ctx}: groups");
        for (n, g) in groups.iter().enumerate() {
            let cg: Value = serde_json::from_str(&ufs_ok([
                os("info"),
                os("--json"),
                os("--cg"),
                os(&n.to_string()),
                i.path.as_os_str(),
            ]))
            .expect("cg json");
            let ctx = format!("{ctx}: group {n}");
            let ipg = v("ipg");
            let fld = |l: &str| {
                g.lines()
                    .find_map(|x| x.trim().strip_prefix(l).map(str::trim))
            };
            assert_eq!(
                fld("Inode Range:"),
                Some(format!("{} - {}", n as i64 * ipg, (n as i64 + 1) * ipg - 1).as_str()),
                "{ctx}"
            );
            for (label, key) in [
                ("Num of Dirs:", "ndir"),
                ("Num of Avail Blocks:", "nbfree"),
                ("Num of Avail Inodes:", "nifree"),
                ("Num of Avail Frags:", "nffree"),
            ] {
                let all: Vec<&str> = g
                    .lines()
                    .filter_map(|x| x.trim().strip_prefix(label).map(str::trim))
                    .collect();
                assert!(!all.is_empty(), "{ctx}: no {label}");
                for got in all {
                    assert_eq!(got, cg[key].to_string(), "{ctx}: {label}\n{g}");
                }
            }
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC).
fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Inverse of days_from_civil by search from an estimate (test code).
    let mut y = 1970 + days.div_euclid(366);
    while days_from_civil(y + 1, 1, 1) <= days {
        y += 1;
    }
    let mut m = 1;
    while m < 12 && days_from_civil(y, m + 1, 1) <= days {
        m += 1;
    }
    let d = days - days_from_civil(y, m, 1) + 1;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
