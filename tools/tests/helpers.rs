//! Conventions of a Unix helper program: quiet on a closed pipe, the
//! argument conventions of util-linux mount(8) and fsck(8) for mount.md
//! and fsck.ufs (through the real mount and fsck where they can run),
//! `ufs install-links`, manual pages and shell completions.

// A test reports failure by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{output_ok, require};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_ufs");

/// An image with 3000 files (listings far larger than a pipe's buffer).
fn many_files(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    std::fs::create_dir(&tree).unwrap();
    for i in 0..3000 {
        std::fs::write(tree.join(format!("a-file-with-a-long-name-{i:05}")), "x").unwrap();
    }
    let img = dir.join("many.img");
    output_ok(
        Command::new(BIN)
            .args(["makefs", "-s", "32m"])
            .arg(&img)
            .arg(&tree),
        "makefs",
    );
    img
}

/// A link to the binary under another name, in `dir`.
fn personality(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::os::unix::fs::symlink(BIN, &p).unwrap();
    p
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let img = many_files(dir.path());
    for args in [&["ls", "-l"][..], &["mtree"], &["info", "--dumpfs"]] {
        let mut c = Command::new(BIN)
            .args(args)
            .arg(&img)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read a little, then go away, as `head -1` does.
        let mut first = [0u8; 16];
        c.stdout.take().unwrap().read_exact(&mut first).unwrap();
        let o = c.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.is_empty(), "ufs {args:?} | head printed: {err}");
        assert!(
            matches!(o.status.code(), Some(0 | 141)),
            "ufs {args:?} | head: {:?}",
            o.status
        );
    }
}

#[test]
fn mount_md_takes_mount8_flags_in_front_and_mdmfs_options_in_o() {
    let dir = tempfile::tempdir().unwrap();
    let img = many_files(dir.path());
    let helper = personality(dir.path(), "mount.md");
    // Exactly what util-linux mount(8) runs for `mount -f -v -t md ...`.
    let o = Command::new(&helper)
        .args(["md", "/mnt", "-f", "-v", "-o"])
        .arg(format!("ro,-F{},-P,-Tufs", img.display()))
        .env("UFS_HOST", "linux")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("losetup") && out.contains("mount -t ufs -o ro"),
        "{out}"
    );
    // -s, -n and -v are mount(8)'s here, never mdmfs's size, no-snap or version.
    let o = Command::new(&helper)
        .args(["md", "/mnt", "-s", "-n", "-v", "-f", "-o"])
        .arg(format!("-F{},-P", img.display()))
        .env("UFS_HOST", "linux")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(&helper)
        .args(["md", "/mnt", "-N", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// Runs util-linux mount(8) itself with `mount.md` visible as /sbin's, in
/// a private mount namespace; `-f` keeps it from attaching anything.
#[test]
fn util_linux_mount_runs_the_helper() {
    if !require(
        "unshare",
        "util-linux unshare for a private mount namespace",
    ) || !require("mount", "util-linux mount")
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = many_files(dir.path());
    let sbin = dir.path().join("sbin");
    std::fs::create_dir(&sbin).unwrap();
    personality(&sbin, "mount.md");
    let script = format!(
        "mount --bind {} /sbin && mount -f -v -t md md /mnt -o ro,-F{},-P,-Tufs",
        sbin.display(),
        img.display()
    );
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("UFS_HOST", "linux")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    if text.contains("Operation not permitted") || text.contains("unshare failed") {
        ufskit_testkit::skip(&format!("no private mount namespace here: {text}"));
        return;
    }
    assert!(o.status.success(), "{text}");
    assert!(text.contains("losetup --find --show --read-only"), "{text}");
}

#[test]
fn fsck_ufs_accepts_util_linux_options() {
    let dir = tempfile::tempdir().unwrap();
    let img = many_files(dir.path());
    let helper = personality(dir.path(), "fsck.ufs");
    for args in [
        &["-a"][..],
        &["-a", "-V", "-C", "0", "-M", "-T", "-l"],
        &["-r", "-f"],
        &["-C0", "-fn"],
        &["-fa"],
    ] {
        let o = Command::new(&helper).args(args).arg(&img).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "fsck.ufs {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // -a is preen: one summary line, no questions.
    let o = Command::new(&helper)
        .args(["-fa"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("files,"));
    // util-linux fsck finds fsck.ufs on PATH and passes an absolute path.
    if require("fsck", "util-linux fsck") {
        let path = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap()
        );
        let o = Command::new("fsck")
            .args(["-V", "-t", "ufs", "-a"])
            .arg(&img)
            .env("PATH", path)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success() && out.contains("fsck.ufs -a"), "{out}");
        assert!(out.contains("clean"), "{out}");
    }
}

#[test]
fn fsck_ffs_help_starts_with_what_it_does() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(personality(dir.path(), "fsck_ffs"))
        .arg("--help")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("Check and repair"), "{out}");
}

