//! Findings, the reporter interface and the one place answers are decided.
//!
//! A pass never prints. It builds a [`Finding`] (the problem, the inode or
//! block involved and fsck_ffs's exact text) and hands it to
//! `Ctx::ask`, which decides the answer (today always
//! "no": repairs are a later issue; `CONTINUE` is answered "yes", as fsck_ffs
//! does not let `-n` stop a check) and passes both to the [`Reporter`]. The
//! [`TextReporter`] renders them the way fsck_ffs -n does:
//! the text, then `"\nQUESTION? no\n\n"`.

use super::problem::{Phase, Problem};
use std::io::Write;

/// An answer to a question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Do not change anything.
    No,
    /// Go ahead (only `CONTINUE` in read-only mode).
    Yes,
}

impl Answer {
    /// "no" / "yes".
    pub fn word(self) -> &'static str {
        match self {
            Answer::No => "no",
            Answer::Yes => "yes",
        }
    }
}

/// One problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What kind of problem.
    pub problem: Problem,
    /// The phase it was found in (usually `problem.phase()`).
    pub phase: Phase,
    /// The inode involved, if any.
    pub ino: Option<u32>,
    /// The fragment address involved, if any.
    pub block: Option<u64>,
    /// The cylinder group involved, if any.
    pub cg: Option<u32>,
    /// The text fsck_ffs prints before its question, byte for byte
    /// (may be empty for a follow-up question such as `CLEAR` after
    /// `RECONNECT`).
    pub text: String,
    /// The question asked, if any.
    pub question: Option<&'static str>,
}

impl Finding {
    /// A finding with only the problem and its text.
    pub fn new(problem: Problem, text: impl Into<String>) -> Finding {
        Finding {
            problem,
            phase: problem.phase(),
            ino: None,
            block: None,
            cg: None,
            text: text.into(),
            question: problem.question(),
        }
    }
    /// Sets the inode.
    pub fn ino(mut self, ino: u32) -> Finding {
        self.ino = Some(ino);
        self
    }
    /// Sets the block.
    pub fn block(mut self, b: u64) -> Finding {
        self.block = Some(b);
        self
    }
    /// Sets the cylinder group.
    pub fn cg(mut self, cg: u32) -> Finding {
        self.cg = Some(cg);
        self
    }
    /// Overrides the question.
    pub fn question(mut self, q: Option<&'static str>) -> Finding {
        self.question = q;
        self
    }
    /// Overrides the phase.
    pub fn in_phase(mut self, p: Phase) -> Finding {
        self.phase = p;
        self
    }
    /// A one-line summary of the text (newlines folded), for logs and JSON.
    pub fn message(&self) -> String {
        let mut s = self
            .text
            .split('\n')
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if s.is_empty() {
            s = self.problem.template().to_string();
        }
        s
    }
}

/// Receives everything a check has to say.
pub trait Reporter {
    /// A phase starts (`** Phase N - ...` unless preening).
    fn phase(&mut self, phase: Phase);
    /// A problem was found; `answer` is what was answered to its question.
    fn finding(&mut self, finding: &Finding, answer: Option<Answer>);
    /// Any other output text (header, summary), exactly as printed.
    fn note(&mut self, text: &str);
    /// Interactive runs: show the finding, ask its question and return
    /// the answer (`None`: no one to ask, taken as no). A reporter that
    /// prompts has already shown the text, so the `finding` call that
    /// follows must print only what comes after the answer.
    fn prompt(&mut self, _finding: &Finding) -> Option<Answer> {
        None
    }
    /// Copies what was collected (only [`CollectingReporter`] keeps
    /// anything; used to get the text back from a boxed reporter).
    fn export(&self, _into: &mut CollectingReporter) {}
}

/// Renders a finding the way fsck_ffs prints it (`-n`, `-y`).
pub fn render(finding: &Finding, answer: Option<Answer>) -> String {
    let mut s = finding.text.clone();
    if let Some(q) = finding.question {
        let a = answer.unwrap_or(Answer::No);
        s.push_str(&format!("\n{q}? {}\n\n", a.word()));
    }
    s
}

/// Writes fsck_ffs-style text.
pub struct TextReporter<W: Write> {
    out: W,
}

impl<W: Write> TextReporter<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        TextReporter { out }
    }
    /// Gives back the writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Reporter for TextReporter<W> {
    fn phase(&mut self, phase: Phase) {
        if let Some(b) = phase.banner() {
            let _ = writeln!(self.out, "{b}");
        }
    }
    fn finding(&mut self, finding: &Finding, answer: Option<Answer>) {
        let _ = self.out.write_all(render(finding, answer).as_bytes());
    }
    fn note(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
    }
}

/// Keeps every finding (and the text) in memory, for `--json` and tests.
#[derive(Default, Debug)]
pub struct CollectingReporter {
    /// Findings with their answers, in order.
    pub findings: Vec<(Finding, Option<Answer>)>,
    /// The full text as a [`TextReporter`] would have written it.
    pub text: String,
}

impl Reporter for CollectingReporter {
    fn phase(&mut self, phase: Phase) {
        if let Some(b) = phase.banner() {
            self.text.push_str(b);
            self.text.push('\n');
        }
    }
    fn finding(&mut self, finding: &Finding, answer: Option<Answer>) {
        self.text.push_str(&render(finding, answer));
        self.findings.push((finding.clone(), answer));
    }
    fn note(&mut self, text: &str) {
        self.text.push_str(text);
    }
    fn export(&self, into: &mut CollectingReporter) {
        into.findings.clone_from(&self.findings);
        into.text.clone_from(&self.text);
    }
}
