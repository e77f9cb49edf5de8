//! `ufs mount` (also `mdmfs`, `mount_md`, `mount.md`): check a UFS
//! container file offline, then attach it as a memory disk (FreeBSD:
//! mdconfig + mount) or loop device (Linux: losetup + mount, read-only),
//! and `ufs umount`. See docs/mount.md.
//!
//! Exit status: 0 mounted (or, with -X, printed); 1 a step failed
//! (newfs, mdconfig/losetup, mount, chown/chmod; what this run attached is
//! detached again, except after chown/chmod); 2 usage error, nothing
//! done; 4 the check refused the container, nothing attached.

pub mod check;
pub mod conf;
pub mod opts;

use opts::{FsckMode, Host, MountSpec, Personality};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use ufskit::fsck::AnswerMode;
use ufskit::superblock::SearchWhen;
use ufskit::UfsVersion;

/// Arguments of `ufs mount`: parsed by hand, as mdmfs(8) does (options
/// and fstab option strings), see `ufs mount --help`.
#[derive(clap::Args, Debug)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// mdmfs options, SPECIAL and NODE (see `ufs mount --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "ARGS")]
    pub args: Vec<OsString>,
}

/// Arguments of `ufs umount`.
#[derive(clap::Args, Debug)]
pub struct UmountArgs {
    /// Force the unmount (`umount -f`).
    #[arg(short = 'f')]
    pub force: bool,
    /// Print the commands only.
    #[arg(short = 'X', long = "dry-run")]
    pub dry_run: bool,
    /// Host style: freebsd or linux (default: UFS_HOST, else the running OS).
    #[arg(long, value_name = "freebsd|linux")]
    pub host: Option<String>,
    /// The mount point.
    pub node: PathBuf,
}

pub(crate) const HELP_MDMFS: &str = "\
usage: ufs mount [options] SPECIAL NODE      (also: mdmfs)

Check a UFS container file offline, then attach it as a memory disk and
mount it. SPECIAL is md, mdN or /dev/mdN; NODE the mount point. Options
may also come inside an fstab option string: -o rw,-P,-F/path/rootfs.volume,-Tufs

  -F FILE        the container (vnode-backed memory disk; required)
  -P             keep the file system in FILE: never newfs
  -s SIZE        size of a new container (512-byte sectors, or k/m/g/t)
  -T FSTYPE      the type to mount (ufs)
  -t             set the TRIM flag (newfs -t)
  -U / -S        soft updates on (default) / off for newfs
  -n             no /.snap (newfs -n);  -l  multilabel (newfs -l)
  -v 1|2         UFS version for newfs;  -O space|time  newfs -o
  -a -b -c -d -e -f -g -h -i -k -m N   passed to newfs
  -o OPTIONS     mount options (words starting with - are options above)
  -w USER:GROUP  owner of the mount point after mounting
  -p MODE        mode (octal) of the mount point after mounting
  -E PATH        the mdconfig program
  -X, -N, --dry-run
                 print what would be done; do nothing
  --fsck=preen|yes|no  check before attaching (default preen: skips a clean
                 file system); yes checks fully and repairs with -y keeping
                 FILE.undo (ufs undo FILE.undo FILE)
  --no-undo      no undo file for --fsck=yes
  --force        let newfs overwrite a container that holds UFS
  --grow         an existing UFS container smaller than -s SIZE is grown
                 to it (ufs growfs, undo file FILE.growfs-undo) after the
                 check; one already that large is mounted as it is
  --host freebsd|linux  command style (default: UFS_HOST, else this OS)

Exit status: 0 mounted; 1 a step failed (what was attached is detached);
2 usage error (nothing done); 4 the check refused the container.
";

pub(crate) const HELP_MOUNT_MD: &str = "\
usage: mount_md [options] SPECIAL NODE       (also: mount.md)

mount(8)'s helper for fstab type md, with the 2006 mdmfs fsck patch's
meanings:

  -t FSTYPE      check before mounting (preen; refuse what preen can't fix)
  -T FSTYPE      check and repair with -y before mounting (undo file kept)
  (neither)      no check; a read-write attach still needs a clean superblock

Both name the file system type (ufs). Every other option is mdmfs's (see
`ufs mount --help`): -F FILE, -P, -s, -U, -S, -n, -o, -w, -p, -X (--dry-run), and
--fsck=, --no-undo, --force, --grow, --host (default: UFS_HOST, else this OS).

