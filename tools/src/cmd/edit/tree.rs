//! `ufs mkdir`, `rm`, `mv` and `ln`: the namespace commands.

use super::attrs::parse_mode;
use super::*;

// ---- mkdir --------------------------------------------------------------------

/// Arguments of `ufs mkdir`.
#[derive(clap::Args, Debug)]
pub struct MkdirArgs {
    /// Create missing parents too; an existing directory is not an error.
    #[arg(short = 'p')]
    pub parents: bool,
    /// Permission bits of the new directories (octal or symbolic, from
    /// 0755; parents made by -p get 0755).
    #[arg(short = 'm', value_name = "MODE")]
    pub mode: Option<String>,
    /// Image file.
    pub image: PathBuf,
    /// Directories to create.
    #[arg(required = true)]
    pub paths: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Runs `ufs mkdir`.
pub fn mkdir(a: MkdirArgs) -> i32 {
    let perm = match &a.mode {
        Some(m) => match parse_mode(m) {
            Ok(f) => f(0o755, true),
            Err(e) => return usage("mkdir", &e),
        },
        None => 0o755,
    };
    edit(&a.image, &a.common, |s| {
        for p in &a.paths {
            let path = bytes(p);
            s.each(path, |fs| {
                if a.parents {
                    mkdir_parents(fs, path, perm)
                } else {
                    let (parent, name) = split(fs, path)?;
                    fs.mkdir(parent, &name, &new_node(fs, parent, perm)?)?;
                    Ok(())
                }
            });
        }
    })
}

fn mkdir_parents(fs: &mut Session, path: &[u8], perm: u16) -> Result<(), Fail> {
    // New directories as `new_node` makes them: parents made on the way
    // get 0755.
    let attr = |parent: &Inode, last: bool| NewNode {
        perm: if last { perm } else { 0o755 },
        uid: 0,
        gid: parent.gid(),
        ..Default::default()
    };
    match fs.mkdir_p(path, attr) {
        Ok(_) => Ok(()),
        Err(Error::NotADirectory { path }) => Err(Fail(format!(
            "{}: exists and is not a directory",
            escape_name(path.as_bytes())
        ))),
        Err(e) => Err(e.into()),
    }
}

// ---- rm -----------------------------------------------------------------------

/// Arguments of `ufs rm`.
#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Remove directories and everything in them.
    #[arg(short = 'r', short_alias = 'R')]
    pub recursive: bool,
    /// Ignore paths that do not exist.
    #[arg(short = 'f')]
    pub force_missing: bool,
    /// Image file.
    pub image: PathBuf,
    /// Paths to remove (a final symlink is removed, not followed).
    #[arg(required = true)]
    pub paths: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Runs `ufs rm`.
pub fn rm(a: RmArgs) -> i32 {
    edit(&a.image, &a.common, |s| {
        for p in &a.paths {
            let path = bytes(p);
            s.each(path, |fs| {
                let (parent, name) = match split(fs, path) {
                    Ok(x) => x,
                    Err(_)
                        if a.force_missing
                            && lookup_opt(fs, path, Follow::NotLast).ok() == Some(None) =>
                    {
                        return Ok(());
                    }
                    Err(f) => return Err(f),
                };
                let Some(ino) = fs.dir_lookup(parent, &name)? else {
                    return if a.force_missing {
                        Ok(())
                    } else {
                        Err(Fail("no such file or directory".into()))
                    };
                };
                if fs.allocated_inode(ino)?.is_dir() {
                    if !a.recursive {
                        return Err(Fail("is a directory (use -r)".into()));
                    }
                    Ok(fs.remove_tree(parent, &name)?)
                } else {
                    Ok(fs.unlink(parent, &name)?)
                }
            });
        }
    })
}

// ---- mv -----------------------------------------------------------------------

/// Arguments of `ufs mv`.
#[derive(clap::Args, Debug)]
pub struct MvArgs {
    /// Image file.
    pub image: PathBuf,
    /// What to move (a final symlink is moved, not followed).
    pub src: OsString,
    /// The new name, or an existing directory to move into.
    pub dst: OsString,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Runs `ufs mv`.
pub fn mv(a: MvArgs) -> i32 {
    edit(&a.image, &a.common, |s| {
        let (src, dst) = (bytes(&a.src), bytes(&a.dst));
        let mut blame = src.to_vec();
        let r = (|| {
            let fs = &mut s.fs;
            let (sp, sname) = split(fs, src)?;
            let sino = fs
                .dir_lookup(sp, &sname)?
                .ok_or_else(|| Fail("no such file or directory".into()))?;
            blame = dst.to_vec();
            let (dp, dname) = match existing_dir(fs, dst)? {
                Some(d) if d != sino => (d, sname.clone()),
                _ => split(fs, dst)?,
            };
            fs.rename(sp, &sname, dp, &dname)?;
            Ok(())
        })();
        if let Err(f) = r {
            s.report(&blame, &f);
        }
    })
}

// ---- ln -----------------------------------------------------------------------

/// Arguments of `ufs ln`.
#[derive(clap::Args, Debug)]
pub struct LnArgs {
    /// Make a symbolic link (TARGET is stored as given).
    #[arg(short = 's')]
    pub symbolic: bool,
    /// Replace an existing non-directory at LINKPATH.
    #[arg(short = 'f')]
    pub replace: bool,
    /// Image file.
    pub image: PathBuf,
    /// What the link points to (for a hard link, an existing
    /// non-directory; a final symlink is linked, not followed).
    pub target: OsString,
    /// The new link, or an existing directory to make it in.
    pub linkpath: OsString,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Runs `ufs ln`.
pub fn ln(a: LnArgs) -> i32 {
    edit(&a.image, &a.common, |s| {
        let (target, linkpath) = (bytes(&a.target), bytes(&a.linkpath));
        let mut blame = linkpath.to_vec();
        let r = (|| {
            let fs = &mut s.fs;
            let (parent, name) = match existing_dir(fs, linkpath)? {
                Some(d) => (d, basename(target)),
                None => split(fs, linkpath)?,
            };
            if name.is_empty() || name == b"." || name == b".." {
                return Err(Fail("cannot tell what name to give the link".into()));
            }
            if a.symbolic {
                if a.replace {
                    clear_way(fs, parent, &name)?;
                }
                // 0777 like the image's other links (FreeBSD's umask does not
                // apply to an offline edit); the mode of a link is not used.
                let attr = new_node(fs, parent, 0o777)?;
                fs.symlink(parent, &name, target, &attr)?;
            } else {
                blame = target.to_vec();
                let t = fs.lookup_bytes(target, Follow::NotLast)?;
                if fs.allocated_inode(t)?.is_dir() {
                    return Err(Fail(
                        "is a directory (hard links to directories are not allowed)".into(),
                    ));
                }
                blame = linkpath.to_vec();
                if a.replace && fs.dir_lookup(parent, &name)? != Some(t) {
                    clear_way(fs, parent, &name)?;
                }
                fs.link(parent, &name, t)?;
            }
            Ok(())
        })();
        if let Err(f) = r {
            s.report(&blame, &f);
        }
    })
}
