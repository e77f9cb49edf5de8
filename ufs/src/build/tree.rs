//! The scanned tree: every source's nodes merged into one arena, before
//! the image is sized and written.

use crate::inode::Timespec;
use crate::populate::Nodes;
use crate::{FileType, NewNode};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub(super) const NONE: u32 = u32::MAX;

/// Where a regular file's bytes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Content {
    None,
    /// A file under host source directory number `.0`; its path is
    /// rebuilt from the tree when it is copied (a path per file would
    /// double the memory a large tree needs).
    Host(u16),
    /// A member of tar archive number `.0` (its ordinal in the archive is
    /// the node's `aux`).
    #[cfg_attr(not(feature = "tar"), allow(dead_code))]
    Tar(u16),
}

// `SNode::bits`.
/// The host file may have holes (fewer blocks than its size needs); only
/// such files are searched for holes while copying.
pub(super) const SPARSE: u8 = 1;
/// The access, modification, change time is known (`ATIME << k` for time
/// `k` of `SNode::secs`); an unknown time is the build's.
pub(super) const ATIME: u8 = 2;
/// A hard link: `aux` is the node holding the data.
pub(super) const LINK: u8 = 16;
/// Other nodes are hard links to this one.
pub(super) const LINKED: u8 = 32;
/// A directory that has had children.
pub(super) const HAS_KIDS: u8 = 64;

/// One scanned node, about 80 bytes: names and symlink targets live in
/// the tree's shared buffers, links are `u32` indices, and no path is kept
/// (it is rebuilt from the parent links when needed).
#[derive(Clone, Copy, Debug)]
pub(super) struct SNode {
    /// Access, modification and status-change seconds.
    pub(super) secs: [i64; 3],
    /// Regular file: its size. Symlink: where its target is in
    /// `Tree::targets` (offset << 20 | length). Device: major << 32 | minor.
    pub(super) data: u64,
    pub(super) nsecs: [u32; 3],
    pub(super) parent: u32,
    /// With `LINK`: the node holding the data. With tar content: the
    /// member's ordinal in its archive.
    pub(super) aux: u32,
    pub(super) name_off: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) fflags: u32,
    pub(super) perm: u16,
    pub(super) content: Content,
    pub(super) name_len: u8,
    pub(super) kind: FileType,
    pub(super) bits: u8,
}

// The arena's size is most of the memory a large tree needs.
const _: () = assert!(std::mem::size_of::<SNode>() <= 80);

pub(super) fn ts(sec: i64, nsec: i64) -> Timespec {
    Timespec {
        sec,
        nsec: u32::try_from(nsec).unwrap_or(0),
    }
}

impl SNode {
    /// A node of type `kind` with the owner, mode, flags, times and device
    /// number of `attr` (its birth time is not kept: none is read).
    pub(super) fn new(kind: FileType, attr: &NewNode) -> SNode {
        let mut n = SNode {
            secs: [0; 3],
            data: 0,
            nsecs: [0; 3],
            parent: 0,
            aux: NONE,
            name_off: 0,
            uid: 0,
            gid: 0,
            fflags: 0,
            perm: 0,
            content: Content::None,
            name_len: 0,
            kind,
            bits: 0,
        };
        n.set_attr(attr);
        if let (Some((ma, mi)), FileType::CharDevice | FileType::BlockDevice) = (attr.rdev, kind) {
            n.data = (u64::from(ma) << 32) | u64::from(mi);
        }
        n
    }

    /// A directory no source describes (the root, a parent an archive
    /// skipped, one a spec names): mode 0755, owned by 0:0.
    pub(super) fn implied_dir(mtime: Option<Timespec>) -> SNode {
        SNode::new(
            FileType::Directory,
            &NewNode {
                perm: 0o755,
                mtime,
                ..Default::default()
            },
        )
    }

