//! `ufs makefs`: build an image from host directories and tar archives.
//!
//! Sources are scanned into one tree first (metadata only), so the image
//! can be sized to fit, as makefs(8) does without `-s`. The tree is then
//! written with the library's bulk builder (`ufskit::populate`): inodes
//! allocated up front, file contents streamed in (tar archives are read a
//! second time for their data, in archive order), each directory written
//! once. Holes in host files are kept (SEEK_DATA/SEEK_HOLE); tar GNU sparse
//! members are stored as their expanded data. Output is deterministic:
//! entries are sorted by name, and with `--reproducible` or
//! `SOURCE_DATE_EPOCH` every time stamp the build makes, the file-system id
//! and the inode generations are fixed, so the same input gives the same
//! bytes.

use crate::output::fail;
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use ufskit::inode::Timespec;
use ufskit::newfs::{self, NewfsOptions};
use ufskit::populate::{Node, TreeBuilder};
use ufskit::{FileType, NewNode, OpenOptions, Ufs, UfsVersion};

/// Arguments of `ufs makefs`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image size (k/m/g/t suffixes); default: what the tree needs plus -b/-f.
    #[arg(short = 's', value_name = "SIZE")]
    pub size: Option<String>,
    /// Free space to leave: blocks of the block size, or a percentage ("10%").
    #[arg(short = 'b', value_name = "FREE", default_value = "10%")]
    pub free_blocks: String,
    /// Free inodes to leave: a count, or a percentage ("10%").
    #[arg(short = 'f', value_name = "FREE", default_value = "10%")]
    pub free_inodes: String,
    /// mtree(5) specification giving owners, modes, flags and times (as
    /// makefs -F), so an unprivileged build can make a root-owned tree.
    #[arg(short = 'F', value_name = "SPEC")]
    pub spec: Option<PathBuf>,
    /// UFS version (1 or 2).
    #[arg(short = 'O', id = "ufs_version", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub ufs_version: u8,
    /// newfs options as makefs -o takes them: bsize=N,fsize=N,density=N,
    /// minfree=N,optimization=space|time,label=L,avgfilesize=N,avgfpdir=N.
    #[arg(short = 'o', value_name = "OPTS")]
    pub options: Vec<String>,
    /// Volume label.
    #[arg(short = 'L')]
    pub label: Option<String>,
    /// Set the soft-updates flag.
    #[arg(short = 'U')]
    pub soft_updates: bool,
    /// Byte-identical output for the same input (also SOURCE_DATE_EPOCH).
    #[arg(long)]
    pub reproducible: bool,
    /// Show progress on a terminal.
    #[arg(long)]
    pub progress: bool,
    /// Image file to write (replaced).
    pub image: PathBuf,
    /// Directories and tar archives (plain, gzip, xz, zstd), merged in order.
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
}

/// Where a regular file's bytes come from.
#[derive(Clone, Debug)]
enum Content {
    None,
    /// A file under host source directory number `.0`; its path is
    /// rebuilt from the tree when it is copied (a path per file would
    /// double the memory a large tree needs).
    Host(u16),
    Tar {
        archive: usize,
    },
}

#[derive(Clone, Debug)]
struct SNode {
    parent: usize,
    name: Vec<u8>,
    kind: FileType,
    attr: NewNode,
    target: Vec<u8>,
    size: u64,
    /// The host file may have holes (fewer blocks than its size needs);
    /// only such files are searched for holes while copying.
    sparse: bool,
    content: Content,
    children: Vec<usize>,
    /// Hard link to another scanned node.
    link_to: Option<usize>,
}

struct Tree {
    nodes: Vec<SNode>,
    index: HashMap<Vec<u8>, usize>,
}

fn ts(sec: i64, nsec: i64) -> Timespec {
    Timespec {
        sec,
        nsec: u32::try_from(nsec).unwrap_or(0),
    }
}

impl SNode {
    /// A directory no source describes (the root, a parent an archive
    /// skipped, one a spec names): mode 0755, owned by 0:0.
    fn implied_dir(parent: usize, name: Vec<u8>, mtime: Option<Timespec>) -> SNode {
        SNode {
            parent,
            name,
            kind: FileType::Directory,
            attr: NewNode {
                perm: 0o755,
                mtime,
                ..Default::default()
            },
            target: Vec::new(),
            size: 0,
            sparse: false,
            content: Content::None,
            children: Vec::new(),
            link_to: None,
        }
    }
}

