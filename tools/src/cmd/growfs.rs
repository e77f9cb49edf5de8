//! `ufs growfs [-N] [-y] [-s SIZE] IMAGE`: FreeBSD growfs(8) for image
//! files. Without `-s` the file system grows to the file's size; a `-s`
//! larger than the file extends the file first (sparse). Every byte the
//! grow overwrites inside the old file system is saved to an undo file
//! first (`--undo FILE`, default `IMAGE.growfs-undo`; `--no-undo` to skip);
//! `ufs undo FILE IMAGE` puts the old file system back. `-N` computes and
//! prints but writes nothing. Exit status as FreeBSD 12.1's growfs: 0
//! done, 1 a size not larger than the file system, 2 refused (and usage
//! errors, as for every subcommand), 3 I/O or image errors. The layout rules
//! live in `ufskit::growfs`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use ufskit::growfs::{self, GrowError};
use ufskit::io::{Device, FileDevice, UndoDevice};
use ufskit::shrink::{self, ShrinkError};

/// Arguments (growfs(8)'s letters plus the undo options).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Test mode: compute and print, write nothing.
    #[arg(short = 'N')]
    pub dry_run: bool,
    /// Assume "yes" to the question (and grow even with snapshots present).
    #[arg(short = 'y')]
    pub yes: bool,
    /// New size: 512-byte sectors, or bytes with a b, k, m, g or t suffix.
    #[arg(short = 's', value_name = "SIZE")]
    pub size: Option<String>,
    /// Save the overwritten bytes to this undo file (default IMAGE.growfs-undo).
    #[arg(long, value_name = "FILE", conflicts_with = "no_undo")]
    pub undo: Option<PathBuf>,
    /// Do not write an undo file.
    #[arg(long)]
    pub no_undo: bool,
    /// Shrink to the `-s` size (smaller than the file system), moving
    /// inodes and blocks out of the part removed first, then truncate the
    /// file; refused, unwritten, when the data does not fit.
    #[arg(long, requires = "size")]
    pub shrink: bool,
    /// Ignored, as growfs ignores it (newfs compatibility).
    #[arg(short = 'v', hide = true)]
    pub verbose: bool,
    /// The image file.
    pub image: PathBuf,
}

const EXIT_REFUSED: i32 = 2;
/// FreeBSD 12.1 growfs's status for a size that is not larger.
const EXIT_NOT_LARGER: i32 = 1;
const EXIT_IO: i32 = 3;

/// growfs's `-s` syntax: a number (decimal, 0x hex or 0 octal, as
/// strtoumax with base 0) of 512-byte sectors, or with a suffix b/k/m/g/t
/// (any case) a byte count.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let split = s
        .find(|c: char| !(c.is_ascii_hexdigit() || c == 'x' || c == 'X'))
        .unwrap_or(s.len());
    // A trailing b/B is a suffix, not a hex digit, unless 0x was given.
    let (num, suffix) = if s.starts_with("0x") || s.starts_with("0X") {
        s.split_at(split)
    } else {
        let d = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s.split_at(d)
    };
    let n = if let Some(h) = num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
        u64::from_str_radix(h, 16)
    } else if num.len() > 1 && num.starts_with('0') {
        u64::from_str_radix(&num[1..], 8)
    } else {
        num.parse()
    }
    .map_err(|_| format!("bad size {s:?}"))?;
    let shift = match suffix {
        "" => {
            return n
                .checked_mul(512)
                .ok_or_else(|| format!("size {s} too large"))
        }
        "b" | "B" => 0,
        "k" | "K" => 10,
        "m" | "M" => 20,
        "g" | "G" => 30,
        "t" | "T" => 40,
        _ => return Err("unknown suffix on -s argument".into()),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("size {s} too large"))
}

