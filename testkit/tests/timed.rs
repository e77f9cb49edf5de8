//! bench/'s runner, `timed` (src/bin/timed.rs): one line of wall seconds,
//! CPU milliseconds, peak RSS in KiB and exit status, the command's output
//! in the log, and the peak that of the command, not the runner's.
#![cfg(unix)]

use std::process::Command;

/// Runs `timed LOG CMD...`; its exit status and the four fields.
fn timed(log: &std::path::Path, cmd: &[&str]) -> (Option<i32>, Vec<f64>) {
    let out = Command::new(env!("CARGO_BIN_EXE_timed"))
        .arg(log)
        .args(cmd)
        .output()
        .expect("run timed");
    let line = String::from_utf8(out.stdout).expect("utf-8");
    let fields = line
        .split_whitespace()
        .map(|f| f.parse().expect("a number"))
        .collect();
    (out.status.code(), fields)
}

#[test]
fn reports_the_command_alone() {
    let dir = tempfile_dir();
    let log = dir.join("log");
    let (code, f) = timed(&log, &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(code, Some(0), "the runner itself succeeds");
    assert_eq!(f.len(), 4, "{f:?}");
    assert!(f[0] > 0.0 && f[0] < 60.0, "wall seconds {}", f[0]);
    assert_eq!(f[3], 3.0, "the command's exit status");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "out\nerr\n");
    // dd's 32 MiB buffer, filled, is the command's peak; `true` stays far
    // below it (the runner's own memory is not counted in).
    let (_, big) = timed(
        &log,
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=32M", "count=1"],
    );
    assert!(big[2] >= 32.0 * 1024.0, "peak {} KiB", big[2]);
    let (_, small) = timed(&log, &["true"]);
    assert!(small[2] < 16.0 * 1024.0, "peak {} KiB", small[2]);
}

#[test]
fn a_missing_command_is_named() {
    let dir = tempfile_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_timed"))
        .arg(dir.join("log"))
        .arg("/nonexistent/tool")
        .output()
        .expect("run timed");
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/tool"));
}

/// A fresh directory under the target's temporary folder (testkit has no
/// dependencies to borrow a temp-dir helper from).
fn tempfile_dir() -> std::path::PathBuf {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "timed-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
