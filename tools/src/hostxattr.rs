//! Extended attributes of host files, for copying them into UFS2 images.
//!
//! Linux names attributes `NAMESPACE.NAME`; UFS2 has a user and a system
//! namespace (extattr(9)). Only `user.NAME` has a counterpart with the same
//! meaning (`user` namespace, NAME); `security.*`, `trusted.*` and
//! `system.*` (SELinux labels, ACLs, capabilities) mean nothing to FreeBSD
//! and are reported as not carried, never written under another meaning.

use std::path::Path;

/// A host file's attributes: those carried (UFS2 user namespace name,
/// value) and the full names of those that are not.
#[derive(Debug, Default)]
pub struct HostXattrs {
    /// `user.NAME` attributes as (NAME, value).
    pub user: Vec<(Vec<u8>, Vec<u8>)>,
    /// Other attributes' full names.
    pub skipped: Vec<String>,
}

/// Reads the attributes of `path` itself (a symbolic link is not
/// followed). A file system without extended attributes has none.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn read(path: &Path) -> std::io::Result<HostXattrs> {
    use rustix::io::Errno;
    let mut out = HostXattrs::default();
    let mut names = vec![0u8; 4096];
    let n = loop {
        match rustix::fs::llistxattr(path, &mut names[..]) {
            Ok(n) => break n,
            Err(Errno::RANGE) if names.len() < 1 << 20 => names.resize(names.len() * 4, 0),
            Err(Errno::NOTSUP) => return Ok(out),
            Err(e) => return Err(e.into()),
        }
    };
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Some(short) = name.strip_prefix(b"user.") else {
            out.skipped.push(String::from_utf8_lossy(name).into_owned());
            continue;
        };
        // Values are small (a UFS2 extattr area is at most a few blocks).
        let mut value = vec![0u8; 4096];
        let len = loop {
            match rustix::fs::lgetxattr(path, name, &mut value[..]) {
                Ok(len) => break len,
                Err(Errno::RANGE) if value.len() < 1 << 20 => value.resize(value.len() * 4, 0),
                Err(e) => return Err(e.into()),
            }
        };
        value.truncate(len);
        out.user.push((short.to_vec(), value));
    }
    Ok(out)
}

/// Elsewhere (FreeBSD has extattr(2), not yet read here): none.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn read(_: &Path) -> std::io::Result<HostXattrs> {
    Ok(HostXattrs::default())
}

/// Sets attribute `name` (a full Linux name, `user.NAME`) on a host file:
/// through `file` when it is open (no name is followed), else on `path`
/// itself (a symbolic link is not followed).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn write(
    path: &Path,
    file: Option<&std::fs::File>,
    name: &[u8],
    value: &[u8],
) -> std::io::Result<()> {
    let name = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    let flags = rustix::fs::XattrFlags::empty();
    match file {
        Some(f) => rustix::fs::fsetxattr(f, name.as_c_str(), value, flags)?,
        None => rustix::fs::lsetxattr(path, name.as_c_str(), value, flags)?,
    }
    Ok(())
}

/// Elsewhere: not written (the caller reports it).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn write(_: &Path, _: Option<&std::fs::File>, _: &[u8], _: &[u8]) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}