/// The loop device (Linux) this image is attached to, if any.
fn attached_loop(image: &Path) -> Option<String> {
    let canon = std::fs::canonicalize(image).ok()?;
    for e in std::fs::read_dir("/sys/block").ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let Ok(b) = std::fs::read_to_string(e.path().join("loop/backing_file")) else {
            continue;
        };
        if Path::new(b.trim()) == canon {
            return Some(format!("/dev/{name}"));
        }
    }
    None
}

/// Runs the command.
pub fn run(a: Args) -> i32 {
    let name = a.image.display().to_string();
    let fail = |code: i32, msg: String| {
        eprintln!("growfs: {msg}");
        code
    };
    let requested = match a.size.as_deref().map(parse_size).transpose() {
        Ok(s) => s,
        Err(e) => return fail(EXIT_REFUSED, e),
    };
    if let Some(dev) = attached_loop(&a.image) {
        return fail(
            EXIT_REFUSED,
            format!("{name} is attached to {dev}; detach it (and unmount) before growing"),
        );
    }
    if a.shrink {
        return shrink(&a, requested.unwrap_or(0));
    }
    let file_len = match std::fs::metadata(&a.image) {
        Ok(m) => m.len(),
        Err(e) => return fail(EXIT_IO, format!("{name}: {e}")),
    };
    let target = requested.unwrap_or(file_len);
    let media = target.max(file_len);
    let ro = match FileDevice::open_read_only(&a.image) {
        Ok(d) => d,
        Err(e) => return fail(EXIT_IO, format!("{name}: {e}")),
    };
    let plan = match growfs::plan(&ro, target, media, a.yes) {
        Ok(p) => p,
        Err(e @ GrowError::NotLarger { .. }) => return fail(EXIT_NOT_LARGER, e.to_string()),
        Err(GrowError::NotClean) => {
            return fail(EXIT_REFUSED, format!("{name} is not clean - run fsck."))
        }
        Err(e @ GrowError::Ufs(_)) => return fail(EXIT_IO, format!("{name}: {e}")),
        Err(e) => return fail(EXIT_REFUSED, e.to_string()),
    };
    drop(ro);
    if !a.yes
        && !a.dry_run
        && !confirm(
            "grow",
            &name,
            plan.old_geo.size * u64::from(plan.old_geo.fsize),
            plan.new_geo.size * u64::from(plan.new_geo.fsize),
        )
    {
        return 0;
    }
    if let Some(b) = plan.dropped_bytes {
        eprintln!(
            "growfs: no room to allocate last cylinder group; leaving {} unused",
            growfs::humanize(b)
        );
    }
    println!("super-block backups (for fsck_ffs -b #) at:");
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&c: &usize| c > 0)
        .unwrap_or(80);
    print!("{}", plan.backups_text(width));
    if a.dry_run {
        return 0;
    }
    // Extend the file (sparse) when -s asks for more than it holds.
    if media > file_len {
        let r = std::fs::OpenOptions::new()
            .write(true)
            .open(&a.image)
            .and_then(|f| f.set_len(media));
        if let Err(e) = r {
            return fail(EXIT_IO, format!("{name}: extending to {media} bytes: {e}"));
        }
    }
    let open = || FileDevice::open_read_write(&a.image);
    let (mut fresh, old) = match (open(), open()) {
        (Ok(f), Ok(o)) => (f, o),
        (Err(e), _) | (_, Err(e)) => return fail(EXIT_IO, format!("{name}: {e}")),
    };
    let undo_path = undo_path(&a);
    let t = crate::output::now_secs();
    let result = match &undo_path {
        Some(p) => match UndoDevice::create(old, p) {
            Ok(mut u) => {
                growfs::apply(&plan, &mut fresh, &mut u, t).and_then(|s| u.finish().map(|_| s))
            }
            Err(e) => return fail(EXIT_IO, format!("{}: {e}", p.display())),
        },
        None => {
            let mut old = old;
            let r = growfs::apply(&plan, &mut fresh, &mut old, t);
            let _ = old.flush();
            r
        }
    };
    match result {
        Ok(_) => {
            if let Some(p) = undo_path {
                eprintln!(
                    "growfs: undo file {} (`ufs undo {} {name}` restores the old file system)",
                    p.display(),
                    p.display()
                );
            }
            0
        }
        Err(e) => fail(EXIT_IO, format!("{name}: {e}")),
    }
}