    /// Takes owner, mode, flags and times from `a`.
    pub(super) fn set_attr(&mut self, a: &NewNode) {
        self.perm = a.perm;
        self.uid = a.uid;
        self.gid = a.gid;
        self.fflags = a.flags;
        self.bits &= !(ATIME | ATIME << 1 | ATIME << 2);
        for (k, t) in [a.atime, a.mtime, a.ctime].into_iter().enumerate() {
            if let Some(t) = t {
                self.secs[k] = t.sec;
                self.nsecs[k] = t.nsec;
                self.bits |= ATIME << k;
            } else {
                self.secs[k] = 0;
                self.nsecs[k] = 0;
            }
        }
    }

    pub(super) fn time(&self, k: usize) -> Option<Timespec> {
        (self.bits & (ATIME << k) != 0).then(|| Timespec {
            sec: self.secs[k],
            nsec: self.nsecs[k],
        })
    }

    /// The node holding this one's data: a hard link's target, or itself.
    pub(super) fn link(&self, me: u32) -> u32 {
        if self.bits & LINK != 0 {
            self.aux
        } else {
            me
        }
    }

    pub(super) fn is_link(&self) -> bool {
        self.bits & LINK != 0
    }

    #[cfg_attr(not(feature = "tar"), allow(dead_code))]
    pub(super) fn size(&self) -> u64 {
        if self.kind == FileType::Regular {
            self.data
        } else {
            0
        }
    }
}

/// The scanned tree: a node arena (index 0 is the root) with every name in
/// one byte buffer, and a hash index from (parent, name) to node that is
/// dropped once the tree is complete.
pub(super) struct Tree {
    pub(super) nodes: Vec<SNode>,
    pub(super) names: Vec<u8>,
    pub(super) targets: Vec<u8>,
    pub(super) index: Index,
    /// Times the image records are the modification time (a reproducible
    /// build: access and change times record when it ran).
    pub(super) reproducible: bool,
    /// User-namespace extended attributes (name, value) of the few nodes
    /// that have any (host files' are read while their data is copied).
    pub(super) xattrs: HashMap<u32, Xattrs>,
    /// Full names of host attributes that have no UFS2 counterpart.
    pub(super) skipped_xattrs: std::collections::BTreeSet<String>,
}

/// Extended attributes of one node, as (user-namespace name, value).
pub(super) type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// Open addressing over node numbers, keyed by (parent, name) through the
/// tree (a `HashMap` with owned path keys cost over 100 bytes a node);
/// built lazily, by the first lookup that needs it.
#[derive(Default)]
pub(super) struct Index {
    pub(super) slots: Vec<u32>,
    pub(super) used: usize,
    /// Nodes below this number are in `slots`.
    pub(super) upto: u32,
}

pub(super) fn name_hash(parent: u32, name: &[u8]) -> u64 {
    // FNV-1a over the parent number and the name, then a final mix.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in parent.to_le_bytes().iter().chain(name) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 29)
}

impl Tree {
    pub(super) fn new() -> Tree {
        let root = SNode::implied_dir(None);
        Tree {
            nodes: vec![root],
            names: Vec::new(),
            targets: Vec::new(),
            index: Index::default(),
            reproducible: false,
            xattrs: HashMap::new(),
            skipped_xattrs: Default::default(),
        }
    }

    pub(super) fn name(&self, i: u32) -> &[u8] {
        let n = &self.nodes[i as usize];
        &self.names[n.name_off as usize..n.name_off as usize + usize::from(n.name_len)]
    }

    pub(super) fn target(&self, i: u32) -> &[u8] {
        let n = &self.nodes[i as usize];
        if n.kind != FileType::Symlink {
            return &[];
        }
        let off = (n.data >> 20) as usize;
        &self.targets[off..off + (n.data & 0xf_ffff) as usize]
    }

    /// Stores a symlink target; the value for `SNode::data`.
    pub(super) fn store_target(&mut self, t: &[u8]) -> Result<u64, String> {
        if t.len() > 0xf_ffff {
            return Err(format!("symlink target of {} bytes is too long", t.len()));
        }
        let off = self.targets.len() as u64;
        self.targets.extend_from_slice(t);
        Ok(off << 20 | t.len() as u64)
    }