impl Tree {
    fn new() -> Tree {
        let root = SNode::implied_dir(0, Vec::new(), None);
        let mut index = HashMap::new();
        index.insert(Vec::new(), 0);
        Tree {
            nodes: vec![root],
            index,
        }
    }

    /// Adds or replaces the node at `path` (components, no `.`/`..`),
    /// creating missing parent directories. Returns its index.
    fn put(&mut self, path: &[Vec<u8>], node: SNode) -> Result<usize, String> {
        let mut parent = 0usize;
        let mut key = Vec::new();
        for (k, comp) in path.iter().enumerate() {
            if !key.is_empty() || k > 0 {
                key.push(b'/');
            }
            key.extend_from_slice(comp);
            let last = k + 1 == path.len();
            match self.index.get(&key).copied() {
                Some(i) if last => {
                    if self.nodes[i].kind == FileType::Directory && node.kind == FileType::Directory
                    {
                        // Merging directories: the later source's attributes win.
                        self.nodes[i].attr = node.attr;
                        return Ok(i);
                    }
                    let children = std::mem::take(&mut self.nodes[i].children);
                    if !children.is_empty() && node.kind != FileType::Directory {
                        return Err(format!(
                            "{}: a directory would be replaced by a file",
                            String::from_utf8_lossy(&key)
                        ));
                    }
                    let parent = self.nodes[i].parent;
                    self.nodes[i] = SNode {
                        children,
                        parent,
                        name: comp.clone(),
                        ..node
                    };
                    return Ok(i);
                }
                Some(i) => {
                    if self.nodes[i].kind != FileType::Directory {
                        return Err(format!(
                            "{}: not a directory",
                            String::from_utf8_lossy(&key)
                        ));
                    }
                    parent = i;
                }
                None => {
                    let n = if last {
                        SNode {
                            parent,
                            name: comp.clone(),
                            ..node.clone()
                        }
                    } else {
                        SNode::implied_dir(parent, comp.clone(), node.attr.mtime)
                    };
                    let i = self.nodes.len();
                    self.nodes.push(n);
                    self.nodes[parent].children.push(i);
                    self.index.insert(key.clone(), i);
                    if last {
                        return Ok(i);
                    }
                    parent = i;
                }
            }
        }
        // An empty path is the root itself.
        if node.kind == FileType::Directory {
            self.nodes[0].attr = node.attr;
        }
        Ok(0)
    }
}

/// Splits a path from an archive or spec into safe components: no empty,
/// `.` or `..` components (an archive cannot climb out of the tree).
fn components(p: &[u8]) -> Result<Vec<Vec<u8>>, String> {
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

fn scan_dir(
    tree: &mut Tree,
    root: &Path,
    source: u16,
    rel: &mut Vec<Vec<u8>>,
    links: &mut HashMap<(u64, u64), usize>,
) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let dir = root.join(
        rel.iter()
            .map(|c| std::ffi::OsStr::from_bytes(c))
            .collect::<PathBuf>(),
    );
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let md =
            std::fs::symlink_metadata(&path).map_err(|err| format!("{}: {err}", path.display()))?;
        let ft = md.file_type();
        let kind = if ft.is_dir() {
            FileType::Directory
        } else if ft.is_file() {
            FileType::Regular
        } else if ft.is_symlink() {
            FileType::Symlink
        } else if ft.is_fifo() {
            FileType::Fifo
        } else if ft.is_char_device() {
            FileType::CharDevice
        } else if ft.is_block_device() {
            FileType::BlockDevice
        } else {
            FileType::Socket
        };
        let rdev = matches!(kind, FileType::CharDevice | FileType::BlockDevice)
            .then(|| (rustix::fs::major(md.rdev()), rustix::fs::minor(md.rdev())));
        let attr = NewNode {
            perm: (md.mode() & 0o7777) as u16,
            uid: md.uid(),
            gid: md.gid(),
            rdev,
            atime: Some(ts(md.atime(), md.atime_nsec())),
            mtime: Some(ts(md.mtime(), md.mtime_nsec())),
            ctime: Some(ts(md.ctime(), md.ctime_nsec())),
            birthtime: None,
            flags: 0,
        };
        let target = if kind == FileType::Symlink {
            std::fs::read_link(&path)
                .map_err(|err| format!("{}: {err}", path.display()))?
                .as_os_str()
                .as_bytes()
                .to_vec()
        } else {
            Vec::new()
        };
        let name = e.file_name().as_bytes().to_vec();
        rel.push(name);
        let mut node = SNode {
            parent: 0,
            name: Vec::new(),
            kind,
            attr,
            target,
            size: if kind == FileType::Regular {
                md.len()
            } else {
                0
            },
            sparse: md.blocks().saturating_mul(512) < md.len(),
            content: if kind == FileType::Regular {
                Content::Host(source)
            } else {
                Content::None
            },
            children: Vec::new(),
            link_to: None,
        };
        let key = (md.dev(), md.ino());
        if kind != FileType::Directory && md.nlink() > 1 {
            if let Some(&first) = links.get(&key) {
                node.link_to = Some(first);
                node.content = Content::None;
            }
        }
        let i = tree.put(rel, node)?;
        if kind != FileType::Directory && md.nlink() > 1 {
            links.entry(key).or_insert(i);
        }
        if kind == FileType::Directory {
            scan_dir(tree, root, source, rel, links)?;
        }
        rel.pop();
    }
    Ok(())
}

