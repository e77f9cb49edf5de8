//! `ufs preflight`: before a boot, look at every md container the jail
//! definitions attach and say what would happen. A container that needs
//! a repair has it tried on an in-memory overlay (nothing written), and
//! the row says what that repair does to the tree (files removed, moved
//! to lost+found, truncated; an alternate superblock used). Exit 0 only
//! when every jail would attach without losing a file; 1 otherwise; 2
//! usage error.

use super::mount::check::{self, Effect, Health};
use super::mount::conf::{self, Jail};
use super::mount::opts::FsckMode;
use std::path::PathBuf;
use ufskit::fsck::AnswerMode;

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A jail fstab (the jail's name is the part after `fstab.`). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub fstab: Vec<PathBuf>,
    /// rc.conf with `jail_<name>_fstab` / `_rootdir` / `_mount_enable`.
    #[arg(long, value_name = "FILE")]
    pub rc_conf: Vec<PathBuf>,
    /// jail.conf with `mount.fstab`.
    #[arg(long, value_name = "FILE")]
    pub jail_conf: Vec<PathBuf>,
    /// Run a full `fsck -n` on every container, not only unclean ones
    /// (and predict the repair of any it finds damaged).
    #[arg(long)]
    pub full: bool,
    /// Repair containers that need it with fsck -y (undo file kept next
    /// to each, `FILE.undo`).
    #[arg(long)]
    pub repair: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print each container's full result below the table (the table
    /// abbreviates it to fit 100 columns).
    #[arg(short, long)]
    pub verbose: bool,
    /// Report containers whose file system is more than PCT full (as df's
    /// capacity: used over used plus available, the minfree reserve not
    /// counted as available). `90` or `90%`; default 90.
    #[arg(long, value_name = "PCT", default_value = "90", value_parser = parse_pct)]
    pub warn_full: u32,
    /// Where to look for the superblock (`--search-sb`).
    #[command(flatten)]
    pub sb: crate::output::SearchSb,
}

/// One row.
struct Row {
    jail: String,
    node: String,
    container: String,
    result: String,
    boot: String,
    ok: bool,
    /// What the repair at boot would do, tried on an overlay.
    effect: Option<Effect>,
    /// How full the file system is, percent (df's capacity), when read.
    full: Option<u32>,
}

/// `--warn-full`'s value: a percentage 0..=100, with or without `%`.
fn parse_pct(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .strip_suffix('%')
        .unwrap_or(s)
        .parse()
        .map_err(|_| format!("{s}: not a percentage"))?;
    if n > 100 {
        return Err(format!("{s}: more than 100%"));
    }
    Ok(n)
}

/// How full the file system in `file` is, as df's capacity column: used
/// fragments over used plus available (free less the minfree reserve),
/// rounded up, from the superblock's totals.
fn fullness(file: &std::path::Path) -> Option<u32> {
    let dev = ufskit::io::FileDevice::open_read_only(file).ok()?;
    let (sb, geo) = ufskit::Superblock::find(&dev).ok()?;
    let t = sb.totals();
    let free =
        u64::try_from(t.nbfree).ok()? * u64::from(geo.frag) + u64::try_from(t.nffree).ok()?;
    let used = geo.dsize.saturating_sub(free);
    let minfree = u64::try_from(sb.fs.fs_minfree.clamp(0, 99)).unwrap_or(0);
    let avail = free.saturating_sub(geo.dsize * minfree / 100);
    let total = used + avail;
    if total == 0 {
        return Some(100);
    }
    u32::try_from((used * 100).div_ceil(total)).ok()
}

/// The table's width.
const WIDTH: usize = 100;
/// Paths named in the text per kind of change.
const FIRST: usize = 3;
/// The container column's width (longer paths lose their start).
const CONTAINER: usize = 24;
/// The mount point column's width (likewise).
const NODE: usize = 16;