fstab:  md /var/jails/j1 md rw,-P,-F/jails/j1/rootfs.volume,-Tufs 0 0

Exit status: 0 mounted; 1 a step failed; 2 usage error; 4 check refused.
";

/// A failure: message and exit status.
struct Fail(i32, String);

fn usage(m: impl Into<String>) -> Fail {
    Fail(crate::EXIT_USAGE, m.into())
}
fn failed(m: impl Into<String>) -> Fail {
    Fail(crate::EXIT_FAILURE, m.into())
}

/// Runs `ufs mount`.
pub fn run(a: Args) -> i32 {
    run_args("ufs mount", Personality::Mdmfs, &a.args)
}

/// Runs as `mdmfs`, `mount_md` or `mount.md` (argv[0]).
pub fn run_personality(argv0: &str, argv: Vec<OsString>) -> i32 {
    let p = if argv0 == "mdmfs" {
        Personality::Mdmfs
    } else {
        Personality::MountMd
    };
    let args = argv.get(1..).unwrap_or(&[]);
    if argv0 != "mount.md" {
        return run_args(argv0, p, args);
    }
    // Linux mount(8) calls mount.md with its own flags in front.
    let strs: Option<Vec<String>> = args.iter().map(|a| a.to_str().map(String::from)).collect();
    let Some(strs) = strs else {
        return run_args(argv0, p, args);
    };
    match opts::from_mount_helper(&strs) {
        Ok(v) => run_args(
            argv0,
            p,
            &v.into_iter().map(OsString::from).collect::<Vec<_>>(),
        ),
        Err(e) => {
            eprintln!("{argv0}: {e}");
            crate::EXIT_USAGE
        }
    }
}

fn run_args(prog: &str, p: Personality, args: &[OsString]) -> i32 {
    let mut strs = Vec::new();
    for a in args {
        match a.to_str() {
            Some(s) => strs.push(s.to_string()),
            None => {
                eprintln!("{prog}: {}: not valid UTF-8", a.to_string_lossy());
                return crate::EXIT_USAGE;
            }
        }
    }
    let spec = match opts::parse(p, &strs) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return crate::EXIT_USAGE;
        }
    };
    if spec.help {
        print!(
            "{}",
            if p == Personality::Mdmfs {
                HELP_MDMFS
            } else {
                HELP_MOUNT_MD
            }
        );
        return 0;
    }
    let host = match Host::resolve(spec.host) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{prog}: {e}");
            return crate::EXIT_USAGE;
        }
    };
    match execute(&spec, host) {
        Ok(()) => 0,
        Err(Fail(code, msg)) => {
            eprintln!("{prog}: {msg}");
            code
        }
    }
}