    /// What the image gets for node `i`'s owner, mode, flags and times.
    // A device's number is stored as its two 32-bit halves.
    #[allow(clippy::cast_possible_truncation)]
    pub(super) fn attr(&self, i: u32) -> NewNode {
        let n = &self.nodes[i as usize];
        let rdev = matches!(n.kind, FileType::CharDevice | FileType::BlockDevice)
            .then_some(((n.data >> 32) as u32, n.data as u32));
        let mtime = n.time(1);
        let (atime, ctime, birthtime) = if self.reproducible {
            (mtime, mtime, mtime)
        } else {
            (n.time(0), n.time(2), None)
        };
        NewNode {
            perm: n.perm,
            uid: n.uid,
            gid: n.gid,
            rdev,
            atime,
            mtime,
            ctime,
            birthtime,
            flags: n.fflags,
        }
    }

    /// The child of `parent` called `name`.
    pub(super) fn lookup(&mut self, parent: u32, name: &[u8]) -> Option<u32> {
        // Nodes are indexed when a lookup first needs them: a single host
        // directory never needs any.
        while (self.index.upto as usize) < self.nodes.len() {
            let i = self.index.upto;
            if i > 0 {
                self.index_insert(i);
            }
            self.index.upto += 1;
        }
        let slots = &self.index.slots;
        if slots.is_empty() {
            return None;
        }
        let mask = slots.len() - 1;
        // Masked to the table size: which bits of the hash are kept does
        // not matter.
        #[allow(clippy::cast_possible_truncation)]
        let mut k = name_hash(parent, name) as usize & mask;
        loop {
            let s = slots[k];
            if s == NONE {
                return None;
            }
            if self.nodes[s as usize].parent == parent && self.name(s) == name {
                return Some(s);
            }
            k = (k + 1) & mask;
        }
    }

    pub(super) fn index_insert(&mut self, i: u32) {
        if (self.index.used + 1) * 2 > self.index.slots.len() {
            let len = (self.index.slots.len() * 2).max(1024);
            let old = std::mem::replace(&mut self.index.slots, vec![NONE; len]);
            self.index.used = 0;
            for s in old.into_iter().filter(|&s| s != NONE) {
                self.index_insert(s);
            }
        }
        let mask = self.index.slots.len() - 1;
        let n = &self.nodes[i as usize];
        // Masked to the table size, as in `lookup`.
        #[allow(clippy::cast_possible_truncation)]
        let mut k = name_hash(n.parent, self.name(i)) as usize & mask;
        while self.index.slots[k] != NONE {
            k = (k + 1) & mask;
        }
        self.index.slots[k] = i;
        self.index.used += 1;
    }

    /// The node at `path` (components), if the tree has it.
    pub(super) fn lookup_path<C: AsRef<[u8]>>(&mut self, path: &[C]) -> Option<u32> {
        path.iter()
            .try_fold(0u32, |at, c| self.lookup(at, c.as_ref()))
    }

    /// Adds `node` as `parent`'s child `name` (which it does not have yet).
    pub(super) fn add(&mut self, parent: u32, name: &[u8], mut node: SNode) -> Result<u32, String> {
        let i = u32::try_from(self.nodes.len())
            .ok()
            .filter(|&i| i < NONE)
            .ok_or("too many files")?;
        node.parent = parent;
        node.name_off = u32::try_from(self.names.len()).map_err(|_| "names too long")?;
        node.name_len = u8::try_from(name.len()).map_err(|_| {
            format!(
                "{}: name longer than 255 bytes",
                String::from_utf8_lossy(name)
            )
        })?;
        node.bits &= !HAS_KIDS;
        self.names.extend_from_slice(name);
        self.nodes.push(node);
        self.nodes[parent as usize].bits |= HAS_KIDS;
        Ok(i)
    }

