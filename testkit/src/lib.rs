//! Test support shared by the test suites of `ufskit` and `ufskit-tools`.
//!
//! It owns one decision for every test file: what happens when an
//! independent checker (a host tool, FreeBSD's own tools, the Linux kernel)
//! is missing. A missing checker skips the test with a message, unless
//! `UFS_REQUIRE_INTEROP=1` (as in CI), where it fails: CI installs every
//! checker, so a quiet skip there would hide a failure. A checker that is
//! present but broken is never skipped: the test fails with its cause.

use std::path::{Path, PathBuf};

/// Whether a missing checker fails the test: `UFS_REQUIRE_INTEROP=1`
/// exactly (any other value, or none, means skip).
pub fn strict() -> bool {
    std::env::var("UFS_REQUIRE_INTEROP").as_deref() == Ok("1")
}

/// Reports a missing checker: panics under [`strict`], else prints
/// `SKIPPED: …` and returns `false`, so tests can write
/// `if !skip("…") { return; }` or use the `require*` helpers.
pub fn skip(msg: &str) -> bool {
    if strict() {
        panic!("{msg}, and UFS_REQUIRE_INTEROP=1 (a checker CI installs is missing)");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

/// Whether `tool` is an executable file on PATH.
pub fn have(tool: &str) -> bool {
    which(tool).is_some()
}

/// The first `tool` on PATH.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Requires a host tool on PATH: `true` when present, else [`skip`] with
/// `why` (the checker's purpose, and how to install it).
pub fn require(tool: &str, why: &str) -> bool {
    have(tool) || skip(&format!("`{tool}` not found on PATH ({why})"))
}

/// The repository root (this crate lives in `<root>/testkit`).
pub fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Where the tests keep what outlives a temporary directory (guest console
/// logs of failed kernel checks, the check log): `<target>/ufskit-tests`.
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_dir().join("target"));
    let d = target.join("ufskit-tests");
    let _ = std::fs::create_dir_all(&d);
    d
}

/// The shared directory beside the repository (`../shared`, or
/// `UFS_SHARED_DIR`): FreeBSD's tools and reference outputs.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("UFS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_dir().join("../shared"))
}

/// FreeBSD 12.1's own tools built for Linux (`fsck_ffs`, `fsck_ffs_check`,
/// `newfs`, `growfs`, `tunefs`, `dumpfs`, `makefs`), from
/// `<shared>/oracles/freebsd-12.1/bin` or `UFS_FREEBSD_BIN`.
pub mod freebsd {
    use super::*;

    /// The directory holding the FreeBSD tools, whether or not it exists.
    pub fn bin_dir() -> PathBuf {
        std::env::var_os("UFS_FREEBSD_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| shared_dir().join("oracles/freebsd-12.1/bin"))
    }

    /// The FreeBSD tool `name`, or [`skip`] (`None`) when it is not there.
    /// Remember the tools' quirks (the oracle README): image paths must
    /// contain a `/`, run with `TZ=UTC LC_ALL=C`, `fsck_ffs -n` exits 0 on
    /// damage (use `fsck_ffs_check` for verdicts).
    pub fn tool(name: &str) -> Option<PathBuf> {
        let p = bin_dir().join(name);
        if p.is_file() {
            Some(p)
        } else {
            skip(&format!(
                "FreeBSD's `{name}` not found at {} (the oracle pack in ../shared/oracles/freebsd-12.1; UFS_FREEBSD_BIN names another place)",
                p.display()
            ));
            None
        }
    }

    /// A command for the FreeBSD tool at `path` with the environment its
    /// output is stable in.
    pub fn command(path: &Path) -> std::process::Command {
        let mut c = std::process::Command::new(path);
        c.env("TZ", "UTC").env("LC_ALL", "C");
        c
    }

    /// FreeBSD fsck_ffs's verdict on `img` (`fsck_ffs_check`: `-n -f`):
    /// `Some(true)` clean, `Some(false)` not clean (with its output in the
    /// error), `None` when the oracle is missing (skipped). Panics when the
    /// checker could not check the image at all (exit 2 or a signal).
    pub fn fsck_clean(img: &Path) -> Option<Result<(), String>> {
        let tool = tool("fsck_ffs_check")?;
        // The tools prefix /dev/ to a path without a slash.
        let img = std::path::absolute(img).unwrap_or_else(|_| img.to_path_buf());
        let o = command(&tool)
            .arg(&img)
            .output()
            .expect("run fsck_ffs_check");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        match o.status.code() {
            Some(0) => Some(Ok(())),
            Some(1) => Some(Err(text)),
            other => panic!(
                "FreeBSD fsck_ffs_check could not check {} (exit {other:?}):\n{text}",
                img.display()
            ),
        }
    }
}

/// The Linux kernel's ufs driver as a checker: tests/interop/kernel-*.sh
/// boot a guest (user-mode-linux, or QEMU with KVM or its software CPU,
/// whichever runs here; `UFS_KERNEL_BACKEND` forces one) that mounts
/// images read-only and writes manifests of what the kernel sees.
pub mod kernel {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Output};
    use std::time::Instant;

