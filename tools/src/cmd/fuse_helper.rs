//! `ufs fuse`'s mount options that are not the kernel's, and the
//! `mount.fuse.ufskit` personality: mount(8)'s helper for the file-system
//! type `fuse.ufskit` (`mount -t fuse.ufskit IMAGE DIR -o OPTIONS`, or an
//! fstab line of that type). The type is `fuse.ufskit`, not `fuse.ufs`,
//! which fuse-ufs uses.
//!
//! util-linux mount(8) runs `/sbin/mount.fuse.ufskit SPEC DIR [-sfnv] [-o
//! OPTIONS]` when it exists (else fuse3's `mount.fuse`, which runs a
//! program named after the subtype, `ufskit`, from PATH). mount(8) waits
//! for its helper, so the helper starts `ufs fuse` in the background and
//! returns once the file system is mounted (or with `ufs fuse`'s status
//! when it fails first), as libfuse's daemons do.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The owner and group every node is shown with (`uid=`, `gid=`).
static SHOWN: OnceLock<(Option<u32>, Option<u32>)> = OnceLock::new();

/// Records `uid=N` / `gid=N` (once, before the mount).
pub fn set_shown_owner(uid: Option<u32>, gid: Option<u32>) {
    let _ = SHOWN.set((uid, gid));
}

/// The owner and group a node with `uid`/`gid` in the image is shown
/// with: as libfuse's high-level `uid=`/`gid=` options (lib/fuse.c, the
/// `set_uid`/`set_gid` configuration) replace `st_uid`/`st_gid` of every
/// node, so one user can work on an image whose files belong to others.
/// What the image stores is not changed by it.
pub fn shown_owner(uid: u32, gid: u32) -> (u32, u32) {
    match SHOWN.get() {
        Some(&(u, g)) => (u.unwrap_or(uid), g.unwrap_or(gid)),
        None => (uid, gid),
    }
}

/// Parses `uid=N` or `gid=N`; `None` for any other option.
pub fn owner_option(o: &str) -> Option<Result<(char, u32), String>> {
    let (k, v) = o.split_once('=')?;
    let which = match k {
        "uid" => 'u',
        "gid" => 'g',
        _ => return None,
    };
    Some(
        v.parse::<u32>()
            .map(|n| (which, n))
            .map_err(|_| format!("{o}: a number is needed (as libfuse's {k}=)")),
    )
}

/// Options that only mount(8) and fstab use; a helper drops them, as
/// fuse3's mount.fuse does, rather than hand them to the kernel.
fn userspace_only(o: &str) -> bool {
    matches!(
        o,
        "" | "defaults" | "user" | "nouser" | "users" | "auto" | "noauto" | "_netdev" | "nofail"
    ) || o.starts_with("x-")
        || o.starts_with("comment=")
        || o.starts_with("helper=")
}

/// Runs as `mount.fuse.ufskit` (argv[0]).
pub fn run_personality(prog: &str, argv: Vec<OsString>) -> i32 {
    match helper(&argv) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{prog}: {e}");
            crate::EXIT_USAGE
        }
    }
}

/// What mount(8) gave the helper.
#[derive(Debug, Default, PartialEq, Eq)]
struct Call {
    spec: PathBuf,
    dir: PathBuf,
    options: Vec<String>,
    fake: bool,
    verbose: bool,
}

/// `SPEC DIR [-sfnv] [-o OPTIONS] [-t TYPE]`, flags anywhere after argv[0].
fn parse(argv: &[OsString]) -> Result<Call, String> {
    let mut c = Call::default();
    let mut operands = Vec::new();
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        match s.as_ref() {
            "-o" => {
                let v = it.next().ok_or("-o needs OPTIONS")?;
                c.options.extend(
                    v.to_string_lossy()
                        .split(',')
                        .filter(|o| !userspace_only(o))
                        .map(str::to_string),
                );
            }
            "-t" => {
                let t = it.next().ok_or("-t needs a TYPE")?.to_string_lossy();
                if t != "fuse.ufskit" && t != "ufskit" {
                    return Err(format!("-t {t}: this helper mounts type fuse.ufskit"));
                }
            }
            f if f.starts_with('-') && f.len() > 1 && !f.starts_with("--") => {
                for ch in f[1..].chars() {
                    match ch {
                        // sloppy, no mtab: nothing to do for a FUSE mount.
                        's' | 'n' => {}
                        'f' => c.fake = true,
                        'v' => c.verbose = true,
                        other => {
                            return Err(format!("-{other}: unknown flag (mount(8) gives -sfnv)"))
                        }
                    }
                }
            }
            _ => operands.push(PathBuf::from(a)),
        }
    }
    let [spec, dir] = <[PathBuf; 2]>::try_from(operands).map_err(|o| {
        format!(
            "usage: SPEC DIR [-sfnv] [-o OPTIONS] (got {} operands)",
            o.len()
        )
    })?;
    c.spec = spec;
    c.dir = dir;
    Ok(c)
}

