//! `ufs fsck` (and `fsck.ufs`, `fsck_ufs`, `fsck_ffs`): check file systems
//! in FreeBSD fsck_ffs's phases and words. Read-only for now: every
//! question is answered "no" (repairs are a later issue).
//!
//! Exit status as `ufs fsck` / `fsck.ufs` (Linux fsck(8)): 0 clean, 4
//! problems left uncorrected, 8 operational error (unreadable image, no
//! usable superblock), 16 usage error; several images OR their codes.
//! As `fsck_ufs` / `fsck_ffs` (FreeBSD): 0 clean (and, as fsck_ffs -n
//! does, when problems were only reported), 8 when the check had to stop
//! or could not start, 16 when fsck asks to be rerun.

use std::ffi::OsString;
use std::io::Write;
use ufskit::fsck::{
    check, CollectingReporter, FsckOptions, Outcome, Reporter, TextReporter, Verdict,
};

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Open read-only and answer "no" to every question.
    #[arg(short = 'n')]
    pub no: bool,
    /// Check even if the superblock says the file system is clean.
    #[arg(short = 'f')]
    pub force: bool,
    /// Preen: skip clean file systems (repairs are not implemented yet).
    #[arg(short = 'p')]
    pub preen: bool,
    /// Use the alternate superblock at this 512-byte sector (see `ufs info`).
    #[arg(short = 'b', value_name = "BLOCK")]
    pub block: Option<u64>,
    /// Print every finding as JSON (phase, kind, inode, block, message).
    #[arg(long)]
    pub json: bool,
    /// Image files.
    #[arg(required = true)]
    pub images: Vec<std::path::PathBuf>,
}

/// How exit codes are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Linux,
    FreeBsd,
}

/// Runs the command.
pub fn run(a: Args) -> i32 {
    run_styled(a, Style::Linux)
}

/// Runs under a personality name (argv[0]).
pub fn run_personality(argv0: &str, argv: Vec<OsString>) -> i32 {
    #[derive(clap::Parser, Debug)]
    #[command(disable_version_flag = true)]
    struct P {
        #[command(flatten)]
        args: Args,
    }
    let style = if argv0 == "fsck.ufs" {
        Style::Linux
    } else {
        Style::FreeBsd
    };
    let name: &'static str = match argv0 {
        "fsck.ufs" => "fsck.ufs",
        "fsck_ufs" => "fsck_ufs",
        _ => "fsck_ffs",
    };
    let mut cmd = <P as clap::CommandFactory>::command().name(name);
    let parsed = cmd
        .try_get_matches_from_mut(argv)
        .and_then(|m| <P as clap::FromArgMatches>::from_arg_matches(&m));
    match parsed {
        Ok(p) => run_styled(p.args, style),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                16
            } else {
                0
            }
        }
    }
}

fn code(style: Style, o: &Outcome) -> i32 {
    match style {
        Style::Linux => match o.verdict {
            Verdict::Clean | Verdict::SkippedClean => 0,
            Verdict::Problems | Verdict::Stopped => 4,
            Verdict::NoSuperblock => 8,
        },
        Style::FreeBsd => match o.verdict {
            Verdict::Stopped | Verdict::NoSuperblock => 8,
            _ if o.rerun => 16,
            _ => 0,
        },
    }
}

fn run_styled(a: Args, style: Style) -> i32 {
    if !a.no && !a.json {
        eprintln!("fsck: repairs are not implemented yet; checking read-only (as with -n)");
    }
    let mut status = 0;
    let mut docs = Vec::new();
    for img in &a.images {
        let opts = FsckOptions {
            name: img.display().to_string(),
            force: a.force,
            alt_sector: a.block,
            preen: a.preen,
        };
        let dev = match ufskit::io::FileDevice::open_read_only(img) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("fsck: {}: {e}", img.display());
                status |= 8;
                continue;
            }
        };
        if a.json {
            let mut rep = CollectingReporter::default();
            match check(&dev, &opts, &mut rep) {
                Ok(o) => {
                    let c = code(style, &o);
                    status |= c;
                    docs.push(json_doc(img, &o, &rep, c));
                }
                Err(e) => {
                    eprintln!("fsck: {}: {e}", img.display());
                    status |= 8;
                }
            }
        } else {
            let stdout = std::io::stdout();
            let mut rep = TextReporter::new(stdout.lock());
            let r = check(&dev, &opts, &mut rep as &mut dyn Reporter);
            let _ = rep.into_inner().flush();
            match r {
                Ok(o) => status |= code(style, &o),
                Err(e) => {
                    eprintln!("fsck: {}: {e}", img.display());
                    status |= 8;
                }
            }
        }
    }
    if a.json {
        let v = serde_json::json!({ "images": docs });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
    if style == Style::FreeBsd && status & 8 != 0 {
        return 8;
    }
    status
}

fn json_doc(
    img: &std::path::Path,
    o: &Outcome,
    rep: &CollectingReporter,
    exit: i32,
) -> serde_json::Value {
    let findings: Vec<_> = rep
        .findings
        .iter()
        .map(|(f, a)| {
            serde_json::json!({
                "phase": f.phase.code(),
                "kind": f.problem.code(),
                "inode": f.ino,
                "block": f.block,
                "cg": f.cg,
                "message": f.message(),
                "question": f.question,
                "answer": a.map(|x| x.word()),
            })
        })
        .collect();
    serde_json::json!({
        "image": img.display().to_string(),
        "verdict": format!("{:?}", o.verdict).to_lowercase(),
        "exit": exit,
        "problems": o.problems,
        "rerun": o.rerun,
        "journal": o.journal,
        "alternate_superblocks": o.alternates,
        "summary": o.summary.map(|s| serde_json::json!({
            "files": s.files, "used": s.used, "free": s.free, "frags": s.frags, "blocks": s.blocks,
            "fragmentation": (s.fragmentation() * 10.0).round() / 10.0,
        })),
        "findings": findings,
        "text": rep.text,
    })
}