    /// Whether a kernel backend is installed (and the host tools the guest
    /// runs: losetup, sha256sum); else [`skip`]. A backend that is installed
    /// but cannot boot is not skipped: the check fails with its console.
    pub fn available() -> bool {
        if !require("losetup", "util-linux, run inside the guest")
            || !require("sha256sum", "coreutils, run inside the guest")
        {
            return false;
        }
        let uml = (have("linux.uml") || std::env::var_os("UML_LINUX").is_some())
            && Path::new("/usr/lib/uml/modules").is_dir();
        let qemu = have("qemu-system-x86_64") && have("busybox");
        let ok = match std::env::var("UFS_KERNEL_BACKEND").as_deref() {
            Ok("uml") => uml,
            Ok(b) if b.starts_with("qemu") => qemu,
            _ => uml || qemu,
        };
        ok || skip(
            "no Linux kernel backend installed (apt-get install qemu-system-x86 busybox-static, \
             or user-mode-linux; see docs/testing.md)",
        )
    }

    /// The interop scripts' directory.
    pub fn scripts() -> PathBuf {
        repo_dir().join("tests/interop")
    }

    /// Keeps a guest's console log (which lives in a temporary directory
    /// that is about to go) under [`artifacts_dir`], and returns the kept
    /// path with the log's last `lines` lines.
    pub fn keep_console(log: &Path, what: &str, lines: usize) -> String {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let safe: String = what
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let kept = artifacts_dir().join(format!("{safe}-{stamp}.console.log"));
        let _ = std::fs::write(&kept, &text);
        let all: Vec<&str> = text.lines().collect();
        let tail = all[all.len().saturating_sub(lines)..].join("\n  console: ");
        format!(
            "guest console kept in {}; its last lines:\n  console: {tail}",
            kept.display()
        )
    }

    /// Appends `test: backend …, what, seconds` to
    /// `<artifacts>/kernel-checks.log` and to stderr, so every run's log
    /// says which backend each kernel check used.
    pub fn record(test: &str, backend: &str, what: &str, started: Instant) {
        let line = format!(
            "{test}: {backend}: {what}, {:.1} s",
            started.elapsed().as_secs_f64()
        );
        eprintln!("kernel check {line}");
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(artifacts_dir().join("kernel-checks.log"))
        {
            let _ = writeln!(f, "{line}");
        }
    }

    /// What one kernel-batch.sh run produced.
    pub struct Batch {
        /// The backend's description (`uml (…)`, `qemu-tcg (…)`).
        pub backend: String,
        /// Files above this size were hashed in their first and last
        /// 16 MiB only (`partial:`), in the guest and so in any manifest
        /// compared with it.
        pub partial_above: u64,
        /// The script's exit status: 0 every image has a manifest, 1 some
        /// have NAME.error.
        pub status: i32,
        /// The script's stderr.
        pub log: String,
    }

