//! `ufs newfs` and the `newfs.ufs` / `mkfs.ufs` / `newfs_ufs` personalities:
//! FreeBSD newfs(8) for image files.
//!
//! This module owns the command line (newfs's option letters plus a few
//! long options), the safety checks around the image file (create it sparse
//! when missing, refuse to overwrite a UFS file system without `--force`),
//! `-E` and the printed summary. The layout and the bytes come from
//! `ufskit::newfs`.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use ufskit::io::FileDevice;
use ufskit::newfs::layout::{compute, journal_text, summary_text};
use ufskit::newfs::options::{parse_size_sectors, NewfsOptions, Optim};
use ufskit::newfs::{newfs_with, EmitOptions, Generations, Zeroing};
use ufskit::UfsVersion;

/// Arguments of `ufs newfs` (newfs(8)'s letters).
#[derive(clap::Args, Debug)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// File system format: 1 (UFS1) or 2 (UFS2, the default).
    #[arg(short = 'O', value_name = "1|2")]
    pub format: Option<String>,
    /// Block size in bytes (default 32768).
    #[arg(short = 'b', value_name = "BLOCK-SIZE")]
    pub bsize: Option<u32>,
    /// Fragment size in bytes (default 4096).
    #[arg(short = 'f', value_name = "FRAG-SIZE")]
    pub fsize: Option<u32>,
    /// Bytes of data space per inode (default 2 fragments).
    #[arg(short = 'i', value_name = "BYTES")]
    pub density: Option<u32>,
    /// Percentage of space reserved from ordinary users (default 8).
    #[arg(short = 'm', value_name = "PERCENT")]
    pub minfree: Option<u32>,
    /// Optimize allocation for `space` or `time` (default time).
    #[arg(short = 'o', value_name = "space|time")]
    pub optim: Option<String>,
    /// Maximum contiguous blocks (default MAXPHYS / block size).
    #[arg(short = 'a', value_name = "MAXCONTIG")]
    pub maxcontig: Option<u32>,
    /// Blocks per cylinder group limit, counted in fragments as newfs does.
    #[arg(short = 'c', value_name = "FRAGS")]
    pub maxfpg: Option<u32>,
    /// Largest extent size in bytes (default the block size).
    #[arg(short = 'd', value_name = "MAXBSIZE")]
    pub maxbsize: Option<u32>,
    /// Blocks one file may take from a cylinder group (default bsize/8).
    #[arg(short = 'e', value_name = "MAXBPG")]
    pub maxbpg: Option<u32>,
    /// Expected average file size (default 16384).
    #[arg(short = 'g', value_name = "BYTES")]
    pub avgfilesize: Option<u32>,
    /// Expected files per directory (default 64).
    #[arg(short = 'h', value_name = "N")]
    pub avgfpdir: Option<u32>,
    /// Fragments held back for metadata after the inode blocks.
    #[arg(short = 'k', value_name = "FRAGS")]
    pub metaspace: Option<u32>,
    /// Volume label (alphanumerics and `_`, under 32 bytes).
    #[arg(short = 'L', value_name = "LABEL")]
    pub label: Option<String>,
    /// Set the MAC multilabel flag.
    #[arg(short = 'l')]
    pub multilabel: bool,
    /// Do not create /.snap.
    #[arg(short = 'n')]
    pub no_snap: bool,
    /// Print the layout only; write (and create) nothing.
    #[arg(short = 'N')]
    pub dry_run: bool,
    /// Sector size in bytes (default 512).
    #[arg(short = 'S', value_name = "BYTES")]
    pub sector_size: Option<u32>,
    /// File system size: a number of sectors, or bytes with a k, m, g or t
    /// suffix. A missing IMAGE is created with this size.
    #[arg(short = 's', value_name = "SIZE")]
    pub size: Option<String>,
    /// Set the TRIM flag.
    #[arg(short = 't')]
    pub trim: bool,
    /// Enable soft updates.
    #[arg(short = 'U')]
    pub soft_updates: bool,
    /// Enable soft updates journaling (implies -U) and create /.sujournal.
    /// Note: `ufs fsck` does not check or replay the journal yet.
    #[arg(short = 'j')]
    pub journal: bool,
    /// Set the gjournal flag.
    #[arg(short = 'J')]
    pub gjournal: bool,
    /// Erase the image first (deallocates all of it: a sparse file again).
    #[arg(short = 'E')]
    pub erase: bool,
    /// FreeBSD's regression mode: fixed id {1000000000, 1}, times
    /// 1000000000, sequential inode generations.
    #[arg(short = 'R')]
    pub regression: bool,
    /// Same bytes on every run: like -R, or with SOURCE_DATE_EPOCH set, that
    /// time instead of 1000000000.
    #[arg(long)]
    pub reproducible: bool,
    /// Overwrite an image that already holds a file system (UFS or any
    /// other newfs recognizes) or a partition table.
    #[arg(long)]
    pub force: bool,
    /// Defaults of `current` FreeBSD (check hashes 0x7, MAXPHYS 1 MiB) or
    /// of FreeBSD `12.1` (cylinder-group check hashes only, MAXPHYS 128 KiB).
    #[arg(long, value_name = "current|12.1", default_value = "current")]
    pub compat: String,
    /// Creation time in seconds since the epoch (testing).
    #[arg(long, hide = true, value_name = "SECONDS")]
    pub creation_time: Option<i64>,
    /// `fs_id[1]` (testing).
    #[arg(long, hide = true, value_name = "N")]
    pub fs_id: Option<u32>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The image file.
    pub image: PathBuf,
}

