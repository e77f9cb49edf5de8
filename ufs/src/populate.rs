//! Building a whole tree into a fresh file system in one pass (what
//! `ufs makefs` does), faster than creating entries one by one.
//!
//! The caller describes the tree as a list of [`Node`]s (parents before
//! children), or through the [`Nodes`] trait from a representation of its
//! own (`ufs makefs` keeps names in one shared buffer and indices as
//! `u32`, so a large tree costs about a hundred bytes a node).
//! [`TreeBuilder::new`] allocates an inode for every node —
//! directories first, spread over the cylinder groups by the allocator's
//! directory policy, then everything else next to its directory — and
//! writes symlinks and special files at once. File contents arrive through
//! [`TreeBuilder::write`] in any order (a tar archive dictates its own), and
//! [`TreeBuilder::finish`] writes every directory as packed entries in a
//! single write, sets the link counts and syncs. Memory grows with the number
//! of nodes (about 13 bytes a node besides the caller's description), not
//! with file sizes.

use crate::dir;
use crate::error::{Error, Result};
use crate::fs::Ufs;
use crate::inode::{FileType, Inode};
use crate::session::Session;
use crate::units::Ino;
use crate::write::NewNode;

/// One node of the tree to build.
#[derive(Clone, Debug)]
pub struct Node {
    /// Index of the parent directory in the node list (the root is node 0
    /// and is its own parent).
    pub parent: usize,
    /// Name within the parent (ignored for the root).
    pub name: Vec<u8>,
    /// Type.
    pub kind: FileType,
    /// Owner, mode, times, device number, flags.
    pub attr: NewNode,
    /// Symlink target.
    pub target: Vec<u8>,
    /// For a hard link: the node that holds the data.
    pub link_to: Option<usize>,
}

/// The tree to build, node by node: index 0 is the root, and every other
/// node's parent comes before it. Implemented for `Vec<Node>`; a caller
/// with many nodes can answer from a compact form of its own.
pub trait Nodes {
    /// How many nodes there are.
    fn count(&self) -> usize;
    /// Index of node `i`'s parent directory (the root is its own parent).
    fn parent(&self, i: usize) -> usize;
    /// Node `i`'s name within its parent (ignored for the root).
    fn name(&self, i: usize) -> &[u8];
    /// Node `i`'s type (for a hard link, the type of what it links to).
    fn kind(&self, i: usize) -> FileType;
    /// For a hard link: the node that holds the data.
    fn link_to(&self, i: usize) -> Option<usize>;
    /// Owner, mode, times, device number and flags of node `i` (asked for
    /// once, when its inode is made; not for hard links).
    fn attr(&self, i: usize) -> NewNode;
    /// Node `i`'s symlink target.
    fn target(&self, i: usize) -> &[u8];
}

impl Nodes for Vec<Node> {
    fn count(&self) -> usize {
        self.len()
    }
    fn parent(&self, i: usize) -> usize {
        self[i].parent
    }
    fn name(&self, i: usize) -> &[u8] {
        &self[i].name
    }
    fn kind(&self, i: usize) -> FileType {
        self[i].kind
    }
    fn link_to(&self, i: usize) -> Option<usize> {
        self[i].link_to
    }
    fn attr(&self, i: usize) -> NewNode {
        self[i].attr.clone()
    }
    fn target(&self, i: usize) -> &[u8] {
        &self[i].target
    }
}

impl<T: Nodes + ?Sized> Nodes for &T {
    fn count(&self) -> usize {
        (**self).count()
    }
    fn parent(&self, i: usize) -> usize {
        (**self).parent(i)
    }
    fn name(&self, i: usize) -> &[u8] {
        (**self).name(i)
    }
    fn kind(&self, i: usize) -> FileType {
        (**self).kind(i)
    }
    fn link_to(&self, i: usize) -> Option<usize> {
        (**self).link_to(i)
    }
    fn attr(&self, i: usize) -> NewNode {
        (**self).attr(i)
    }
    fn target(&self, i: usize) -> &[u8] {
        (**self).target(i)
    }
}

