//! Independent check of the editing commands: the Linux kernel's ufs driver
//! (in a guest, tests/interop/kernel-batch.sh) mounts an image edited
//! by `ufs put/mkdir/rm/mv/ln/chmod/chown/touch/setfattr` and must see
//! exactly the tree `ufs extract` gives (compared as manifests, every
//! column), which in turn must hold what the edits were meant to do.
//!
//! Skipped, with the reason printed, when no kernel backend is installed;
//! set UFS_REQUIRE_INTEROP=1 to make that a failure instead.
#![allow(clippy::panic)] // a failing test panics

use std::ffi::OsStr;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether `tool` can be run (the one skip policy, ufskit_testkit);
/// "kernel" is the Linux kernel backend.
fn require(tool: &str) -> bool {
    if tool == "kernel" {
        return ufskit_testkit::kernel::available();
    }
    ufskit_testkit::require(tool, "run by the kernel check")
}

fn unpack(rel: &str, to: &Path) {
    let src = repo().join("tests/images").join(rel);
    let f = std::fs::File::open(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut dec =
        ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(f)).expect("zstd");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut dec, &mut out).expect("decompress");
    std::fs::write(to, out).expect("write image");
}

fn ufs<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ufs"))
        .args(args)
        .output()
        .expect("run ufs")
}

fn ok(args: &[&dyn AsRef<OsStr>]) {
    let o = ufs(args.iter().map(|a| a.as_ref()));
    let shown: Vec<_> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    assert!(
        o.status.success(),
        "ufs {shown:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A small host tree: files of several sizes (direct, fragment tail,
/// indirect, sparse), links and a fifo.
fn host_tree(t: &Path) {
    std::fs::create_dir_all(t.join("sub")).expect("mkdir");
    let pat = |n: usize, s: u8| -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(s))
            .collect()
    };
    std::fs::write(t.join("small"), b"hello, kernel\n").expect("w");
    std::fs::write(t.join("frag5000"), pat(5000, 1)).expect("w");
    std::fs::write(t.join("sub/indirect420000"), pat(420_000, 2)).expect("w");
    let f = std::fs::File::create(t.join("sparse")).expect("create");
    f.set_len(2 << 20).expect("set_len");
    std::os::unix::fs::FileExt::write_all_at(&f, b"MIDDLE", 1 << 20).expect("w");
    drop(f);
    std::fs::hard_link(t.join("small"), t.join("sub/small-again")).expect("link");
    symlink("../small", t.join("sub/up")).expect("symlink");
    symlink("t".repeat(200), t.join("long-target")).expect("symlink");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        t.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
}

