//! Helpers shared by the `ufs` command's integration tests: test images,
//! running the binary, manifests, and readable diffs.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

pub mod damage;

/// The repository's tests/images directory.
pub fn images_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/images")
}

/// The repository's tests/interop directory (the manifest scripts).
pub fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop")
}

/// The repository root.
pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `ufs` binary under test.
pub fn ufs_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ufs"))
}

/// A decompressed image in its own temporary directory.
pub struct Img {
    /// Keeps the directory alive.
    pub dir: TempDir,
    /// The image file.
    pub path: PathBuf,
}

/// Decompresses `tests/images/<rel>` (a `.zst`) into a fresh temp dir.
pub fn unpack(rel: &str) -> Img {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = Path::new(rel)
        .file_name()
        .and_then(OsStr::to_str)
        .expect("name")
        .trim_end_matches(".zst")
        .to_string();
    let path = dir.path().join(name);
    unpack_to(rel, &path);
    Img { dir, path }
}

/// Decompresses `tests/images/<rel>` to `dest`.
pub fn unpack_to(rel: &str, dest: &Path) {
    let src = images_dir().join(rel);
    let f = std::fs::File::open(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut dec = ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(f))
        .unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut out = std::fs::File::create(dest).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
    std::io::copy(&mut dec, &mut out).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
}

/// Image files (relative to tests/images) in `sub` whose name ends with `suffix`, sorted.
pub fn list(sub: &str, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(images_dir().join(sub))
        .unwrap_or_else(|e| panic!("{sub}: {e}"))
        .map(|e| {
            e.expect("dirent")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(suffix))
        .map(|n| format!("{sub}/{n}"))
        .collect();
    v.sort();
    v
}

/// Runs `ufs ARGS...` and checks that it did not panic.
pub fn ufs<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let out = Command::new(ufs_bin())
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn ufs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked") && out.status.code().is_some(),
        "ufs {args:?} panicked or was killed ({:?}):\n{err}",
        out.status
    );
    out
}

/// Runs `ufs ARGS...`, requires exit status 0 and returns stdout as text.
pub fn ufs_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let out = ufs(&args);
    assert!(
        out.status.success(),
        "ufs {args:?} failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap_or_else(|e| panic!("ufs {args:?}: output is not UTF-8: {e}"))
}

/// Runs `cmd`, which must start and exit 0; a failure shows `what` and
/// the command's standard error.
pub fn output_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A line diff of two texts (`-` only in `want`, `+` only in `got`), at
/// most `max` changed lines, or `None` when they are equal.
pub fn diff(want: &str, got: &str) -> Option<String> {
    if want == got {
        return None;
    }
    let a: Vec<&str> = want.lines().collect();
    let b: Vec<&str> = got.lines().collect();
    // Trim the common head and tail, then an LCS table over the rest.
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a2, b2) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut out = String::new();
    let max = 60;
    let mut shown = 0;
    if a2.len() * b2.len() > 20_000_000 {
        for l in a2.iter().take(max) {
            out.push_str(&format!("-{l}\n"));
        }
        for l in b2.iter().take(max) {
            out.push_str(&format!("+{l}\n"));
        }
    } else {
        let (n, m) = (a2.len(), b2.len());
        let mut t = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                t[i * (m + 1) + j] = if a2[i] == b2[j] {
                    t[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    t[(i + 1) * (m + 1) + j].max(t[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while (i < n || j < m) && shown < max {
            if i < n && j < m && a2[i] == b2[j] {
                i += 1;
                j += 1;
            } else if j < m && (i == n || t[i * (m + 1) + j + 1] >= t[(i + 1) * (m + 1) + j]) {
                out.push_str(&format!("+{}\n", b2[j]));
                j += 1;
                shown += 1;
            } else {
                out.push_str(&format!("-{}\n", a2[i]));
                i += 1;
                shown += 1;
            }
        }
    }
    if want.ends_with('\n') != got.ends_with('\n') {
        out.push_str("(the texts differ in their final newline)\n");
    }
    Some(format!(
        "first difference after line {head} (- expected, + got):\n{out}"
    ))
}

/// Panics with a diff unless `got == want`.
#[track_caller]
pub fn assert_same(what: &str, want: &str, got: &str) {
    if let Some(d) = diff(want, got) {
        panic!("{what}: output differs\n{d}");
    }
}

/// One line of a manifest (tests/images/README.md, "Manifest format").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    /// `None` for directories (`-`).
    pub size: Option<u64>,
    pub mtime: i64,
    pub content: String,
}

/// Parses a manifest file's text.
pub fn parse_manifest(text: &str) -> Vec<Entry> {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 9, "manifest line {l:?}");
            Entry {
                path: f[0].into(),
                kind: f[1].into(),
                mode: u32::from_str_radix(f[2], 8).expect("mode"),
                uid: f[3].parse().expect("uid"),
                gid: f[4].parse().expect("gid"),
                nlink: f[5].parse().expect("nlink"),
                size: if f[6] == "-" {
                    None
                } else {
                    Some(f[6].parse().expect("size"))
                },
                mtime: f[7].parse().expect("mtime"),
                content: f[8].into(),
            }
        })
        .collect()
}

