//! `ufs put`: copy host files and trees into the image (the library's
//! `HostCopy` does the copying).

use super::*;

// ---- put ----------------------------------------------------------------------

/// Arguments of `ufs put`.
#[derive(clap::Args, Debug)]
// clap would print the operands as `<HOSTPATH... IMGPATH> <HOSTPATH... IMGPATH>...`.
#[command(override_usage = "ufs put [OPTIONS] IMAGE HOSTPATH... IMGPATH")]
pub struct PutArgs {
    /// Copy directories recursively.
    #[arg(short = 'r', short_alias = 'R')]
    pub recursive: bool,
    /// Print each path as it is copied.
    #[arg(short, long)]
    pub verbose: bool,
    /// Do not copy extended attributes (by default a host file's `user.*`
    /// attributes go to the UFS2 user namespace).
    #[arg(long)]
    pub no_xattrs: bool,
    /// Image file.
    pub image: PathBuf,
    /// Host files (and with -r directories) to copy, then the destination
    /// in the image: an existing directory to copy into, or the new name.
    #[arg(required = true, num_args = 2.., value_name = "PATH")]
    pub operands: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Runs `ufs put`.
pub fn put(a: PutArgs) -> i32 {
    let Some((dest, sources)) = a.operands.split_last() else {
        return usage("put", "need HOSTPATH... IMGPATH");
    };
    if let Some(w) =
        crate::hostxattr::copy_warning("put", crate::hostxattr::SUPPORTED, !a.no_xattrs)
    {
        eprintln!("{w}");
    }
    edit(&a.image, &a.common, |s| {
        let dest = bytes(dest).to_vec();
        let into = match existing_dir(&s.fs, &dest) {
            Ok(d) => d,
            Err(e) => {
                s.report(&dest, &Fail::from(e));
                return;
            }
        };
        if into.is_none() && sources.len() > 1 {
            s.report(
                &dest,
                &Fail(
                    "copying several files needs an existing directory as the destination".into(),
                ),
            );
            return;
        }
        let mut p = HostCopy::new(CopyOptions {
            recursive: a.recursive,
            keep_owners: rustix::process::geteuid().is_root(),
            reproducible: s.fixed,
            xattrs: !a.no_xattrs,
        });
        let mut skipped = std::collections::BTreeSet::new();
        let verbose = a.verbose;
        let mut on = |e: CopyEvent<'_>| match e {
            CopyEvent::Copying(shown) if verbose => println!("{}", escape_name(shown)),
            CopyEvent::XattrNotCarried(name) => {
                skipped.insert(name.to_string());
            }
            CopyEvent::XattrNoRoom(name) => {
                skipped.insert(format!("user.{} (UFS1 has none)", escape_name(name)));
            }
            _ => {}
        };
        for src in sources {
            let src = Path::new(src);
            let (parent, name, shown) = match into {
                Some(d) => {
                    let name = basename(src.as_os_str().as_bytes());
                    let mut shown = trim_slashes(&dest).to_vec();
                    shown.push(b'/');
                    shown.extend_from_slice(&name);
                    (d, name, shown)
                }
                None => match split(&s.fs, &dest) {
                    Ok((d, n)) => (d, n, dest.clone()),
                    Err(f) => {
                        s.report(&dest, &f);
                        continue;
                    }
                },
            };
            if name.is_empty() || name == b"." || name == b".." {
                s.report(
                    src.as_os_str().as_bytes(),
                    &Fail("cannot tell what name to give it in the image".into()),
                );
                continue;
            }
            for (path, e) in p.copy(&mut s.fs, src, parent, &name, &shown, &mut on) {
                s.report(&path, &copy_fail(e));
            }
        }
        if !skipped.is_empty() {
            let names: Vec<_> = skipped.into_iter().collect();
            eprintln!(
                "ufs put: extended attributes not copied (only user.* has a UFS2 counterpart): {}",
                names.join(", ")
            );
        }
        // Directory attributes last (children were added after they were
        // set), deepest first.
        for (path, e) in p.finish(&mut s.fs) {
            s.report(&path, &copy_fail(e));
        }
    })
}

/// A failed copy in the words `put` reports it.
fn copy_fail(e: CopyError) -> Fail {
    Fail(match e {
        CopyError::Host(e) => e.to_string(),
        CopyError::Image(e) => describe(&e),
        CopyError::HostXattrs(e) => format!("extended attributes: {e}"),
        CopyError::Xattr(name, e) => format!("user.{}: {}", escape_name(&name), describe(&e)),
        CopyError::NotRecursive => "is a directory (use -r)".into(),
        CopyError::NotADirectory => "exists and is not a directory".into(),
        CopyError::Unsupported => "unsupported file type".into(),
        CopyError::TooDeep(n) => format!("tree deeper than {n} levels"),
    })
}