/// Runs `ufs newfs`.
pub fn run(a: Args) -> i32 {
    run_named("newfs", a)
}

/// Runs as `newfs.ufs`, `mkfs.ufs` or `newfs_ufs` (argv[0]).
pub fn run_personality(argv0: &str, argv: Vec<OsString>) -> i32 {
    #[derive(clap::Parser, Debug)]
    #[command(disable_version_flag = true, disable_help_flag = true)]
    struct P {
        #[command(flatten)]
        args: Args,
    }
    let name: &'static str = match argv0 {
        "mkfs.ufs" => "mkfs.ufs",
        "newfs_ufs" => "newfs_ufs",
        _ => "newfs.ufs",
    };
    let mut cmd = <P as clap::CommandFactory>::command().name(name);
    let parsed = cmd
        .try_get_matches_from_mut(argv)
        .and_then(|m| <P as clap::FromArgMatches>::from_arg_matches(&m));
    match parsed {
        Ok(p) => run_named(name, p.args),
        Err(e) => {
            let _ = e.print();
            // newfs's usage() exits 1.
            if e.use_stderr() {
                crate::EXIT_FAILURE
            } else {
                0
            }
        }
    }
}

/// An error message in newfs's style and the exit status.
struct Refusal(String);

fn run_named(prog: &str, a: Args) -> i32 {
    match execute(&a) {
        Ok(()) => 0,
        Err(Refusal(msg)) => {
            eprintln!("{prog}: {msg}");
            crate::EXIT_FAILURE
        }
    }
}

fn options(a: &Args) -> Result<(NewfsOptions, Generations), Refusal> {
    let mut o = match a.compat.as_str() {
        "current" => NewfsOptions::default(),
        "12.1" => NewfsOptions::freebsd_12_1(),
        other => {
            return Err(Refusal(format!(
                "{other}: unknown --compat value: use `current' or `12.1'"
            )))
        }
    };
    o.version = match a.format.as_deref() {
        None | Some("2") => UfsVersion::Ufs2,
        Some("1") => UfsVersion::Ufs1,
        Some(v) => return Err(Refusal(format!("{v}: bad file system format value"))),
    };
    o.optim = match a.optim.as_deref() {
        None => None,
        Some("space") => Some(Optim::Space),
        Some("time") => Some(Optim::Time),
        Some(v) => {
            return Err(Refusal(format!(
                "{v}: unknown optimization preference: use `space' or `time'"
            )))
        }
    };
    o.bsize = a.bsize;
    o.fsize = a.fsize;
    o.density = a.density;
    o.minfree = a.minfree;
    o.maxcontig = a.maxcontig;
    o.maxfpg = a.maxfpg;
    o.maxbsize = a.maxbsize;
    o.maxbpg = a.maxbpg;
    o.avgfilesize = a.avgfilesize;
    o.avgfpdir = a.avgfpdir;
    o.metaspace = a.metaspace;
    o.label = a.label.clone();
    o.multilabel = a.multilabel;
    o.no_snap = a.no_snap;
    o.sector_size = a.sector_size;
    o.trim = a.trim;
    o.soft_updates = a.soft_updates || a.journal;
    o.journal = a.journal;
    o.gjournal = a.gjournal;
    o.time = a.creation_time;
    o.random_id = a.fs_id;
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok());
    let gens = match (a.regression || a.reproducible, epoch) {
        (_, Some(t)) if a.creation_time.is_none() => {
            o.time = Some(t);
            o.random_id = Some(a.fs_id.unwrap_or(1));
            Generations::Sequential
        }
        (true, _) => {
            o.regression = true;
            Generations::Sequential
        }
        (false, _) => Generations::Zero,
    };
    Ok((o, gens))
}

