//! Extended attributes of host files, for copying them into UFS2 images:
//! the library's reader (`ufskit::build::host`), under the name the
//! commands use, and the one warning a host without them gets.

pub use ufskit::build::host::write_xattr as write;
pub use ufskit::build::host::{read_xattrs as read, HostXattrs};

/// Whether this host's build reads and writes extended attributes.
pub const SUPPORTED: bool = ufskit::build::host::XATTRS_SUPPORTED;

/// The line `ufs makefs` and `ufs put` print once when they would copy a
/// host's extended attributes (`wanted`: not `--no-xattrs`, and host files
/// are read) but the host build has none (`supported` false); `None`
/// otherwise. A tar's attributes come from the archive, not the host.
pub fn copy_warning(cmd: &str, supported: bool, wanted: bool) -> Option<String> {
    (wanted && !supported).then(|| {
        format!(
            "ufs {cmd}: warning: extended attributes are not copied on this host ({}); \
             use --no-xattrs to silence",
            std::env::consts::OS
        )
    })
}

/// The line `ufs extract` prints at the end when `files` extracted files
/// held user-namespace attributes that were dropped because the host build
/// has none; `None` when there is nothing to say.
pub fn extract_warning(supported: bool, wanted: bool, files: u64) -> Option<String> {
    (wanted && !supported && files > 0).then(|| {
        format!(
            "ufs extract: warning: extended attributes of {files} file(s) in the image are not \
             restored on this host ({}); use --no-xattrs to silence",
            std::env::consts::OS
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_without_xattrs_is_warned_once_unless_they_are_off() {
        let w = copy_warning("makefs", false, true).expect("a warning");
        assert!(w.starts_with("ufs makefs: warning: extended attributes are not copied"));
        assert!(w.contains(std::env::consts::OS) && w.contains("--no-xattrs"));
        assert_eq!(copy_warning("put", false, false), None, "--no-xattrs");
        assert_eq!(copy_warning("put", true, true), None, "a Linux host");
        let w = extract_warning(false, true, 3).expect("a warning");
        assert!(
            w.contains("of 3 file(s)") && w.contains("--no-xattrs"),
            "{w}"
        );
        assert_eq!(extract_warning(false, true, 0), None, "nothing dropped");
        assert_eq!(extract_warning(false, false, 3), None, "--no-xattrs");
        assert_eq!(extract_warning(true, true, 3), None, "a Linux host");
    }
}
