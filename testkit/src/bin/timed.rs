//! `timed LOG CMD...`: runs CMD once and prints what it cost, for the
//! benches in bench/.
//!
//! Prints one line: the wall time in seconds, the CPU time (user + system)
//! in milliseconds, the peak resident set in KiB and the exit status (128 +
//! the signal when killed), e.g. `0.011204 10.9 4132 0`. CMD's standard
//! output and error go to LOG, its standard input is empty.
//!
//! Why a program of its own: the benches used to wrap CMD in `perf stat`
//! and `/usr/bin/time` and read a clock around both, so the wall time also
//! covered starting those programs (about 10 ms warm, a third of the gap
//! between two checkers at 100,000 files; cold, after the page cache was
//! dropped, reading perf's binary and libraries from disk too). Here the
//! clock starts just before the spawn and stops when the child is reaped.
//! Why not Python, which could do the same: Linux counts the memory a
//! process held before its exec into its peak (`ru_maxrss`), and a child
//! spawned from Python starts from Python's 13 MiB; this program's own
//! footprint stays below that of any checker it runs.
#[cfg(unix)]
fn main() -> std::process::ExitCode {
    use nix::sys::resource::{getrusage, UsageWho};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, ExitCode, Stdio};
    use std::time::Instant;

    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let [log, cmd, rest @ ..] = args.as_slice() else {
        eprintln!("usage: timed LOG CMD...");
        return ExitCode::from(2);
    };
    let out = match std::fs::File::create(log) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("timed: cannot create {}: {e}", log.to_string_lossy());
            return ExitCode::from(2);
        }
    };
    let err = match out.try_clone() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("timed: {e}");
            return ExitCode::from(2);
        }
    };
    let t0 = Instant::now();
    let status = Command::new(cmd)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status();
    let wall = t0.elapsed();
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            eprintln!("timed: cannot run {}: {e}", cmd.to_string_lossy());
            return ExitCode::from(127);
        }
    };
    // The only child this process ever had, so the children's totals are
    // its own.
    let usage = match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("timed: getrusage: {e}");
            return ExitCode::from(2);
        }
    };
    let ms = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1e3 + t.tv_usec() as f64 / 1e3;
    let cpu = ms(usage.user_time()) + ms(usage.system_time());
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    println!(
        "{:.6} {:.1} {} {}",
        wall.as_secs_f64(),
        cpu,
        usage.max_rss(),
        code
    );
    ExitCode::SUCCESS
}

#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("timed: needs a Unix host");
    std::process::ExitCode::from(2)
}