/// Reads a recorded manifest, following the symlinks `ref/` uses.
pub fn read_manifest(rel: &str) -> String {
    let p = images_dir().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD` and `HH:MM:SS` (UTC) into seconds since the epoch.
pub fn parse_time(date: &str, time: &str) -> i64 {
    let d: Vec<i64> = date.split('-').map(|x| x.parse().expect("date")).collect();
    let t: Vec<i64> = time.split(':').map(|x| x.parse().expect("time")).collect();
    assert!(d.len() == 3 && t.len() == 3, "time {date} {time}");
    days_from_civil(d[0], d[1], d[2]) * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]
}

/// Whether the tests run as root (owners and device nodes can be created).
pub fn is_root() -> bool {
    // The effective uid (second number of the `Uid:` line).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Whether `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    ufskit_testkit::have(tool)
}

/// Requires an external tool (the one skip policy: `ufskit_testkit::require`).
pub fn require(tool: &str, why: &str) -> bool {
    ufskit_testkit::require(tool, why)
}

/// Lists every path below `dir` (relative, sorted), without following symlinks.
pub fn tree_listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            out.push(
                p.strip_prefix(base)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned(),
            );
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(base, &p, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// The fsck corpus case directories (tests/images/fsck/<case>/), sorted.
pub fn corpus_cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(images_dir().join("fsck"))
        .expect("tests/images/fsck")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("script").exists())
        .collect();
    cases.sort();
    cases
}

/// A corpus case built into `case.img` in its own temporary directory.
pub struct Case {
    /// The case's directory name.
    pub name: String,
    /// Keeps the directory alive.
    pub dir: TempDir,
    /// The damaged image.
    pub img: PathBuf,
}

/// Decompresses the case's base image and applies its `ufs debug` script.
pub fn build_case(case: &Path) -> Case {
    let name = case
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = std::fs::read_to_string(case.join("base"))
        .expect("base")
        .trim()
        .to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("case.img");
    unpack_to(&base, &img);
    let st = Command::new(ufs_bin())
        .args(["debug", "-f"])
        .arg(case.join("script"))
        .arg(&img)
        .status()
        .expect("ufs debug");
    assert!(st.success(), "{name}: ufs debug failed");
    Case { name, dir, img }
}

/// Whether a Linux kernel backend is installed (else the test skips, or
/// fails under UFS_REQUIRE_INTEROP=1): the one check for every kernel test.
pub fn kernel_available() -> bool {
    ufskit_testkit::kernel::available()
}

