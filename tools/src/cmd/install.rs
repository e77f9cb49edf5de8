//! `ufs install-links`: the personality links (`fsck.ufs`, `mount.md`, …)
//! where fsck(8) and mount(8) look for helpers. util-linux mount(8) runs
//! `/sbin/mount.TYPE` (also /sbin/fs.d and /sbin/fs) and fsck(8) runs
//! `fsck.TYPE` from /sbin, /sbin/fs.d, /sbin/fs, /etc/fs, /etc or PATH; so
//! links in /usr/local/sbin are found by fsck but never by mount.

use std::path::{Path, PathBuf};

/// Arguments of `ufs install-links`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Root to install under: links go to PREFIX/sbin, man pages to
    /// PREFIX/usr/share/man/man8 (PREFIX/share/man/man8 for a prefix
    /// ending in /usr or /usr/local).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub prefix: PathBuf,
    /// Replace files of those names that are not links to this program
    /// (FreeBSD's own fsck_ffs, mdmfs and mount_md are kept by default).
    #[arg(long)]
    pub force: bool,
    /// Print what would be done, change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

/// What to do with one link.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Create,
    AlreadyThere,
    /// Something else has the name; kept unless --force.
    Other,
}

fn step(link: &Path, exe: &Path) -> Step {
    match std::fs::read_link(link) {
        Ok(t) if t == exe => Step::AlreadyThere,
        _ if link.symlink_metadata().is_err() => Step::Create,
        _ => Step::Other,
    }
}

/// Runs `ufs install-links`.
pub fn run(a: Args) -> i32 {
    let exe = match std::env::current_exe().and_then(std::fs::canonicalize) {
        Ok(p) => p,
        Err(e) => return crate::output::fail("install-links: this program's path", &e),
    };
    let sbin = a.prefix.join("sbin");
    let mut status = 0;
    if !a.dry_run {
        if let Err(e) = std::fs::create_dir_all(&sbin) {
            return crate::output::fail(&sbin.display().to_string(), &e);
        }
    }
    for name in crate::PERSONALITIES {
        let link = sbin.join(name);
        let shown = link.display();
        match step(&link, &exe) {
            Step::AlreadyThere => println!("{shown}: already links to {}", exe.display()),
            Step::Other if !a.force => {
                eprintln!("ufs install-links: {shown}: exists and is not ours; kept (--force replaces it)");
                status = crate::EXIT_FAILURE;
            }
            s => {
                println!("{shown} -> {}", exe.display());
                if a.dry_run {
                    continue;
                }
                let r = (if s == Step::Other {
                    std::fs::remove_file(&link)
                } else {
                    Ok(())
                })
                .and_then(|()| symlink(&exe, &link));
                if let Err(e) = r {
                    status = crate::output::fail(&shown.to_string(), &e);
                }
            }
        }
    }
    let man = man_dir(&a.prefix);
    if a.dry_run {
        println!("manual pages -> {}", man.display());
    } else {
        match super::man::write_pages(&man) {
            Ok(w) => println!("{} manual pages -> {}", w.len(), man.display()),
            Err(e) => status = crate::output::fail(&man.display().to_string(), &e),
        }
    }
    status
}

/// PREFIX/usr/share/man/man8, or PREFIX/share/man/man8 when the prefix
/// already is a /usr or /usr/local tree.
fn man_dir(prefix: &Path) -> PathBuf {
    let under_usr = prefix.ends_with("usr") || prefix.ends_with("usr/local");
    let base = if under_usr {
        prefix.to_path_buf()
    } else {
        prefix.join("usr")
    };
    base.join("share/man/man8")
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "helper links are for Unix hosts",
    ))
}
