//! `ufs mount` / `mdmfs` / `mount_md`, `ufs umount` and `ufs preflight`:
//! option and jail-definition parsing, dry-run command sequences, the
//! FreeBSD path run against stand-in mdconfig/mount/umount scripts, and
//! preflight verdicts over several jails.

#[allow(clippy::panic)]
mod common;

use common::ufs;
use std::path::{Path, PathBuf};
use std::process::Command;
use ufskit_tools::cmd::mount::conf::{parse_fstab, parse_jail_conf, parse_rc_conf};
use ufskit_tools::cmd::mount::opts::{parse, FsckMode, Personality};

const LINE_T: &str =
    "md /var/jails/192.168.0.1 md rw,-P,-F/mnt/r5_vol1/jails/192.168.0.1/rootfs.volume,-Tufs";
const VOL: &str = "/mnt/r5_vol1/jails/192.168.0.1/rootfs.volume";

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

#[test]
fn fstab_line_with_big_t_repairs() {
    let e = parse_fstab(LINE_T);
    assert_eq!(e.len(), 1);
    let s = e[0].mount_spec().expect("md line").expect("parses");
    assert!(s.preserve);
    assert_eq!(s.file.as_deref(), Some(Path::new(VOL)));
    assert_eq!(s.fsck, FsckMode::Yes);
    assert_eq!(s.fstype, "ufs");
    assert_eq!(s.mount_opts, vec!["rw"]);
    assert_eq!(s.node, PathBuf::from("/var/jails/192.168.0.1"));
    assert_eq!(s.special, "md");
    assert!(s.read_write());
}

#[test]
fn fstab_line_with_small_t_preens() {
    let l = LINE_T.replace("-Tufs", "-tufs");
    let s = parse_fstab(&l)[0]
        .mount_spec()
        .expect("md")
        .expect("parses");
    assert_eq!(s.fsck, FsckMode::Preen);
    assert!(!s.trim);
}

#[test]
fn two_line_form() {
    let text = format!(
        "# jail 192.168.0.1\nmd /var/jails/192.168.0.1 md rw,-P,-F{VOL}\n\
         md /var/jails/192.168.0.1 ufs rw,noauto\n"
    );
    let e = parse_fstab(&text);
    assert_eq!(e.len(), 2);
    let s = e[0].mount_spec().expect("md").expect("parses");
    assert_eq!(
        s.fsck,
        FsckMode::No,
        "mount_md without -t/-T does not check"
    );
    assert!(s.preserve);
    assert!(
        e[1].mount_spec().is_none(),
        "the ufs noauto line attaches nothing"
    );
}

#[test]
fn mdmfs_meanings() {
    let s = parse(
        Personality::Mdmfs,
        &args("-t -T ufs -F /x.vol -s 8m md /mnt"),
    )
    .expect("ok");
    assert!(s.trim, "-t is newfs's TRIM flag for mdmfs");
    assert_eq!(s.fsck, FsckMode::Preen, "default --fsck=preen");
    assert_eq!(s.size.as_deref(), Some("8m"));
    let s = parse(
        Personality::Mdmfs,
        &args("md /mnt --fsck=yes --no-undo -o ro,-P,-F/x.vol -w 0:0 -p 0750 -S"),
    )
    .expect("ok");
    assert_eq!(s.fsck, FsckMode::Yes);
    assert!(s.no_undo && s.preserve && !s.soft_updates && !s.read_write());
    assert_eq!(s.mode, Some(0o750));
    assert_eq!(s.owner.as_deref(), Some("0:0"));
    let s = parse(Personality::MountMd, &args("-t ufs -F/x.vol md3 /mnt")).expect("ok");
    assert_eq!(s.fsck, FsckMode::Preen);
    assert_eq!(s.unit, Some(3));
}

