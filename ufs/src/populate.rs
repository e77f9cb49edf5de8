//! Building a whole tree into a fresh file system in one pass (what
//! `ufs makefs` does), faster than creating entries one by one.
//!
//! The caller describes the tree as a list of [`Node`]s (parents before
//! children). [`TreeBuilder::new`] allocates an inode for every node —
//! directories first, spread over the cylinder groups by the allocator's
//! directory policy, then everything else next to its directory — and
//! writes symlinks and special files at once. File contents arrive through
//! [`TreeBuilder::write`] in any order (a tar archive dictates its own), and
//! [`TreeBuilder::finish`] writes every directory as packed entries in a
//! single write, sets the link counts and syncs. Memory grows with the number
//! of nodes and their names, not with file sizes.

use crate::dir;
use crate::error::{Error, Result};
use crate::fs::Ufs;
use crate::inode::{FileType, Inode};
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

/// Builds a tree into an open, freshly made file system.
pub struct TreeBuilder<'a> {
    fs: &'a mut Ufs,
    nodes: Vec<Node>,
    /// Inode number of each node.
    placed: Vec<Ino>,
    /// Regular files being written (usually one; a file's inode exists in
    /// memory only from its first write to its close, so memory per node
    /// stays small).
    open: std::collections::HashMap<usize, Inode>,
    /// Regular files whose inode has been written.
    closed: Vec<bool>,
    nlink: Vec<u32>,
}

