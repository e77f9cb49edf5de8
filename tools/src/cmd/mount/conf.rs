//! Reading jail definitions: fstab(5) lines, rc.conf(5) `jail_<name>_*`
//! variables and jail.conf(5) `mount.fstab`.

use super::opts::{parse, MountSpec, Personality};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One fstab line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FstabEntry {
    /// Line number (1-based).
    pub line: usize,
    /// Field 1.
    pub special: String,
    /// Field 2.
    pub node: String,
    /// Field 3.
    pub fstype: String,
    /// Field 4 (`rw` when missing).
    pub options: String,
}

/// Parses fstab text; comments and blank lines are skipped.
pub fn parse_fstab(text: &str) -> Vec<FstabEntry> {
    text.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.split('#').next().unwrap_or("");
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 3 {
                return None;
            }
            Some(FstabEntry {
                line: i + 1,
                special: f[0].into(),
                node: f[1].into(),
                fstype: f[2].into(),
                options: f.get(3).copied().unwrap_or("rw").into(),
            })
        })
        .collect()
}

impl FstabEntry {
    /// The option meanings this line's type selects: `md` runs mount_md,
    /// `mfs` runs mdmfs; other types attach no container.
    pub fn personality(&self) -> Option<Personality> {
        match self.fstype.as_str() {
            "md" => Some(Personality::MountMd),
            "mfs" => Some(Personality::Mdmfs),
            _ => None,
        }
    }

    /// The mount this line asks for, when it attaches a container.
    /// `None` for lines that are not md/mfs; an error for bad options.
    pub fn mount_spec(&self) -> Option<Result<MountSpec, String>> {
        let p = self.personality()?;
        if self.options.split(',').any(|o| o == "noauto") {
            return None;
        }
        let args = vec![
            "-o".to_string(),
            self.options.clone(),
            self.special.clone(),
            self.node.clone(),
        ];
        Some(parse(p, &args))
    }
}

/// A jail and where its fstab is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jail {
    /// Name.
    pub name: String,
    /// Root directory, when given.
    pub rootdir: Option<String>,
    /// The fstab file.
    pub fstab: Option<PathBuf>,
    /// rc.conf `jail_<name>_mount_enable` (jail.conf: always true).
    pub mount_enable: bool,
    /// Where it was defined.
    pub source: String,
}

/// rc.conf keys of a jail (the part after `jail_<name>_`), longest first
/// where one ends another.
const RC_KEYS: &[&str] = &[
    "devfs_enable",
    "devfs_ruleset",
    "fdescfs_enable",
    "procfs_enable",
    "mount_enable",
    "vnet_enable",
    "exec_start",
    "exec_afterstart0",
    "exec_stop",
    "exec_prestart0",
    "exec_poststop0",
    "parameters",
    "interface",
    "hostname",
    "rootdir",
    "fstab",
    "flags",
    "ip",
];

/// Unquotes an rc.conf value (`"x"`, `'x'` or bare, `#` comments off).
fn rc_value(v: &str) -> String {
    let v = v.trim();
    if let Some(r) = v.strip_prefix('"') {
        return r.split('"').next().unwrap_or("").to_string();
    }
    if let Some(r) = v.strip_prefix('\'') {
        return r.split('\'').next().unwrap_or("").to_string();
    }
    v.split('#').next().unwrap_or("").trim().to_string()
}

