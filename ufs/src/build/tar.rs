//! Tar archives (plain, gzip, xz, zstd): the metadata pass that adds the
//! members to the build's tree, and the data pass that copies them in.

use super::tarsparse;
use super::tree::{components, ts, Content, Flat, SNode, Tree, LINK, LINKED, NONE};
use crate::inode::Timespec;
use crate::populate::TreeBuilder;
use crate::{FileType, NewNode};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

fn open_tar(path: &Path) -> Result<Box<dyn Read>, String> {
    let mut f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut magic = [0u8; 6];
    let n = f
        .read(&mut magic)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let r = std::io::BufReader::with_capacity(1 << 20, f);
    Ok(match &magic[..n.min(6)] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(r)),
        [0xfd, b'7', b'z', b'X', b'Z', 0] => Box::new(xz2::read::XzDecoder::new_multi_decoder(r)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(
            zstd::stream::read::Decoder::new(f_reopen(path)?)
                .map_err(|e| format!("{}: {e}", path.display()))?,
        ),
        _ => Box::new(r),
    })
}

fn f_reopen(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A pax time: decimal seconds, optionally negative, with a fraction.
fn pax_time(v: &str) -> Option<Timespec> {
    let (neg, v) = match v.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, v),
    };
    let (s, f) = v.split_once('.').unwrap_or((v, ""));
    let sec: i64 = s.parse().ok()?;
    let digits: String = f.chars().take(9).collect();
    let nsec: i64 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(if neg {
        if nsec == 0 {
            ts(-sec, 0)
        } else {
            ts(-sec - 1, 1_000_000_000 - nsec)
        }
    } else {
        ts(sec, nsec)
    })
}

/// An extended attribute from a PAX record, as (full name, value):
/// star's and GNU tar's `SCHILY.xattr.NAME` (the value as is) or
/// libarchive's `LIBARCHIVE.xattr.NAME` (the name %-encoded, the value in
/// base64). `None` for any other record.
fn pax_xattr(key: &str, value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
        return Some((name.as_bytes().to_vec(), value.to_vec()));
    }
    let name = key.strip_prefix("LIBARCHIVE.xattr.")?;
    let mut out = Vec::with_capacity(name.len());
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some((out, crate::xattr::base64_decode(value)?))
}

/// The PAX sparse records of a member (none for most).
fn member_sparse<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<tarsparse::PaxSparse, String> {
    let Ok(Some(exts)) = entry.pax_extensions() else {
        return Ok(Default::default());
    };
    let records: Vec<(String, Vec<u8>)> = exts
        .flatten()
        .filter_map(|e| Some((e.key().ok()?.to_string(), e.value_bytes().to_vec())))
        .filter(|(k, _)| k.starts_with("GNU.sparse."))
        .collect();
    tarsparse::from_pax(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
}

/// Scans tar archive number `archive` into the tree (metadata only; the
/// data is read in a second pass, matched by each member's ordinal).
pub(super) fn scan_tar(
    tree: &mut Tree,
    path: &Path,
    archive: u16,
    with_xattrs: bool,
) -> Result<(), String> {
    let ctx = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut ar = tar::Archive::new(open_tar(path)?);
    for (ordinal, entry) in ar.entries().map_err(ctx)?.enumerate() {
        let mut entry = entry.map_err(ctx)?;
        let ordinal = u32::try_from(ordinal)
            .ok()
            .filter(|&o| o < NONE)
            .ok_or_else(|| format!("{}: too many members", path.display()))?;
        let h = entry.header().clone();
        let mut flags = 0;
        let mut mtime = ts(h.mtime().map_or(0, |t| i64::try_from(t).unwrap_or(0)), 0);
        let mut atime = None;
        let mut xattrs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        if let Ok(Some(exts)) = entry.pax_extensions() {
            for ext in exts.flatten() {
                if with_xattrs {
                    if let Some(x) = ext.key().ok().and_then(|k| pax_xattr(k, ext.value_bytes())) {
                        // One attribute may come in both spellings.
                        xattrs.retain(|(n, _)| *n != x.0);
                        xattrs.push(x);
                        continue;
                    }
                }
                match (ext.key(), ext.value()) {
                    (Ok("SCHILY.fflags"), Ok(v)) => flags = super::spec::fflags(v),
                    // pax times carry sign and nanoseconds the ustar field cannot.
                    (Ok("mtime"), Ok(v)) => mtime = pax_time(v).unwrap_or(mtime),
                    (Ok("atime"), Ok(v)) => atime = pax_time(v),
                    _ => {}
                }
            }
        }
        // A PAX sparse member is stored under a made-up name, with only its
        // data chunks: its real name and size are in the records.
        let sparse = member_sparse(&mut entry).map_err(|e| format!("{}: {e}", path.display()))?;
        let raw_path = sparse
            .name
            .clone()
            .unwrap_or_else(|| entry.path_bytes().into_owned());
        let comps = components(&raw_path)?;
        let et = h.entry_type();
        let kind = match et {
            tar::EntryType::Directory => FileType::Directory,
            tar::EntryType::Symlink => FileType::Symlink,
            tar::EntryType::Fifo => FileType::Fifo,
            tar::EntryType::Char => FileType::CharDevice,
            tar::EntryType::Block => FileType::BlockDevice,
            tar::EntryType::Link => FileType::Regular,
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                FileType::Regular
            }
            _ => continue, // pax headers and the like carry no file
        };
        let rdev = matches!(kind, FileType::CharDevice | FileType::BlockDevice).then(|| {
            (
                h.device_major().ok().flatten().unwrap_or(0),
                h.device_minor().ok().flatten().unwrap_or(0),
            )
        });
        // UFS owners are 32 bits; a member owned by an id above that cannot
        // be represented, and cutting the high bits would silently give the
        // file to another user.
        let owner = |what: &str, id: u64| {
            u32::try_from(id).map_err(|_| {
                format!(
                    "{}: {}: {what} {id} does not fit UFS's 32-bit owner ids",
                    path.display(),
                    String::from_utf8_lossy(&raw_path)
                )
            })
        };
        let attr = NewNode {
            perm: (h.mode().unwrap_or(0o644) & 0o7777) as u16,
            uid: owner("uid", h.uid().unwrap_or(0))?,
            gid: owner("gid", h.gid().unwrap_or(0))?,
            rdev,
            atime: Some(atime.unwrap_or(mtime)),
            mtime: Some(mtime),
            ctime: Some(mtime),
            birthtime: None,
            flags,
        };
        let target = entry
            .link_name_bytes()
            .map(|c| c.into_owned())
            .unwrap_or_default();
        let mut node = SNode::new(kind, &attr);
        match kind {
            FileType::Symlink => node.data = tree.store_target(&target)?,
            FileType::Regular if et != tar::EntryType::Link => {
                node.data = match sparse.size {
                    Some(s) if sparse.is_sparse() => s,
                    _ => entry.size(),
                };
                node.content = Content::Tar(archive);
                node.aux = ordinal;
            }
            _ => {}
        }
        if et == tar::EntryType::Link {
            let t = tree.lookup_path(&components(&target)?).ok_or_else(|| {
                format!(
                    "{}: hard link to {} which is not in the archive before it",
                    path.display(),
                    String::from_utf8_lossy(&target)
                )
            })?;
            // A link to a link is a link to what that one links to.
            let t = tree.nodes[t as usize].link(t);
            node.bits |= LINK;
            node.aux = t;
            node.data = 0;
            tree.nodes[t as usize].bits |= LINKED;
        }
        let i = tree.put(&comps, node)?;
        if et != tar::EntryType::Link {
            let mut user = Vec::new();
            for (name, value) in xattrs {
                match name.strip_prefix(b"user.") {
                    Some(short) => user.push((short.to_vec(), value)),
                    None => {
                        tree.skipped_xattrs
                            .insert(String::from_utf8_lossy(&name).into_owned());
                    }
                }
            }
            if !user.is_empty() {
                tree.xattrs.insert(i, user);
            }
        }
        // Skip the data now; it is read again in the second pass.
        std::io::copy(&mut entry, &mut std::io::sink()).map_err(ctx)?;
    }
    Ok(())
}

