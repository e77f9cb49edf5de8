//! Progress output (docs/fsck.md "Progress"): `fsck -C FD` writes
//! e2fsck's lines `PASS CURRENT MAX DEVICE` to the descriptor, and with no
//! terminal nothing of progress is printed by fsck, extract or mtree.

// A test reports failure by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// A 96 MiB UFS2 image with 300 directories of 4 files each.
fn image(dir: &Path) -> std::path::PathBuf {
    let tree = dir.join("tree");
    for d in 0..300 {
        let p = tree.join(format!("d{d:03}"));
        std::fs::create_dir_all(&p).unwrap();
        for f in 0..4 {
            std::fs::write(p.join(format!("f{f}")), format!("{d} {f}\n")).unwrap();
        }
    }
    let img = dir.join("p.img");
    ufs_ok([
        "makefs".as_ref(),
        "-s".as_ref(),
        "96m".as_ref(),
        img.as_os_str(),
        tree.as_os_str(),
    ]);
    img
}

/// Runs `PROGRAM ARGS... IMAGE` with descriptor 3 a pipe whose lines come
/// back (standard output and error go to /dev/null, so only descriptor 3
/// is read).
fn progress_lines(program: &Path, args: &[&str], img: &Path) -> Vec<(u8, u64, u64, String)> {
    let o = Command::new("sh")
        .arg("-c")
        .arg(r#"p="$1"; shift; "$p" "$@" 3>&1 1>/dev/null 2>/dev/null; echo "exit $?""#)
        .arg("sh")
        .arg(program)
        .args(args)
        .arg(img)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.pop(), Some("exit 0"), "{program:?} {args:?}:\n{text}");
    lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, ' ').collect();
            assert_eq!(f.len(), 4, "not PASS CURRENT MAX DEVICE: {l:?}");
            (
                f[0].parse().unwrap_or_else(|_| panic!("pass in {l:?}")),
                f[1].parse().unwrap_or_else(|_| panic!("current in {l:?}")),
                f[2].parse().unwrap_or_else(|_| panic!("max in {l:?}")),
                f[3].to_string(),
            )
        })
        .collect()
}

fn check_protocol(lines: &[(u8, u64, u64, String)], img: &Path) {
    assert!(lines.len() > 10, "too few progress lines: {lines:?}");
    let passes: Vec<u8> = lines.iter().map(|l| l.0).collect();
    assert!(
        passes.windows(2).all(|w| w[0] <= w[1]),
        "pass numbers go back: {passes:?}"
    );
    for p in 1..=5u8 {
        let of: Vec<_> = lines.iter().filter(|l| l.0 == p).collect();
        assert!(!of.is_empty(), "no line for pass {p}");
        assert!(
            of.windows(2).all(|w| w[0].1 <= w[1].1),
            "pass {p} goes back: {of:?}"
        );
        assert!(of.iter().all(|l| l.1 <= l.2), "current > max: {of:?}");
        let last = of.last().unwrap();
        assert_eq!(last.1, last.2, "pass {p} does not end at its max");
    }
    // Pass 2 counts directories: the 300 made, the root and lost+found? at least 300.
    let dirs = lines.iter().find(|l| l.0 == 2).unwrap().2;
    assert!(dirs >= 301, "pass 2 max {dirs}");
    assert!(lines.iter().all(|l| l.3 == img.display().to_string()));
}

#[test]
fn fsck_dash_capital_c_writes_e2fsck_lines_to_the_descriptor() {
    let t = tempfile::tempdir().unwrap();
    let img = image(t.path());
    let lines = progress_lines(&ufs_bin(), &["fsck", "-f", "-n", "-C", "3"], &img);
    check_protocol(&lines, &img);
    // Pass 1 and 5 count cylinder groups.
    let ncg = lines.iter().find(|l| l.0 == 1).unwrap().2;
    assert!(ncg >= 2, "{ncg} groups");
    assert_eq!(lines.iter().find(|l| l.0 == 5).unwrap().2, ncg);

    // fsck.ufs as util-linux fsck(8) calls it: -C3 attached, -a for preen,
    // and a repair (-y) reports the same way.
    let link = t.path().join("fsck.ufs");
    std::os::unix::fs::symlink(ufs_bin(), &link).unwrap();
    check_protocol(&progress_lines(&link, &["-f", "-y", "-C3"], &img), &img);
}