impl<'a> TreeBuilder<'a> {
    /// Allocates inodes for all nodes and creates symlinks and special
    /// files. Node 0 must be the root directory: its attributes are applied
    /// to the existing root.
    pub fn new(fs: &'a mut Ufs, nodes: Vec<Node>) -> Result<TreeBuilder<'a>> {
        if nodes.first().map(|n| n.kind) != Some(FileType::Directory) {
            return Err(Error::InvalidInput(
                "the first node must be the root directory".into(),
            ));
        }
        let n = nodes.len();
        let mut placed: Vec<Ino> = Vec::with_capacity(n);
        let mut nlink = vec![0u32; n];
        for (i, node) in nodes.iter().enumerate() {
            if i > 0 && (node.parent >= i || nodes[node.parent].kind != FileType::Directory) {
                return Err(Error::InvalidInput(format!(
                    "node {i} ({}) has an invalid parent",
                    String::from_utf8_lossy(&node.name)
                )));
            }
            if let Some(t) = node.link_to {
                if t >= i || nodes[t].link_to.is_some() || nodes[t].kind == FileType::Directory {
                    return Err(Error::InvalidInput(format!(
                        "node {i}: invalid hard link target {t}"
                    )));
                }
                nlink[t] += 1;
            } else {
                nlink[i] += 1;
            }
            if node.kind == FileType::Directory {
                nlink[i] += 1; // its "." entry
                if i > 0 {
                    nlink[node.parent] += 1; // its ".." entry
                }
            }
        }
        // The root's own entry in itself stands for the name a parent gives.
        for (i, node) in nodes.iter().enumerate() {
            let ino = if i == 0 {
                Ino::ROOT
            } else if let Some(t) = node.link_to {
                placed[t]
            } else {
                let parent_ino = placed[node.parent];
                match node.kind {
                    // Files and directories get their inode number now and
                    // their in-memory inode when they are written.
                    FileType::Regular | FileType::Directory => {
                        fs.alloc_ino(parent_ino, node.kind)?
                    }
                    _ => {
                        let mut inode = fs.new_inode(parent_ino, node.kind, &node.attr)?;
                        if node.kind == FileType::Symlink {
                            if node.target.len() < fs.geometry().maxsymlinklen as usize {
                                inode.set_inline(fs.geometry(), &node.target)?;
                                inode.set_size(node.target.len() as u64);
                            } else {
                                fs.write_inode_data(&mut inode, 0, &node.target, false)?;
                            }
                        }
                        inode.set_nlink(nlink[i] as i16);
                        inode.write(fs.dev.as_mut(), &fs.geo)?;
                        inode.ino
                    }
                }
            };
            placed.push(ino);
        }
        Ok(TreeBuilder {
            fs,
            nodes,
            placed,
            open: std::collections::HashMap::new(),
            closed: vec![false; n],
            nlink,
        })
    }

    /// The inode number given to node `i`.
    pub fn ino(&self, i: usize) -> Option<Ino> {
        self.placed.get(i).copied()
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
        let node = self
            .nodes
            .get(i)
            .ok_or_else(|| Error::InvalidInput(format!("no node {i}")))?;
        if node.kind != FileType::Regular || node.link_to.is_some() {
            return Err(Error::InvalidInput(format!(
                "node {i} is not a regular file holding data"
            )));
        }
        if !self.open.contains_key(&i) {
            let inode = self
                .fs
                .init_inode(self.placed[i], FileType::Regular, &node.attr)?;
            self.open.insert(i, inode);
        }
        Ok(())
    }

    /// Writes regular file node `i`'s inode; its contents are complete.
    pub fn close_file(&mut self, i: usize) -> Result<()> {
        let nl = self.nlink.get(i).copied().unwrap_or(1);
        let is_file = self
            .nodes
            .get(i)
            .is_some_and(|n| n.kind == FileType::Regular && n.link_to.is_none());
        if !is_file || self.closed[i] {
            return Ok(());
        }
        self.ensure_open(i)?;
        if let Some(mut inode) = self.open.remove(&i) {
            self.closed[i] = true;
            inode.set_nlink(nl as i16);
            inode.write(self.fs.dev.as_mut(), &self.fs.geo)?;
        }
        Ok(())
    }

    /// Closes files not closed yet, writes every directory and syncs.
    pub fn finish(mut self) -> Result<()> {
        // Files never written (empty ones) still need their inode.
        for i in 0..self.nodes.len() {
            self.close_file(i)?;
        }
        let endian = self.fs.geo.endian;
        // Children of each directory, in node order.
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate().skip(1) {
            children[n.parent].push(i);
        }
        for (d, kids) in children.iter().enumerate() {
            if self.nodes[d].kind != FileType::Directory {
                continue;
            }
            let me = self.placed[d];
            let parent = self.placed[self.nodes[d].parent];
            let mut entries: Vec<(&[u8], Ino, u8)> = Vec::with_capacity(kids.len() + 2);
            entries.push((b".", me, FileType::Directory.dt()));
            entries.push((b"..", parent, FileType::Directory.dt()));
            for &k in kids {
                let kind = match self.nodes[k].link_to {
                    Some(t) => self.nodes[t].kind,
                    None => self.nodes[k].kind,
                };
                entries.push((&self.nodes[k].name, self.placed[k], kind.dt()));
            }
            let data = dir::pack(&entries, endian);
            let mut inode = if d == 0 {
                // The root exists: drop its old contents, keep the inode.
                let mut r = self.fs.allocated_inode(Ino::ROOT)?;
                self.fs.truncate_dir_for_rebuild(&mut r)?;
                r
            } else {
                self.fs
                    .init_inode(me, FileType::Directory, &self.nodes[d].attr)?
            };
            let attr = &self.nodes[d].attr;
            inode.set_mode(FileType::Directory.mode_bits() | (attr.perm & 0o7777));
            inode.set_uid(attr.uid);
            inode.set_gid(attr.gid);
            inode.set_flags(attr.flags);
            self.fs.write_inode_data(&mut inode, 0, &data, true)?;
            inode.set_nlink(self.nlink[d].min(i16::MAX as u32) as i16);
            let now = self.fs.now();
            inode.set_atime(attr.atime.unwrap_or(now));
            inode.set_mtime(attr.mtime.unwrap_or(now));
            inode.set_ctime(attr.ctime.unwrap_or(now));
            inode.set_birthtime(attr.birthtime.or(attr.mtime).unwrap_or(now));
            inode.write(self.fs.dev.as_mut(), &self.fs.geo)?;
        }
        self.fs.sync()
    }
}