/// Opens a tar archive, decompressing by magic number.
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

/// FreeBSD file flags by the names tar's SCHILY.fflags and mtree use.
fn fflags(names: &str) -> u32 {
    names
        .split(',')
        .map(|n| match n.trim() {
            "nodump" => 0x1,
            "uchg" | "uimmutable" | "uchange" => 0x2,
            "uappnd" | "uappend" => 0x4,
            "opaque" => 0x8,
            "uunlnk" | "uunlink" => 0x10,
            "arch" | "archived" => 0x1_0000,
            "schg" | "simmutable" | "schange" => 0x2_0000,
            "sappnd" | "sappend" => 0x4_0000,
            "sunlnk" | "sunlink" => 0x10_0000,
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

fn scan_tar(tree: &mut Tree, path: &Path, archive: usize) -> Result<(), String> {
    let ctx = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut ar = tar::Archive::new(open_tar(path)?);
    for entry in ar.entries().map_err(ctx)? {
        let mut entry = entry.map_err(ctx)?;
        let raw_path = entry.path_bytes().into_owned();
        let comps = components(&raw_path)?;
        let h = entry.header().clone();
        let mut flags = 0;
        let mut mtime = ts(h.mtime().map_or(0, |t| i64::try_from(t).unwrap_or(0)), 0);
        let mut atime = None;
        if let Ok(Some(exts)) = entry.pax_extensions() {
            for ext in exts.flatten() {
                match (ext.key(), ext.value()) {
                    (Ok("SCHILY.fflags"), Ok(v)) => flags = fflags(v),
                    // pax times carry sign and nanoseconds the ustar field cannot.
                    (Ok("mtime"), Ok(v)) => mtime = pax_time(v).unwrap_or(mtime),
                    (Ok("atime"), Ok(v)) => atime = pax_time(v),
                    _ => {}
                }
            }
        }
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
        let attr = NewNode {
            perm: (h.mode().unwrap_or(0o644) & 0o7777) as u16,
            uid: h.uid().unwrap_or(0) as u32,
            gid: h.gid().unwrap_or(0) as u32,
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
        let mut node = SNode {
            parent: 0,
            name: Vec::new(),
            kind,
            attr,
            target: if kind == FileType::Symlink {
                target.clone()
            } else {
                Vec::new()
            },
            size: if kind == FileType::Regular {
                entry.size()
            } else {
                0
            },
            sparse: false,
            content: if kind == FileType::Regular && et != tar::EntryType::Link {
                Content::Tar { archive }
            } else {
                Content::None
            },
            children: Vec::new(),
            link_to: None,
        };
        if et == tar::EntryType::Link {
            let key = components(&target)?.join(&b'/');
            let t = tree.index.get(&key).copied().ok_or_else(|| {
                format!(
                    "{}: hard link to {} which is not in the archive before it",
                    path.display(),
                    String::from_utf8_lossy(&target)
                )
            })?;
            node.link_to = Some(t);
            node.size = 0;
        }
        tree.put(&comps, node)?;
        // Skip the data now; it is read again in the second pass.
        std::io::copy(&mut entry, &mut std::io::sink()).map_err(ctx)?;
    }
    Ok(())
}

/// The host path of scanned node `i` under source directory `root`.
fn host_path(tree: &Tree, root: &Path, mut i: usize) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let mut comps = Vec::new();
    while i != 0 {
        comps.push(&tree.nodes[i].name);
        i = tree.nodes[i].parent;
    }
    let mut p = root.to_path_buf();
    for c in comps.iter().rev() {
        p.push(std::ffi::OsStr::from_bytes(c));
    }
    p
}

/// Flattens the tree parents-first (sorted by name). A hard-linked file's
/// data goes with whichever of its names comes first; the others link to
/// it. Returns the nodes and, per scanned node, the position holding its
/// data.
fn flatten(tree: &mut Tree) -> (Vec<Node>, Vec<usize>) {
    let mut order = Vec::with_capacity(tree.nodes.len());
    let mut parent_of = vec![0usize; tree.nodes.len()];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        order.push(i);
        let mut kids = std::mem::take(&mut tree.nodes[i].children);
        kids.sort_by(|a, b| tree.nodes[*a].name.cmp(&tree.nodes[*b].name));
        for &k in &kids {
            parent_of[k] = i;
        }
        stack.extend(kids.into_iter().rev());
    }
    let mut pos = vec![0usize; tree.nodes.len()];
    for (p, &i) in order.iter().enumerate() {
        pos[i] = p;
    }
    let mut holder = vec![usize::MAX; tree.nodes.len()];
    let mut nodes = Vec::with_capacity(order.len());
    for (p, &i) in order.iter().enumerate() {
        let g = tree.nodes[i].link_to.unwrap_or(i);
        let link_to = if holder[g] == usize::MAX {
            holder[g] = p;
            None
        } else {
            Some(holder[g])
        };
        // Names stay in the tree too: host paths are rebuilt from them.
        let name = tree.nodes[i].name.clone();
        let kind = tree.nodes[g].kind;
        // Only the name that holds the data needs attributes and a target.
        let (attr, target) = match link_to {
            None => (
                std::mem::take(&mut tree.nodes[g].attr),
                std::mem::take(&mut tree.nodes[g].target),
            ),
            Some(_) => (NewNode::default(), Vec::new()),
        };
        nodes.push(Node {
            parent: if i == 0 { 0 } else { pos[parent_of[i]] },
            name,
            kind,
            attr,
            target,
            link_to,
        });
    }
    (nodes, holder)
}

/// Decodes mtree's `vis` escapes (`\ooo`, `\s`, `\\`, `\t`, `\n`).
fn unvis(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let rest = &b[i + 1..];
            if rest.len() >= 3 && rest[..3].iter().all(|c| (b'0'..=b'7').contains(c)) {
                out.push(((rest[0] - b'0') << 6) | ((rest[1] - b'0') << 3) | (rest[2] - b'0'));
                i += 4;
                continue;
            }
            out.push(match rest[0] {
                b's' => b' ',
                b't' => b'\t',
                b'n' => b'\n',
                c => c,
            });
            i += 2;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn user_id(name: &str) -> Option<u32> {
    // Only the ids every FreeBSD system has; anything else must be numeric
    // (the build host's database says nothing about the target's).
    match name {
        "root" | "wheel" => Some(0),
        "operator" => Some(5),
        "bin" => Some(3),
        "tty" => Some(4),
        "kmem" => Some(2),
        "nobody" | "nogroup" => Some(65534),
        _ => None,
    }
}

/// Applies an mtree(5) specification to the scanned tree: owners, modes,
/// flags and times of the entries it names; missing directories it names
/// are created.
fn apply_spec(tree: &mut Tree, spec: &Path) -> Result<u32, String> {
    let text = std::fs::read_to_string(spec).map_err(|e| format!("{}: {e}", spec.display()))?;
    let mut set: HashMap<String, String> = HashMap::new();
    let mut cwd: Vec<Vec<u8>> = Vec::new();
    let mut applied = 0;
    let mut joined = String::new();
    for (lineno, raw) in text.lines().enumerate() {
        if let Some(stripped) = raw.strip_suffix('\\') {
            joined.push_str(stripped);
            joined.push(' ');
            continue;
        }
        joined.push_str(raw);
        let line = std::mem::take(&mut joined);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        let kv: HashMap<String, String> = words
            .filter_map(|w| {
                w.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        match first {
            "/set" => {
                set.extend(kv);
                continue;
            }
            "/unset" => {
                for w in line.split_whitespace().skip(1) {
                    set.remove(w);
                }
                continue;
            }
            ".." => {
                cwd.pop();
                continue;
            }
            _ => {}
        }
        let name = unvis(first);
        let mut merged = set.clone();
        merged.extend(kv);
        let full = name.contains(&b'/');
        let path: Vec<Vec<u8>> = if full {
            components(&name)?
        } else if name == b"." {
            cwd.clone()
        } else {
            let mut p = cwd.clone();
            p.push(name.clone());
            p
        };
        let is_dir = merged.get("type").map(String::as_str) == Some("dir");
        let key = path.join(&b'/');
        let idx = match tree.index.get(&key).copied() {
            Some(i) => Some(i),
            None if is_dir => Some(tree.put(&path, SNode::implied_dir(0, Vec::new(), None))?),
            None => {
                eprintln!(
                    "ufs makefs: {}:{}: {} is not in the tree; ignored",
                    spec.display(),
                    lineno + 1,
                    String::from_utf8_lossy(&key)
                );
                None
            }
        };
        if let Some(i) = idx {
            let target = tree.nodes[i].link_to.unwrap_or(i);
            let a = &mut tree.nodes[target].attr;
            let bad = |k: &str, v: &str| format!("{}:{}: bad {k}={v}", spec.display(), lineno + 1);
            for (k, v) in &merged {
                match k.as_str() {
                    "uid" => a.uid = v.parse().map_err(|_| bad(k, v))?,
                    "gid" => a.gid = v.parse().map_err(|_| bad(k, v))?,
                    "uname" if !merged.contains_key("uid") => {
                        a.uid = user_id(v).ok_or_else(|| bad(k, v))?
                    }
                    "gname" if !merged.contains_key("gid") => {
                        a.gid = user_id(v).ok_or_else(|| bad(k, v))?
                    }
                    "mode" => a.perm = u16::from_str_radix(v, 8).map_err(|_| bad(k, v))? & 0o7777,
                    "flags" => a.flags = if v == "none" { 0 } else { fflags(v) },
                    "time" => {
                        let (s, n) = v.split_once('.').unwrap_or((v, "0"));
                        let t = ts(
                            s.parse().map_err(|_| bad(k, v))?,
                            n.parse().map_err(|_| bad(k, v))?,
                        );
                        a.mtime = Some(t);
                        a.atime = Some(t);
                    }
                    _ => {}
                }
            }
            applied += 1;
        }
        if is_dir && !full && name != b"." {
            cwd.push(name);
        }
    }
    Ok(applied)
}

fn parse_amount(s: &str, whole: u64) -> Result<u64, String> {
    match s.strip_suffix('%') {
        Some(p) => {
            let p: u64 = p.parse().map_err(|_| format!("bad percentage {s:?}"))?;
            Ok(whole * p / 100)
        }
        None => s.parse().map_err(|_| format!("bad count {s:?}")),
    }
}

/// Fragments a file of `size` bytes needs, indirect blocks included.
fn file_frags(size: u64, bsize: u64, fsize: u64, nindir: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    let frag = bsize / fsize;
    let nblocks = size.div_ceil(bsize);
    if nblocks <= 12 {
        return (nblocks - 1) * frag + (size - (nblocks - 1) * bsize).div_ceil(fsize);
    }
    let mut ind = 1;
    let rest = nblocks - 12;
    if rest > nindir {
        let r2 = rest - nindir;
        ind += 1 + r2.div_ceil(nindir);
        if r2 > nindir * nindir {
            ind += 1
                + (r2 - nindir * nindir).div_ceil(nindir * nindir)
                + (r2 - nindir * nindir).div_ceil(nindir);
        }
    }
    (nblocks + ind) * frag
}

fn apply_o(opts: &mut NewfsOptions, list: &[String]) -> Result<(), String> {
    for item in list.iter().flat_map(|s| s.split(',')) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("-o {item}: expected key=value"))?;
        let num = || {
            v.parse::<u32>()
                .map_err(|_| format!("-o {k}={v}: not a number"))
        };
        match k {
            "bsize" => opts.bsize = Some(num()?),
            "fsize" => opts.fsize = Some(num()?),
            "density" => opts.density = Some(num()?),
            "minfree" => opts.minfree = Some(num()?),
            "avgfilesize" => opts.avgfilesize = Some(num()?),
            "avgfpdir" => opts.avgfpdir = Some(num()?),
            "maxbpg" => opts.maxbpg = Some(num()?),
            "label" => opts.label = Some(v.to_string()),
            "version" => {
                opts.version = if v == "1" {
                    UfsVersion::Ufs1
                } else {
                    UfsVersion::Ufs2
                }
            }
            "optimization" => {
                opts.optim = Some(match v {
                    "space" => newfs::Optim::Space,
                    "time" => newfs::Optim::Time,
                    _ => return Err(format!("-o optimization={v}: space or time")),
                })
            }
            _ => return Err(format!("-o {k}: unknown option")),
        }
    }
    Ok(())
}

/// Runs `ufs makefs`.
pub fn run(a: Args) -> i32 {
    match build(&a) {
        Ok(msg) => {
            println!("{msg}");
            0
        }
        Err(e) => fail(&format!("makefs {}", a.image.display()), &e),
    }
}

fn build(a: &Args) -> Result<String, String> {
    let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(
            v.trim()
                .parse::<i64>()
                .map_err(|_| format!("SOURCE_DATE_EPOCH={v:?} is not a number"))?,
        ),
        Err(_) if a.reproducible => Some(0),
        Err(_) => None,
    };
    let mut opts = NewfsOptions {
        version: if a.ufs_version == 1 {
            UfsVersion::Ufs1
        } else {
            UfsVersion::Ufs2
        },
        no_snap: true,
        label: a.label.clone(),
        soft_updates: a.soft_updates,
        ..Default::default()
    };
    apply_o(&mut opts, &a.options)?;
    if let Some(t) = epoch {
        opts.time = Some(t);
        opts.random_id = Some(0x5eed_0001);
    }
    // 1. Scan.
    let mut tree = Tree::new();
    let mut archives = Vec::new();
    let mut host_sources: Vec<PathBuf> = Vec::new();
    for src in &a.sources {
        let md = std::fs::metadata(src).map_err(|e| format!("{}: {e}", src.display()))?;
        if md.is_dir() {
            let root_md =
                std::fs::symlink_metadata(src).map_err(|e| format!("{}: {e}", src.display()))?;
            tree.nodes[0].attr = NewNode {
                perm: (root_md.mode() & 0o7777) as u16,
                uid: root_md.uid(),
                gid: root_md.gid(),
                atime: Some(ts(root_md.atime(), root_md.atime_nsec())),
                mtime: Some(ts(root_md.mtime(), root_md.mtime_nsec())),
                ctime: Some(ts(root_md.ctime(), root_md.ctime_nsec())),
                ..Default::default()
            };
            let source = u16::try_from(host_sources.len())
                .map_err(|_| "too many source directories".to_string())?;
            host_sources.push(src.clone());
            scan_dir(&mut tree, src, source, &mut Vec::new(), &mut HashMap::new())?;
        } else {
            archives.push(src.clone());
            scan_tar(&mut tree, src, archives.len() - 1)?;
        }
    }
    if let Some(spec) = &a.spec {
        apply_spec(&mut tree, spec)?;
    }
    if epoch.is_some() {
        // Access and change times record when the build ran, not what was
        // built: a reproducible image takes them from the modification time.
        for n in &mut tree.nodes {
            n.attr.atime = n.attr.mtime;
            n.attr.ctime = n.attr.mtime;
            n.attr.birthtime = n.attr.mtime;
        }
    }
    let (nodes, holder) = flatten(&mut tree);
    // 2. Size.
    let bsize = u64::from(opts.bsize.unwrap_or(32768));
    let fsize = u64::from(
        opts.fsize
            .unwrap_or((bsize as u32 / 8).clamp(4096.min(bsize as u32), bsize as u32)),
    );
    let ptr = if opts.version == UfsVersion::Ufs1 {
        4
    } else {
        8
    };
    let mut data = 0u64;
    let mut inodes = 0u64;
    let mut dir_bytes: HashMap<usize, u64> = HashMap::new();
    for (p, n) in nodes.iter().enumerate() {
        if p > 0 {
            *dir_bytes.entry(n.parent).or_insert(24) +=
                ufskit::dir::direct_size(n.name.len()) as u64;
        }
        if n.link_to.is_some() {
            continue;
        }
        inodes += 1;
        if n.kind == FileType::Symlink && n.target.len() >= 60 {
            data += n.target.len() as u64 / fsize + 1;
        }
    }
    for (i, sn) in tree.nodes.iter().enumerate() {
        if sn.kind == FileType::Regular && sn.link_to.is_none() {
            data += file_frags(sn.size, bsize, fsize, bsize / ptr);
        }
        let _ = i;
    }
    for b in dir_bytes.values() {
        data += b.div_ceil(512) * 512 / fsize + 1;
    }
    let free_frags = parse_amount(&a.free_blocks, data)?;
    let free_frags = if a.free_blocks.ends_with('%') {
        free_frags
    } else {
        free_frags * (bsize / fsize)
    };
    let free_inodes = parse_amount(&a.free_inodes, inodes)?;
    let need_frags = data + free_frags;
    let need_inodes = inodes + free_inodes + 3;
    let (size, layout) = match &a.size {
        Some(s) => {
            let size = newfs::parse_size(s).map_err(|e| e.to_string())?;
            let layout = newfs::compute(size, &opts).map_err(|e| e.to_string())?;
            (size, layout)
        }
        None => fit(&mut opts, need_frags, need_inodes, fsize)?,
    };
    // 3. newfs.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&a.image)
        .map_err(|e| format!("{}: {e}", a.image.display()))?;
    file.set_len(size)
        .map_err(|e| format!("{}: {e}", a.image.display()))?;
    // Many small sequential writes: combine them before they reach the file.
    let mut dev = ufskit::io::WriteBack::new(
        ufskit::io::FileDevice::from_file(file, true).map_err(|e| e.to_string())?,
    );
    let eo = newfs::EmitOptions {
        zeroing: newfs::Zeroing::AssumeZeroed,
        ..newfs::EmitOptions::for_options(&opts)
    };
    newfs::newfs_with(&mut dev, &layout, &opts, &eo).map_err(|e| e.to_string())?;
    // 4. Populate.
    let mut fs = Ufs::open(Box::new(dev), &OpenOptions::read_write()).map_err(|e| e.to_string())?;
    if let Some(t) = epoch {
        fs.set_fixed_time(Some(ts(t, 0)));
    }
    let total: u64 = tree
        .nodes
        .iter()
        .filter(|n| n.link_to.is_none())
        .map(|n| n.size)
        .sum();
    let bar = (a.progress || std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        indicatif::ProgressBar::new(total).with_style(
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
    });
    let nfiles = nodes
        .iter()
        .filter(|n| n.kind == FileType::Regular && n.link_to.is_none())
        .count();
    let ndirs = nodes
        .iter()
        .filter(|n| n.kind == FileType::Directory)
        .count();
    let mut b = TreeBuilder::new(&mut fs, nodes).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 20];
    // Host files are read by a second thread while this one writes the
    // image: reading 200,000 small files is mostly system time that can
    // overlap with the image writes.
    let jobs: Vec<HostJob> = tree
        .nodes
        .iter()
        .enumerate()
        .filter_map(|(i, sn)| match sn.content {
            Content::Host(source) if sn.link_to.is_none() => Some(HostJob {
                pos: holder[i],
                path: host_path(&tree, &host_sources[usize::from(source)], i),
                size: sn.size,
                sparse: sn.sparse,
            }),
            _ => None,
        })
        .collect();
    std::thread::scope(|scope| -> Result<(), String> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(64);
        let reader = scope.spawn(move || read_host_files(jobs, &tx));
        for chunk in rx {
            match chunk {
                Chunk::Data {
                    pos,
                    off,
                    data,
                    path,
                } => {
                    b.write(pos, off, &data)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    if let Some(bar) = &bar {
                        bar.inc(data.len() as u64);
                    }
                }
                Chunk::End { pos, size } => {
                    b.set_size(pos, size).map_err(|e| e.to_string())?;
                    b.close_file(pos).map_err(|e| e.to_string())?;
                }
                Chunk::Failed(e) => return Err(e),
            }
        }
        reader
            .join()
            .map_err(|_| "the file reader thread failed".to_string())
    })?;
    for (k, path) in archives.iter().enumerate() {
        let ctx = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut ar = tar::Archive::new(open_tar(path)?);
        for entry in ar.entries().map_err(ctx)? {
            let mut entry = entry.map_err(ctx)?;
            let key = components(&entry.path_bytes())?.join(&b'/');
            let Some(&i) = tree.index.get(&key) else {
                continue;
            };
            let sn = &tree.nodes[i];
            if !matches!(sn.content, Content::Tar { archive } if archive == k)
                || sn.link_to.is_some()
            {
                continue;
            }
            let p = holder[i];
            let mut off = 0u64;
            loop {
                let n = entry.read(&mut buf).map_err(ctx)?;
                if n == 0 {
                    break;
                }
                b.write(p, off, &buf[..n])
                    .map_err(|e| format!("{}: {e}", String::from_utf8_lossy(&key)))?;
                off += n as u64;
                if let Some(bar) = &bar {
                    bar.inc(n as u64);
                }
            }
            b.set_size(p, sn.size).map_err(|e| e.to_string())?;
            b.close_file(p).map_err(|e| e.to_string())?;
        }
    }
    b.finish().map_err(|e| e.to_string())?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    fs.close().map_err(|e| e.to_string())?;
    Ok(format!(
        "{}: {} files, {} directories, {} bytes ({}, {}/{} block/fragment, {} inodes)",
        a.image.display(),
        nfiles,
        ndirs,
        size,
        opts.version_name(),
        layout.sb.fs_bsize,
        layout.sb.fs_fsize,
        u64::from(layout.sb.fs_ipg) * u64::from(layout.sb.fs_ncg)
    ))
}

