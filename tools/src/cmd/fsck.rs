//! `ufs fsck` (and `fsck.ufs`, `fsck_ufs`, `fsck_ffs`): check and repair
//! file systems in FreeBSD fsck_ffs's phases and words. `-n` answers no
//! and never writes; `-y` answers yes; `-p` preens; with neither, a
//! terminal is asked per question and no terminal means `-n`.
//!
//! Exit status as `ufs fsck` / `fsck.ufs` (Linux fsck(8)): 0 clean, 1
//! errors corrected, 4 problems left uncorrected, 8 operational error
//! (unreadable image, no usable superblock, write error), 16 usage error;
//! several images OR their codes. As `fsck_ufs` / `fsck_ffs` (FreeBSD): 0
//! clean or fixed (and, as fsck_ffs -n does, when problems were only
//! reported), 8 when the check had to stop, could not start or left
//! problems, 16 when fsck asks to be rerun.

use std::ffi::OsString;
use std::io::Write;
use ufskit::fsck::{
    check, render, repair, Answer, AnswerMode, CollectingReporter, Convention, Finding,
    FsckOptions, Outcome, Phase, Reporter, TextReporter, Verdict,
};

/// Arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Open read-only and answer "no" to every question.
    #[arg(short = 'n', conflicts_with = "yes")]
    pub no: bool,
    /// Answer "yes" to every question: repair everything found.
    #[arg(short = 'y')]
    pub yes: bool,
    /// Save every block before it is overwritten to this undo file
    /// (`ufs undo FILE IMAGE` puts them back).
    #[arg(long, value_name = "FILE")]
    pub undo: Option<std::path::PathBuf>,
    /// Check even if the superblock says the file system is clean. Without
    /// it, `ufs fsck` and `fsck.ufs` skip a clean file system in every mode
    /// (as e2fsck); `fsck_ffs` and `fsck_ufs` skip it only with -p and check
    /// it fully with -n and -y (as FreeBSD's fsck_ffs).
    #[arg(short = 'f')]
    pub force: bool,
    /// Preen: skip clean file systems, fix only safe problems, stop on others.
    #[arg(short = 'p')]
    pub preen: bool,
    /// Use the alternate superblock at this 512-byte sector (see `ufs info`).
    #[arg(short = 'b', value_name = "BLOCK")]
    pub block: Option<u64>,
    /// Print every finding as JSON (phase, kind, inode, block, message).
    #[arg(long)]
    pub json: bool,
    /// Print how long each phase took (to standard error).
    #[arg(long)]
    pub timings: bool,
    /// Stop with an error (exit 8) instead of letting the check's tables
    /// grow past SIZE bytes (k, m, g suffixes), e.g. on a huge image.
    #[arg(long, value_name = "SIZE", value_parser = parse_mem)]
    pub max_memory: Option<u64>,
    /// Threads for phase 1: N workers check cylinder groups, merged in
    /// group order (same output as one thread); 1 checks on one thread
    /// as before. Default: the cores, at most 4, one fewer on a cold cache
    /// (a thread then reads ahead); 1 for a file system of under 65,536
    /// inodes.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Progress as e2fsck's `-C FD`: lines `PASS CURRENT MAX IMAGE` written
    /// to descriptor FD (a pipe a front end reads); 0 shows the bar on the
    /// terminal even for a short run. Without it, a bar appears on a
    /// terminal once a check takes more than half a second.
    #[arg(short = 'C', value_name = "FD")]
    pub progress_fd: Option<i32>,
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
    // Without an about of its own, clap would take the flattened struct's
    // doc comment ("Arguments") as the first line of --help.
    #[command(
        disable_version_flag = true,
        about = "Check and repair a UFS image (fsck_ffs(8) and e2fsck-style flags)"
    )]
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
    let argv = if style == Style::Linux {
        util_linux_args(argv)
    } else {
        argv
    };
    let mut cmd = <P as clap::CommandFactory>::command().name(name);
    let parsed = cmd
        .try_get_matches_from_mut(argv)
        .and_then(|m| <P as clap::FromArgMatches>::from_arg_matches(&m));
    match parsed {
        Ok(p) => run_styled(p.args, style),
        Err(e) => {
            let _ = e.print();
            match (e.use_stderr(), style) {
                (false, _) => 0,
                // e2fsck's usage status; FreeBSD's 16 would mean "rerun",
                // and its fsck_ffs usage() exits 1.
                (true, Style::Linux) => EXIT_USAGE_LINUX,
                (true, Style::FreeBsd) => 1,
            }
        }
    }
}