/// Reads rc.conf text: every jail with a `jail_<name>_*` variable. A jail
/// without `_fstab` gets FreeBSD's default `/etc/fstab.<name>`.
pub fn parse_rc_conf(text: &str, source: &str) -> Vec<Jail> {
    let mut vars: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for l in text.lines() {
        let l = l.trim();
        if l.starts_with('#') {
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let Some(rest) = k.trim().strip_prefix("jail_") else {
            continue;
        };
        let Some(key) = RC_KEYS
            .iter()
            .find(|key| rest.len() > key.len() + 1 && rest.ends_with(&format!("_{key}")))
        else {
            continue;
        };
        let name = &rest[..rest.len() - key.len() - 1];
        vars.entry(name.to_string())
            .or_default()
            .insert((*key).to_string(), rc_value(v));
    }
    vars.into_iter()
        .map(|(name, kv)| Jail {
            fstab: Some(kv.get("fstab").filter(|f| !f.is_empty()).map_or_else(
                || PathBuf::from(format!("/etc/fstab.{name}")),
                PathBuf::from,
            )),
            rootdir: kv.get("rootdir").cloned(),
            mount_enable: kv
                .get("mount_enable")
                .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
            source: format!("{source}: jail_{name}_*"),
            name,
        })
        .collect()
}

/// jail.conf tokens.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' || (c == '/' && b.get(i + 1) == Some(&'/')) {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && b.get(i + 1) == Some(&'*') {
            i += 2;
            while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '"' || c == '\'' {
            let mut s = String::from("\"");
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == '\\' && i + 1 < b.len() {
                    i += 1;
                }
                s.push(b[i]);
                i += 1;
            }
            i += 1;
            out.push(s);
        } else if "{};=".contains(c) || (c == '+' && b.get(i + 1) == Some(&'=')) {
            if c == '+' {
                out.push("+=".into());
                i += 2;
            } else {
                out.push(c.to_string());
                i += 1;
            }
        } else {
            let mut s = String::new();
            while i < b.len() && !b[i].is_whitespace() && !"{};=\"'".contains(b[i]) {
                if b[i] == '+' && b.get(i + 1) == Some(&'=') {
                    break;
                }
                s.push(b[i]);
                i += 1;
            }
            out.push(s);
        }
    }
    out
}

fn unq(t: &str) -> &str {
    t.strip_prefix('"').unwrap_or(t)
}

fn expand(v: &str, params: &BTreeMap<String, String>) -> String {
    let mut out = v.to_string();
    for (k, val) in params {
        out = out.replace(&format!("${{{k}}}"), val);
    }
    if let Some(n) = params.get("name") {
        out = out.replace("$name", n);
    }
    out
}

/// Reads jail.conf text: every jail block with (its own or the global)
/// `mount.fstab`, `$name`/`${name}` expanded.
pub fn parse_jail_conf(text: &str, source: &str) -> Result<Vec<Jail>, String> {
    let t = tokens(text);
    let mut global: BTreeMap<String, String> = BTreeMap::new();
    let mut jails = Vec::new();
    let mut i = 0;
    let mut block: Option<(String, BTreeMap<String, String>)> = None;
    while i < t.len() {
        let tok = &t[i];
        match tok.as_str() {
            ";" => i += 1,
            "}" => {
                let (name, own) = block
                    .take()
                    .ok_or_else(|| format!("{source}: unbalanced }}"))?;
                let mut p = global.clone();
                p.extend(own);
                p.insert("name".into(), name.clone());
                jails.push(Jail {
                    fstab: p.get("mount.fstab").map(|f| PathBuf::from(expand(f, &p))),
                    rootdir: p.get("path").map(|f| expand(f, &p)),
                    mount_enable: true,
                    source: format!("{source}: {name}"),
                    name,
                });
                i += 1;
            }
            _ => {
                let name = unq(tok).to_string();
                match t.get(i + 1).map(String::as_str) {
                    Some("{") => {
                        if block.is_some() {
                            return Err(format!("{source}: nested jail block {name}"));
                        }
                        block = Some((name, BTreeMap::new()));
                        i += 2;
                    }
                    Some("=") | Some("+=") => {
                        let v = t.get(i + 2).map(|v| unq(v).to_string()).unwrap_or_default();
                        let map = match &mut block {
                            Some((_, m)) => m,
                            None => &mut global,
                        };
                        map.insert(name, v);
                        i += 3;
                    }
                    _ => {
                        i += 1;
                    }
                }
            }
        }
    }
    if block.is_some() {
        return Err(format!("{source}: missing }}"));
    }
    Ok(jails)
}

/// A jail name from an fstab file name: `fstab.NAME` gives NAME.
pub fn name_from_fstab(p: &Path) -> String {
    let n = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    n.strip_prefix("fstab.").map(str::to_string).unwrap_or(n)
}