#[test]
fn without_a_terminal_nothing_of_progress_is_printed() {
    let t = tempfile::tempdir().unwrap();
    let img = image(t.path());
    let fsck = ufs([
        "fsck".as_ref(),
        "-f".as_ref(),
        "-n".as_ref(),
        img.as_os_str(),
    ]);
    assert_eq!(fsck.status.code(), Some(0));
    assert!(
        fsck.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&fsck.stderr)
    );
    let out = String::from_utf8_lossy(&fsck.stdout);
    assert!(!out.contains('\r') && !out.contains('\x1b'), "{out:?}");
    let ex = t.path().join("ex");
    let x = ufs(["extract".as_ref(), img.as_os_str(), ex.as_os_str()]);
    assert_eq!(x.status.code(), Some(0));
    assert!(x.stderr.is_empty() && x.stdout.is_empty());
    let m = ufs(["mtree".as_ref(), img.as_os_str()]);
    assert_eq!(m.status.code(), Some(0));
    assert!(
        m.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&m.stderr)
    );
    assert!(!String::from_utf8_lossy(&m.stdout).contains('\r'));
    // A descriptor that is not open is a plain error, not a crash.
    let o = ufs([
        "fsck".as_ref(),
        "-n".as_ref(),
        "-C".as_ref(),
        "97".as_ref(),
        img.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&o.stderr).contains("descriptor 97"));
}

/// On a terminal (a pty from util-linux script(1)), `-C 0` draws the bar
/// from the start (standard output is on the same pty).
#[test]
fn on_a_terminal_dash_c_zero_draws_the_bar() {
    if !require("script", "util-linux script for a pseudo-terminal") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(t.path());
    let cmd = format!(
        "'{}' fsck -f -n -C 0 '{}'",
        ufs_bin().display(),
        img.display()
    );
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("** Phase 5"), "{text}");
    assert!(text.contains("% checked"), "no bar:\n{text:?}");
}

/// The lines a terminal shows of `raw` (script(1)'s capture): each line's
/// text after its last carriage return (every bar redraw starts with one),
/// with escape sequences removed.
fn screen_lines(raw: &str) -> Vec<String> {
    raw.split('\n')
        .map(|l| {
            let l = l.trim_end_matches('\r');
            let shown = l.rsplit('\r').next().unwrap_or(l);
            let mut out = String::new();
            let mut chars = shown.chars();
            while let Some(c) = chars.next() {
                if c == '\x1b' {
                    // CSI: ESC [ parameters, then one final letter.
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect()
}

/// With findings to report and the bar on the same terminal, every report
/// line is printed with the bar taken off its line first: no line shows
/// bar text and report text together (before the fix, `** Phase 2` and
/// the findings were appended to the bar's line).
#[test]
fn on_a_terminal_report_lines_never_share_a_line_with_the_bar() {
    if !require("script", "util-linux script for a pseudo-terminal") {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let img = image(t.path());
    // Wrong link counts on the allocated ones of 75 inodes: phase 4 findings
    // while the bar is showing.
    let script = t.path().join("damage");
    let lines: String = (3..1500)
        .step_by(20)
        .map(|i| format!("set inode {i} di_nlink 9\n"))
        .collect();
    std::fs::write(&script, lines).unwrap();
    ufs_ok([
        "debug".as_ref(),
        "-f".as_ref(),
        script.as_os_str(),
        img.as_os_str(),
    ]);
    let cmd = format!(
        "'{}' fsck -f -n -C 0 '{}'",
        ufs_bin().display(),
        img.display()
    );
    let o = Command::new("script")
        .args(["-q", "-c", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let raw = String::from_utf8_lossy(&o.stdout);
    assert!(raw.contains("% checked"), "no bar:\n{raw:?}");
    let screen = screen_lines(&raw);
    let findings = screen
        .iter()
        .filter(|l| l.starts_with("LINK COUNT"))
        .count();
    assert!(findings >= 30, "{findings} findings:\n{raw:?}");
    assert!(screen
        .iter()
        .any(|l| l == "** Phase 4 - Check Reference Counts"));
    for l in &screen {
        let Some(at) = l.find("% checked") else {
            continue;
        };
        let bar = l.find(['█', '░']).unwrap_or(at);
        let end = l.rfind(')').map_or(l.len(), |e| e + 1);
        assert!(
            l[..bar].trim().is_empty() && l[end..].trim().is_empty(),
            "a report line shares the bar's line: {l:?}"
        );
    }
}