/// Edits the image with every editing command.
fn edit(img: &Path, host: &Path, ufs2: bool) {
    ok(&[&"put", &"-r", &img, &host, &"/edited"]);
    ok(&[&"mkdir", &"-p", &"-m", &"0750", &img, &"/edited/new/deeper"]);
    ok(&[&"mv", &img, &"/edited/frag5000", &"/edited/new/moved5000"]);
    ok(&[&"mv", &img, &"/edited/new", &"/renamed-dir"]);
    ok(&[&"ln", &img, &"/renamed-dir/moved5000", &"/edited/hard5000"]);
    ok(&[&"ln", &"-s", &img, &"renamed-dir/deeper", &"/to-deeper"]);
    ok(&[&"chmod", &img, &"4711", &"/edited/small"]);
    ok(&[&"chown", &img, &"1001:2002", &"/edited/sub/indirect420000"]);
    ok(&[
        &"touch",
        &"-d",
        &"2001-09-09T01:46:40Z",
        &img,
        &"/edited/touched",
        &"/renamed-dir",
    ]);
    ok(&[&"rm", &"-r", &img, &"/emptydir", &"/many"]);
    ok(&[&"rm", &img, &"/links/short"]);
    if ufs2 {
        ok(&[
            &"setfattr",
            &"-n",
            &"user.note",
            &"-v",
            &"kept",
            &img,
            &"/edited/small",
        ]);
    }
    let o = ufs([
        OsStr::new("fsck"),
        OsStr::new("-n"),
        OsStr::new("-f"),
        img.as_os_str(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "fsck: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

fn kernel_sees_the_edits(base: &str, ufstype: &str, ufs2: bool) {
    if !require("kernel") || !require("bash") || !require("sha256sum") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let img = work.path().join("edited.img");
    unpack(base, &img);
    let host = work.path().join("host");
    host_tree(&host);
    edit(&img, &host, ufs2);

    // What the kernel sees.
    let t = std::time::Instant::now();
    let (kernel, _, b) = ufskit_testkit::kernel::manifest(&img, ufstype, work.path(), false);
    ufskit_testkit::kernel::record(
        &format!("edit_interop::{base}"),
        &b.backend,
        &format!("edited image as {ufstype}"),
        t,
    );

    // What ufs extract gives.
    let ex = work.path().join("extracted");
    ok(&[&"extract", &img, &ex]);
    let ours = work.path().join("ufs.manifest");
    let st = Command::new(repo().join("tests/interop/host-manifest.sh"))
        .arg(&ex)
        .arg(&ours)
        .status()
        .expect("manifest");
    assert!(st.success());
    let ours = std::fs::read_to_string(&ours).expect("ufs manifest");
    // The root's own line depends on the extraction directory; compare the
    // rest.
    let body = |m: &str| -> Vec<String> {
        m.lines()
            .filter(|l| !l.starts_with(".\t"))
            .map(str::to_string)
            .collect()
    };
    let (k, u) = (body(&kernel), body(&ours));
    if k != u {
        let only_k: Vec<_> = k.iter().filter(|l| !u.contains(l)).collect();
        let only_u: Vec<_> = u.iter().filter(|l| !k.contains(l)).collect();
        panic!("{base}: kernel and ufs disagree\nonly in the kernel's view: {only_k:#?}\nonly in ufs's: {only_u:#?}");
    }

    // And the tree is what the edits were meant to make.
    let line = |path: &str| -> Vec<String> {
        k.iter()
            .find(|l| l.split('\t').next() == Some(path))
            .map(|l| l.split('\t').map(str::to_string).collect())
            .unwrap_or_default()
    };
    let small = line("edited/small");
    assert_eq!(
        small.get(1..3),
        Some(&["file".to_string(), "4711".to_string()][..]),
        "{small:?}"
    );
    assert_eq!(
        small.get(5).map(String::as_str),
        Some("2"),
        "hard link count: {small:?}"
    );
    assert_eq!(line("edited/sub/small-again").get(8), small.get(8));
    let moved = line("renamed-dir/moved5000");
    assert_eq!(moved.get(5).map(String::as_str), Some("2"), "{moved:?}");
    assert_eq!(line("edited/hard5000").get(8), moved.get(8));
    let ind = line("edited/sub/indirect420000");
    assert_eq!(
        ind.get(3..5),
        Some(&["1001".to_string(), "2002".to_string()][..]),
        "{ind:?}"
    );
    assert_eq!(
        line("edited/touched").get(7).map(String::as_str),
        Some("1000000000")
    );
    assert_eq!(
        line("renamed-dir").get(7).map(String::as_str),
        Some("1000000000")
    );
    assert_eq!(
        line("renamed-dir/deeper").get(2).map(String::as_str),
        Some("0750")
    );
    assert_eq!(
        line("to-deeper").get(8).map(String::as_str),
        Some("renamed-dir/deeper")
    );
    assert_eq!(line("edited/long-target").get(8), Some(&"t".repeat(200)));
    assert_eq!(
        line("edited/sparse").get(6).map(String::as_str),
        Some("2097152")
    );
    assert!(line("edited/frag5000").is_empty() && line("edited/new").is_empty());
    assert!(line("emptydir").is_empty() && line("many").is_empty() && line("many/f001").is_empty());
    assert!(line("links/short").is_empty() && !line("links/mid100").is_empty());
}

#[test]
fn linux_mounts_an_edited_ufs2_image() {
    kernel_sees_the_edits("populated/pop-ufs2-8m.img.zst", "ufs2", true);
}

#[test]
fn linux_mounts_an_edited_ufs1_image() {
    kernel_sees_the_edits("populated/pop-ufs1-8m.img.zst", "44bsd", false);
}
