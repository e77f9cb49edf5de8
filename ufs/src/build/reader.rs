//! The host-file copy: reader threads read the files of host sources into
//! recycled batches while the calling thread writes them into the image.

use super::host::{next_data, read_xattrs_fd, HostXattrs};
use super::tree::{Content, Flat, Tree, SPARSE};
use crate::populate::TreeBuilder;
use std::path::{Path, PathBuf};

/// Copies the data of every host file of the tree into the image through
/// `b`, calling `copied` with each piece's byte count.
pub(super) fn copy_host_files(
    tree: &Tree,
    flat: &Flat<'_>,
    host_sources: &[PathBuf],
    b: &mut TreeBuilder<'_, &Flat<'_>>,
    copied: &mut dyn FnMut(u64),
    xattrs: Option<&FoundXattrs>,
) -> Result<(), String> {
    // Host files are read by other threads while this one writes the
    // image: reading many small files is mostly system time (open, read,
    // close) that can overlap with the image writes. The files, in scan
    // order, are cut into groups of about a batch; reader k reads groups
    // k, k + n, ... and this thread takes the groups back in order, so the
    // image does not depend on how many readers there are or how fast
    // each is. Bytes come over in a few recycled batches per reader (a
    // bounded queue), not one message per file.
    let readers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_READERS);
    std::thread::scope(|scope| -> Result<(), String> {
        let (tree, flat, roots) = (tree, flat, host_sources);
        let mut links = Vec::new();
        let mut handles = Vec::new();
        for k in 0..readers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Batch, String>>(BATCHES);
            let (free_tx, free_rx) = std::sync::mpsc::channel::<Batch>();
            handles.push(scope.spawn(move || {
                let mut r = HostReader {
                    tree,
                    flat,
                    roots,
                    tx: &tx,
                    free: &free_rx,
                    made: 0,
                    dir: None,
                    xattrs,
                };
                if let Err(e) = r.run(k, readers) {
                    let _ = tx.send(Err(e));
                }
            }));
            links.push((rx, free_tx));
        }
        let mut group = 0usize;
        // A reader that has hung up has no more groups, so neither has
        // any other: every group has been written.
        while let Ok(batch) = links[group % readers].0.recv() {
            let mut batch = batch?;
            let mut at = 0usize;
            for item in &batch.items {
                match *item {
                    Item::Data { pos, off, len } => {
                        let bytes = &batch.data[at..at + len as usize];
                        at += len as usize;
                        b.write(pos as usize, off, bytes).map_err(|e| {
                            format!("{}: {e}", host_file_name(tree, flat, roots, pos).display())
                        })?;
                        copied(u64::from(len));
                    }
                    Item::End { pos, size } => {
                        b.set_size(pos as usize, size).map_err(|e| e.to_string())?;
                        b.close_file(pos as usize).map_err(|e| e.to_string())?;
                    }
                }
            }
            let last = batch.last;
            batch.used = 0;
            batch.items.clear();
            batch.last = false;
            // The reader may have finished: nobody takes it back then.
            let _ = links[group % readers].1.send(batch);
            if last {
                group += 1;
            }
        }
        drop(links);
        for h in handles {
            h.join()
                .map_err(|_| "a file reader thread failed".to_string())?;
        }
        Ok(())
    })
}

/// Extended attributes the readers found: (position holding the data,
/// the file's attributes), in no particular order.
pub(super) type FoundXattrs = std::sync::Mutex<Vec<(u32, HostXattrs)>>;

/// File bytes one batch carries from a reader thread to the writer; also
/// the size of a group of files (in scanned sizes) read by one reader.
const BATCH_BYTES: usize = 64 << 10;
/// Batches each reader has (they are recycled): with the readers, the
/// bound on file data held in memory at once.
const BATCHES: usize = 3;
/// Reader threads at most (one per processor).
const MAX_READERS: usize = 2;

/// File data read by the reader thread: the bytes of many small files (or
/// a piece of a large one) back to back, and what they are.
struct Batch {
    /// Always `BATCH_BYTES` long; `used` of it holds data.
    data: Vec<u8>,
    used: usize,
    items: Vec<Item>,
    /// The last batch of its group.
    last: bool,
}

/// One step for the writer; `Data` items take their bytes from the batch
/// in order.
enum Item {
    /// `len` bytes at `off` of the file at position `pos`.
    Data { pos: u32, off: u64, len: u32 },
    /// The file at position `pos` is complete at `size` bytes.
    End { pos: u32, size: u64 },
}

/// The host path of the file whose data position `pos` holds.
fn host_file_name(tree: &Tree, flat: &Flat<'_>, roots: &[PathBuf], pos: u32) -> PathBuf {
    let i = flat.node(pos);
    let g = tree.nodes[i as usize].link(i);
    match tree.nodes[g as usize].content {
        Content::Host(s) => tree.host_path(&roots[usize::from(s)], g),
        _ => tree.host_path(Path::new(""), g),
    }
}

