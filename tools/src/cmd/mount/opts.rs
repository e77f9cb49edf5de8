//! The mdmfs(8) / mount_md command line, as flags or inside an fstab
//! option string (`rw,-P,-F/path/rootfs.volume,-Tufs`).

use std::path::PathBuf;

/// Which option meanings apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Personality {
    /// `ufs mount` and `mdmfs`: stock mdmfs(8): `-t` is newfs's TRIM flag,
    /// `-T fstype` names the type; the check is `--fsck` (default preen).
    Mdmfs,
    /// `mount_md` and `mount.md`: the 2006 fsck patch: `-t fstype` checks
    /// (preen) and `-T fstype` checks and repairs (-y) before mounting.
    MountMd,
}

/// The check before attaching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsckMode {
    /// fsck -p: fix what preen may fix, refuse the rest.
    Preen,
    /// fsck -y: repair everything (with an undo file).
    Yes,
    /// No check (a read-write attach still needs a clean superblock).
    No,
}

impl FsckMode {
    /// The `--fsck=` word.
    pub fn word(self) -> &'static str {
        match self {
            FsckMode::Preen => "preen",
            FsckMode::Yes => "yes",
            FsckMode::No => "no",
        }
    }
}

/// Where the attach commands run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// mdconfig(8) + mount(8).
    FreeBsd,
    /// losetup(8) + mount(8), read-only.
    Linux,
}

impl Host {
    /// Parses `freebsd` / `linux`.
    pub fn parse(s: &str) -> Result<Host, String> {
        match s.to_ascii_lowercase().as_str() {
            "freebsd" => Ok(Host::FreeBsd),
            "linux" => Ok(Host::Linux),
            _ => Err(format!("{s}: unknown host style (use freebsd or linux)")),
        }
    }
    /// `--host`, else `UFS_HOST`, else the running OS.
    pub fn resolve(explicit: Option<Host>) -> Result<Host, String> {
        if let Some(h) = explicit {
            return Ok(h);
        }
        match std::env::var("UFS_HOST") {
            Ok(v) if !v.is_empty() => Host::parse(&v).map_err(|e| format!("UFS_HOST: {e}")),
            _ if cfg!(target_os = "freebsd") => Ok(Host::FreeBsd),
            _ => Ok(Host::Linux),
        }
    }
}

/// Everything one mount needs, validated for syntax.
#[derive(Clone, Debug, PartialEq)]
pub struct MountSpec {
    /// `md`, `mdN` or `/dev/mdN`.
    pub special: String,
    /// The mount point.
    pub node: PathBuf,
    /// `-F`: the container file.
    pub file: Option<PathBuf>,
    /// `-P`: keep the file system, never newfs.
    pub preserve: bool,
    /// `-s`: size for a new container.
    pub size: Option<String>,
    /// `-T` (or `-t` as mount_md): the type to mount.
    pub fstype: String,
    /// `-t` (mdmfs): newfs TRIM flag.
    pub trim: bool,
    /// Soft updates for newfs (`-U`, default; `-S` turns off).
    pub soft_updates: bool,
    /// `-n`: no /.snap.
    pub no_snap: bool,
    /// `-l`: multilabel.
    pub multilabel: bool,
    /// `-v`: UFS version for newfs.
    pub version: Option<String>,
    /// newfs pass-through flags (`-b 32768`, ...).
    pub newfs_args: Vec<String>,
    /// `-o` words that are mount options.
    pub mount_opts: Vec<String>,
    /// `-w user:group`.
    pub owner: Option<String>,
    /// `-p mode`.
    pub mode: Option<u32>,
    /// `-X` / `-N`: print what would be done.
    pub dry_run: bool,
    /// The check.
    pub fsck: FsckMode,
    /// `--no-undo`.
    pub no_undo: bool,
    /// `--force`: newfs may overwrite a UFS container.
    pub force: bool,
    /// `--grow`: an existing container smaller than `-s` is grown to it
    /// (growfs) before the attach, instead of being refused or newfs'd.
    pub grow: bool,
    /// `--host`.
    pub host: Option<Host>,
    /// `-E`: mdconfig path.
    pub mdconfig: String,
    /// `-u N` from `mdN`.
    pub unit: Option<u32>,
    /// `--help` was asked for.
    pub help: bool,
}

impl MountSpec {
    fn new(p: Personality) -> MountSpec {
        MountSpec {
            special: String::new(),
            node: PathBuf::new(),
            file: None,
            preserve: false,
            size: None,
            fstype: "ufs".into(),
            trim: false,
            soft_updates: true,
            no_snap: false,
            multilabel: false,
            version: None,
            newfs_args: Vec::new(),
            mount_opts: Vec::new(),
            owner: None,
            mode: None,
            dry_run: false,
            fsck: match p {
                Personality::Mdmfs => FsckMode::Preen,
                Personality::MountMd => FsckMode::No,
            },
            no_undo: false,
            force: false,
            grow: false,
            host: None,
            mdconfig: "mdconfig".into(),
            unit: None,
            help: false,
        }
    }