/// Runs the command.
pub fn run(a: Args) -> i32 {
    if a.fstab.is_empty() && a.rc_conf.is_empty() && a.jail_conf.is_empty() {
        eprintln!("ufs preflight: give --fstab, --rc-conf or --jail-conf");
        return crate::EXIT_USAGE;
    }
    let mut jails: Vec<Jail> = Vec::new();
    for f in &a.fstab {
        jails.push(Jail {
            name: conf::name_from_fstab(f),
            rootdir: None,
            fstab: Some(f.clone()),
            mount_enable: true,
            source: f.display().to_string(),
        });
    }
    for f in &a.rc_conf {
        match std::fs::read_to_string(f) {
            Ok(t) => jails.extend(conf::parse_rc_conf(&t, &f.display().to_string())),
            Err(e) => {
                eprintln!("ufs preflight: {}: {e}", f.display());
                return crate::EXIT_USAGE;
            }
        }
    }
    for f in &a.jail_conf {
        let r = std::fs::read_to_string(f)
            .map_err(|e| format!("{}: {e}", f.display()))
            .and_then(|t| conf::parse_jail_conf(&t, &f.display().to_string()));
        match r {
            Ok(j) => jails.extend(j),
            Err(e) => {
                eprintln!("ufs preflight: {e}");
                return crate::EXIT_USAGE;
            }
        }
    }
    let mut rows = Vec::new();
    for j in &jails {
        rows.extend(jail_rows(j, &a));
    }
    let all_ok = rows.iter().all(|r| r.ok);
    if a.json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                let mut v = serde_json::json!({
                    "jail": r.jail, "mount_point": r.node, "container": r.container,
                    "result": r.result, "at_boot": r.boot, "ok": r.ok,
                });
                if let Some(f) = r.full {
                    v["full_percent"] = serde_json::json!(f);
                    v["over_warn_full"] = serde_json::json!(f > a.warn_full);
                }
                if let Some(e) = &r.effect {
                    v["would_remove"] = serde_json::json!(e.removed);
                    v["would_move_to_lost_found"] = serde_json::json!(e.lost_found);
                    v["would_truncate"] = serde_json::json!(e.truncated);
                    v["repairs_from_alternate_superblock"] = serde_json::json!(e.alternate);
                }
                v
            })
            .collect();
        let doc =
            serde_json::json!({ "ok": all_ok, "warn_full_percent": a.warn_full, "containers": v });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print_table(&rows);
        // One line per container over the threshold, within the table's
        // width (the full paths: -v, --json).
        for r in rows
            .iter()
            .filter(|r| r.full.is_some_and(|f| f > a.warn_full))
        {
            let line = format!(
                "warning: {} {}: {}% full (over {}%); grow: ufs mount --grow -s SIZE",
                r.jail,
                abbreviate_left(&r.node, NODE),
                r.full.unwrap_or(0),
                a.warn_full,
            );
            println!("{}", abbreviate(&line, WIDTH));
        }
        if a.verbose {
            for r in &rows {
                println!(
                    "\n{} {} ({}):\n  {}\n  at boot: {}",
                    r.jail, r.node, r.container, r.result, r.boot
                );
            }
        }
    }
    if all_ok {
        0
    } else {
        crate::EXIT_FAILURE
    }
}

/// `s` without its start when longer than `max` characters (`…` and
/// the end, which names the file).
fn abbreviate_left(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    let tail: String = s.chars().skip(n - max.saturating_sub(1)).collect();
    format!("…{tail}")
}

/// `s` cut to `max` characters, the cut marked with `…`.
fn abbreviate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// `s` in lines of at most `max` characters, broken after `; `, `, ` or
/// a space where one falls in the line; at most `lines` lines, the last
/// abbreviated.
fn wrap(s: &str, max: usize, lines: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest: Vec<char> = s.chars().collect();
    while !rest.is_empty() && out.len() + 1 < lines {
        if rest.len() <= max {
            break;
        }
        let cut = (1..=max).rev().find(|&k| rest[k - 1] == ' ').unwrap_or(max);
        out.push(
            rest[..cut]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_string(),
        );
        rest.drain(..cut);
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(abbreviate(&rest.iter().collect::<String>(), max));
    }
    out
}

fn print_table(rows: &[Row]) {
    let head = ["JAIL", "MOUNT POINT", "CONTAINER", "RESULT", "AT BOOT"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.jail.clone(),
                abbreviate_left(&r.node, NODE),
                abbreviate_left(&r.container, CONTAINER),
                r.result.clone(),
                r.boot.clone(),
            ]
        })
        .collect();
    let width = |cells: &[[String; 5]], i: usize| {
        cells
            .iter()
            .map(|c| c[i].chars().count())
            .chain(std::iter::once(head[i].len()))
            .max()
            .unwrap_or(0)
    };
    // The result column takes what the others leave of WIDTH (at least
    // 12 characters); longer results are wrapped, then cut (the full
    // text: -v, --json).
    let fixed: usize = [0, 1, 2, 4].iter().map(|&i| width(&cells, i) + 2).sum();
    let room = WIDTH.saturating_sub(fixed).max(12);
    // Each result wrapped to at most three lines of the column, the rest
    // cut: continuation lines leave the other columns empty.
    let mut lines: Vec<[String; 5]> = Vec::new();
    for c in &cells {
        let wrapped = wrap(&c[3], room, 3);
        for (k, part) in wrapped.into_iter().enumerate() {
            if k == 0 {
                let mut first = c.clone();
                first[3] = part;
                lines.push(first);
            } else {
                lines.push([
                    String::new(),
                    String::new(),
                    String::new(),
                    part,
                    String::new(),
                ]);
            }
        }
    }
    let cells = lines;
    let mut w = [0usize; 5];
    for (i, x) in w.iter_mut().enumerate() {
        *x = width(&cells, i);
    }
    let head: [String; 5] = head.map(String::from);
    for c in std::iter::once(&head).chain(cells.iter()) {
        let line: Vec<String> = c
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i == 4 {
                    s.to_string()
                } else {
                    let pad = w[i].saturating_sub(s.chars().count());
                    format!("{s}{}", " ".repeat(pad))
                }
            })
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    if rows.is_empty() {
        println!("(no md containers found)");
    }
}