fn helper(argv: &[OsString]) -> Result<i32, String> {
    let c = parse(argv)?;
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("fuse");
    if !c.options.is_empty() {
        cmd.arg("-o").arg(c.options.join(","));
    }
    cmd.arg(&c.spec).arg(&c.dir);
    if c.verbose || c.fake {
        eprintln!(
            "ufs fuse{} {} {}",
            if c.options.is_empty() {
                String::new()
            } else {
                format!(" -o {}", c.options.join(","))
            },
            c.spec.display(),
            c.dir.display()
        );
    }
    if c.fake {
        return Ok(0);
    }
    // Else the check below would take the old mount for the new one.
    if mounted(&c.dir) {
        return Err(format!("{}: already mounted", c.dir.display()));
    }
    // Its own process group: a signal to mount(8)'s terminal does not
    // reach the file system's server.
    let mut child = std::os::unix::process::CommandExt::process_group(&mut cmd, 0)
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start ufs fuse: {e}"))?;
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            // It ended before (or right after) mounting: its status.
            return Ok(st.code().unwrap_or(crate::EXIT_FAILURE));
        }
        if mounted(&c.dir) {
            return Ok(0);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{}: not mounted after 60 s", c.dir.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a FUSE file system is mounted on `dir` (the table says `fuse`
/// when the mount was made by mount(2) directly, `fuse.ufskit` through
/// fusermount3).
fn mounted(dir: &Path) -> bool {
    let want = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    std::fs::read_to_string("/proc/self/mounts").is_ok_and(|m| {
        m.lines().any(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.len() > 2
                && (f[2] == "fuse" || f[2].starts_with("fuse."))
                && Path::new(&super::mount::unescape(f[1])) == want
        })
    })
}

/// The page text for `mount.fuse.ufskit.8`.
pub const HELP: &str = "\
usage: mount.fuse.ufskit IMAGE DIR [-sfnv] [-o OPTIONS]

mount(8)'s helper for type fuse.ufskit: `mount -t fuse.ufskit IMAGE DIR -o
OPTIONS`, or in /etc/fstab:

  /var/jails/j1.img  /var/jails/j1  fuse.ufskit  rw,allow_other,nofail  0 0

Starts `ufs fuse IMAGE DIR -o OPTIONS` in the background and returns once
it is mounted; `umount DIR` ends it (writing the image out and marking it
clean). fstab-only options (defaults, user, auto, noauto, nofail, _netdev,
x-*, comment=) are dropped. -f prints what would run; -s and -n change
nothing; -v prints the command. IMAGE@N mounts partition N of a disk image.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn mount8_arguments_are_parsed_and_fstab_words_dropped() {
        let c = parse(&args(&[
            "mount.fuse.ufskit",
            "a.img",
            "/mnt",
            "-nv",
            "-o",
            "rw,noauto,x-systemd.automount,uid=1000,allow_other",
            "-t",
            "fuse.ufskit",
        ]))
        .unwrap();
        assert_eq!(c.spec, PathBuf::from("a.img"));
        assert_eq!(c.dir, PathBuf::from("/mnt"));
        assert_eq!(c.options, ["rw", "uid=1000", "allow_other"]);
        assert!(c.verbose && !c.fake);
        assert!(parse(&args(&["m", "a.img"])).is_err());
        assert!(parse(&args(&["m", "a", "b", "-t", "fuse.ufs"])).is_err());
        assert_eq!(owner_option("uid=7"), Some(Ok(('u', 7))));
        assert!(matches!(owner_option("gid=x"), Some(Err(_))));
        assert_eq!(owner_option("fsname=x"), None);
    }
}