    /// Adds or replaces `parent`'s child `name`. `what` names it in errors.
    pub(super) fn put_child(
        &mut self,
        parent: u32,
        name: &[u8],
        node: SNode,
        what: &dyn Fn() -> String,
    ) -> Result<u32, String> {
        let Some(i) = self.lookup(parent, name) else {
            return self.add(parent, name, node);
        };
        let old = self.nodes[i as usize];
        if old.kind == FileType::Directory && node.kind == FileType::Directory {
            // Merging directories: the later source's attributes win.
            let a = self.attr_of(&node);
            self.nodes[i as usize].set_attr(&a);
            return Ok(i);
        }
        if old.bits & HAS_KIDS != 0 && node.kind != FileType::Directory {
            return Err(format!(
                "{}: a directory would be replaced by a file",
                what()
            ));
        }
        // A replaced node's attributes go with it.
        self.xattrs.remove(&i);
        self.nodes[i as usize] = SNode {
            parent: old.parent,
            name_off: old.name_off,
            name_len: old.name_len,
            bits: (node.bits & !HAS_KIDS) | (old.bits & (HAS_KIDS | LINKED)),
            ..node
        };
        Ok(i)
    }

    /// `n`'s attributes as given (not as a reproducible image stores them).
    pub(super) fn attr_of(&self, n: &SNode) -> NewNode {
        NewNode {
            perm: n.perm,
            uid: n.uid,
            gid: n.gid,
            atime: n.time(0),
            mtime: n.time(1),
            ctime: n.time(2),
            flags: n.fflags,
            ..Default::default()
        }
    }

    /// Adds or replaces the node at `path` (components, no `.`/`..`),
    /// creating missing parent directories. Returns its index.
    pub(super) fn put<C: AsRef<[u8]>>(&mut self, path: &[C], node: SNode) -> Result<u32, String> {
        let shown = |k: usize| {
            String::from_utf8_lossy(
                &path[..=k]
                    .iter()
                    .map(|c| c.as_ref())
                    .collect::<Vec<_>>()
                    .join(&b'/'),
            )
            .into_owned()
        };
        let mut parent = 0u32;
        for (k, comp) in path.iter().enumerate() {
            let comp = comp.as_ref();
            if k + 1 == path.len() {
                return self.put_child(parent, comp, node, &|| shown(k));
            }
            parent = match self.lookup(parent, comp) {
                Some(i) if self.nodes[i as usize].kind != FileType::Directory => {
                    return Err(format!("{}: not a directory", shown(k)));
                }
                Some(i) => i,
                None => self.add(parent, comp, SNode::implied_dir(node.time(1)))?,
            };
        }
        // An empty path is the root itself.
        if node.kind == FileType::Directory {
            let a = self.attr_of(&node);
            self.nodes[0].set_attr(&a);
        }
        Ok(0)
    }

    /// The host path of node `i` under source directory `root`.
    pub(super) fn host_path(&self, root: &Path, i: u32) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        let mut comps = Vec::new();
        let mut i = i;
        while i != 0 {
            comps.push(i);
            i = self.nodes[i as usize].parent;
        }
        let mut p = root.to_path_buf();
        for &c in comps.iter().rev() {
            p.push(std::ffi::OsStr::from_bytes(self.name(c)));
        }
        p
    }
}

/// Splits a path from an archive or spec into safe components: no empty,
/// `.` or `..` components (an archive cannot climb out of the tree).
pub(super) fn components(p: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for c in p.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                return Err(format!(
                    "{}: '..' in an archive path",
                    String::from_utf8_lossy(p)
                ))
            }
            c if c.len() > 255 => {
                return Err(format!(
                    "{}: name longer than 255 bytes",
                    String::from_utf8_lossy(p)
                ))
            }
            c => out.push(c.to_vec()),
        }
    }
    Ok(out)
}

/// The scanned tree in the order the image gets it: parents first,
/// children sorted by name. A hard-linked file's data goes with whichever
/// of its names comes first; the others link to it. Positions map to
/// scanned nodes through `order` (`None` when they are the same, as for a
/// single host directory, which is scanned in this order).
pub(super) struct Flat<'t> {
    pub(super) tree: &'t Tree,
    pub(super) order: Option<Vec<u32>>,
    /// Position of each scanned node (`None` with `order`).
    pub(super) pos: Option<Vec<u32>>,
    /// For each scanned node other names link to: the position holding
    /// the data.
    pub(super) holder: HashMap<u32, u32>,
}

