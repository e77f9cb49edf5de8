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
