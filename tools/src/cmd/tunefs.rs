//! `ufs tunefs`: FreeBSD tunefs(8) for image files. Option letters, the
//! `-p` listing and every message (on standard error, `tunefs: ` first) as
//! FreeBSD 12.1's tunefs; exit 10 for a rejected value, 2 for usage. The
//! rules live in `ufskit::tunefs`.

use std::path::PathBuf;
use ufskit::tunefs::{self as t, names, BadOption, Switch, TunefsOptions};

/// Arguments (tunefs(8)'s letters).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Write every backup superblock too, not only the primary one.
    #[arg(short = 'A')]
    pub all: bool,
    /// POSIX.1e ACLs: enable or disable.
    #[arg(short = 'a', value_name = "enable|disable")]
    pub acls: Option<String>,
    /// Maximum blocks one file takes from a cylinder group.
    #[arg(short = 'e', value_name = "MAXBPG", allow_hyphen_values = true)]
    pub maxbpg: Option<String>,
    /// Expected average file size.
    #[arg(short = 'f', value_name = "AVGFILESIZE", allow_hyphen_values = true)]
    pub avgfilesize: Option<String>,
    /// gjournal flag: enable or disable.
    #[arg(short = 'J', value_name = "enable|disable")]
    pub gjournal: Option<String>,
    /// Soft-updates journaling: enable creates /.sujournal, disable clears it.
    #[arg(short = 'j', value_name = "enable|disable")]
    pub sujournal: Option<String>,
    /// Fragments held for metadata after the inode blocks.
    #[arg(short = 'k', value_name = "METASPACE", allow_hyphen_values = true)]
    pub metaspace: Option<String>,
    /// Volume label (letters, digits, `-`, `_`; at most 31).
    #[arg(short = 'L', value_name = "VOLNAME")]
    pub label: Option<String>,
    /// MAC multilabel: enable or disable.
    #[arg(short = 'l', value_name = "enable|disable")]
    pub multilabel: Option<String>,
    /// Minimum percentage of free space (0..99).
    #[arg(short = 'm', value_name = "MINFREE", allow_hyphen_values = true)]
    pub minfree: Option<String>,
    /// NFSv4 ACLs: enable or disable.
    #[arg(short = 'N', value_name = "enable|disable")]
    pub nfs4acls: Option<String>,
    /// Soft updates: enable or disable.
    #[arg(short = 'n', value_name = "enable|disable")]
    pub softdep: Option<String>,
    /// Optimization preference: space or time.
    #[arg(short = 'o', value_name = "space|time")]
    pub optim: Option<String>,
    /// Print the current settings and change nothing.
    #[arg(short = 'p')]
    pub print: bool,
    /// Journal size in bytes for `-j enable` (at least 4194304; rounded up
    /// to whole blocks). Without it, tunefs's default size.
    #[arg(short = 'S', value_name = "SIZE", allow_hyphen_values = true)]
    pub journal_size: Option<String>,
    /// Expected number of files per directory.
    #[arg(short = 's', value_name = "AVGFPDIR", allow_hyphen_values = true)]
    pub avgfpdir: Option<String>,
    /// TRIM: enable or disable.
    #[arg(short = 't', value_name = "enable|disable")]
    pub trim: Option<String>,
    /// The image file.
    pub image: PathBuf,
}

/// tunefs's exit status for a rejected option value.
const EXIT_BADARG: i32 = 10;

fn options(a: &Args) -> Result<TunefsOptions, BadOption> {
    let sw = |name: &str, v: &Option<String>| -> Result<Option<Switch>, BadOption> {
        v.as_deref().map(|v| t::parse_switch(name, v)).transpose()
    };
    let pos = |name: &str, v: &Option<String>| -> Result<Option<i32>, BadOption> {
        v.as_deref().map(|v| t::parse_positive(name, v)).transpose()
    };
    Ok(TunefsOptions {
        all_backups: a.all,
        acls: sw(names::ACLS, &a.acls)?,
        maxbpg: pos(t::MAXBPG_NAME, &a.maxbpg)?,
        avgfilesize: pos(t::AVGFILESIZE_NAME, &a.avgfilesize)?,
        sujournal: sw(names::SUJ, &a.sujournal)?,
        gjournal: sw(names::GJOURNAL, &a.gjournal)?,
        metaspace: a.metaspace.as_deref().map(t::parse_metaspace).transpose()?,
        label: a.label.as_deref().map(t::parse_label).transpose()?,
        multilabel: sw(names::MULTILABEL, &a.multilabel)?,
        minfree: a.minfree.as_deref().map(t::parse_minfree).transpose()?,
        nfs4acls: sw(names::NFS4ACLS, &a.nfs4acls)?,
        softdep: sw(names::SOFTDEP, &a.softdep)?,
        optim: a.optim.as_deref().map(t::parse_optim).transpose()?,
        avgfpdir: pos(t::AVGFPDIR_NAME, &a.avgfpdir)?,
        trim: sw(names::TRIM, &a.trim)?,
        journal_size: a
            .journal_size
            .as_deref()
            .map(t::parse_journal_size)
            .transpose()?,
    })
}

/// Runs the command.
pub fn run(a: Args) -> i32 {
    let opts = match options(&a) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("tunefs: {e}");
            return EXIT_BADARG;
        }
    };
    if !a.print && opts == TunefsOptions::default() {
        eprintln!("ufs tunefs: nothing to change (give an option, or -p to print)");
        return crate::EXIT_USAGE;
    }
    if a.print {
        let dev = match ufskit::io::FileDevice::open_read_only(&a.image) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("tunefs: {}: {e}", a.image.display());
                return crate::EXIT_FAILURE;
            }
        };
        return match ufskit::Superblock::find(&dev) {
            Ok((sb, _)) => {
                for l in t::print_lines(&sb) {
                    eprintln!("tunefs: {l}");
                }
                0
            }
            Err(e) => {
                eprintln!("tunefs: {}: {e}", a.image.display());
                crate::EXIT_FAILURE
            }
        };
    }
    let mut dev = match ufskit::io::FileDevice::open_read_write(&a.image) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tunefs: {}: {e}", a.image.display());
            return crate::EXIT_FAILURE;
        }
    };
    match t::apply(&mut dev, &opts, crate::output::now_secs(), false) {
        Ok(r) => {
            for l in &r.stdout {
                println!("{l}");
            }
            for l in &r.messages {
                eprintln!("tunefs: {l}");
            }
            0
        }
        Err(e) => {
            eprintln!("tunefs: {}: {e}", a.image.display());
            crate::EXIT_FAILURE
        }
    }
}