/// Builds a tree into an open, freshly made file system.
pub struct TreeBuilder<'a, N: Nodes = Vec<Node>> {
    fs: &'a mut Session,
    nodes: N,
    /// Inode number of each node.
    placed: Vec<Ino>,
    /// Generation number found on disk in each regular file's and
    /// directory's inode, read a block at a time when the inodes are
    /// allocated (not one read per file when it is written).
    gens: Vec<u32>,
    /// Regular files being written (usually one; a file's inode exists in
    /// memory only from its first write to its close, so memory per node
    /// stays small).
    open: std::collections::HashMap<usize, Inode>,
    /// Regular files whose inode has been written.
    closed: Vec<bool>,
    nlink: Vec<u32>,
}

impl<'a, N: Nodes> TreeBuilder<'a, N> {
    /// Allocates inodes for all nodes and creates symlinks and special
    /// files. Node 0 must be the root directory: its attributes are applied
    /// to the existing root.
    pub fn new(fs: &'a mut Session, nodes: N) -> Result<TreeBuilder<'a, N>> {
        let n = nodes.count();
        if n == 0 || nodes.kind(0) != FileType::Directory {
            return Err(Error::InvalidInput(
                "the first node must be the root directory".into(),
            ));
        }
        let mut placed: Vec<Ino> = Vec::with_capacity(n);
        let mut nlink = vec![0u32; n];
        for i in 0..n {
            let kind = nodes.kind(i);
            let parent = nodes.parent(i);
            if i > 0 && (parent >= i || nodes.kind(parent) != FileType::Directory) {
                return Err(Error::InvalidInput(format!(
                    "node {i} ({}) has an invalid parent",
                    String::from_utf8_lossy(nodes.name(i))
                )));
            }
            if let Some(t) = nodes.link_to(i) {
                if t >= i || nodes.link_to(t).is_some() || nodes.kind(t) == FileType::Directory {
                    return Err(Error::InvalidInput(format!(
                        "node {i}: invalid hard link target {t}"
                    )));
                }
                nlink[t] += 1;
            } else {
                nlink[i] += 1;
            }
            if kind == FileType::Directory {
                nlink[i] += 1; // its "." entry
                if i > 0 {
                    nlink[parent] += 1; // its ".." entry
                }
            }
        }
        // di_nlink is 16 bits signed: more names (or subdirectories) than
        // LINK_MAX (32767) would wrap into a count fsck calls wrong.
        if let Some(i) = (0..n).find(|&i| nlink[i] > i16::MAX as u32) {
            return Err(Error::InvalidInput(format!(
                "{} has {} links (hard links or subdirectories); UFS allows at most {}",
                String::from_utf8_lossy(nodes.name(i)),
                nlink[i],
                i16::MAX
            )));
        }
        // The root's own entry in itself stands for the name a parent gives.
        for i in 0..n {
            let ino = if i == 0 {
                Ino::ROOT
            } else if let Some(t) = nodes.link_to(i) {
                placed[t]
            } else {
                let parent_ino = placed[nodes.parent(i)];
                let kind = nodes.kind(i);
                match kind {
                    // Files and directories get their inode number now and
                    // their in-memory inode when they are written.
                    FileType::Regular | FileType::Directory => fs.alloc_ino(parent_ino, kind)?,
                    _ => {
                        let mut inode = fs.new_inode(parent_ino, kind, &nodes.attr(i))?;
                        if kind == FileType::Symlink {
                            let target = nodes.target(i);
                            if target.len() < fs.geometry().maxsymlinklen as usize {
                                inode.set_inline(fs.geometry(), target)?;
                                inode.set_size(target.len() as u64);
                            } else {
                                fs.write_inode_data(&mut inode, 0, target, false)?;
                            }
                        }
                        inode.set_nlink(i16::try_from(nlink[i]).unwrap_or(i16::MAX));
                        fs.write_inode(&mut inode)?;
                        inode.ino
                    }
                }
            };
            placed.push(ino);
        }
        let gens = read_gens(fs.ufs(), &nodes, &placed)?;
        Ok(TreeBuilder {
            fs,
            nodes,
            placed,
            gens,
            open: std::collections::HashMap::new(),
            closed: vec![false; n],
            nlink,
        })
    }

    /// The inode number given to node `i`.
    pub fn ino(&self, i: usize) -> Option<Ino> {
        self.placed.get(i).copied()
    }

    /// The node list the builder was made with.
    pub fn nodes(&self) -> &N {
        &self.nodes
    }

    /// Writes `data` at `offset` of regular file node `i`.
    pub fn write(&mut self, i: usize, offset: u64, data: &[u8]) -> Result<()> {
        self.ensure_open(i)?;
        let inode = self
            .open
            .get_mut(&i)
            .ok_or_else(|| Error::InvalidInput(format!("node {i} is not open")))?;
        self.fs.write_inode_data(inode, offset, data, false)
    }

    /// Sets the size of regular file node `i` (a trailing hole).
    pub fn set_size(&mut self, i: usize, size: u64) -> Result<()> {
        {
            self.ensure_open(i)?;
            let inode = self
                .open
                .get_mut(&i)
                .ok_or_else(|| Error::InvalidInput(format!("node {i} is not open")))?;
            if size > inode.size() {
                // The last block is allocated, as FreeBSD does on extension.
                self.fs.write_inode_data(inode, size - 1, &[0], false)?;
            }
        }
        Ok(())
    }

    /// The in-memory inode of regular file node `i`, made on first use.
    fn ensure_open(&mut self, i: usize) -> Result<()> {
        if i >= self.nodes.count() {
            return Err(Error::InvalidInput(format!("no node {i}")));
        }
        if self.nodes.kind(i) != FileType::Regular || self.nodes.link_to(i).is_some() {
            return Err(Error::InvalidInput(format!(
                "node {i} is not a regular file holding data"
            )));
        }
        if !self.open.contains_key(&i) {
            let attr = self.nodes.attr(i);
            let inode =
                self.fs
                    .init_inode_gen(self.placed[i], FileType::Regular, &attr, self.gens[i])?;
            self.open.insert(i, inode);
        }
        Ok(())
    }

    /// Writes regular file node `i`'s inode; its contents are complete.
    pub fn close_file(&mut self, i: usize) -> Result<()> {
        let nl = self.nlink.get(i).copied().unwrap_or(1);
        let is_file = i < self.nodes.count()
            && self.nodes.kind(i) == FileType::Regular
            && self.nodes.link_to(i).is_none();
        if !is_file || self.closed[i] {
            return Ok(());
        }
        self.ensure_open(i)?;
        if let Some(mut inode) = self.open.remove(&i) {
            self.closed[i] = true;
            inode.set_nlink(i16::try_from(nl).unwrap_or(i16::MAX));
            self.fs.write_inode(&mut inode)?;
        }
        Ok(())
    }

    /// Closes files not closed yet, writes every directory and syncs.
    pub fn finish(mut self) -> Result<()> {
        let n = self.nodes.count();
        // Files never written (empty ones) still need their inode.
        for i in 0..n {
            self.close_file(i)?;
        }
        let endian = self.fs.geometry().endian;
        // Children of each directory, in node order: `kids[start[d]..start[d + 1]]`.
        let mut start = vec![0u32; n + 1];
        for i in 1..n {
            start[self.nodes.parent(i) + 1] += 1;
        }
        for d in 0..n {
            start[d + 1] += start[d];
        }
        let mut fill: Vec<u32> = start[..n].to_vec();
        let mut kids = vec![0u32; n.saturating_sub(1)];
        for i in 1..n {
            let p = self.nodes.parent(i);
            // Node numbers fit u32: each was counted in `start` as a u32.
            #[allow(clippy::cast_possible_truncation)]
            let node = i as u32;
            kids[fill[p] as usize] = node;
            fill[p] += 1;
        }
        drop(fill);
        let mut entries: Vec<(&[u8], Ino, u8)> = Vec::new();
        for d in 0..n {
            if self.nodes.kind(d) != FileType::Directory {
                continue;
            }
            let me = self.placed[d];
            let parent = self.placed[self.nodes.parent(d)];
            let kids = &kids[start[d] as usize..start[d + 1] as usize];
            entries.clear();
            entries.reserve(kids.len() + 2);
            entries.push((b".", me, FileType::Directory.dt()));
            entries.push((b"..", parent, FileType::Directory.dt()));
            for &k in kids {
                let k = k as usize;
                let kind = match self.nodes.link_to(k) {
                    Some(t) => self.nodes.kind(t),
                    None => self.nodes.kind(k),
                };
                entries.push((self.nodes.name(k), self.placed[k], kind.dt()));
            }
            let data = dir::pack(&entries, endian)?;
            let attr = self.nodes.attr(d);
            let mut inode = if d == 0 {
                // The root exists: drop its old contents, keep the inode.
                let mut r = self.fs.allocated_inode(Ino::ROOT)?;
                self.fs.truncate_dir_for_rebuild(&mut r)?;
                r
            } else {
                self.fs
                    .init_inode_gen(me, FileType::Directory, &attr, self.gens[d])?
            };
            inode.set_mode(FileType::Directory.mode_bits() | (attr.perm & 0o7777));
            inode.set_uid(attr.uid);
            inode.set_gid(attr.gid);
            inode.set_flags(attr.flags);
            self.fs.write_inode_data(&mut inode, 0, &data, true)?;
            inode.set_nlink(i16::try_from(self.nlink[d]).unwrap_or(i16::MAX));
            let now = self.fs.now();
            inode.set_atime(attr.atime.unwrap_or(now));
            inode.set_mtime(attr.mtime.unwrap_or(now));
            inode.set_ctime(attr.ctime.unwrap_or(now));
            inode.set_birthtime(attr.birthtime.or(attr.mtime).unwrap_or(now));
            self.fs.write_inode(&mut inode)?;
        }
        self.fs.sync()
    }
}

/// The generation number on disk of each regular file's and directory's
/// inode (0 for others, and for an inode that does not decode or fails
/// its check hash, as [`Session::init_inode`] reads it), reading each inode
/// block once while consecutive nodes stay in it.
fn read_gens<N: Nodes>(fs: &Ufs, nodes: &N, placed: &[Ino]) -> Result<Vec<u32>> {
    let geo = &fs.geo;
    let isize = geo.version.inode_size() as usize;
    let inopb = geo.inopb.max(1);
    let mut gens = vec![0u32; placed.len()];
    let mut block = vec![0u8; isize * inopb as usize];
    let mut cached: Option<u32> = None;
    for (i, &ino) in placed.iter().enumerate().skip(1) {
        let needs = match nodes.kind(i) {
            FileType::Regular => nodes.link_to(i).is_none(),
            FileType::Directory => true,
            _ => false,
        };
        if !needs {
            continue;
        }
        let first = ino.0 - ino.0 % inopb;
        if cached != Some(first) {
            cached = None;
            if crate::io::read_exact(fs.dev.as_ref(), geo.inode_offset(Ino(first)), &mut block)
                .is_err()
            {
                // Unreadable: as one inode at a time would find it.
                gens[i] = Inode::read(fs.dev.as_ref(), geo, ino).map_or(0, |d| d.gen());
                continue;
            }
            cached = Some(first);
        }
        let k = (ino.0 - first) as usize;
        let bytes = &block[k * isize..(k + 1) * isize];
        gens[i] = match Inode::decode(ino, bytes, geo) {
            Ok(d) if d.ckhash_mismatch(bytes, geo).is_none() => d.gen(),
            _ => 0,
        };
    }
    Ok(gens)
}