    /// Whether the attach is read-write (`rw`, or no `ro`).
    pub fn read_write(&self) -> bool {
        let mut rw = true;
        for o in &self.mount_opts {
            match o.as_str() {
                "ro" | "rdonly" => rw = false,
                "rw" => rw = true,
                _ => {}
            }
        }
        rw
    }

    /// Whether `rw` was asked for in so many words.
    pub fn says_rw(&self) -> bool {
        self.mount_opts.iter().any(|o| o == "rw")
    }
}

/// Option letters that take a value.
fn takes_value(p: Personality, c: char) -> bool {
    match c {
        't' => p == Personality::MountMd,
        'a' | 'b' | 'c' | 'd' | 'E' | 'e' | 'F' | 'f' | 'g' | 'h' | 'i' | 'k' | 'm' | 'O' | 'o'
        | 'p' | 's' | 'T' | 'v' | 'w' => true,
        _ => false,
    }
}

fn check_fstype(v: &str) -> Result<String, String> {
    match v {
        "ufs" | "ffs" => Ok("ufs".into()),
        "" => Err("empty file system type".into()),
        other => Err(format!(
            "{other}: unsupported file system type (only ufs containers can be checked and attached)"
        )),
    }
}

fn apply_short(
    p: Personality,
    s: &mut MountSpec,
    c: char,
    v: Option<String>,
    positionals: &mut Vec<String>,
    depth: u32,
) -> Result<(), String> {
    let val = || v.clone().unwrap_or_default();
    match c {
        'F' => {
            if val().is_empty() {
                return Err("-F: empty container path".into());
            }
            s.file = Some(PathBuf::from(val()));
        }
        'P' => s.preserve = true,
        's' => {
            ufskit::newfs::options::parse_size_sectors(&val(), 512)
                .map_err(|e| format!("-s {}: {e}", val()))?;
            s.size = Some(val());
        }
        'T' => {
            s.fstype = check_fstype(&val())?;
            if p == Personality::MountMd {
                s.fsck = FsckMode::Yes;
            }
        }
        't' if p == Personality::MountMd => {
            s.fstype = check_fstype(&val())?;
            s.fsck = FsckMode::Preen;
        }
        't' => s.trim = true,
        'U' => s.soft_updates = true,
        'S' => s.soft_updates = false,
        'n' => s.no_snap = true,
        'l' => s.multilabel = true,
        'X' | 'N' => s.dry_run = true,
        'D' | 'L' => {}
        'M' => {
            return Err(
                "-M: malloc-backed memory disks are not supported; give a container with -F FILE"
                    .into(),
            )
        }
        'E' => s.mdconfig = val(),
        'v' => match val().as_str() {
            "1" | "2" => s.version = Some(val()),
            o => return Err(format!("-v {o}: UFS version must be 1 or 2")),
        },
        'O' => match val().as_str() {
            "space" | "time" => s.newfs_args.extend(["-o".into(), val()]),
            o => return Err(format!("-O {o}: optimization must be space or time")),
        },
        'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'h' | 'i' | 'k' | 'm' => {
            if val().parse::<u32>().is_err() {
                return Err(format!("-{c} {}: not a number", val()));
            }
            s.newfs_args.extend([format!("-{c}"), val()]);
        }
        'o' => {
            for word in val().split(',') {
                let word = word.trim();
                if word.is_empty() {
                    continue;
                }
                if word.starts_with('-') {
                    if depth > 0 {
                        return Err(format!("{word}: option inside an option string is nested"));
                    }
                    // An mdmfs option inside an fstab option string.
                    parse_into(p, s, &[word.to_string()], positionals, depth + 1)?;
                } else if let Some(rest) = word.strip_prefix("fsck=") {
                    s.fsck = parse_fsck(rest)?;
                } else {
                    s.mount_opts.push(word.to_string());
                }
            }
        }
        'p' => {
            let m = u32::from_str_radix(&val(), 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| format!("-p {}: mode must be octal, at most 7777", val()))?;
            s.mode = Some(m);
        }
        'w' => {
            if val().is_empty() || val().starts_with(':') && val().len() == 1 {
                return Err("-w: give user:group".into());
            }
            s.owner = Some(val());
        }
        other => return Err(format!("-{other}: unknown option (see --help)")),
    }
    Ok(())
}

fn parse_fsck(v: &str) -> Result<FsckMode, String> {
    match v {
        "preen" | "p" => Ok(FsckMode::Preen),
        "yes" | "y" => Ok(FsckMode::Yes),
        "no" | "n" | "none" => Ok(FsckMode::No),
        o => Err(format!("--fsck={o}: use preen, yes or no")),
    }
}