/// The reader thread: reads every host file, in scan order, into batches.
struct HostReader<'r, 't> {
    tree: &'r Tree,
    flat: &'r Flat<'t>,
    roots: &'r [PathBuf],
    tx: &'r std::sync::mpsc::SyncSender<Result<Batch, String>>,
    free: &'r std::sync::mpsc::Receiver<Batch>,
    /// Batches made so far (at most `BATCHES`).
    made: usize,
    /// The directory the last file was in: (node, source) and its
    /// descriptor, so files are opened relative to it.
    dir: Option<((u32, u16), rustix::fd::OwnedFd)>,
    /// Where the files' extended attributes go, when they are copied.
    xattrs: Option<&'r FoundXattrs>,
}

impl HostReader<'_, '_> {
    /// A batch to fill: a new one while fewer than `BATCHES` exist, else
    /// one the writer has finished with (`None`: the writer stopped).
    fn take(&mut self) -> Option<Batch> {
        if self.made < BATCHES {
            self.made += 1;
            return Some(Batch {
                data: vec![0u8; BATCH_BYTES],
                used: 0,
                items: Vec::new(),
                last: false,
            });
        }
        self.free.recv().ok()
    }

    /// Hands `batch` to the writer and puts an empty one in its place;
    /// false when the writer has stopped.
    fn send(&mut self, batch: &mut Batch) -> bool {
        let Some(fresh) = self.take() else {
            return false;
        };
        let full = std::mem::replace(batch, fresh);
        self.tx.send(Ok(full)).is_ok()
    }

    /// Reads the groups of files that are reader `me`'s of `readers`.
    fn run(&mut self, me: usize, readers: usize) -> Result<(), String> {
        let Some(mut batch) = self.take() else {
            return Ok(());
        };
        let mut group = 0usize;
        let mut group_bytes = 0u64;
        let mut group_files = 0usize;
        for (i, node) in self.tree.nodes.iter().enumerate() {
            let Content::Host(source) = node.content else {
                continue;
            };
            if node.is_link() {
                continue;
            }
            // Every reader cuts the same groups, from the scanned sizes.
            if group_files > 0 && group_bytes + node.data > BATCH_BYTES as u64 {
                if group % readers == me {
                    batch.last = true;
                    if !self.send(&mut batch) {
                        return Ok(());
                    }
                }
                group += 1;
                group_bytes = 0;
                group_files = 0;
            }
            group_bytes += node.data;
            group_files += 1;
            // Node numbers are below `nodes.len()`, which `Tree::push` keeps
            // below u32::MAX.
            #[allow(clippy::cast_possible_truncation)]
            let i = i as u32;
            if group % readers == me && !self.read_file(i, source, &mut batch)? {
                return Ok(());
            }
        }
        if group_files > 0 && group % readers == me {
            batch.last = true;
            let _ = self.tx.send(Ok(batch));
        }
        Ok(())
    }

    /// Reads node `i`'s file (skipping holes in a file that may have
    /// them) into `batch`; false when the writer has stopped.
    fn read_file(&mut self, i: u32, source: u16, batch: &mut Batch) -> Result<bool, String> {
        use rustix::fs::{Mode, OFlags};
        let (tree, roots) = (self.tree, self.roots);
        let node = &tree.nodes[i as usize];
        let err = |e: rustix::io::Errno| {
            format!(
                "{}: {}",
                tree.host_path(&roots[usize::from(source)], i).display(),
                std::io::Error::from(e)
            )
        };
        let key = (node.parent, source);
        if self.dir.as_ref().map(|d| d.0) != Some(key) {
            self.dir = None;
            let path = tree.host_path(&self.roots[usize::from(source)], node.parent);
            let fd = rustix::fs::open(
                &path,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("{}: {}", path.display(), std::io::Error::from(e)))?;
            self.dir = Some((key, fd));
        }
        let Some((_, dir)) = &self.dir else {
            return Err("the source directory is not open".into());
        };
        let f = rustix::fs::openat(
            dir,
            tree.name(i),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
            Mode::empty(),
        )
        .map_err(err)?;
        let pos = self.flat.data_pos(i);
        if let Some(found) = self.xattrs {
            let x = read_xattrs_fd(&f).map_err(|e| {
                format!(
                    "{}: extended attributes: {e}",
                    tree.host_path(&roots[usize::from(source)], i).display()
                )
            })?;
            if !x.user.is_empty() || !x.skipped.is_empty() {
                found
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((pos, x));
            }
        }
        let size = node.data;
        let mut off = 0u64;
        while off < size {
            // Files without holes (most) skip the two extra system calls.
            let (data, hole) = if node.bits & SPARSE != 0 {
                match next_data(&f, off, size) {
                    Some(region) => region,
                    None => break,
                }
            } else {
                (off, size)
            };
            let mut at = data;
            while at < hole {
                if batch.used == BATCH_BYTES && !self.send(batch) {
                    return Ok(false);
                }
                let room = BATCH_BYTES - batch.used;
                let want = usize::try_from(hole - at).unwrap_or(usize::MAX).min(room);
                let n = rustix::io::pread(&f, &mut batch.data[batch.used..batch.used + want], at)
                    .map_err(err)?;
                if n == 0 {
                    break;
                }
                // `n` is at most `want`, which is at most BATCH_BYTES (64 KiB).
                #[allow(clippy::cast_possible_truncation)]
                let len = n as u32;
                batch.items.push(Item::Data { pos, off: at, len });
                batch.used += n;
                at += n as u64;
            }
            off = hole.max(at);
        }
        batch.items.push(Item::End { pos, size });
        Ok(true)
    }
}