fn row(j: &Jail, node: &str, container: &str, result: String, boot: &str, ok: bool) -> Row {
    Row {
        jail: j.name.clone(),
        node: node.into(),
        container: container.into(),
        result,
        boot: boot.into(),
        ok,
        effect: None,
        full: None,
    }
}

fn jail_rows(j: &Jail, a: &Args) -> Vec<Row> {
    let Some(fstab) = &j.fstab else {
        return Vec::new();
    };
    let text = match std::fs::read_to_string(fstab) {
        Ok(t) => t,
        Err(e) => {
            return vec![row(
                j,
                "-",
                "-",
                format!("{}: {e}", fstab.display()),
                "jail start fails (no fstab)",
                !j.mount_enable,
            )]
        }
    };
    let mut out = Vec::new();
    for e in conf::parse_fstab(&text) {
        let Some(spec) = e.mount_spec() else {
            continue;
        };
        let spec = match spec {
            Ok(s) => s,
            Err(err) => {
                out.push(row(
                    j,
                    &e.node,
                    "-",
                    format!("{}:{}: {err}", fstab.display(), e.line),
                    "mount fails (bad options)",
                    false,
                ));
                continue;
            }
        };
        let file = spec.file.clone().unwrap_or_default();
        let shown = file.display().to_string();
        if !j.mount_enable {
            out.push(row(
                j,
                &e.node,
                &shown,
                "not checked".into(),
                "not mounted (not enabled)",
                true,
            ));
            continue;
        }
        // --grow keeps an existing container as -P does.
        if !(spec.preserve || spec.grow && file.exists()) {
            out.push(row(
                j,
                &e.node,
                &shown,
                "newfs at every mount".into(),
                "created empty (no -P)",
                true,
            ));
            continue;
        }
        // `IMAGE@N` is partition N of the file IMAGE.
        if !crate::image::target(&file).path.exists() {
            out.push(row(
                j,
                &e.node,
                &shown,
                "missing".into(),
                "mount fails",
                false,
            ));
            continue;
        }
        // fsck -y at boot checks a clean-flagged file system fully too
        // (FreeBSD's rule): so does the prediction for such a container.
        let mut look = check::look(&file, a.full || spec.fsck == FsckMode::Yes, a.sb.when());
        let effect = look.effect.clone();
        let mut result = match &look.health {
            Health::Clean => "clean".to_string(),
            // What the repair does first: it is what the table keeps.
            h => match effect.as_ref().map(|e| check::describe(e, FIRST)) {
                Some(said) if !said.is_empty() => format!("{}: {said}; {}", h.word(), h.detail()),
                _ => format!("{}: {}", h.word(), h.detail()),
            },
        };
        if a.repair && !matches!(look.health, Health::Clean | Health::Broken(_)) {
            let u = check::undo_path(&file);
            match check::repair_file(&file, AnswerMode::Yes, Some(&u)) {
                Ok(o) if check::fixed(&o) => {
                    result = format!("repaired (undo: {})", u.display());
                    look = check::look(&file, false, a.sb.when());
                }
                Ok(_) => result = format!("{result}; fsck -y did not fix it"),
                Err(err) => result = format!("{result}; repair failed: {err}"),
            }
        }
        let rw = spec.read_write();
        let loses = |e: &Option<Effect>| e.as_ref().is_some_and(Effect::loses_files);
        let (boot, ok) = match (&look.health, spec.fsck) {
            (Health::Clean, _) => ("mounts".to_string(), true),
            (Health::Broken(_), _) => ("attach refused (broken)".into(), false),
            (Health::PreenFixes(_), FsckMode::Preen) if loses(&effect) => {
                ("preen repairs, loses files".into(), false)
            }
            (Health::PreenFixes(_), FsckMode::Preen) => {
                ("preen fixes it, then mounts".into(), true)
            }
            (Health::PreenFixes(_) | Health::NeedsYes(_), FsckMode::Yes) if loses(&effect) => {
                ("fsck -y repairs, loses files".into(), false)
            }
            (Health::PreenFixes(_) | Health::NeedsYes(_), FsckMode::Yes) => {
                ("fsck -y repairs, then mounts".into(), true)
            }
            (Health::NeedsYes(_), FsckMode::Preen) => ("refused (preen cannot fix)".into(), false),
            (_, FsckMode::No) if rw => ("attach refused (not clean, rw)".into(), false),
            (_, FsckMode::No) => ("mounts read-only, unchecked".into(), true),
        };
        let effect = if matches!(look.health, Health::Clean) {
            None
        } else {
            effect
        };
        let full = fullness(&file);
        if let Some(f) = full.filter(|&f| f > a.warn_full) {
            result = format!("{result}; {f}% full");
        }
        let mut r = row(j, &e.node, &shown, result, &boot, ok);
        r.effect = effect;
        r.full = full;
        out.push(r);
    }
    out
}