/// Quotes a word for display when it needs it.
fn shell_word(w: &str) -> String {
    if !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:,=+@%".contains(&b))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// Runs commands (or, dry, prints them).
struct Runner {
    dry: bool,
}

impl Runner {
    fn show(&self, argv: &[String]) {
        let line = argv
            .iter()
            .map(|w| shell_word(w))
            .collect::<Vec<_>>()
            .join(" ");
        if self.dry {
            println!("{line}");
        } else {
            eprintln!("+ {line}");
        }
    }

    /// Runs argv without a shell; stdout on success, a one-line error otherwise.
    fn run(&self, argv: &[String]) -> Result<String, String> {
        self.show(argv);
        if self.dry {
            return Ok(String::new());
        }
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", argv[0]))?;
        let err = String::from_utf8_lossy(&out.stderr);
        eprint!("{err}");
        if !out.status.success() {
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            return Err(format!(
                "{} failed ({}){}{}",
                argv[0],
                out.status,
                if last.is_empty() { "" } else { ": " },
                last.trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Looks up a user or group by name (or number) in an /etc file.
fn lookup_id(file: &str, name: &str, what: &str) -> Result<u32, String> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(n);
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[0] == name).then(|| f[2].parse::<u32>().ok())?
        })
        .ok_or_else(|| format!("-w: {name}: no such {what}"))
}

/// `user:group`, `user:` or `:group` to ids (None = leave as is).
fn resolve_owner(s: &str) -> Result<(Option<u32>, Option<u32>), String> {
    let (u, g) = s.split_once(':').unwrap_or((s, ""));
    let uid = (!u.is_empty())
        .then(|| lookup_id("/etc/passwd", u, "user"))
        .transpose()?;
    let gid = (!g.is_empty())
        .then(|| lookup_id("/etc/group", g, "group"))
        .transpose()?;
    Ok((uid, gid))
}

/// The version of the UFS a file (or its partition, `IMAGE@N`) holds, if any.
fn holds_ufs(path: &Path) -> Option<UfsVersion> {
    let dev = crate::image::open_device(path, false).ok()?;
    ufskit::Superblock::probe(&dev)
}

/// The partition of a disk image that `file` (`IMAGE@N`, `--partition`, or
/// the only UFS partition) names, or `None` for a bare file system.
fn partition_of(file: &Path) -> Result<Option<ufskit::disk::Partition>, Fail> {
    let t = crate::image::target(file);
    let dev = ufskit::io::FileDevice::open_read_only(&t.path)
        .map_err(|e| Fail(4, format!("{}: {e}", t.path.display())))?;
    ufskit::disk::locate(&dev, t.partition.as_deref())
        .map_err(|e| usage(format!("{}: {e}", t.path.display())))
}

/// FreeBSD's provider name for a partition of an md device, after `mdN`:
/// `p2` (GPT), `s2` (MBR), `s1a` (a label in a slice), `a` (a bare label).
fn provider_suffix(p: &ufskit::disk::Partition) -> String {
    match p.scheme {
        ufskit::disk::Scheme::Gpt => format!("p{}", p.name),
        _ if p.name.starts_with(|c: char| c.is_ascii_digit()) => format!("s{}", p.name),
        _ => p.name.clone(),
    }
}

/// The Linux ufs driver's `ufstype=` for a version.
fn linux_ufstype(v: UfsVersion) -> &'static str {
    match v {
        UfsVersion::Ufs1 => "44bsd",
        UfsVersion::Ufs2 => "ufs2",
    }
}

fn execute(spec: &MountSpec, host: Host) -> Result<(), Fail> {
    // ---- validate everything first ----
    let file = spec
        .file
        .clone()
        .ok_or_else(|| usage("no container; give -F FILE"))?;
    let shown = file.display().to_string();
    // The file itself: `IMAGE@N` names partition N of it.
    let real = crate::image::target(&file).path;
    let rw = host == Host::FreeBsd && spec.read_write();
    if host == Host::Linux && spec.says_rw() {
        return Err(usage(
            "rw: on Linux the container is attached read-only (Linux's ufs driver \
             cannot be trusted to write UFS2/SU); use ro, or drop rw",
        ));
    }
    match std::fs::metadata(&spec.node) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(usage(format!("{}: not a directory", spec.node.display()))),
        Err(e) => return Err(usage(format!("{}: {e}", spec.node.display()))),
    }
    let owner = spec
        .owner
        .as_deref()
        .map(resolve_owner)
        .transpose()
        .map_err(usage)?;
    let meta = std::fs::metadata(&real);
    let existing = match &meta {
        Ok(m) if m.is_file() => true,
        Ok(_) => return Err(usage(format!("{shown}: not a regular file"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(usage(format!("{shown}: {e}"))),
    };
    let mut kind = if existing { holds_ufs(&file) } else { None };
    if spec.grow && spec.size.is_none() {
        return Err(usage(
            "--grow needs -s SIZE (the size to grow the container to)",
        ));
    }
    // --grow keeps an existing UFS container (as -P) and grows it to -s.
    let grow_to = match (&spec.size, spec.grow && kind.is_some()) {
        (Some(s), true) => Some(super::growfs::parse_size(s).map_err(usage)?),
        _ => None,
    };
    if grow_to.is_some() {
        // Kept as it is, then grown below.
    } else if spec.preserve {
        if !existing {
            return Err(usage(format!(
                "{shown}: no such file (-P keeps an existing container; without -P it is created)"
            )));
        }
        if spec.size.is_some() {
            eprintln!("ufs: note: -s has no effect with -P (the container is kept as it is)");
        }
    } else {
        if !existing && spec.size.is_none() {
            return Err(usage(format!(
                "{shown}: no such file; give -s SIZE to create it, or -P to use an existing one"
            )));
        }
        if let (Some(k), false) = (kind, spec.force) {
            return Err(usage(format!(
                "{shown} already holds a {k} file system; newfs would destroy it. \
                 Use -P to mount it as it is, or --force to overwrite it"
            )));
        }
        kind = Some(if spec.version.as_deref() == Some("1") {
            UfsVersion::Ufs1
        } else {
            UfsVersion::Ufs2
        });
    }
    let runner = Runner { dry: spec.dry_run };

    // ---- newfs (not for a container kept by -P or --grow) ----
    if !spec.preserve && grow_to.is_none() {
        let mut argv: Vec<String> = vec!["newfs".into()];
        if spec.soft_updates {
            argv.push("-U".into());
        }
        if spec.trim {
            argv.push("-t".into());
        }
        if spec.no_snap {
            argv.push("-n".into());
        }
        if spec.multilabel {
            argv.push("-l".into());
        }
        if let Some(v) = &spec.version {
            argv.extend(["-O".into(), v.clone()]);
        }
        argv.extend(spec.newfs_args.iter().cloned());
        if let Some(s) = &spec.size {
            argv.extend(["-s".into(), s.clone()]);
        }
        if spec.force {
            argv.push("--force".into());
        }
        argv.push(shown.clone());
        let mut display = vec!["ufs".to_string()];
        display.extend(argv.iter().cloned());
        runner.show(&display);
        if !spec.dry_run {
            newfs_in_process(argv)?;
        }
    }

    // ---- check, offline, before any device exists ----
    let undo = (!spec.no_undo).then(|| check::undo_path(&file));
    match spec.fsck {
        FsckMode::Preen => {
            runner.show(&["ufs".into(), "fsck".into(), "-p".into(), shown.clone()]);
        }
        FsckMode::Yes => {
            // -f: the check runs under FreeBSD's rule (fsck -y checks a
            // clean-flagged file system fully); `ufs fsck` needs -f for it.
            let mut v: Vec<String> = vec!["ufs".into(), "fsck".into(), "-y".into(), "-f".into()];
            if let Some(u) = &undo {
                v.extend(["--undo".into(), u.display().to_string()]);
            }
            v.push(shown.clone());
            runner.show(&v);
        }
        FsckMode::No => {}
    }
    if !spec.dry_run {
        let mode = match spec.fsck {
            FsckMode::Preen => Some(AnswerMode::Preen),
            FsckMode::Yes => Some(AnswerMode::Yes),
            FsckMode::No => None,
        };
        if let Some(mode) = mode {
            let u = if mode == AnswerMode::Yes {
                undo.as_deref()
            } else {
                None
            };
            let o = check::repair_file(&file, mode, u).map_err(|e| Fail(4, e))?;
            if !check::fixed(&o) {
                return Err(Fail(
                    4,
                    match mode {
                        AnswerMode::Preen => format!(
                            "{shown}: preen cannot fix it; nothing attached. \
                             Repair with `ufs fsck -y {shown}` or mount with --fsck=yes"
                        ),
                        _ => format!("{shown}: fsck -y could not repair it; nothing attached"),
                    },
                ));
            }
            if o.pages_written > 0 {
                if let Some(u) = u.filter(|u| u.exists()) {
                    eprintln!(
                        "ufs: {shown}: repaired; undo with `ufs undo {} {shown}`",
                        u.display()
                    );
                }
            }
        }
        let dev = crate::image::open_device(&file, false)
            .map_err(|e| Fail(4, format!("{shown}: {e}")))?;
        // The kernel reads only the primary: a copy found by search means
        // a repair is due, not an attach.
        let sb = match ufskit::Superblock::find_with(&dev, SearchWhen::IfMissing) {
            Ok((sb, _, None)) => sb,
            Ok((_, _, Some(r))) => {
                return Err(Fail(
                    4,
                    format!(
                        "{shown}: no usable primary superblock, but a {r}; \
                         repair with `ufs fsck -y {shown}` or mount with --fsck=yes"
                    ),
                ))
            }
            Err(e) => return Err(Fail(4, format!("{shown}: no usable UFS superblock: {e}"))),
        };
        kind = Some(sb.version());
        if rw && !sb.is_clean() {
            return Err(Fail(
                4,
                format!(
                    "{shown}: the file system is not clean; refusing a read-write attach \
                     (check it with --fsck=preen or --fsck=yes, or mount it ro)"
                ),
            ));
        }
    }

    // ---- grow, after the check (growfs wants a clean file system) ----
    if let Some(target) = grow_to {
        grow(spec, &runner, &file, target)?;
    }

    // ---- attach ----
    let part = if existing || !spec.dry_run {
        partition_of(&file)?
    } else {
        None
    };
    let real = real.display().to_string();
    match host {
        Host::FreeBsd => attach_freebsd(spec, &runner, &real, rw, part.as_ref())?,
        Host::Linux => attach_linux(
            spec,
            &runner,
            &real,
            kind.unwrap_or(UfsVersion::Ufs2),
            part.as_ref(),
        )?,
    }

    // ---- mount point owner and mode ----
    let node = spec.node.display().to_string();
    if let Some((uid, gid)) = owner {
        let show = |x: Option<u32>| x.map(|v| v.to_string()).unwrap_or_default();
        runner.show(&[
            "chown".into(),
            format!("{}:{}", show(uid), show(gid)),
            node.clone(),
        ]);
        if !spec.dry_run {
            std::os::unix::fs::chown(&spec.node, uid, gid).map_err(|e| {
                failed(format!(
                    "{node}: chown: {e} (the file system stays mounted)"
                ))
            })?;
        }
    }
    if let Some(m) = spec.mode {
        runner.show(&["chmod".into(), format!("{m:04o}"), node.clone()]);
        if !spec.dry_run {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&spec.node, std::fs::Permissions::from_mode(m)).map_err(
                |e| {
                    failed(format!(
                        "{node}: chmod: {e} (the file system stays mounted)"
                    ))
                },
            )?;
        }
    }
    Ok(())
}

/// The bytes the file system in `file` spans, if its superblock reads.
fn fs_bytes(file: &Path) -> Option<u64> {
    let dev = ufskit::io::FileDevice::open_read_only(file).ok()?;
    let (_, geo) = ufskit::Superblock::find(&dev).ok()?;
    Some(geo.size * u64::from(geo.fsize))
}

/// `--grow`: grows the container's file system to `target` bytes with the
/// library growfs (undo file `FILE.growfs-undo` unless `--no-undo`); a file
/// system already that large is left alone, so an fstab line with `--grow`
/// mounts the same way at every boot.
fn grow(spec: &MountSpec, r: &Runner, file: &Path, target: u64) -> Result<(), Fail> {
    let shown = file.display().to_string();
    // A superblock that does not read yet (a dry run before the repair)
    // counts as smaller: the real run decides after the check.
    let current = fs_bytes(file).unwrap_or(0);
    if current >= target {
        eprintln!(
            "ufs: note: {shown}: the file system is {} already; not grown",
            ufskit::growfs::humanize(current)
        );
        return Ok(());
    }
    let size = spec.size.clone().unwrap_or_default();
    let mut argv: Vec<String> = vec!["ufs".into(), "growfs".into(), "-y".into()];
    if spec.no_undo {
        argv.push("--no-undo".into());
    }
    argv.extend(["-s".into(), size.clone(), shown.clone()]);
    r.show(&argv);
    if spec.dry_run {
        return Ok(());
    }
    let a = super::growfs::Args {
        dry_run: false,
        yes: true,
        size: Some(size),
        undo: None,
        no_undo: spec.no_undo,
        shrink: false,
        verbose: false,
        image: file.to_path_buf(),
    };
    match super::growfs::run(a) {
        0 => Ok(()),
        code => Err(failed(format!(
            "{shown}: growfs failed (status {code}); nothing attached"
        ))),
    }
}

fn newfs_in_process(argv: Vec<String>) -> Result<(), Fail> {
    #[derive(clap::Parser, Debug)]
    #[command(disable_version_flag = true, disable_help_flag = true)]
    struct P {
        #[command(flatten)]
        args: super::newfs::Args,
    }
    let p = <P as clap::Parser>::try_parse_from(argv).map_err(|e| {
        usage(format!(
            "newfs: {}",
            e.to_string().lines().next().unwrap_or("")
        ))
    })?;
    match super::newfs::run(p.args) {
        0 => Ok(()),
        _ => Err(failed("newfs failed; nothing attached")),
    }
}

/// mdconfig + mount; a partition of a disk image is mounted from its
/// provider (`/dev/md0p2`), which GEOM's part class creates on attach.
fn attach_freebsd(
    spec: &MountSpec,
    r: &Runner,
    file: &str,
    rw: bool,
    part: Option<&ufskit::disk::Partition>,
) -> Result<(), Fail> {
    let mut md: Vec<String> = vec![
        spec.mdconfig.clone(),
        "-a".into(),
        "-t".into(),
        "vnode".into(),
        "-f".into(),
        file.into(),
    ];
    if let Some(u) = spec.unit {
        md.extend(["-u".into(), u.to_string()]);
    }
    if !rw {
        md.extend(["-o".into(), "readonly".into()]);
    }
    let out = r.run(&md).map_err(failed)?;
    let unit = if r.dry {
        spec.unit.map_or_else(|| "N".to_string(), |u| u.to_string())
    } else {
        let name = out.trim();
        match (name.strip_prefix("md"), spec.unit) {
            (Some(n), _) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => n.to_string(),
            (_, Some(u)) => u.to_string(),
            _ => {
                return Err(failed(format!(
                    "{}: unexpected output {name:?} (wanted mdN)",
                    spec.mdconfig
                )))
            }
        }
    };
    let mut m: Vec<String> = vec!["mount".into(), "-t".into(), spec.fstype.clone()];
    if !spec.mount_opts.is_empty() {
        m.extend(["-o".into(), spec.mount_opts.join(",")]);
    }
    m.push(format!(
        "/dev/md{unit}{}",
        part.map(provider_suffix).unwrap_or_default()
    ));
    m.push(spec.node.display().to_string());
    if let Err(e) = r.run(&m) {
        let d = vec![spec.mdconfig.clone(), "-d".into(), "-u".into(), unit];
        let undo = r.run(&d).err();
        return Err(failed(match undo {
            None => format!("{e}; md detached again"),
            Some(e2) => format!("{e}; and detaching failed too: {e2}"),
        }));
    }
    Ok(())
}

/// losetup + mount; a partition of a disk image gets a loop device over
/// just its bytes (`--offset`, `--sizelimit`).
fn attach_linux(
    spec: &MountSpec,
    r: &Runner,
    file: &str,
    kind: UfsVersion,
    part: Option<&ufskit::disk::Partition>,
) -> Result<(), Fail> {
    let mut l: Vec<String> = vec![
        "losetup".into(),
        "--find".into(),
        "--show".into(),
        "--read-only".into(),
    ];
    if let Some(p) = part {
        l.extend([
            "--offset".into(),
            p.offset.to_string(),
            "--sizelimit".into(),
            p.size.to_string(),
        ]);
    }
    l.push(file.into());
    let out = r.run(&l).map_err(failed)?;
    let dev = if r.dry {
        "/dev/loopN".to_string()
    } else {
        let d = out.trim().to_string();
        if !d.starts_with("/dev/") {
            return Err(failed(format!("losetup: unexpected output {d:?}")));
        }
        d
    };
    let mut o = vec!["ro".to_string(), format!("ufstype={}", linux_ufstype(kind))];
    o.extend(
        spec.mount_opts
            .iter()
            .filter(|w| !matches!(w.as_str(), "ro" | "rw" | "rdonly") && !w.starts_with("ufstype="))
            .cloned(),
    );
    let m: Vec<String> = vec![
        "mount".into(),
        "-t".into(),
        spec.fstype.clone(),
        "-o".into(),
        o.join(","),
        dev.clone(),
        spec.node.display().to_string(),
    ];
    if let Err(e) = r.run(&m) {
        let undo = r.run(&["losetup".into(), "-d".into(), dev]).err();
        return Err(failed(match undo {
            None => format!("{e}; loop device detached again"),
            Some(e2) => format!("{e}; and detaching failed too: {e2}"),
        }));
    }
    Ok(())
}

/// Decodes fstab/proc-mounts octal escapes (`\040`).
pub(crate) fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Finds the device mounted on `node` in a mount table (`mount -p` or
/// /proc/mounts format: device first, mount point second).
fn device_of(table: &str, node: &Path) -> Option<String> {
    let want = std::fs::canonicalize(node).unwrap_or_else(|_| node.to_path_buf());
    table.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 2 {
            return None;
        }
        let mp = PathBuf::from(unescape(f[1]));
        (mp == node || mp == want).then(|| unescape(f[0]))
    })
}

/// Runs `ufs umount`.
pub fn umount(a: UmountArgs) -> i32 {
    let host = match a
        .host
        .as_deref()
        .map(Host::parse)
        .transpose()
        .and_then(Host::resolve)
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("ufs umount: {e}");
            return crate::EXIT_USAGE;
        }
    };
    match do_umount(&a, host) {
        Ok(()) => 0,
        Err(Fail(c, m)) => {
            eprintln!("ufs umount: {m}");
            c
        }
    }
}