trait VersionName {
    fn version_name(&self) -> &'static str;
}

impl VersionName for NewfsOptions {
    fn version_name(&self) -> &'static str {
        match self.version {
            UfsVersion::Ufs1 => "UFS1",
            UfsVersion::Ufs2 => "UFS2",
        }
    }
}

/// The smallest image (in 64 KiB steps of growth) whose fresh file system
/// has `frags` free fragments and `inodes` free inodes.
fn fit(
    opts: &mut NewfsOptions,
    frags: u64,
    inodes: u64,
    fsize: u64,
) -> Result<(u64, newfs::Layout), String> {
    let mut size = ((frags * fsize) * 11 / 10 + inodes * 256 + (1 << 20)).max(1 << 20);
    for _ in 0..200 {
        size = size.div_ceil(65536) * 65536;
        if opts.density.is_none() || inodes > 0 {
            // Enough inodes without wasting space on tables: one per
            // needed inode, at least one fragment each.
            let d = (size / inodes.max(1) * 9 / 10).clamp(fsize, 4 * fsize);
            opts.density = Some(d as u32);
        }
        let layout = newfs::compute(size, opts).map_err(|e| e.to_string())?;
        let f = &layout.sb;
        let free = u64::try_from(f.fs_cstotal[1]).unwrap_or(0)
            * u64::try_from(f.fs_frag).unwrap_or(8)
            + u64::try_from(f.fs_cstotal[3]).unwrap_or(0);
        let ifree = u64::try_from(f.fs_cstotal[2]).unwrap_or(0);
        if free >= frags && ifree >= inodes {
            return Ok((size, layout));
        }
        size = size * 21 / 20 + (1 << 20);
    }
    Err("could not find an image size that fits the tree".into())
}

