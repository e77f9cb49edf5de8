//! `ufs preflight`: before a boot, look at every md container the jail
//! definitions attach and say what would happen. Exit 0 only when every
//! jail would attach; 1 when one would not; 2 usage error.

use super::mount::check::{self, Health};
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
    /// Run a full `fsck -n` on every container, not only unclean ones.
    #[arg(long)]
    pub full: bool,
    /// Repair containers that need it with fsck -y (undo file kept next
    /// to each, `FILE.undo`).
    #[arg(long)]
    pub repair: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
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
}

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
                serde_json::json!({
                    "jail": r.jail, "mount_point": r.node, "container": r.container,
                    "result": r.result, "at_boot": r.boot, "ok": r.ok,
                })
            })
            .collect();
        let doc = serde_json::json!({ "ok": all_ok, "containers": v });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print_table(&rows);
    }
    if all_ok {
        0
    } else {
        crate::EXIT_FAILURE
    }
}

fn print_table(rows: &[Row]) {
    let head = ["JAIL", "MOUNT POINT", "CONTAINER", "RESULT", "AT BOOT"];
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.jail.as_str(),
                r.node.as_str(),
                r.container.as_str(),
                r.result.as_str(),
                r.boot.as_str(),
            ]
        })
        .collect();
    let mut w = [0usize; 5];
    for c in std::iter::once(&head).chain(cells.iter()) {
        for (i, s) in c.iter().enumerate() {
            w[i] = w[i].max(s.chars().count());
        }
    }
    for c in std::iter::once(&head).chain(cells.iter()) {
        let line: Vec<String> = c
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i == 4 {
                    s.to_string()
                } else {
                    format!("{s:<width$}", width = w[i])
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
                "not mounted (mount_enable is not YES)",
                true,
            ));
            continue;
        }
        if !spec.preserve {
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
        if !file.exists() {
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
        let mut look = check::look(&file, a.full, a.sb.when());
        let mut result = match &look.health {
            Health::Clean => "clean".to_string(),
            h => format!("{}: {}", h.word(), h.detail()),
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
        let (boot, ok) = match (&look.health, spec.fsck) {
            (Health::Clean, _) => ("mounts", true),
            (Health::Broken(_), _) => ("attach refused (broken)", false),
            (Health::PreenFixes(_), FsckMode::Preen) => ("preen fixes it, then mounts", true),
            (Health::PreenFixes(_) | Health::NeedsYes(_), FsckMode::Yes) => {
                ("fsck -y repairs it (undo kept), then mounts", true)
            }
            (Health::NeedsYes(_), FsckMode::Preen) => ("attach refused (preen cannot fix)", false),
            (_, FsckMode::No) if rw => ("attach refused (not clean, rw)", false),
            (_, FsckMode::No) => ("mounts read-only, unchecked", true),
        };
        out.push(row(j, &e.node, &shown, result, boot, ok));
    }
    out
}