impl Flat<'_> {
    // Node numbers and positions are below `nodes.len()`, which `push`
    // keeps below u32::MAX.
    #[allow(clippy::cast_possible_truncation)]
    pub(super) fn new(tree: &Tree) -> Flat<'_> {
        let n = tree.nodes.len();
        // Children of each node (`kids[start[d]..start[d + 1]]`), sorted.
        let mut start = vec![0u32; n + 1];
        for node in &tree.nodes[1..] {
            start[node.parent as usize + 1] += 1;
        }
        for d in 0..n {
            start[d + 1] += start[d];
        }
        let mut kids = vec![0u32; n.saturating_sub(1)];
        {
            let mut fill = start[..n].to_vec();
            for (i, node) in tree.nodes.iter().enumerate().skip(1) {
                let p = node.parent as usize;
                kids[fill[p] as usize] = i as u32;
                fill[p] += 1;
            }
        }
        for d in 0..n {
            kids[start[d] as usize..start[d + 1] as usize]
                .sort_by(|&a, &b| tree.name(a).cmp(tree.name(b)));
        }
        let mut order = Vec::with_capacity(n);
        let mut stack = vec![0u32];
        while let Some(i) = stack.pop() {
            order.push(i);
            let (a, b) = (start[i as usize] as usize, start[i as usize + 1] as usize);
            stack.extend(kids[a..b].iter().rev());
        }
        drop((kids, start));
        let identity = order.iter().enumerate().all(|(p, &i)| p == i as usize);
        let (order, pos) = if identity {
            (None, None)
        } else {
            let mut pos = vec![0u32; n];
            for (p, &i) in order.iter().enumerate() {
                pos[i as usize] = p as u32;
            }
            (Some(order), Some(pos))
        };
        let mut flat = Flat {
            tree,
            order,
            pos,
            holder: HashMap::new(),
        };
        for p in 0..n as u32 {
            let i = flat.node(p);
            let g = tree.nodes[i as usize].link(i);
            if tree.nodes[g as usize].bits & LINKED != 0 {
                flat.holder.entry(g).or_insert(p);
            }
        }
        flat
    }

    /// The scanned node at position `p`.
    pub(super) fn node(&self, p: u32) -> u32 {
        self.order.as_ref().map_or(p, |o| o[p as usize])
    }

    /// The position of scanned node `i`.
    pub(super) fn pos(&self, i: u32) -> u32 {
        self.pos.as_ref().map_or(i, |o| o[i as usize])
    }

    /// The position that holds scanned node `i`'s data.
    pub(super) fn data_pos(&self, i: u32) -> u32 {
        let g = self.tree.nodes[i as usize].link(i);
        if self.tree.nodes[g as usize].bits & LINKED == 0 {
            return self.pos(g);
        }
        self.holder.get(&g).copied().unwrap_or_else(|| self.pos(g))
    }
}

// Positions are below `nodes.len()`, which `push` keeps below u32::MAX.
#[allow(clippy::cast_possible_truncation)]
impl Nodes for Flat<'_> {
    fn count(&self) -> usize {
        self.tree.nodes.len()
    }
    fn parent(&self, p: usize) -> usize {
        let i = self.node(p as u32);
        self.pos(self.tree.nodes[i as usize].parent) as usize
    }
    fn name(&self, p: usize) -> &[u8] {
        self.tree.name(self.node(p as u32))
    }
    fn kind(&self, p: usize) -> FileType {
        let i = self.node(p as u32);
        self.tree.nodes[self.tree.nodes[i as usize].link(i) as usize].kind
    }
    fn link_to(&self, p: usize) -> Option<usize> {
        let h = self.data_pos(self.node(p as u32)) as usize;
        (h != p).then_some(h)
    }
    fn attr(&self, p: usize) -> NewNode {
        let i = self.node(p as u32);
        self.tree.attr(self.tree.nodes[i as usize].link(i))
    }
    fn target(&self, p: usize) -> &[u8] {
        let i = self.node(p as u32);
        self.tree.target(self.tree.nodes[i as usize].link(i))
    }
}