/// Copies the data of the members of `archives` into the image through
/// `b` (each archive read once more, in order), calling `copied` with each
/// member's byte count.
pub(super) fn copy_members(
    tree: &Tree,
    flat: &Flat<'_>,
    archives: &[PathBuf],
    b: &mut TreeBuilder<'_, &Flat<'_>>,
    copied: &mut dyn FnMut(u64),
) -> Result<(), String> {
    // Only tar members still need copying; most builds have none.
    let mut buf = if archives.is_empty() {
        Vec::new()
    } else {
        vec![0u8; 1 << 20]
    };
    for (k, path) in archives.iter().enumerate() {
        let ctx = |e: std::io::Error| format!("{}: {e}", path.display());
        // `scan_tar` numbered the archives as u16 (`Builder` refuses more).
        let k = u16::try_from(k)
            .map_err(|_| format!("{}: too many source archives", path.display()))?;
        // This archive's members that hold data, by ordinal.
        // Node numbers are below `nodes.len()`, which `Tree::push` keeps
        // below u32::MAX.
        #[allow(clippy::cast_possible_truncation)]
        let mut members: Vec<(u32, u32)> = tree
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.content == Content::Tar(k) && !n.is_link())
            .map(|(i, n)| (n.aux, i as u32))
            .collect();
        members.sort_unstable();
        let mut next = members.iter().peekable();
        let mut ar = tar::Archive::new(open_tar(path)?);
        for (ordinal, entry) in ar.entries().map_err(ctx)?.enumerate() {
            let Some(&&(o, i)) = next.peek() else {
                break;
            };
            let mut entry = entry.map_err(ctx)?;
            if o as usize != ordinal {
                continue;
            }
            next.next();
            let p = flat.data_pos(i) as usize;
            let sparse =
                member_sparse(&mut entry).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            // Zero pieces are left as holes, so sparse members (GNU or
            // PAX) stay sparse.
            let read = tarsparse::copy(&mut entry, &sparse, &mut buf, &mut |off, d| {
                b.write(p, off, d).map_err(|e| e.to_string())
            })
            .map_err(|e| format!("{name}: {e}"))?;
            copied(read);
            b.set_size(p, tree.nodes[i as usize].size())
                .map_err(|e| e.to_string())?;
            b.close_file(p).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pax_xattr;

    #[test]
    fn pax_xattr_records_in_both_spellings() {
        assert_eq!(
            pax_xattr("SCHILY.xattr.user.a", b"v\0w"),
            Some((b"user.a".to_vec(), b"v\0w".to_vec()))
        );
        assert_eq!(
            pax_xattr("LIBARCHIVE.xattr.user.a%3Db%2", b"aGk="),
            Some((b"user.a=b%2".to_vec(), b"hi".to_vec()))
        );
        // Not base64: not an attribute value.
        assert_eq!(pax_xattr("LIBARCHIVE.xattr.user.a", b"#"), None);
        assert_eq!(pax_xattr("SCHILY.fflags", b"uchg"), None);
    }
}
