//! newfs: computing a file-system layout and writing a fresh file system.