/// What is at the image path now.
enum Target {
    Missing,
    /// A regular file: its size, and whether it has no data blocks at all
    /// (a file just made with truncate(1) reads as zeros everywhere).
    File(u64, bool),
}

fn target(path: &Path) -> Result<Target, Refusal> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Target::Missing),
        Err(e) => Err(Refusal(format!("{}: {e}", path.display()))),
        Ok(m) if m.is_file() => Ok(Target::File(m.len(), all_hole(&m))),
        Ok(_) => Err(Refusal(format!(
            "{}: not a regular file (only image files are supported)",
            path.display()
        ))),
    }
}

/// The refusal newfs and makefs give for an image holding something else.
pub fn overwrite_refusal(shown: &str, f: &ufskit::signature::Found) -> String {
    format!(
        "{shown} holds {} (signature at byte {}); creating a UFS file system \
         would destroy it. Use --force to overwrite it.",
        f.what, f.offset
    )
}

/// Whether a file has no data blocks, so it reads as zeros everywhere.
fn all_hole(m: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        m.blocks() == 0
    }
    #[cfg(not(unix))]
    {
        m.len() == 0
    }
}

fn execute(a: &Args) -> Result<(), Refusal> {
    let t = crate::image::target(&a.image);
    if let Some(part) = t.partition.as_deref() {
        return execute_in_partition(a, &t.path, part);
    }
    let (opts, gens) = options(a)?;
    let path = &a.image;
    let shown = path.display().to_string();
    let sector = opts.sector_size.unwrap_or(512);
    let requested = a
        .size
        .as_deref()
        .map(|s| parse_size_sectors(s, sector).map_err(|e| Refusal(e.to_string())))
        .transpose()?;
    let existing = target(path)?;
    let (dev_bytes, mut opts) = match (&existing, requested) {
        (Target::Missing, None) => {
            return Err(Refusal(format!(
                "{shown}: no such file; give -s SIZE to create it"
            )))
        }
        (Target::Missing, Some(b)) => (b, opts),
        (Target::File(len, _), Some(b)) => {
            // The layout refuses a size beyond the image, as newfs does.
            let mut o = opts;
            o.fs_size_sectors = Some(b / u64::from(sector));
            (*len, o)
        }
        (Target::File(len, _), None) => (*len, opts),
    };
    if matches!(existing, Target::Missing) {
        opts.fs_size_sectors = None;
    }
    let layout = compute(dev_bytes, &opts).map_err(|e| Refusal(e.to_string()))?;
    for w in &layout.warnings {
        eprintln!("{w}");
    }
    let mut out = std::io::stdout().lock();
    if a.dry_run {
        let _ = out.write_all(summary_text(&shown, &layout).as_bytes());
        return Ok(());
    }

    // A new file, or one without data blocks, reads as zeros (and holds no file system).
    let (file, reads_zero) = match existing {
        Target::Missing => {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(path)
                .and_then(|f| f.set_len(dev_bytes).map(|()| f))
                .map_err(|e| Refusal(format!("{shown}: {e}")))?;
            (f, true)
        }
        Target::File(_, hole) => {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|e| Refusal(format!("{shown}: {e}")))?;
            (f, hole)
        }
    };
    let mut dev = FileDevice::from_file(file, true).map_err(|e| Refusal(e.to_string()))?;
    if !reads_zero && !a.force {
        refuse_occupied(&dev, &shown)?;
    }
    write_fs(a, &mut dev, dev_bytes, reads_zero, &layout, &opts, gens)
}

/// Refuses a device that holds a UFS or another recognized file system.
fn refuse_occupied(dev: &FileDevice, shown: &str) -> Result<(), Refusal> {
    if let Some(kind) = ufskit::Superblock::probe(dev) {
        return Err(Refusal(format!(
            "{shown} already holds a {kind} file system; newfs would destroy \
             everything in it (if this is the disk of a jail or VM that is in \
             use, that system is gone). Use --force to overwrite it."
        )));
    }
    if let Some(f) = ufskit::signature::foreign(dev) {
        return Err(Refusal(overwrite_refusal(shown, &f)));
    }
    Ok(())
}

