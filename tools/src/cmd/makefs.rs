//! `ufs makefs`: build an image from host directories and tar archives.
//!
//! The building is the library's (`ufskit::build`): this command turns
//! its arguments into build options, feeds the progress bar and the
//! `--timings` line from the build's progress reports, and prints the
//! summary.

use crate::output::fail;
use std::path::{Path, PathBuf};
use ufskit::build::{Amount, BuildOptions, Builder, Progress, Report};
use ufskit::io::FileDevice;
use ufskit::newfs::{self, NewfsOptions};
use ufskit::UfsVersion;

/// Arguments of `ufs makefs`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image size (k/m/g/t suffixes); default: what the tree needs plus -b/-f.
    #[arg(short = 's', value_name = "SIZE")]
    pub size: Option<String>,
    /// Free space to leave: blocks of the block size, or a percentage ("10%").
    #[arg(short = 'b', value_name = "FREE", default_value = "10%")]
    pub free_blocks: String,
    /// Free inodes to leave: a count, or a percentage ("10%").
    #[arg(short = 'f', value_name = "FREE", default_value = "10%")]
    pub free_inodes: String,
    /// mtree(5) specification giving owners, modes, flags and times (as
    /// makefs -F), so an unprivileged build can make a root-owned tree.
    #[arg(short = 'F', value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// UFS version (1 or 2).
    #[arg(short = 'O', id = "ufs_version", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub ufs_version: u8,
    /// newfs options as makefs -o takes them: bsize=N,fsize=N,density=N,
    /// minfree=N,optimization=space|time,label=L,avgfilesize=N,avgfpdir=N.
    #[arg(short = 'o', value_name = "OPTS")]
    pub options: Vec<String>,
    /// Volume label.
    #[arg(short = 'L')]
    pub label: Option<String>,
    /// Set the soft-updates flag.
    #[arg(short = 'U')]
    pub soft_updates: bool,
    /// Byte-identical output for the same input (also SOURCE_DATE_EPOCH).
    #[arg(long)]
    pub reproducible: bool,
    /// Show progress on a terminal.
    #[arg(long)]
    pub progress: bool,
    /// Print how long each phase took (to standard error).
    #[arg(long)]
    pub timings: bool,
    /// Make the image durable (fsync) before exiting. Without it the image
    /// is left to the page cache, as cp and NetBSD makefs leave theirs.
    #[arg(long)]
    pub sync: bool,
    /// Do not copy extended attributes (by default a host file's `user.*`
    /// attributes, and a tar member's SCHILY.xattr/LIBARCHIVE.xattr
    /// `user.*` records, go to the UFS2 user namespace).
    #[arg(long)]
    pub no_xattrs: bool,
    /// Replace an image that holds another file system or a partition table
    /// (an existing UFS image is replaced without it, as makefs does).
    #[arg(long)]
    pub force: bool,
    /// Image file to write (replaced).
    pub image: PathBuf,
    /// Directories and tar archives (plain, gzip, xz, zstd), merged in order.
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
}

fn apply_o(opts: &mut NewfsOptions, list: &[String]) -> Result<(), String> {
    for item in list.iter().flat_map(|s| s.split(',')) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("-o {item}: expected key=value"))?;
        let num = || {
            v.parse::<u32>()
                .map_err(|_| format!("-o {k}={v}: not a number"))
        };
        match k {
            "bsize" => opts.bsize = Some(num()?),
            "fsize" => opts.fsize = Some(num()?),
            "density" => opts.density = Some(num()?),
            "minfree" => opts.minfree = Some(num()?),
            "avgfilesize" => opts.avgfilesize = Some(num()?),
            "avgfpdir" => opts.avgfpdir = Some(num()?),
            "maxbpg" => opts.maxbpg = Some(num()?),
            "label" => opts.label = Some(v.to_string()),
            "version" => {
                opts.version = if v == "1" {
                    UfsVersion::Ufs1
                } else {
                    UfsVersion::Ufs2
                }
            }
            "optimization" => {
                opts.optim = Some(match v {
                    "space" => newfs::Optim::Space,
                    "time" => newfs::Optim::Time,
                    _ => return Err(format!("-o optimization={v}: space or time")),
                })
            }
            _ => return Err(format!("-o {k}: unknown option")),
        }
    }
    Ok(())
}

/// Runs `ufs makefs`.
pub fn run(a: Args) -> i32 {
    let context = format!("makefs {}", a.image.display());
    let r = refuse_foreign(&a).and_then(|()| build(&a));
    match r {
        Ok(msg) => {
            println!("{msg}");
            0
        }
        Err(e) => fail(&context, &e),
    }
}

/// The partition `part` of the disk image at `path`, for writing; one
/// holding something other than UFS is refused without --force, as a whole
/// image is.
fn partition_device(a: &Args, path: &Path, part: &str) -> Result<FileDevice, String> {
    let shown = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let whole = FileDevice::open_read_write(path).map_err(|e| shown(&e))?;
    let p = ufskit::disk::locate(&whole, Some(part))
        .map_err(|e| shown(&e))?
        .ok_or_else(|| format!("{}: no partition {part}", a.image.display()))?;
    let dev = whole.window(p.offset, p.size).map_err(|e| shown(&e))?;
    if !a.force && ufskit::Superblock::probe(&dev).is_none() {
        if let Some(f) = ufskit::signature::foreign(&dev) {
            return Err(super::newfs::overwrite_refusal(
                &a.image.display().to_string(),
                &f,
            ));
        }
    }
    Ok(dev)
}