/// A host file to copy: where its data goes and how to read it.
struct HostJob {
    pos: usize,
    path: PathBuf,
    size: u64,
    sparse: bool,
}

/// What the reader thread sends the writer.
enum Chunk {
    /// Bytes at `off` of node `pos`.
    Data {
        pos: usize,
        off: u64,
        data: Vec<u8>,
        path: PathBuf,
    },
    /// Node `pos` is complete at `size` bytes.
    End { pos: usize, size: u64 },
    /// Reading failed; the build stops.
    Failed(String),
}

/// Reads every job's data (skipping holes in files that have them) and
/// sends it in order; stops at the first error or when the writer stops.
fn read_host_files(jobs: Vec<HostJob>, tx: &std::sync::mpsc::SyncSender<Chunk>) {
    for job in jobs {
        let r = read_one(&job, tx);
        let msg = match r {
            Ok(()) => Chunk::End {
                pos: job.pos,
                size: job.size,
            },
            Err(e) => Chunk::Failed(e),
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

fn read_one(job: &HostJob, tx: &std::sync::mpsc::SyncSender<Chunk>) -> Result<(), String> {
    use std::os::unix::fs::FileExt;
    const PIECE: usize = 256 << 10;
    let ctx = |e: std::io::Error| format!("{}: {e}", job.path.display());
    let f = File::open(&job.path).map_err(ctx)?;
    let size = job.size;
    let mut off = 0u64;
    while off < size {
        // Files without holes (most) skip the two extra system calls.
        let (data, hole) = if job.sparse {
            let data = match rustix::fs::seek(&f, rustix::fs::SeekFrom::Data(off)) {
                Ok(d) => d,
                Err(rustix::io::Errno::NXIO) => break,
                Err(_) => off,
            };
            let hole = match rustix::fs::seek(&f, rustix::fs::SeekFrom::Hole(data)) {
                Ok(h) => h.min(size),
                Err(_) => size,
            };
            (data, hole)
        } else {
            (off, size)
        };
        let mut pos = data;
        while pos < hole {
            let want = ((hole - pos) as usize).min(PIECE);
            let mut buf = vec![0u8; want];
            let n = f.read_at(&mut buf, pos).map_err(ctx)?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            let msg = Chunk::Data {
                pos: job.pos,
                off: pos,
                data: buf,
                path: job.path.clone(),
            };
            if tx.send(msg).is_err() {
                return Ok(());
            }
            pos += n as u64;
        }
        off = hole.max(pos);
    }
    Ok(())
}
