//! Progress for long runs: a bar on a terminal (fsck, extract, mtree), and
//! e2fsck's `-C fd` lines for fsck(8) front ends. Nothing at all when the
//! output is not a terminal and no descriptor was asked for. The library
//! only calls back ([`ufskit::fsck::ProgressFn`]); drawing is done here.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use ufskit::fsck::{ProgressFn, ProgressStep};

/// A run shorter than this shows no bar at all: small images stay quiet.
const QUIET_START: Duration = Duration::from_millis(500);

/// A terminal bar on standard error that appears only once the run has
/// taken [`QUIET_START`], and only when standard error is a terminal.
#[derive(Clone)]
pub struct Meter {
    bar: Option<ProgressBar>,
    start: Instant,
    delay: Duration,
}

impl Meter {
    /// A counter of `unit`s (e.g. "files") whose total is not known in
    /// advance. It never draws when standard error is not a terminal, nor
    /// when `quiet` (the command's own output goes to the same terminal).
    pub fn counter(unit: &str, quiet: bool) -> Meter {
        let draw = !quiet && std::io::stderr().is_terminal();
        Meter::with(None, unit, draw, QUIET_START)
    }

    fn with(total: Option<u64>, unit: &str, draw: bool, delay: Duration) -> Meter {
        let bar = draw.then(|| {
            let template = match total {
                Some(_) => format!("{{bar:40}} {{percent}}% {unit} {{elapsed}} (eta {{eta}})"),
                None => format!("{{spinner}} {{pos}} {unit} {{elapsed}}"),
            };
            let style = ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            let b = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
            b.set_style(style);
            b
        });
        Meter {
            bar,
            start: Instant::now(),
            delay,
        }
    }

    /// Moves the bar to `pos` (drawn from the first call after the delay).
    pub fn set(&self, pos: u64) {
        let Some(b) = &self.bar else { return };
        if b.is_hidden() {
            if self.start.elapsed() < self.delay {
                return;
            }
            b.set_draw_target(ProgressDrawTarget::stderr());
        }
        b.set_position(pos.min(b.length().unwrap_or(pos)));
    }

    /// Runs `print` (which writes lines to the same terminal) with the bar
    /// taken off its line first ("\r", clear to the end of the line) and
    /// drawn again after, so no printed line shares a line with the bar.
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(b) if !b.is_hidden() => b.suspend(print),
            _ => print(),
        }
    }

    /// Removes the bar from the terminal.
    pub fn clear(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// How far through the whole check a step is, in thousandths, weighting
/// the passes as e2fsck's own bar does (pass 1 is most of the work).
pub fn fsck_permille(s: ProgressStep) -> u64 {
    const EDGE: [u64; 6] = [0, 700, 900, 920, 950, 1000];
    let p = usize::from(s.pass.clamp(1, 5));
    let (lo, hi) = (EDGE[p - 1], EDGE[p]);
    lo + (hi - lo) * s.current / s.max.max(1)
}

/// One line of e2fsck's `-C fd` protocol: `PASS CURRENT MAX DEVICE`.
pub fn fsck_line(s: ProgressStep, device: &str) -> String {
    format!("{} {} {} {device}\n", s.pass, s.current, s.max)
}

/// The progress an fsck run shows: `fd` as e2fsck's `-C` (0: the bar even
/// for a short run; N > 0: lines to descriptor N), else the delayed bar
/// on a terminal. `None` when nothing is to be shown.
pub fn fsck(device: &str, fd: Option<i32>) -> Result<Option<(ProgressFn, Meter)>, String> {
    match fd {
        Some(n) if n > 0 => {
            let out = open_fd(n)?;
            let device = device.to_string();
            let last = Mutex::new((out, None::<(u8, u64)>));
            let f = move |s: ProgressStep| {
                if let Ok(mut g) = last.lock() {
                    // One line per change, as a reader of the pipe wants.
                    if g.1 != Some((s.pass, s.current)) {
                        g.1 = Some((s.pass, s.current));
                        let _ = g.0.write_all(fsck_line(s, &device).as_bytes());
                    }
                }
            };
            Ok(Some((
                ProgressFn(Arc::new(f)),
                Meter::with(None, "", false, QUIET_START),
            )))
        }
        _ => {
            let draw = std::io::stderr().is_terminal();
            if !draw {
                return Ok(None);
            }
            let delay = if fd == Some(0) {
                Duration::ZERO
            } else {
                QUIET_START
            };
            let m = Meter::with(Some(1000), "checked", true, delay);
            let shown = m.clone();
            let f = move |s: ProgressStep| shown.set(fsck_permille(s));
            Ok(Some((ProgressFn(Arc::new(f)), m)))
        }
    }
}

/// Opens descriptor `n` for writing by its name in /dev/fd (the pipe or
/// file the caller gave us), so no raw descriptor is adopted.
fn open_fd(n: i32) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .append(true)
        .open(format!("/dev/fd/{n}"))
        .map_err(|e| format!("-C {n}: cannot write progress to descriptor {n}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permille_grows_through_the_passes() {
        let at = |pass, current, max| fsck_permille(ProgressStep { pass, current, max });
        assert_eq!(at(1, 0, 10), 0);
        assert_eq!(at(1, 5, 10), 350);
        assert_eq!(at(1, 10, 10), 700);
        assert_eq!(at(2, 0, 0), 700);
        assert_eq!(at(5, 4, 4), 1000);
        assert_eq!(
            fsck_line(
                ProgressStep {
                    pass: 2,
                    current: 3,
                    max: 9
                },
                "a.img"
            ),
            "2 3 9 a.img\n"
        );
    }
}
