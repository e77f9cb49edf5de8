//! Extended attributes of host files, for copying them into UFS2 images:
//! the library's reader (`ufskit::build::host`), under the name the
//! commands use.

pub use ufskit::build::host::write_xattr as write;
pub use ufskit::build::host::{read_xattrs as read, HostXattrs};