#[test]
fn install_links_makes_every_helper_and_the_manual_pages() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("root");
    let run = || {
        Command::new(BIN)
            .args(["install-links", "--prefix"])
            .arg(&prefix)
            .output()
            .unwrap()
    };
    assert!(run().status.success());
    let exe = std::fs::canonicalize(BIN).unwrap();
    for name in [
        "fsck.ufs",
        "fsck_ffs",
        "mount.md",
        "mount_md",
        "mdmfs",
        "newfs.ufs",
        "mkfs.ufs",
        "mount.fuse.ufskit",
    ] {
        assert_eq!(
            std::fs::read_link(prefix.join("sbin").join(name)).unwrap(),
            exe,
            "{name}"
        );
        let page = prefix.join("usr/share/man/man8").join(format!("{name}.8"));
        let text = std::fs::read_to_string(&page).unwrap();
        assert!(
            text.contains(".TH") && text.contains(name),
            "{}",
            page.display()
        );
    }
    assert!(prefix.join("usr/share/man/man8/ufs-fsck.8").is_file());
    // Again: nothing to do. A file that is not ours is kept.
    assert!(run().status.success());
    std::fs::remove_file(prefix.join("sbin/mdmfs")).unwrap();
    std::fs::write(prefix.join("sbin/mdmfs"), "FreeBSD's own").unwrap();
    let o = run();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not ours"));
    assert_eq!(
        std::fs::read_to_string(prefix.join("sbin/mdmfs")).unwrap(),
        "FreeBSD's own"
    );
}

#[test]
fn manual_pages_render_and_completions_parse() {
    let dir = tempfile::tempdir().unwrap();
    output_ok(Command::new(BIN).arg("man").arg(dir.path()), "ufs man");
    let page = dir.path().join("ufs.8");
    if require("man", "man-db to render pages") {
        let o = output_ok(
            Command::new("man")
                .arg("-l")
                .arg(&page)
                .env("MANWIDTH", "80"),
            "man -l",
        );
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("install-links") && text.contains("fsck"),
            "{text}"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let o = output_ok(Command::new(BIN).args(["completions", shell]), shell);
        let script = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(script.contains("install-links"), "{shell}");
        if shell == "bash" {
            let f = dir.path().join("ufs.bash");
            std::fs::write(&f, &script).unwrap();
            output_ok(Command::new("bash").arg("-n").arg(&f), "bash -n");
        }
    }
}

#[test]
fn fsck_usage_errors_exit_as_docs_fsck_md_says() {
    let dir = tempfile::tempdir().unwrap();
    let code =
        |exe: &Path, args: &[&str]| Command::new(exe).args(args).output().unwrap().status.code();
    // `ufs fsck`: 2, as every ufs subcommand; as fsck.ufs (Linux fsck(8),
    // e2fsck): 16; as fsck_ffs (FreeBSD usage()): 1, its 16 meaning "rerun".
    assert_eq!(code(Path::new(BIN), &["fsck", "--bogus", "x"]), Some(2));
    assert_eq!(code(Path::new(BIN), &["fsck"]), Some(2));
    assert_eq!(
        code(&personality(dir.path(), "fsck.ufs"), &["-Q", "x"]),
        Some(16)
    );
    assert_eq!(
        code(&personality(dir.path(), "fsck_ffs"), &["-Q", "x"]),
        Some(1)
    );
    assert_eq!(code(Path::new(BIN), &["ls", "--bogus", "x"]), Some(2));
}

#[test]
fn dry_run_is_the_long_spelling_of_x() {
    let dir = tempfile::tempdir().unwrap();
    let img = many_files(dir.path());
    let o = Command::new(BIN)
        .args(["mount", "--dry-run", "-P", "-F"])
        .arg(&img)
        .args(["md", "/mnt", "-o", "ro"])
        .env("UFS_HOST", "linux")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("losetup"),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // umount takes it too (here /mnt is not mounted: a failure, not a usage error).
    let o = Command::new(BIN)
        .args(["umount", "--dry-run", "--host", "linux", "/mnt"])
        .output()
        .unwrap();
    assert_ne!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn put_usage_line_reads_as_cp_does() {
    let o = Command::new(BIN).args(["put", "--help"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Usage: ufs put [OPTIONS] IMAGE HOSTPATH... IMGPATH\n"),
        "{out}"
    );
}