#[test]
fn bad_options_are_refused() {
    for (p, line, want) in [
        (
            Personality::Mdmfs,
            "-T zfs -F /x md /m",
            "unsupported file system type",
        ),
        (
            Personality::MountMd,
            "-t zfs -F /x md /m",
            "unsupported file system type",
        ),
        (Personality::Mdmfs, "-p 999 -F /x md /m", "octal"),
        (Personality::Mdmfs, "-Q -F /x md /m", "-Q: unknown option"),
        (Personality::Mdmfs, "-P md /m", "give -F FILE"),
        (Personality::Mdmfs, "-s lots -F /x md /m", "-s lots"),
        (
            Personality::Mdmfs,
            "--fsck=maybe -F /x md /m",
            "use preen, yes or no",
        ),
        (Personality::Mdmfs, "-F /x sda1 /m", "SPECIAL must be md"),
        (Personality::Mdmfs, "-F /x md", "give SPECIAL"),
        (Personality::Mdmfs, "-M md /m", "malloc-backed"),
        (
            Personality::Mdmfs,
            "-o rw,-P,-F/x,-tufs md /m",
            "as mdmfs, -t is newfs's TRIM flag",
        ),
        (
            Personality::Mdmfs,
            "-o rw,-Q -F /x md /m",
            "-Q: unknown option",
        ),
    ] {
        let e = parse(p, &args(line)).expect_err(line);
        assert!(e.contains(want), "{line}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
}

#[test]
fn rc_conf_block() {
    let text = r#"
jail_enable="YES"
jail_list="192_168_0_1"
jail_192_168_0_1_rootdir="/var/jails/192.168.0.1"
jail_192_168_0_1_hostname="www.example.org"
jail_192_168_0_1_ip="192.168.0.1"
jail_192_168_0_1_interface="em0"
jail_192_168_0_1_devfs_enable="YES"
jail_192_168_0_1_mount_enable="YES"
jail_192_168_0_1_fstab="/etc/fstab.192.168.0.1"
jail_other_rootdir='/var/jails/other' # no fstab: the default
"#;
    let j = parse_rc_conf(text, "rc.conf");
    assert_eq!(j.len(), 2);
    let a = j.iter().find(|j| j.name == "192_168_0_1").expect("jail");
    assert_eq!(a.rootdir.as_deref(), Some("/var/jails/192.168.0.1"));
    assert_eq!(
        a.fstab.as_deref(),
        Some(Path::new("/etc/fstab.192.168.0.1"))
    );
    assert!(a.mount_enable);
    let b = j.iter().find(|j| j.name == "other").expect("jail");
    assert_eq!(b.fstab.as_deref(), Some(Path::new("/etc/fstab.other")));
    assert!(!b.mount_enable);
}

#[test]
fn jail_conf_mount_fstab() {
    let text = r#"
# global
mount.fstab = "/etc/fstab.$name";
path = "/var/jails/${name}";
www { host.hostname = "www"; ip4.addr = 192.168.0.1; }
db {
    mount.fstab = "/jails/db/fstab"; // own
    /* comment */
}
"#;
    let j = parse_jail_conf(text, "jail.conf").expect("parses");
    assert_eq!(j.len(), 2);
    assert_eq!(j[0].name, "www");
    assert_eq!(j[0].fstab.as_deref(), Some(Path::new("/etc/fstab.www")));
    assert_eq!(j[0].rootdir.as_deref(), Some("/var/jails/www"));
    assert_eq!(j[1].fstab.as_deref(), Some(Path::new("/jails/db/fstab")));
    assert!(parse_jail_conf("a { x = 1;", "j").is_err());
}

// ---- command line ----

fn newfs(path: &Path) {
    common::ufs_ok([
        "newfs".as_ref(),
        "-s".as_ref(),
        "8m".as_ref(),
        path.as_os_str(),
    ]);
}

fn dirty(path: &Path) {
    common::ufs_ok([
        "debug".as_ref(),
        path.as_os_str(),
        "set sb fs_clean 0".as_ref(),
    ]);
}

/// Destroys the primary superblock's magic (and the rest of it).
fn break_magic(path: &Path) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    f.seek(SeekFrom::Start(65536)).expect("seek");
    f.write_all(&[0u8; 8192]).expect("write");
}

/// Zeroes the whole container: no superblock copy is left for the search
/// to find, so even fsck -y cannot repair it.
fn destroy(path: &Path) {
    let len = std::fs::metadata(path).expect("stat").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    f.set_len(0).and_then(|()| f.set_len(len)).expect("zero");
}

fn run_in(dir: &Path, exe: &Path, argv: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(exe);
    c.args(argv)
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("spawn");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    o
}

/// [`run_in`], which must exit 0 (the failure shows its standard error).
fn run_ok(dir: &Path, exe: &Path, argv: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let o = run_in(dir, exe, argv, env);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{argv:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

#[test]
fn dry_run_freebsd_golden() {
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path();
    std::fs::create_dir(d.join("j1")).expect("mkdir");
    let o = run_ok(
        d,
        &common::ufs_bin(),
        &[
            "mount",
            "--host",
            "freebsd",
            "-X",
            "-s",
            "8m",
            "-F",
            "new.volume",
            "-w",
            "0:0",
            "-p",
            "755",
            "-o",
            "rw,noatime",
            "md",
            "j1",
        ],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ufs newfs -U -s 8m new.volume\n\
         ufs fsck -p new.volume\n\
         mdconfig -a -t vnode -f new.volume\n\
         mount -t ufs -o rw,noatime /dev/mdN j1\n\
         chown 0:0 j1\n\
         chmod 0755 j1\n"
    );
    assert!(!d.join("new.volume").exists(), "-X creates nothing");

    // mount_md with an fstab option string: -T is check and repair.
    newfs(&d.join("rootfs.volume"));
    let link = d.join("mount_md");
    std::os::unix::fs::symlink(common::ufs_bin(), &link).expect("symlink");
    let o = run_ok(
        d,
        &link,
        &["-o", "rw,-P,-Frootfs.volume,-Tufs", "-X", "md7", "j1"],
        &[("UFS_HOST", "freebsd")],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ufs fsck -y -f --undo rootfs.volume.undo rootfs.volume\n\
         mdconfig -a -t vnode -f rootfs.volume -u 7\n\
         mount -t ufs -o rw /dev/md7 j1\n"
    );
    // ro attaches the md read-only; --fsck=no prints no check.
    let o = run_in(
        d,
        &common::ufs_bin(),
        &[
            "mount",
            "--host=freebsd",
            "-X",
            "--fsck=no",
            "-P",
            "-F",
            "rootfs.volume",
            "-o",
            "ro",
            "md",
            "j1",
        ],
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "mdconfig -a -t vnode -f rootfs.volume -o readonly\n\
         mount -t ufs -o ro /dev/mdN j1\n"
    );
}

#[test]
fn dry_run_linux_golden() {
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path();
    std::fs::create_dir(d.join("j1")).expect("mkdir");
    newfs(&d.join("rootfs.volume"));
    let link = d.join("mount.md");
    std::os::unix::fs::symlink(common::ufs_bin(), &link).expect("symlink");
    // Linux mount(8) puts SPECIAL NODE first and -o last.
    let o = run_ok(
        d,
        &link,
        &["md", "j1", "-o", "ro,-P,-Frootfs.volume,-tufs", "-X"],
        &[("UFS_HOST", "linux")],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ufs fsck -p rootfs.volume\n\
         losetup --find --show --read-only rootfs.volume\n\
         mount -t ufs -o ro,ufstype=ufs2 /dev/loopN j1\n"
    );
    // rw is refused on Linux, with the reason, before anything runs.
    let o = run_in(
        d,
        &link,
        &["md", "j1", "-o", "rw,-P,-Frootfs.volume,-tufs", "-X"],
        &[("UFS_HOST", "linux")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("read-only"));
}

#[test]
fn cli_refusals_do_nothing() {
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path();
    std::fs::create_dir(d.join("j1")).expect("mkdir");
    newfs(&d.join("ufs.volume"));
    let before = std::fs::read(d.join("ufs.volume")).expect("read");
    for (argv, want) in [
        (
            vec![
                "mount",
                "--host",
                "freebsd",
                "-F",
                "ufs.volume",
                "-s",
                "8m",
                "md",
                "j1",
            ],
            "already holds a UFS2",
        ),
        (
            vec![
                "mount",
                "--host",
                "freebsd",
                "-F",
                "none.volume",
                "md",
                "j1",
            ],
            "give -s SIZE",
        ),
        (
            vec![
                "mount",
                "--host",
                "freebsd",
                "-P",
                "-F",
                "none.volume",
                "md",
                "j1",
            ],
            "no such file",
        ),
        (
            vec![
                "mount",
                "--host",
                "freebsd",
                "-P",
                "-F",
                "ufs.volume",
                "md",
                "nodir",
            ],
            "nodir",
        ),
        (
            vec![
                "mount",
                "--host",
                "freebsd",
                "-P",
                "-F",
                "ufs.volume",
                "-Tzfs",
                "md",
                "j1",
            ],
            "unsupported",
        ),
        (
            vec![
                "mount",
                "--host",
                "beos",
                "-P",
                "-F",
                "ufs.volume",
                "md",
                "j1",
            ],
            "unknown host",
        ),
    ] {
        // PATH empty: any attempt to run a command would fail differently.
        let o = run_in(d, &common::ufs_bin(), &argv, &[("PATH", "")]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{argv:?}: {err}");
        assert!(err.contains(want), "{argv:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert!(!d.join("none.volume").exists());
    assert_eq!(std::fs::read(d.join("ufs.volume")).expect("read"), before);
}

/// Stand-in mdconfig/mount/umount that log their argv to `log` and keep
/// the mount table in `state`.
fn standins(d: &Path) -> PathBuf {
    let bin = d.join("bin");
    std::fs::create_dir(&bin).expect("mkdir");
    let log = d.join("log");
    let state = d.join("state");
    let scripts = [
        (
            "mdconfig",
            format!(
                "#!/bin/sh\necho \"mdconfig $*\" >> '{}'\ncase \"$1\" in -a) echo md3;; esac\nexit 0\n",
                log.display()
            ),
        ),
        (
            "mount",
            format!(
                "#!/bin/sh\nif [ \"$1\" = -p ]; then cat '{s}' 2>/dev/null; exit 0; fi\n\
                 echo \"mount $*\" >> '{l}'\n\
                 if [ -n \"$FAIL_MOUNT\" ]; then echo 'mount: /dev/md3: Invalid argument' >&2; exit 1; fi\n\
                 for a; do dev=\"$node\"; node=\"$a\"; done\n\
                 echo \"$dev $node ufs rw 2 2\" >> '{s}'\nexit 0\n",
                s = state.display(),
                l = log.display()
            ),
        ),
        (
            "umount",
            format!(
                "#!/bin/sh\necho \"umount $*\" >> '{l}'\nfor a; do node=\"$a\"; done\n\
                 grep -v \" $node \" '{s}' > '{s}.new'; mv '{s}.new' '{s}'\nexit 0\n",
                s = state.display(),
                l = log.display()
            ),
        ),
    ];
    for (name, text) in scripts {
        let p = bin.join(name);
        std::fs::write(&p, text).expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    bin
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A scratch directory with stand-in mdconfig/mount/umount and a jail
/// directory `j1`: (the directory, PATH with the stand-ins first, j1).
fn standin_scene() -> (tempfile::TempDir, String, String) {
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path();
    std::fs::create_dir(d.join("j1")).expect("mkdir");
    let path = path_with(&standins(d));
    let j1 = d.join("j1").display().to_string();
    (t, path, j1)
}

fn log(d: &Path) -> String {
    std::fs::read_to_string(d.join("log")).unwrap_or_default()
}

#[test]
fn freebsd_path_with_standins() {
    let (t, path, j1) = standin_scene();
    let d = t.path();
    let env = [("PATH", path.as_str())];

    // New container: newfs, check, attach, mount, chmod.
    let o = run_in(
        d,
        &common::ufs_bin(),
        &[
            "mount", "--host", "freebsd", "-s", "8m", "-F", "c.volume", "-p", "0700", "-o", "rw",
            "md", &j1,
        ],
        &env,
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(
        log(d),
        format!("mdconfig -a -t vnode -f c.volume\nmount -t ufs -o rw /dev/md3 {j1}\n")
    );
    assert!(
        err.contains("+ mdconfig -a -t vnode -f c.volume"),
        "argv logged: {err}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("j1"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o700);

    // Unmount: the md unit comes from the recorded mount table.
    run_ok(
        d,
        &common::ufs_bin(),
        &["umount", "--host", "freebsd", &j1],
        &env,
    );
    assert!(
        log(d).ends_with(&format!("umount {j1}\nmdconfig -d -u 3\n")),
        "{}",
        log(d)
    );
    let o = run_in(
        d,
        &common::ufs_bin(),
        &["umount", "--host", "freebsd", &j1],
        &env,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not mounted"));

    // A failing mount detaches the md again.
    std::fs::remove_file(d.join("log")).expect("rm");
    let env2 = [("PATH", path.as_str()), ("FAIL_MOUNT", "1")];
    let o = run_in(
        d,
        &common::ufs_bin(),
        &[
            "mount", "--host", "freebsd", "-P", "-F", "c.volume", "md", &j1,
        ],
        &env2,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        log(d),
        format!("mdconfig -a -t vnode -f c.volume\nmount -t ufs /dev/md3 {j1}\nmdconfig -d -u 3\n")
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("md detached again"));
}

#[test]
fn checks_before_attach() {
    let (t, path, j1) = standin_scene();
    let d = t.path();
    let env = [("PATH", path.as_str())];
    let vol = d.join("rootfs.volume");
    newfs(&vol);
    dirty(&vol);

    // --fsck=no still refuses a read-write attach of an unclean container.
    let o = run_in(
        d,
        &common::ufs_bin(),
        &[
            "mount",
            "--host",
            "freebsd",
            "--fsck=no",
            "-o",
            "rw,-P,-Frootfs.volume",
            "md",
            &j1,
        ],
        &env,
    );
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("not clean"));
    assert_eq!(log(d), "", "nothing attached");

    // mount_md -T: repair with -y and an undo file, then attach.
    let link = d.join("mount_md");
    std::os::unix::fs::symlink(common::ufs_bin(), &link).expect("symlink");
    run_ok(
        d,
        &link,
        &["-o", "rw,-P,-Frootfs.volume,-Tufs", "md", &j1],
        &[("PATH", path.as_str()), ("UFS_HOST", "freebsd")],
    );
    assert!(d.join("rootfs.volume.undo").exists(), "undo file kept");
    assert!(log(d).contains("mount -t ufs -o rw /dev/md3"));
    let o = ufs(["fsck".as_ref(), "-n".as_ref(), vol.as_os_str()]);
    assert!(o.status.success());
    // The undo file puts the unclean superblock back.
    let undo = d.join("rootfs.volume.undo");
    common::ufs_ok(["undo".as_ref(), undo.as_os_str(), vol.as_os_str()]);
    let o = ufs(["debug".as_ref(), vol.as_os_str(), "print sb".as_ref()]);
    assert!(String::from_utf8_lossy(&o.stdout)
        .lines()
        .any(|l| l.trim() == "fs_clean = 0"));

    // A broken container: preen refuses, nothing attached, exit 4.
    std::fs::remove_file(d.join("log")).expect("rm");
    break_magic(&vol);
    let o = run_in(
        d,
        &common::ufs_bin(),
        &[
            "mount",
            "--host",
            "freebsd",
            "-P",
            "-F",
            "rootfs.volume",
            "md",
            &j1,
        ],
        &env,
    );
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(log(d), "");
}

// ---- preflight ----

struct Jails {
    _t: tempfile::TempDir,
    d: PathBuf,
}

/// Three jails in rc.conf: clean (no check), dirty (preen), broken (-y).
fn jails(with_broken: bool) -> Jails {
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path().to_path_buf();
    let mut rc = String::from("jail_enable=\"YES\"\n");
    let names: &[&str] = if with_broken {
        &["clean", "dirty", "broken"]
    } else {
        &["clean", "dirty"]
    };
    for (i, n) in names.iter().enumerate() {
        let jd = d.join(n);
        std::fs::create_dir(&jd).expect("mkdir");
        let vol = jd.join("rootfs.volume");
        newfs(&vol);
        let flag = match *n {
            "dirty" => {
                dirty(&vol);
                ",-tufs"
            }
            "broken" => {
                // No superblock anywhere (a primary alone is repaired from
                // an alternate: tests/preflight_predict.rs).
                destroy(&vol);
                ",-Tufs"
            }
            _ => "",
        };
        let fstab = d.join(format!("fstab.{n}"));
        std::fs::write(
            &fstab,
            format!(
                "md {} md rw,-P,-F{}{flag}\n",
                jd.join("root").display(),
                vol.display()
            ),
        )
        .expect("write");
        rc += &format!(
            "jail_{n}_rootdir=\"{}\"\njail_{n}_ip=\"192.168.0.{i}\"\njail_{n}_mount_enable=\"YES\"\njail_{n}_fstab=\"{}\"\n",
            jd.display(),
            fstab.display()
        );
    }
    std::fs::write(d.join("rc.conf"), rc).expect("write");
    Jails { _t: t, d }
}

fn row<'a>(out: &'a str, jail: &str) -> &'a str {
    let r = out.lines().find(|l| l.starts_with(&format!("{jail} ")));
    assert!(r.is_some(), "no row for {jail}:\n{out}");
    r.unwrap_or_default()
}

#[test]
fn preflight_verdicts() {
    let j = jails(true);
    let rc = j.d.join("rc.conf");
    // -v: the table (results wrapped to fit) and every full result.
    let o = ufs([
        "preflight".as_ref(),
        "-v".as_ref(),
        "--rc-conf".as_ref(),
        rc.as_os_str(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        row(&out, "clean").contains("clean") && row(&out, "clean").ends_with("mounts"),
        "{out}"
    );
    assert!(out.contains("\n  dirty: clean flag not set\n"), "{out}");
    assert!(
        row(&out, "dirty").ends_with("preen fixes it, then mounts"),
        "{out}"
    );
    assert!(out.contains("\n  broken: no usable superblock: "), "{out}");
    assert!(
        row(&out, "broken").ends_with("attach refused (broken)"),
        "{out}"
    );

    let o = ufs([
        "preflight".as_ref(),
        "--json".as_ref(),
        "--full".as_ref(),
        "--rc-conf".as_ref(),
        rc.as_os_str(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ok"], false);
    assert_eq!(v["containers"].as_array().map(Vec::len), Some(3));
}

#[test]
fn preflight_ok_and_repair() {
    let j = jails(false);
    let rc = j.d.join("rc.conf");
    let o = ufs(["preflight".as_ref(), "--rc-conf".as_ref(), rc.as_os_str()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Without --repair nothing is written.
    let dirty_vol = j.d.join("dirty/rootfs.volume");
    let before = std::fs::read(&dirty_vol).expect("read");
    let o = ufs([
        "preflight".as_ref(),
        "--full".as_ref(),
        "--rc-conf".as_ref(),
        rc.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read(&dirty_vol).expect("read"), before);
    let o = ufs([
        "preflight".as_ref(),
        "--repair".as_ref(),
        "--fstab".as_ref(),
        j.d.join("fstab.dirty").as_os_str(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(row(&out, "dirty").contains("repaired (undo: "), "{out}");
    assert!(j.d.join("dirty/rootfs.volume.undo").exists());
    let o = ufs([
        "preflight".as_ref(),
        "--fstab".as_ref(),
        j.d.join("fstab.dirty").as_os_str(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(row(&out, "dirty").contains("  clean  "), "{out}");
}

#[test]
fn preflight_preen_cannot_fix() {
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path();
    let vol = d.join("rootfs.volume");
    newfs(&vol);
    // An unknown file type: preen stops on it, -y clears it.
    common::ufs_ok([
        "debug".as_ref(),
        vol.as_os_str(),
        "set inode 3 di_mode 0o170644".as_ref(),
    ]);
    let p = d.join("fstab.p");
    let y = d.join("fstab.y");
    std::fs::write(&p, format!("md /j/p md rw,-P,-F{},-tufs\n", vol.display())).expect("w");
    std::fs::write(&y, format!("md /j/y md rw,-P,-F{},-Tufs\n", vol.display())).expect("w");
    // The clean flag is still set: only --full finds it.
    let o = ufs(["preflight".as_ref(), "--fstab".as_ref(), p.as_os_str()]);
    assert_eq!(o.status.code(), Some(0));
    let o = ufs([
        "preflight".as_ref(),
        "--full".as_ref(),
        "--fstab".as_ref(),
        p.as_os_str(),
        "--fstab".as_ref(),
        y.as_os_str(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(row(&out, "p").contains("inconsistent"), "{out}");
    assert!(
        row(&out, "p").ends_with("refused (preen cannot fix)"),
        "{out}"
    );
    // -y clears inode 3, /.snap: the prediction says so, and a repair
    // that removes a file is not ok.
    assert!(
        row(&out, "y").ends_with("fsck -y repairs, loses files"),
        "{out}"
    );
    assert!(out.contains("(/.snap)"), "{out}");
}

/// The Linux path for real: inside a guest (user-mode-linux or QEMU, the
/// host's tree as its root), as mount.md: a mount that fails (no ufs driver
/// yet) detaches the loop device; with the driver the container mounts
/// read-only and `ufs umount` detaches it again.
#[test]
fn linux_path_in_a_guest() {
    if !ufskit_testkit::kernel::available() {
        return;
    }
    let started = std::time::Instant::now();
    let t = tempfile::tempdir().expect("tmp");
    let w = t.path();
    for d in ["mnt", "tmp"] {
        std::fs::create_dir(w.join(d)).expect("mkdir");
    }
    let vol = w.join("rootfs.volume");
    newfs(&vol);
    common::ufs_ok([
        "put".as_ref(),
        vol.as_os_str(),
        std::path::Path::new("/etc/hostname").as_os_str(),
        "/hello".as_ref(),
    ]);
    std::os::unix::fs::symlink(common::ufs_bin(), w.join("mount.md")).expect("symlink");
    let init = format!(
        r#"#!/bin/bash
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
W={w}
export TMPDIR=$W/tmp
. "{lib}"
run() {{
  mount -t proc proc /proc
  mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
  kernel_load "$(kernel_module kernel/drivers/block loop)" $W/tmp/loop.ko
  $W/mount.md md $W/mnt -o ro,-P,-F$W/rootfs.volume,-tufs; echo "first rc=$?"
  echo "loops: $(losetup -a | wc -l)"
  kernel_load "$(kernel_module kernel/fs/ufs ufs)" $W/tmp/ufs.ko
  $W/mount.md md $W/mnt -o ro,-P,-F$W/rootfs.volume,-tufs; echo "second rc=$?"
  echo "files: $(ls $W/mnt | tr '\n' ' ')"
  grep " $W/mnt " /proc/mounts
  $W/mount.md md $W/mnt -o rw,-P,-F$W/rootfs.volume; echo "rw rc=$?"
  {ufs} umount $W/mnt; echo "umount rc=$?"
  echo "loops: $(losetup -a | wc -l)"
}}
run > $W/init.log 2>&1
kernel_poweroff
"#,
        w = w.display(),
        ufs = common::ufs_bin().display(),
        lib = ufskit_testkit::kernel::scripts()
            .join("kernel-lib.sh")
            .display(),
    );
    let initp = w.join("init");
    std::fs::write(&initp, init).expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&initp, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let backend = ufskit_testkit::kernel::run_guest(&initp, 90, "mount.md in a guest");
    let log = std::fs::read_to_string(w.join("init.log")).unwrap_or_default();
    assert!(
        log.contains("umount rc="),
        "guest ({backend}) did not finish:\n{log}\n{}",
        ufskit_testkit::kernel::keep_console(&initp.with_extension("console.log"), "mount.md", 25)
    );
    assert!(log.contains("first rc=1"), "{log}");
    assert!(log.contains("loop device detached again"), "{log}");
    assert!(log.contains("second rc=0"), "{log}");
    assert!(log.contains("+ losetup --find --show --read-only"), "{log}");
    assert!(log.contains("files: hello"), "{log}");
    assert!(log.contains("ufs ro,"), "{log}");
    assert!(log.contains("ufstype=ufs2"), "{log}");
    assert!(log.contains("rw rc=2"), "{log}");
    assert!(log.contains("umount rc=0"), "{log}");
    assert_eq!(log.matches("loops: 0").count(), 2, "{log}");
    ufskit_testkit::kernel::record(
        "mount::linux_path_in_a_guest",
        &backend,
        "mount.md and ufs umount",
        started,
    );
}

#[test]
fn preflight_jail_conf() {
    let j = jails(false);
    let conf = j.d.join("jail.conf");
    std::fs::write(
        &conf,
        format!(
            "mount.fstab = \"{}/fstab.$name\";\nclean {{ path = /j/clean; }}\ndirty {{ }}\n",
            j.d.display()
        ),
    )
    .expect("write");
    let o = ufs([
        "preflight".as_ref(),
        "--jail-conf".as_ref(),
        conf.as_os_str(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(row(&out, "clean").ends_with("mounts"), "{out}");
    assert!(
        row(&out, "dirty").ends_with("preen fixes it, then mounts"),
        "{out}"
    );
    let o = ufs(["preflight"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A container whose primary superblock is gone is not broken: the search
/// finds a copy, so preflight says fsck -y repairs it, and --repair does.
#[test]
fn preflight_lost_primary_is_repairable() {
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path();
    let vol = d.join("rootfs.volume");
    newfs(&vol);
    break_magic(&vol);
    let fstab = d.join("fstab.lost");
    std::fs::write(
        &fstab,
        format!(
            "md {} md rw,-P,-F{},-Tufs\n",
            d.join("root").display(),
            vol.display()
        ),
    )
    .expect("write");
    let o = ufs([
        "preflight".as_ref(),
        "-v".as_ref(),
        "--fstab".as_ref(),
        fstab.as_os_str(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "{out}");
    // The full result (-v) names the copy the search found.
    assert!(
        out.contains("no usable primary superblock; superblock copy at sector"),
        "{out}"
    );
    assert!(
        out.contains("repairs from alternate superblock at"),
        "{out}"
    );
    assert!(
        row(&out, "lost").ends_with("fsck -y repairs, then mounts"),
        "{out}"
    );
    let o = ufs([
        "preflight".as_ref(),
        "--repair".as_ref(),
        "--fstab".as_ref(),
        fstab.as_os_str(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(row(&out, "lost").contains("repaired (undo: "), "{out}");
    let o = ufs(["preflight".as_ref(), "--fstab".as_ref(), fstab.as_os_str()]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(row(&out, "lost").contains("  clean  "), "{out}");
}

/// FreeBSD's clean-flag rule at attach time: `-t` (fsck -p) skips a
/// clean-flagged container even when its inodes are damaged; `-T`
/// (fsck -y) checks it fully and repairs it before attaching.
#[test]
fn yes_checks_a_clean_flagged_container_fully() {
    let (t, path, j1) = standin_scene();
    let d = t.path();
    let vol = d.join("rootfs.volume");
    newfs(&vol);
    // The root's link count wrong, the clean flag still set.
    common::ufs_ok([
        "debug".as_ref(),
        vol.as_os_str(),
        "set inode 2 di_nlink 9".as_ref(),
    ]);
    let forced = |vol: &Path| {
        ufs([
            "fsck".as_ref(),
            "-n".as_ref(),
            "-f".as_ref(),
            vol.as_os_str(),
        ])
        .status
        .code()
    };
    assert_eq!(forced(&vol), Some(4));
    let link = d.join("mount_md");
    std::os::unix::fs::symlink(common::ufs_bin(), &link).expect("symlink");
    let env = [("PATH", path.as_str()), ("UFS_HOST", "freebsd")];
    run_ok(
        d,
        &link,
        &["-o", "rw,-P,-Frootfs.volume,-tufs", "md", &j1],
        &env,
    );
    assert_eq!(forced(&vol), Some(4), "preen skipped it: still damaged");
    run_ok(
        d,
        &link,
        &["-o", "rw,-P,-Frootfs.volume,-Tufs", "md", &j1],
        &env,
    );
    assert_eq!(forced(&vol), Some(0), "-T repaired it before attaching");
}

/// The bytes the file system in `img` spans (`fs_size` fragments).
fn fs_bytes(img: &Path) -> u64 {
    let dev = ufskit::io::FileDevice::open_read_only(img).expect("open");
    let (_, geo) = ufskit::Superblock::find(&dev).expect("superblock");
    geo.size * u64::from(geo.fsize)
}

/// `--grow -s SIZE` (issue 19): an existing container is checked, grown
/// through growfs, then attached; one already that large is attached as
/// it is; the files are unchanged and FreeBSD's fsck_ffs finds the grown
/// file system clean.
#[test]
fn grow_before_attach() {
    let (t, path, j1) = standin_scene();
    let d = t.path();
    let env = [("PATH", path.as_str())];
    let src = d.join("src");
    std::fs::create_dir_all(src.join("etc")).expect("mkdir");
    std::fs::write(src.join("etc/rc.conf"), "sshd_enable=YES\n").expect("write");
    std::fs::write(src.join("big"), ufskit_testkit::noise(300_000, 7)).expect("write");
    let img = d.join("rootfs.volume");
    common::ufs_ok([
        "makefs".as_ref(),
        "-s".as_ref(),
        "8m".as_ref(),
        img.as_os_str(),
        src.as_os_str(),
    ]);
    let mtree = |p: &Path| common::ufs_ok(["mtree".as_ref(), p.as_os_str()]);
    let before = mtree(&img);
    assert_eq!(fs_bytes(&img), 8 << 20);

    // Dry run: check, grow, attach; nothing changes.
    let dry = args("mount --host freebsd -X --grow -s 16m -F rootfs.volume -o rw md j1");
    let dry: Vec<&str> = dry.iter().map(String::as_str).collect();
    let o = run_ok(d, &common::ufs_bin(), &dry, &[]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ufs fsck -p rootfs.volume\n\
         ufs growfs -y -s 16m rootfs.volume\n\
         mdconfig -a -t vnode -f rootfs.volume\n\
         mount -t ufs -o rw /dev/mdN j1\n"
    );
    assert_eq!(std::fs::metadata(&img).expect("stat").len(), 8 << 20);

    // --grow without -s is a usage error; nothing is done.
    let o = run_in(
        d,
        &common::ufs_bin(),
        &[
            "mount",
            "--host",
            "freebsd",
            "--grow",
            "-P",
            "-F",
            "rootfs.volume",
            "md",
            "j1",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--grow needs -s SIZE"));

    // The real thing, through the stand-in mdconfig/mount.
    let mount_grow = || {
        let argv = [
            "mount",
            "--host",
            "freebsd",
            "--grow",
            "-s",
            "16m",
            "-F",
            "rootfs.volume",
            "md",
            &j1,
        ];
        let o = run_in(d, &common::ufs_bin(), &argv, &env);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(0), "{err}");
        err
    };
    let err = mount_grow();
    assert_eq!(fs_bytes(&img), 16 << 20);
    assert_eq!(std::fs::metadata(&img).expect("stat").len(), 16 << 20);
    assert!(d.join("rootfs.volume.growfs-undo").exists(), "{err}");
    assert_eq!(mtree(&img), before, "the files are unchanged");
    assert_eq!(
        log(d),
        format!("mdconfig -a -t vnode -f rootfs.volume\nmount -t ufs /dev/md3 {j1}\n")
    );
    if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&img) {
        r.expect("FreeBSD fsck_ffs on the grown container");
    }

    // At the next boot the same line leaves it alone.
    std::fs::remove_file(d.join("log")).expect("rm");
    let err = mount_grow();
    assert!(err.contains("is 16MB already; not grown"), "{err}");
    assert_eq!(fs_bytes(&img), 16 << 20);
    assert_eq!(mtree(&img), before);
}

/// `preflight --warn-full` (issue 19): a container above the threshold is
/// named in the table, a warning line and the JSON (`full_percent`,
/// `over_warn_full`); a warning only, the verdict stays "mounts"; after
/// `ufs mount --grow` the same container is below it.
#[test]
fn preflight_warn_full() {
    let t = tempfile::tempdir().expect("tmp");
    let d = t.path();
    let src = d.join("src");
    std::fs::create_dir(&src).expect("mkdir");
    std::fs::write(src.join("ports.tar"), ufskit_testkit::noise(6_900_000, 3)).expect("write");
    let full = d.join("full.volume");
    common::ufs_ok([
        "makefs".as_ref(),
        "-s".as_ref(),
        "8m".as_ref(),
        full.as_os_str(),
        src.as_os_str(),
    ]);
    let empty = d.join("empty.volume");
    newfs(&empty);
    let mut fstabs = Vec::new();
    for (n, vol) in [("full", &full), ("empty", &empty)] {
        std::fs::create_dir(d.join(n)).expect("mkdir");
        let f = d.join(format!("fstab.{n}"));
        std::fs::write(
            &f,
            format!("md {} md rw,-P,-F{}\n", d.join(n).display(), vol.display()),
        )
        .expect("write");
        fstabs.push(f);
    }
    let preflight = |extra: &[&str]| {
        let mut argv: Vec<std::ffi::OsString> = vec!["preflight".into()];
        for f in &fstabs {
            argv.push("--fstab".into());
            argv.push(f.into());
        }
        argv.extend(extra.iter().map(Into::into));
        ufs(argv)
    };
    let o = preflight(&[]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "a warning, not a failure: {out}");
    assert!(row(&out, "full").contains("% full"), "{out}");
    assert!(row(&out, "full").ends_with("mounts"), "{out}");
    assert!(!row(&out, "empty").contains("% full"), "{out}");
    let warned: Vec<&str> = out.lines().filter(|l| l.starts_with("warning: ")).collect();
    assert_eq!(warned.len(), 1, "{out}");
    assert!(
        warned[0].starts_with("warning: full ") && warned[0].contains("% full (over 90%)"),
        "{out}"
    );

    let o = preflight(&["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["warn_full_percent"], 90);
    let c = &v["containers"];
    let pct = c[0]["full_percent"].as_u64().expect("percent");
    assert!((91..=100).contains(&pct), "{v}");
    assert_eq!(c[0]["over_warn_full"], true);
    assert!(c[1]["full_percent"].as_u64().expect("percent") < 5, "{v}");
    assert_eq!(c[1]["over_warn_full"], false);

    // The threshold: 100% warns about nothing, 0% about both.
    let o = preflight(&["--warn-full", "100%"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("warning: "));
    let o = preflight(&["--warn-full=0"]);
    let n = String::from_utf8_lossy(&o.stdout)
        .matches("warning: ")
        .count();
    assert_eq!(n, 2);
    let o = preflight(&["--warn-full", "101"]);
    assert_eq!(o.status.code(), Some(2));

    // Grown to 32 MiB, the same data is well below 90%.
    std::fs::create_dir(d.join("mnt")).expect("mkdir");
    let o = run_in(
        d,
        &common::ufs_bin(),
        &[
            "mount",
            "--host",
            "freebsd",
            "-X",
            "--grow",
            "-s",
            "32m",
            "-F",
            "full.volume",
            "md",
            "mnt",
        ],
        &[],
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("ufs growfs -y -s 32m full.volume"));
    common::ufs_ok([
        "growfs".as_ref(),
        "-y".as_ref(),
        "-s".as_ref(),
        "32m".as_ref(),
        full.as_os_str(),
    ]);
    let o = preflight(&["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(
        v["containers"][0]["full_percent"]
            .as_u64()
            .expect("percent")
            < 30,
        "{v}"
    );
    assert_eq!(v["containers"][0]["over_warn_full"], false);
}