/// Usage-error status of `fsck.ufs`, as e2fsck(8) and util-linux fsck(8)
/// define it (`ufs fsck` keeps every `ufs` subcommand's 2).
pub const EXIT_USAGE_LINUX: i32 = 16;

/// Accepts what util-linux fsck(8) and habit pass to a `fsck.TYPE` helper,
/// as e2fsck does: `-a` is preen (`-p`); `-r` (interactive), `-V`
/// (verbose), `-M`, `-T` and `-l` are taken and dropped; `-C FD` (progress
/// to a descriptor, also `-CFD`) is passed on as `-C FD`. Other arguments
/// are left for clap.
fn util_linux_args(argv: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(argv.len());
    let mut it = argv.into_iter();
    out.extend(it.next());
    let mut only_operands = false;
    while let Some(a) = it.next() {
        let s = a.to_str().unwrap_or("");
        let mut fd_arg = None;
        if only_operands || s == "-" || !s.starts_with('-') || s.starts_with("--") {
            only_operands |= s == "--";
            out.push(a);
            continue;
        }
        let mut kept = String::from("-");
        let mut chars = s[1..].chars();
        while let Some(c) = chars.next() {
            match c {
                'a' => kept.push('p'),
                'r' | 'V' | 'M' | 'T' | 'l' => {}
                'C' => {
                    // The descriptor is attached (-C0) or the next argument;
                    // util-linux fsck may give -C alone (then: the bar).
                    let fd = if chars.as_str().is_empty() {
                        let mut peek = it.clone();
                        let n = peek.next().and_then(|n| n.to_str()?.parse::<i32>().ok());
                        if n.is_some() {
                            it = peek;
                        }
                        n
                    } else {
                        chars.as_str().parse::<i32>().ok()
                    };
                    fd_arg = Some(fd.unwrap_or(0));
                    break;
                }
                // -b takes the rest of the word (or the next word) as its value.
                'b' => {
                    kept.push('b');
                    kept.push_str(chars.as_str());
                    break;
                }
                other => kept.push(other),
            }
        }
        if kept.len() > 1 {
            out.push(kept.into());
        }
        if let Some(fd) = fd_arg.take() {
            out.extend(["-C".into(), fd.to_string().into()]);
        }
    }
    out
}