/// What the Linux kernel sees of `img`: boots a guest
/// (tests/interop/kernel-batch.sh: user-mode-linux or QEMU), mounts the
/// image read-only with the ufs driver as `ufstype` (ufs2, 44bsd) and
/// returns the manifest, also written to `out` (and the kernel's statfs
/// numbers to `out.statfs`). Panics with the guest's words and console
/// tail when the mount or the listing fails; records the backend used.
pub fn kernel_manifest(img: &Path, ufstype: &str, out: &Path) -> String {
    let t = std::time::Instant::now();
    let work = out.parent().unwrap_or(Path::new("."));
    let (m, statfs, b) = ufskit_testkit::kernel::manifest(img, ufstype, work, false);
    std::fs::write(out, &m).expect("write the kernel manifest");
    std::fs::write(format!("{}.statfs", out.display()), statfs).expect("write statfs");
    let test = std::thread::current()
        .name()
        .unwrap_or("kernel_manifest")
        .to_string();
    ufskit_testkit::kernel::record(
        &test,
        &b.backend,
        &format!("{} as {ufstype}", img.display()),
        t,
    );
    m
}

/// The paths The Sleuth Kit's `fls -r -p` lists in `img` (read as `ty`,
/// ufs1 or ufs2), sorted, without TSK's virtual $OrphanFiles directory.
pub fn tsk_paths(img: &Path, ty: &str) -> Vec<String> {
    let out = output_ok(
        Command::new("fls").args(["-r", "-p", "-f", ty]).arg(img),
        &format!("fls {}", img.display()),
    );
    // Lines are "TYPE INODE:\tPATH".
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(_, p)| p.to_string()))
        .filter(|p| p != "$OrphanFiles")
        .collect();
    got.sort();
    got
}

/// The manifest (tests/interop/manifest.sh) of a host directory, written
/// to `out` and returned.
pub fn host_manifest(dir: &Path, out: &Path) -> String {
    output_ok(
        Command::new("bash")
            .arg(interop_dir().join("host-manifest.sh"))
            .arg(dir)
            .arg(out),
        "host-manifest.sh",
    );
    std::fs::read_to_string(out).expect("manifest")
}

/// The small fixture tree (tests/fixtures/mktree.sh --small) built in
/// `dir/tree`: hard links, symlinks, device nodes, fifos, owners, set-id
/// bits, times from before 1970 to 2038.
pub fn fixture_tree(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    output_ok(
        Command::new("bash")
            .arg(repo_dir().join("tests/fixtures/mktree.sh"))
            .arg("--small")
            .arg(&tree),
        "mktree.sh",
    );
    tree
}

/// Runs `cmd` with a watchdog: killed (and the test failed) after
/// `limit`. Returns the output and how long it took; fails on a panic.
pub fn run_bounded(cmd: &mut Command, limit: std::time::Duration) -> (Output, std::time::Duration) {
    let what = format!("{cmd:?}");
    let start = std::time::Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Drain the pipes in threads so a large output never blocks the child.
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut v);
        v
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {limit:?}: killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let took = start.elapsed();
    let out = Output {
        status,
        stdout: t_out.join().expect("stdout thread"),
        stderr: t_err.join().expect("stderr thread"),
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.code().is_some_and(|c| c != 101) && !err.contains("panicked"),
        "{what} panicked or was killed ({status:?}):\n{err}"
    );
    (out, took)
}

/// Fields of `ufs info --dumpfs IMG` (the number after each name, as
/// dumpfs prints `name value`), in the order asked.
pub fn dumpfs_fields(img: &Path, names: &[&str]) -> Vec<u64> {
    let d = ufs_ok(["info".as_ref(), "--dumpfs".as_ref(), img.as_os_str()]);
    names
        .iter()
        .map(|name| {
            d.split_whitespace()
                .skip_while(|w| w != name)
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} in dumpfs"))
        })
        .collect()
}

/// Writes the partition table `script` (sfdisk's input format) to `img`
/// with util-linux sfdisk, which reads it from standard input.
pub fn sfdisk(img: &Path, script: &str) {
    use std::io::Write;
    let mut c = Command::new("sfdisk")
        .arg("-q")
        .arg(img)
        .stdin(Stdio::piped())
        .spawn()
        .expect("run sfdisk");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write to sfdisk");
    assert!(
        c.wait().expect("wait for sfdisk").success(),
        "sfdisk failed on {script:?}"
    );
}