/// The undo file to write, if any (default `IMAGE.growfs-undo`).
fn undo_path(a: &Args) -> Option<PathBuf> {
    (!a.no_undo).then(|| {
        a.undo.clone().unwrap_or_else(|| {
            let mut p = a.image.clone().into_os_string();
            p.push(".growfs-undo");
            PathBuf::from(p)
        })
    })
}

/// Asks growfs's question with `verb`; true when the answer is "yes".
fn confirm(verb: &str, name: &str, from: u64, to: u64) -> bool {
    print!(
        "It's strongly recommended to make a backup before {verb}ing the file system.\n\
         OK to {verb} filesystem on {name} from {} to {}? [yes/no] ",
        growfs::humanize(from),
        growfs::humanize(to),
    );
    let _ = std::io::stdout().flush();
    let mut reply = String::new();
    let _ = std::io::stdin().lock().read_line(&mut reply);
    if reply.trim_end_matches('\n').eq_ignore_ascii_case("yes") {
        return true;
    }
    println!("Response other than \"yes\"; aborting");
    false
}

/// `--shrink`: move what lies past `target` into the kept part, drop the
/// groups past it, then truncate. Exit 1 when the size is not smaller or
/// the data does not fit (nothing written), 2 refused, 3 I/O.
fn shrink(a: &Args, target: u64) -> i32 {
    let name = a.image.display().to_string();
    let fail = |code: i32, msg: String| {
        eprintln!("growfs: {msg}");
        code
    };
    let ro = match FileDevice::open_read_only(&a.image) {
        Ok(d) => d,
        Err(e) => return fail(EXIT_IO, format!("{name}: {e}")),
    };
    let plan = match shrink::plan(&ro, target, a.yes) {
        Ok(p) => p,
        Err(
            e @ (ShrinkError::NotSmaller { .. }
            | ShrinkError::TooSmall { .. }
            | ShrinkError::NoRoom { .. }
            | ShrinkError::SummaryInTheWay { .. }),
        ) => return fail(EXIT_NOT_LARGER, format!("{name}: {e}")),
        Err(ShrinkError::NotClean) => {
            return fail(EXIT_REFUSED, format!("{name} is not clean - run fsck."))
        }
        Err(e @ ShrinkError::Ufs(_)) => return fail(EXIT_IO, format!("{name}: {e}")),
        Err(e) => return fail(EXIT_REFUSED, e.to_string()),
    };
    drop(ro);
    let fsize = u64::from(plan.old_geo.fsize);
    let (from, to) = (plan.old_geo.size * fsize, plan.new_geo.size * fsize);
    if !a.yes && !a.dry_run && !confirm("shrink", &name, from, to) {
        return 0;
    }
    if let Some(b) = plan.dropped_bytes {
        eprintln!(
            "growfs: no room to allocate last cylinder group; leaving {} unused",
            growfs::humanize(b)
        );
    }
    println!(
        "shrinking from {} to {} ({} cylinder groups to {})",
        growfs::humanize(from),
        growfs::humanize(to),
        plan.old_geo.ncg,
        plan.new_geo.ncg
    );
    if let Some(m) = plan.moves {
        println!(
            "moving {} inode(s) and {} of blocks out of the part removed",
            m.inodes,
            growfs::humanize(m.bytes)
        );
    }
    if a.dry_run {
        return 0;
    }
    let dev = match FileDevice::open_read_write(&a.image) {
        Ok(d) => d,
        Err(e) => return fail(EXIT_IO, format!("{name}: {e}")),
    };
    let t = crate::output::now_secs();
    let undo = undo_path(a);
    let result = match &undo {
        Some(p) => match UndoDevice::create(dev, p) {
            Ok(u) => {
                let shared = Shared::new(u);
                let r = keep_removed_metadata(&plan, &mut shared.clone())
                    .and_then(|()| move_then_shrink(&plan, &shared, target, t));
                match shared.into_inner() {
                    Some(u) => r.and_then(|s| u.finish().map(|_| s)),
                    None => r,
                }
            }
            Err(e) => return fail(EXIT_IO, format!("{}: {e}", p.display())),
        },
        None => move_then_shrink(&plan, &Shared::new(dev), target, t),
    };
    if let Err(e) = result {
        return fail(EXIT_IO, format!("{name}: {e}"));
    }
    // After the commit: a crash before this leaves the new file system in
    // a larger file, which is valid.
    let r = std::fs::OpenOptions::new()
        .write(true)
        .open(&a.image)
        .and_then(|f| f.set_len(plan.file_bytes).and_then(|()| f.sync_all()));
    if let Err(e) = r {
        return fail(
            EXIT_IO,
            format!("{name}: truncating to {}: {e}", plan.file_bytes),
        );
    }
    if let Some(p) = undo {
        eprintln!(
            "growfs: undo file {} (`truncate -s {from} {name} && ufs undo --force {} {name}` restores the \
             old file system)",
            p.display(),
            p.display()
        );
    }
    0
}

