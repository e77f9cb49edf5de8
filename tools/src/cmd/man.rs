//! `ufs man DIR` and `ufs completions SHELL`: manual pages and shell
//! completions generated from the same clap definitions that parse the
//! command line, so they cannot drift from it.

use clap::CommandFactory;
use std::path::{Path, PathBuf};

/// Arguments of `ufs man`.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Directory to write the section 8 pages into (created if missing).
    pub dir: PathBuf,
}

/// Arguments of `ufs completions`.
#[derive(clap::Args, Debug)]
pub struct CompletionArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// The subcommand whose options a personality takes, with the extra text
/// its page carries.
fn personality_source(name: &str) -> (&'static str, Option<&'static str>) {
    match name {
        n if n.starts_with("fsck") => ("fsck", None),
        n if n.starts_with("newfs") || n.starts_with("mkfs") => ("newfs", None),
        "mdmfs" => ("mount", Some(super::mount::HELP_MDMFS)),
        #[cfg(target_os = "linux")]
        "mount.fuse.ufskit" => ("fuse", Some(super::fuse_helper::HELP)),
        _ => ("mount", Some(super::mount::HELP_MOUNT_MD)),
    }
}

/// Every page: `ufs.8`, `ufs-SUB.8` for each subcommand, and one per
/// personality name (`fsck.ufs.8`, `mount.md.8`, ...), as (file, roff).
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let top = crate::Cli::command().version(env!("CARGO_PKG_VERSION"));
    let mut out = Vec::new();
    let render = |cmd: clap::Command| -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd).section("8").render(&mut buf)?;
        Ok(buf)
    };
    out.push(("ufs.8".to_string(), render(top.clone())?));
    for sub in top.get_subcommands() {
        let name = format!("ufs-{}", sub.get_name());
        let mut cmd = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("ufs {}", sub.get_name()));
        // `ufs mount` parses its options by hand; its page carries that help.
        if sub.get_name() == "mount" {
            cmd = cmd.after_long_help(super::mount::HELP_MDMFS);
        }
        out.push((format!("{name}.8"), render(cmd)?));
    }
    for p in crate::PERSONALITIES {
        let (src, extra) = personality_source(p);
        let Some(sub) = top.find_subcommand(src) else {
            continue;
        };
        let mut cmd = sub.clone().name(*p).bin_name(*p);
        if let Some(text) = extra {
            cmd = cmd.after_long_help(text);
        }
        out.push((format!("{p}.8"), render(cmd)?));
    }
    Ok(out)
}

/// Writes every page into `dir`; returns the paths written.
pub fn write_pages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, text) in pages()? {
        let p = dir.join(name);
        std::fs::write(&p, text)?;
        written.push(p);
    }
    Ok(written)
}

/// Runs `ufs man DIR`.
pub fn man(a: ManArgs) -> i32 {
    match write_pages(&a.dir) {
        Ok(w) => {
            println!("{} manual pages written to {}", w.len(), a.dir.display());
            0
        }
        Err(e) => crate::output::fail(&a.dir.display().to_string(), &e),
    }
}

/// Runs `ufs completions SHELL`.
pub fn completions(a: CompletionArgs) -> i32 {
    let mut cmd = crate::Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(a.shell, &mut cmd, "ufs", &mut out);
    0
}