fn parse_into(
    p: Personality,
    s: &mut MountSpec,
    args: &[String],
    positionals: &mut Vec<String>,
    depth: u32,
) -> Result<(), String> {
    let mut i = 0;
    let mut only_pos = false;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if only_pos || a == "-" || !a.starts_with('-') {
            positionals.push(a.clone());
            continue;
        }
        if a == "--" {
            only_pos = true;
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = |s: &str| -> Result<String, String> {
                if let Some(v) = inline.clone() {
                    return Ok(v);
                }
                let v = args
                    .get(i)
                    .cloned()
                    .ok_or_else(|| format!("--{s}: needs a value"))?;
                i += 1;
                Ok(v)
            };
            match name {
                "fsck" => s.fsck = parse_fsck(&value("fsck")?)?,
                "host" => s.host = Some(Host::parse(&value("host")?)?),
                "no-undo" if inline.is_none() => s.no_undo = true,
                "force" if inline.is_none() => s.force = true,
                "grow" if inline.is_none() => s.grow = true,
                // The long spelling of -X/-N.
                "dry-run" if inline.is_none() => s.dry_run = true,
                "help" if inline.is_none() => s.help = true,
                _ => return Err(format!("{a}: unknown option (see --help)")),
            }
            continue;
        }
        for (pos, c) in a[1..].char_indices() {
            if takes_value(p, c) {
                let rest = &a[1 + pos + c.len_utf8()..];
                let v = if !rest.is_empty() {
                    rest.to_string()
                } else if let Some(v) = args.get(i) {
                    i += 1;
                    v.clone()
                } else {
                    return Err(format!("-{c}: needs a value"));
                };
                apply_short(p, s, c, Some(v), positionals, depth)?;
                break;
            }
            if c == 't' && p == Personality::Mdmfs {
                let rest = &a[1 + pos + 1..];
                if matches!(rest, "ufs" | "ffs") {
                    return Err(format!(
                        "-t{rest}: as mdmfs, -t is newfs's TRIM flag and takes no type; \
                         use -T {rest}, or call as mount_md for -t's check-before-mount meaning"
                    ));
                }
            }
            if c == '?' {
                s.help = true;
                continue;
            }
            apply_short(p, s, c, None, positionals, depth)?;
        }
    }
    Ok(())
}

/// Parses a command line (without argv[0]). `SPECIAL NODE` may come
/// before or after the options (Linux mount(8) puts them first).
pub fn parse(p: Personality, args: &[String]) -> Result<MountSpec, String> {
    let mut s = MountSpec::new(p);
    let mut pos = Vec::new();
    parse_into(p, &mut s, args, &mut pos, 0)?;
    if s.help {
        return Ok(s);
    }
    let [special, node] = <[String; 2]>::try_from(pos).map_err(|pos| {
        if pos.len() < 2 {
            "give SPECIAL (md) and NODE (the mount point)".to_string()
        } else {
            format!("too many operands: {}", pos.join(" "))
        }
    })?;
    s.unit = parse_special(&special)?;
    s.special = special;
    if node.is_empty() {
        return Err("empty mount point".into());
    }
    s.node = PathBuf::from(node);
    if s.file.is_none() {
        return Err(
            "no container: only vnode-backed memory disks are supported; give -F FILE".into(),
        );
    }
    Ok(s)
}

/// Rewrites the command line util-linux mount(8) gives an external helper
/// (`/sbin/mount.md SPEC DIR [-sfnv] [-N NS] [-o OPTIONS] [-t TYPE]`, see
/// mount(8) "EXTERNAL HELPERS") into mdmfs's: there the single letters are
/// mount(8)'s own flags, not mdmfs's `-s SIZE`, `-n` or `-v VERSION`, and
/// mdmfs options come inside `-o` (`-o -F/j/rootfs.volume,-P,-Tufs`).
/// `-f` (fake) becomes a dry run; `-s` (sloppy), `-n` (no mtab) and `-v`
/// (verbose) change nothing here. Anything else is passed on, so
/// `mount.md -F FILE -P md /mnt` typed by hand keeps working.
pub fn from_mount_helper(args: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        let letters = a.strip_prefix('-').unwrap_or("");
        if !letters.is_empty() && letters.chars().all(|c| "sfnv".contains(c)) {
            if letters.contains('f') {
                out.push("-X".into());
            }
            continue;
        }
        match a.as_str() {
            // mount(8) passes the type as TYPE.SUBTYPE; only md's own makes sense.
            "-t" => {
                let t = args.get(i).ok_or("-t: needs a value")?;
                i += 1;
                if t != "md" && !t.starts_with("md.") {
                    return Err(format!("-t {t}: this helper mounts type md"));
                }
            }
            "-N" => return Err("-N: mount namespaces are not supported by mount.md".into()),
            _ => out.push(a.clone()),
        }
    }
    Ok(out)
}

/// `md` (any unit), `mdN` or `/dev/mdN` (unit N).
fn parse_special(s: &str) -> Result<Option<u32>, String> {
    let t = s.strip_prefix("/dev/").unwrap_or(s);
    match t.strip_prefix("md") {
        Some("") => Ok(None),
        Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => {
            n.parse().map(Some).map_err(|_| format!("{s}: bad md unit"))
        }
        _ => Err(format!("{s}: SPECIAL must be md, mdN or /dev/mdN")),
    }
}