fn do_umount(a: &UmountArgs, host: Host) -> Result<(), Fail> {
    let node = a.node.display().to_string();
    let real = Runner { dry: false };
    let table = match host {
        Host::FreeBsd => real.run(&["mount".into(), "-p".into()]).map_err(failed)?,
        Host::Linux => {
            let f = std::env::var("UFS_PROC_MOUNTS").unwrap_or_else(|_| "/proc/mounts".into());
            std::fs::read_to_string(&f).map_err(|e| failed(format!("{f}: {e}")))?
        }
    };
    let dev = device_of(&table, &a.node).ok_or_else(|| failed(format!("{node}: not mounted")))?;
    let detach: Vec<String> = match host {
        Host::FreeBsd => {
            // `/dev/md3`, or a partition of it: `/dev/md3p2`, `/dev/md3s1a`.
            let unit = dev
                .strip_prefix("/dev/md")
                .map(|u| &u[..u.bytes().take_while(u8::is_ascii_digit).count()])
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    failed(format!(
                        "{node} is mounted from {dev}, not a memory disk; use umount(8)"
                    ))
                })?;
            vec!["mdconfig".into(), "-d".into(), "-u".into(), unit.into()]
        }
        Host::Linux => {
            if !dev.starts_with("/dev/loop") {
                return Err(failed(format!(
                    "{node} is mounted from {dev}, not a loop device; use umount(8)"
                )));
            }
            vec!["losetup".into(), "-d".into(), dev.clone()]
        }
    };
    let r = Runner { dry: a.dry_run };
    let mut u: Vec<String> = vec!["umount".into()];
    if a.force {
        u.push("-f".into());
    }
    u.push(node.clone());
    r.run(&u).map_err(failed)?;
    r.run(&detach)
        .map_err(|e| failed(format!("{e} ({node} is unmounted; {dev} still attached)")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ufskit::disk::{Partition, Scheme};

    #[test]
    fn partitions_are_mounted_from_geom_provider_names() {
        let p = |name: &str, scheme| Partition {
            name: name.into(),
            scheme,
            kind: String::new(),
            offset: 0,
            size: 0,
            ufs_type: true,
            container: false,
        };
        assert_eq!(provider_suffix(&p("2", Scheme::Gpt)), "p2");
        assert_eq!(provider_suffix(&p("5", Scheme::Mbr)), "s5");
        assert_eq!(provider_suffix(&p("1a", Scheme::BsdLabel)), "s1a");
        assert_eq!(provider_suffix(&p("d", Scheme::BsdLabel)), "d");
    }
}