fn code(style: Style, o: &Outcome, writing: bool) -> i32 {
    if writing && !matches!(o.verdict, Verdict::NoSuperblock | Verdict::SkippedClean) {
        let left = o.verdict == Verdict::Stopped || !o.repaired;
        return match style {
            Style::Linux if left => 4,
            Style::Linux if o.modified => 1,
            Style::Linux => 0,
            Style::FreeBsd if o.verdict == Verdict::Stopped || o.unresolved > 0 => 8,
            Style::FreeBsd if left => 16,
            Style::FreeBsd => 0,
        };
    }
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
    use std::io::IsTerminal;
    let mode = if a.no {
        AnswerMode::No
    } else if a.yes {
        AnswerMode::Yes
    } else if a.preen {
        AnswerMode::Preen
    } else if !a.json && std::io::stdin().is_terminal() {
        AnswerMode::Ask
    } else {
        AnswerMode::No
    };
    let mut status = 0;
    let mut docs = Vec::new();
    for img in &a.images {
        let convention = match style {
            Style::Linux => Convention::Linux,
            Style::FreeBsd => Convention::FreeBsd,
        };
        // `-p` decides the clean-flag rule even with `-n` (fsck_ffs's
        // `ckclean`); the answers follow `mode`.
        let rule = if a.preen { AnswerMode::Preen } else { mode };
        let mut opts =
            FsckOptions::for_front_end(&img.display().to_string(), convention, rule, a.force);
        opts.answer = mode;
        opts.alt_sector = a.block;
        opts.preen = a.preen;
        opts.max_memory = a.max_memory;
        opts.jobs = a.jobs.unwrap_or(0);
        // The workers' and the read-ahead's own read-only handle; without
        // one, one thread and no read-ahead thread.
        opts.reader = crate::image::open_device(img, false)
            .ok()
            .map(|d| ufskit::fsck::SharedDevice(std::sync::Arc::new(d)));
        // No bar under questions or JSON; -C FD lines are always written.
        let progress = match a.progress_fd {
            Some(_) => crate::progress::fsck(&opts.name, a.progress_fd),
            None if a.json || mode == AnswerMode::Ask => Ok(None),
            None => crate::progress::fsck(&opts.name, None),
        };
        let meter = match progress {
            Ok(p) => p.map(|(f, m)| {
                opts.progress = Some(f);
                m
            }),
            Err(e) => {
                eprintln!("fsck: {e}");
                return 8;
            }
        };
        let writing = mode != AnswerMode::No;
        let mut rep: Box<dyn Reporter> = if a.json {
            Box::new(CollectingReporter::default())
        } else if mode == AnswerMode::Ask {
            Box::new(Interactive::default())
        } else {
            Box::new(TextReporter::new(std::io::stdout()))
        };
        // Report lines and the bar share the terminal: each line is
        // printed with the bar taken off the screen, then the bar redrawn.
        if let Some(m) = meter.as_ref().filter(|_| std::io::stdout().is_terminal()) {
            rep = Box::new(BelowBar {
                inner: rep,
                meter: m.clone(),
            });
        }
        if a.timings {
            rep = Box::new(Timed::new(rep));
        }
        let r = if writing {
            run_repair(img, &opts, a.undo.as_deref(), rep.as_mut())
        } else {
            match crate::image::open_device(img, false) {
                Ok(dev) => check(&dev, &opts, rep.as_mut()),
                Err(e) => Err(e),
            }
        };
        if let Some(m) = meter {
            m.clear();
        }
        let _ = std::io::stdout().flush();
        let c = match &r {
            Ok(o) => code(style, o, writing),
            Err(e) => {
                eprintln!("fsck: {}: {e}", img.display());
                8
            }
        };
        status |= c;
        if let (true, Ok(o)) = (a.timings, &r) {
            let ahead = if o.read_ahead {
                ", inode tables read ahead (cold cache)"
            } else {
                ""
            };
            eprintln!("fsck timings: phase 1 on {} thread(s){ahead}", o.jobs);
        }
        if a.json {
            // The collecting reporter is the only boxed one with text.
            let text = collected_text(rep);
            if let Ok(o) = &r {
                docs.push(json_doc(img, o, &text, c));
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
    if style == Style::FreeBsd && status & 16 != 0 {
        return 16;
    }
    status
}

/// Opens the image for writing (through the undo log when asked) and
/// repairs it. A write error ends the repair; the undo file is finished
/// either way, so it always covers what was written.
fn run_repair(
    img: &std::path::Path,
    opts: &FsckOptions,
    undo: Option<&std::path::Path>,
    rep: &mut dyn Reporter,
) -> ufskit::Result<Outcome> {
    let dev = crate::image::open_device(img, true)?;
    match undo {
        None => {
            let mut dev = dev;
            repair(&mut dev, opts, rep)
        }
        Some(path) => {
            let mut dev = ufskit::io::UndoDevice::create(dev, path)?;
            let r = repair(&mut dev, opts, rep);
            let fin = dev.finish();
            let o = r?;
            fin?;
            Ok(o)
        }
    }
}

/// Wraps a reporter and, when dropped, prints how long the run spent
/// before the first phase (setup) and in each phase.
/// A reporter whose every line is printed with the progress bar off the
/// terminal (see [`crate::progress::Meter::suspend`]).
struct BelowBar {
    inner: Box<dyn Reporter>,
    meter: crate::progress::Meter,
}

impl BelowBar {
    /// Runs `f` on the inner reporter with the bar off the screen; the
    /// text is flushed before the bar comes back.
    fn print(&mut self, f: impl FnOnce(&mut dyn Reporter)) {
        let inner = &mut self.inner;
        self.meter.suspend(|| {
            f(inner.as_mut());
            let _ = std::io::stdout().flush();
        });
    }
}

impl Reporter for BelowBar {
    fn phase(&mut self, phase: Phase) {
        self.print(|r| r.phase(phase));
    }
    fn finding(&mut self, finding: &Finding, answer: Option<Answer>) {
        self.print(|r| r.finding(finding, answer));
    }
    fn note(&mut self, text: &str) {
        self.print(|r| r.note(text));
    }
    fn prompt(&mut self, finding: &Finding) -> Option<Answer> {
        self.inner.prompt(finding)
    }
    fn export(&self, into: &mut CollectingReporter) {
        self.inner.export(into);
    }
}

struct Timed {
    inner: Box<dyn Reporter>,
    start: std::time::Instant,
    marks: Vec<(String, std::time::Instant)>,
}

impl Timed {
    fn new(inner: Box<dyn Reporter>) -> Timed {
        Timed {
            inner,
            start: std::time::Instant::now(),
            marks: vec![("setup".into(), std::time::Instant::now())],
        }
    }
}

impl Reporter for Timed {
    fn phase(&mut self, phase: Phase) {
        self.marks
            .push((format!("{phase:?}"), std::time::Instant::now()));
        self.inner.phase(phase);
    }
    fn finding(&mut self, finding: &Finding, answer: Option<Answer>) {
        self.inner.finding(finding, answer);
    }
    fn note(&mut self, text: &str) {
        self.inner.note(text);
    }
    fn prompt(&mut self, finding: &Finding) -> Option<Answer> {
        self.inner.prompt(finding)
    }
    fn export(&self, into: &mut CollectingReporter) {
        self.inner.export(into);
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        // Printing only; nothing here can fail the check.
        let end = std::time::Instant::now();
        let mut line = String::from("fsck timings:");
        for (k, (name, at)) in self.marks.iter().enumerate() {
            let next = self.marks.get(k + 1).map_or(end, |m| m.1);
            line.push_str(&format!(
                " {name} {:.3}s,",
                next.duration_since(*at).as_secs_f64()
            ));
        }
        line.push_str(&format!(
            " total {:.3}s",
            end.duration_since(self.start).as_secs_f64()
        ));
        eprintln!("{line}");
    }
}

fn collected_text(rep: Box<dyn Reporter>) -> CollectingReporter {
    // Reporter has no downcast; rebuild from the trait object via a
    // helper that only the collecting reporter answers.
    let mut c = CollectingReporter::default();
    rep.export(&mut c);
    c
}

/// Asks each question on the terminal (`QUESTION? [yn] `), fsck_ffs
/// `reply()` style; end of input counts as no.
#[derive(Default)]
struct Interactive {
    asked: bool,
}

impl Reporter for Interactive {
    fn phase(&mut self, phase: Phase) {
        if let Some(b) = phase.banner() {
            println!("{b}");
        }
    }
    fn finding(&mut self, finding: &Finding, answer: Option<Answer>) {
        if std::mem::take(&mut self.asked) {
            println!();
            return;
        }
        print!("{}", render(finding, answer));
    }
    fn note(&mut self, text: &str) {
        print!("{text}");
    }
    fn prompt(&mut self, finding: &Finding) -> Option<Answer> {
        let q = finding.question?;
        print!("{}\n{q}? [yn] ", finding.text);
        let _ = std::io::stdout().flush();
        self.asked = true;
        loop {
            let mut line = String::new();
            match std::io::stdin().read_line(&mut line) {
                Ok(0) | Err(_) => {
                    println!();
                    return Some(Answer::No);
                }
                Ok(_) => match line.trim() {
                    "y" | "Y" | "yes" => return Some(Answer::Yes),
                    "n" | "N" | "no" => return Some(Answer::No),
                    _ => {
                        print!("{q}? [yn] ");
                        let _ = std::io::stdout().flush();
                    }
                },
            }
        }
    }
}

fn json_doc(
    img: &std::path::Path,
    o: &Outcome,
    rep: &CollectingReporter,
    exit: i32,
) -> serde_json::Value {
    let _ = ufskit::fsck::AnswerMode::No;
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
        "modified": o.modified,
        "repaired": o.repaired,
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

/// A byte count, optionally with a k/m/g/t suffix (`--max-memory`,
/// `mtree --max-hash-bytes`).
pub(crate) fn parse_mem(s: &str) -> Result<u64, String> {
    ufskit::newfs::options::parse_size_sectors(s, 1)
        .map_err(|_| format!("{s}: expected a byte count, optionally with a k, m, g or t suffix"))
}