    /// Runs tests/interop/kernel-batch.sh on `list` (lines
    /// `IMAGE UFSTYPE NAME`) into `outdir`. Panics, with the guest's console
    /// tail (the log kept under [`artifacts_dir`]), when the guest could
    /// not be set up at all.
    /// `fast_hash`: under QEMU's software CPU, files over 32 MiB may be
    /// hashed partially (the caller compares with the same limit,
    /// [`Batch::partial_above`]).
    pub fn batch(list: &str, outdir: &Path, what: &str, fast_hash: bool) -> Batch {
        std::fs::create_dir_all(outdir).expect("create the kernel output directory");
        let lf = outdir.with_extension("list");
        std::fs::write(&lf, list).expect("write the image list");
        let o: Output = Command::new("bash")
            .arg(scripts().join("kernel-batch.sh"))
            .arg(&lf)
            .arg(outdir)
            .env("KERNEL_FAST_HASH", if fast_hash { "1" } else { "0" })
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run kernel-batch.sh");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let status = o.status.code().unwrap_or(-1);
        if !matches!(status, 0 | 1) {
            panic!(
                "kernel-batch.sh for {what} failed (exit {status}):\n{log}\n{}",
                keep_console(&outdir.join("console.log"), what, 25)
            );
        }
        Batch {
            backend: read_trim(&outdir.join("backend")),
            partial_above: read_trim(&outdir.join("partial-above"))
                .parse()
                .unwrap_or(4 << 30),
            status,
            log,
        }
    }

    fn read_trim(p: &Path) -> String {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// What the kernel sees of one image: its manifest, the statfs text
    /// (`OUT.statfs`), and the batch facts. Panics with the guest's words
    /// and console tail when the mount or a read fails.
    /// `fast_hash` as in [`batch`].
    pub fn manifest(
        img: &Path,
        ufstype: &str,
        work: &Path,
        fast_hash: bool,
    ) -> (String, String, Batch) {
        let outdir = work.join(format!(
            "kernel-{}",
            img.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        ));
        let b = batch(
            &format!("{} {ufstype} image\n", img.display()),
            &outdir,
            &img.display().to_string(),
            fast_hash,
        );
        let m = std::fs::read_to_string(outdir.join("image.manifest"));
        match m {
            Ok(m) if b.status == 0 => {
                let statfs =
                    std::fs::read_to_string(outdir.join("image.statfs")).unwrap_or_default();
                (m, statfs, b)
            }
            _ => panic!(
                "the kernel ({}) could not mount or read {} as {ufstype}:\n{}\n{}\n{}",
                b.backend,
                img.display(),
                std::fs::read_to_string(outdir.join("image.error")).unwrap_or_default(),
                b.log,
                keep_console(&outdir.join("console.log"), &img.display().to_string(), 25)
            ),
        }
    }

    /// Boots a guest whose first process is the host script `init`
    /// (tests/interop/kernel-run.sh): the guest sees the host's files at
    /// the same paths, `$UFS_KMODDIR` names the guest kernel's modules and
    /// kernel-lib.sh's `kernel_module`/`kernel_load`/`kernel_poweroff` are
    /// there to source. Returns the backend's description; panics with the
    /// console tail when the guest fails to boot or to power off in
    /// `timeout_s`.
    pub fn run_guest(init: &Path, timeout_s: u32, what: &str) -> String {
        let log = init.with_extension("console.log");
        let o = Command::new("bash")
            .arg(scripts().join("kernel-run.sh"))
            .arg(init)
            .arg(&log)
            .arg(timeout_s.to_string())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run kernel-run.sh");
        let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !o.status.success() {
            panic!(
                "guest for {what} failed ({}):\n{out}{}\n{}",
                o.status,
                String::from_utf8_lossy(&o.stderr),
                keep_console(&log, what, 25)
            );
        }
        out
    }
}

/// `len` bytes of deterministic noise from `seed` (xorshift64): images
/// that hold no file system, the same on every run and host.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}