/// newfs inside partition `part` of the disk image at `path`: the file
/// system fills the partition (or `-s` of it), and the device is a window
/// of the file, so no byte outside the partition is read or written.
fn execute_in_partition(a: &Args, path: &Path, part: &str) -> Result<(), Refusal> {
    let (mut opts, gens) = options(a)?;
    let shown = a.image.display().to_string();
    let sector = opts.sector_size.unwrap_or(512);
    let whole = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => FileDevice::open_read_write(path),
        Ok(_) => {
            return Err(Refusal(format!(
                "{}: not a regular file (only image files are supported)",
                path.display()
            )))
        }
        Err(e) => return Err(Refusal(format!("{}: {e}", path.display()))),
    }
    .map_err(|e| Refusal(format!("{}: {e}", path.display())))?;
    let p = ufskit::disk::locate(&whole, Some(part))
        .map_err(|e| Refusal(format!("{}: {e}", path.display())))?
        .ok_or_else(|| Refusal(format!("{shown}: no partition {part}")))?;
    if let Some(s) = a.size.as_deref() {
        let b = parse_size_sectors(s, sector).map_err(|e| Refusal(e.to_string()))?;
        opts.fs_size_sectors = Some(b / u64::from(sector));
    }
    let layout = compute(p.size, &opts).map_err(|e| Refusal(e.to_string()))?;
    for w in &layout.warnings {
        eprintln!("{w}");
    }
    if a.dry_run {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(summary_text(&shown, &layout).as_bytes());
        return Ok(());
    }
    let mut dev = whole
        .window(p.offset, p.size)
        .map_err(|e| Refusal(format!("{shown}: {e}")))?;
    if !a.force {
        refuse_occupied(&dev, &shown)?;
    }
    write_fs(a, &mut dev, p.size, false, &layout, &opts, gens)
}

/// Erases (with -E), prints the summary and writes the file system.
fn write_fs(
    a: &Args,
    dev: &mut FileDevice,
    dev_bytes: u64,
    reads_zero: bool,
    layout: &ufskit::newfs::layout::Layout,
    opts: &NewfsOptions,
    gens: Generations,
) -> Result<(), Refusal> {
    let shown = a.image.display().to_string();
    let mut out = std::io::stdout().lock();
    let mut zeroed = reads_zero;
    if a.erase {
        let _ = writeln!(
            out,
            "Erasing sectors [{}...{}]",
            layout.sb.fs_sblockloc / 512,
            (layout.sb.fs_size << layout.sb.fs_fsbtodb) - 1
        );
        erase(dev, dev_bytes).map_err(|e| Refusal(format!("{shown}: erase: {e}")))?;
        zeroed = true;
    }
    let _ = out.write_all(summary_text(&shown, layout).as_bytes());
    let _ = out.flush();
    let eo = EmitOptions {
        zeroing: if zeroed {
            Zeroing::AssumeZeroed
        } else {
            Zeroing::Verify
        },
        generations: gens,
    };
    newfs_with(dev, layout, opts, &eo).map_err(|e| Refusal(format!("{shown}: {e}")))?;
    if let Some(j) = journal_text(layout) {
        let _ = out.write_all(j.as_bytes());
    }
    Ok(())
}

/// Deallocates the device's `len` bytes (the whole file, or a partition of
/// a disk image), keeping the file's size: they read as zeros after.
fn erase(dev: &mut FileDevice, len: u64) -> std::io::Result<()> {
    let (file, base) = (dev.file(), dev.base());
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{fallocate, FallocateFlags};
        if len == 0
            || fallocate(
                file,
                FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
                base,
                len,
            )
            .is_ok()
        {
            return Ok(());
        }
    }
    if base == 0 && file.metadata()?.len() == len {
        // Elsewhere (or if hole punching is refused): truncate and extend.
        file.set_len(0)?;
        return file.set_len(len);
    }
    // A partition: zeros written over it, a MiB at a time.
    let zeros = vec![0u8; 1 << 20];
    let mut done = 0u64;
    while done < len {
        let n = usize::try_from(len - done)
            .unwrap_or(usize::MAX)
            .min(zeros.len());
        ufskit::io::Device::write_at(dev, done, &zeros[..n])?;
        done += n as u64;
    }
    Ok(())
}