/// One device for the write session that moves data (which owns a boxed
/// device) and the shrink after it, so that an undo device sees both.
struct Shared<D>(std::rc::Rc<std::cell::RefCell<D>>);

impl<D> Clone for Shared<D> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<D: Device> Shared<D> {
    fn new(d: D) -> Self {
        Shared(std::rc::Rc::new(std::cell::RefCell::new(d)))
    }
    /// The device back, once every other handle is gone.
    fn into_inner(self) -> Option<D> {
        std::rc::Rc::try_unwrap(self.0)
            .ok()
            .map(std::cell::RefCell::into_inner)
    }
}

impl<D: Device> Device for Shared<D> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.borrow().read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        self.0.borrow_mut().write_at(offset, buf)
    }
    fn len(&self) -> u64 {
        self.0.borrow().len()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// Moves what is in the way (a write session; the file system is clean
/// and of the old size after it), plans again and shrinks.
fn move_then_shrink<D: Device + 'static>(
    plan: &shrink::ShrinkPlan,
    dev: &Shared<D>,
    target: u64,
    now: i64,
) -> ufskit::Result<shrink::ShrinkStats> {
    let mut plan = plan.clone();
    if plan.moves.is_some() {
        let moved = shrink::evacuate(&plan, Box::new(dev.clone()), now)?;
        println!(
            "moved {} inode(s), {} of blocks, {} directory entries rewritten",
            moved.inodes,
            growfs::humanize(moved.frags * u64::from(plan.old_geo.fsize)),
            moved.entries
        );
        plan = shrink::plan(dev, target, true).map_err(|e| match e {
            ShrinkError::Ufs(e) => e,
            e => ufskit::Error::InvalidInput(format!("after moving: {e}")),
        })?;
    }
    shrink::apply(&plan, &mut dev.clone(), now)
}

/// Rewrites the removed groups' metadata with itself through the undo
/// device, so that the undo file holds it: the truncation removes it, and
/// `ufs undo` after extending the file again must bring it back.
fn keep_removed_metadata(plan: &shrink::ShrinkPlan, dev: &mut dyn Device) -> ufskit::Result<()> {
    for (off, len) in plan.removed_ranges(dev)? {
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        ufskit::io::read_exact(dev, off, &mut buf)?;
        ufskit::io::write_all(dev, off, &buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_as_growfs_reads_them() {
        assert_eq!(parse_size("2048"), Ok(2048 * 512));
        assert_eq!(parse_size("4096b"), Ok(4096));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2t"), Ok(2 << 40));
        assert_eq!(parse_size("0x10"), Ok(16 * 512));
        assert!(parse_size("5q").is_err());
        assert!(parse_size("").is_err());
    }
}
