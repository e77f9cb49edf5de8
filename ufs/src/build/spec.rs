//! mtree(5) specifications (makefs -F): owners, modes, flags and times for
//! the scanned tree's entries.

use super::tree::{components, ts, SNode, Tree};
use std::collections::HashMap;
use std::path::Path;

pub(super) fn fflags(names: &str) -> u32 {
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
/// are created (`text` is the specification, `spec` names it). Entries it names that the tree lacks go to `warn`.
pub(super) fn apply_spec(
    tree: &mut Tree,
    spec: &Path,
    text: &str,
    warn: &mut dyn FnMut(&str),
) -> Result<u32, String> {
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
        let idx = match tree.lookup_path(&path) {
            Some(i) => Some(i),
            None if is_dir => Some(tree.put(&path, SNode::implied_dir(None))?),
            None => {
                warn(&format!(
                    "{}:{}: {} is not in the tree; ignored",
                    spec.display(),
                    lineno + 1,
                    String::from_utf8_lossy(&key)
                ));
                None
            }
        };
        if let Some(i) = idx {
            let target = tree.nodes[i as usize].link(i);
            let mut attr = tree.attr_of(&tree.nodes[target as usize]);
            let a = &mut attr;
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
            tree.nodes[target as usize].set_attr(&attr);
            applied += 1;
        }
        if is_dir && !full && name != b"." {
            cwd.push(name);
        }
    }
    Ok(applied)
}