/// Refuses (without --force) to replace an image that holds something
/// other than UFS: a file system of another kind or a partition table.
/// (A partition of a disk image is checked when it is opened.)
fn refuse_foreign(a: &Args) -> Result<(), String> {
    if a.force || crate::image::target(&a.image).partition.is_some() {
        return Ok(());
    }
    let Ok(dev) = ufskit::io::FileDevice::open_read_only(&a.image) else {
        return Ok(()); // missing (or unreadable: the build will say why)
    };
    if ufskit::Superblock::probe(&dev).is_some() {
        return Ok(());
    }
    match ufskit::signature::foreign(&dev) {
        Some(f) => Err(super::newfs::overwrite_refusal(
            &a.image.display().to_string(),
            &f,
        )),
        None => Ok(()),
    }
}

/// A free-room amount: a percentage ("10%") or a count.
fn parse_amount(s: &str) -> Result<Amount, String> {
    match s.strip_suffix('%') {
        Some(p) => p
            .parse()
            .map(Amount::Percent)
            .map_err(|_| format!("bad percentage {s:?}")),
        None => s
            .parse()
            .map(Amount::Count)
            .map_err(|_| format!("bad count {s:?}")),
    }
}

fn build(a: &Args) -> Result<String, String> {
    let fixed_time = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(
            v.trim()
                .parse::<i64>()
                .map_err(|_| format!("SOURCE_DATE_EPOCH={v:?} is not a number"))?,
        ),
        Err(_) if a.reproducible => Some(0),
        Err(_) => None,
    };
    let mut opts = BuildOptions {
        fixed_time,
        sync: a.sync,
        xattrs: !a.no_xattrs,
        ..Default::default()
    };
    opts.newfs.version = if a.ufs_version == 1 {
        UfsVersion::Ufs1
    } else {
        UfsVersion::Ufs2
    };
    opts.newfs.label = a.label.clone();
    opts.newfs.soft_updates = a.soft_updates;
    apply_o(&mut opts.newfs, &a.options)?;
    opts.free_space = parse_amount(&a.free_blocks)?;
    opts.free_inodes = parse_amount(&a.free_inodes)?;
    if let Some(s) = &a.size {
        opts.size = Some(newfs::parse_size(s).map_err(|e| e.to_string())?);
    }
    // Only directory sources read the host's attributes; a tar's come
    // from the archive on any host.
    let from_host = !a.no_xattrs && a.sources.iter().any(|s| s.is_dir());
    if let Some(w) =
        crate::hostxattr::copy_warning("makefs", crate::hostxattr::SUPPORTED, from_host)
    {
        eprintln!("{w}");
    }
    let show_bar = a.progress || std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut timer = Timings::new(a.timings);
    let mut b = Builder::new(opts).on_progress(|p| match p {
        Progress::Phase(name) => {
            if name == "directories" {
                if let Some(bar) = bar.take() {
                    bar.finish_and_clear();
                }
            }
            timer.mark(name);
        }
        Progress::Start { total } if show_bar => {
            bar = Some(
                indicatif::ProgressBar::new(total).with_style(
                    indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                ),
            );
        }
        Progress::Copied(n) => {
            if let Some(bar) = &bar {
                bar.inc(n);
            }
        }
        Progress::Warning(w) => eprintln!("ufs makefs: {w}"),
        _ => {}
    });
    for src in &a.sources {
        b = b.add_source(src).map_err(|e| e.to_string())?;
    }
    if let Some(spec) = &a.spec {
        b = b.spec(spec).map_err(|e| e.to_string())?;
    }
    let t = crate::image::target(&a.image);
    let r = match t.partition.as_deref() {
        None => b.write(&a.image),
        Some(part) => {
            // Built beside the disk, then copied into just the partition.
            let mut dev = partition_device(a, &t.path, part)?;
            let dir = match t.path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            b.write_into(&mut dev, dir)
        }
    }
    .map_err(|e| e.to_string())?;
    timer.print();
    Ok(summary(&a.image, &r))
}

/// The line a finished build prints.
fn summary(image: &Path, r: &Report) -> String {
    format!(
        "{}: {} files, {} directories, {} bytes ({}, {}/{} block/fragment, {} inodes)",
        image.display(),
        r.files,
        r.directories,
        r.size,
        match r.version {
            UfsVersion::Ufs1 => "UFS1",
            UfsVersion::Ufs2 => "UFS2",
        },
        r.bsize,
        r.fsize,
        r.inodes
    )
}

/// Phase times for `--timings`.
struct Timings {
    on: bool,
    last: std::time::Instant,
    /// Processor time of the whole process (all threads) at `last`.
    last_cpu: Option<f64>,
    line: String,
}

/// Processor time (user and system, all threads) used so far, in
/// seconds, where the system tells it.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), from 3 on.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux platform ufskit runs on.
    Some(ticks as f64 / 100.0)
}

impl Timings {
    fn new(on: bool) -> Timings {
        Timings {
            on,
            last: std::time::Instant::now(),
            last_cpu: if on { cpu_seconds() } else { None },
            line: String::from("makefs timings:"),
        }
    }

    /// The phase `name` ended now: its wall and processor time, and the
    /// peak memory so far.
    fn mark(&mut self, name: &str) {
        if self.on {
            let now = std::time::Instant::now();
            let secs = now.duration_since(self.last).as_secs_f64();
            let cpu = cpu_seconds();
            let used = match (cpu, self.last_cpu) {
                (Some(c), Some(l)) => format!(" cpu {:.2}s", c - l),
                _ => String::new(),
            };
            let peak = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .map(|v| format!(" peak {}", v.trim()))
                })
                .unwrap_or_default();
            self.line.push_str(&format!(
                " {name} {secs:.3}s ({}{peak}),",
                used.trim_start()
            ));
            self.last = now;
            self.last_cpu = cpu;
        }
    }

    fn print(&self) {
        if self.on {
            eprintln!("{}", self.line.trim_end_matches(','));
        }
    }
}
