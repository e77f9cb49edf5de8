//! The library's layers, checked from its source: every `crate::` path in
//! ufs/src (comments and `#[cfg(test)]` modules left out) is an edge from
//! the top-level module it is written in to the module it names, and no
//! module may name one of a higher layer, nor may modules form a cycle.
//! docs/design.md ("Layers of the library") describes the same table.
//!
//! A new module must be added to [`LAYERS`]; the test says so when it
//! finds one that is not there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first, with the top-level modules of each. A module
/// may use modules of its own layer and of lower ones.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "raw on-disk structures",
        &["ondisk", "units", "checkhash", "error", "timefmt", "edit"],
    ),
    ("I/O", &["io"]),
    (
        "validated model",
        &[
            "geometry",
            "superblock",
            "cg",
            "counts",
            "inode",
            "intent",
            "bmap",
            "dir",
            "xattr",
            "fs",
            "disk",
            "signature",
        ],
    ),
    (
        "allocation and write session",
        &["alloc", "session", "write", "populate", "evacuate"],
    ),
    (
        "newfs, fsck, growfs, shrink, tunefs, build",
        &["newfs", "fsck", "growfs", "shrink", "tunefs", "build"],
    ),
];

/// What the crate root (lib.rs) itself defines rather than re-exports:
/// the lowest layer.
const ROOT: &str = "(crate root)";

fn layer_of(module: &str) -> Option<usize> {
    if module == ROOT {
        return Some(0);
    }
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

/// Source without comments and without `#[cfg(test)]` modules (unit tests
/// may use anything).
fn code_of(src: &str) -> String {
    let mut out = String::new();
    let all: Vec<&str> = src.lines().collect();
    let mut in_block_comment = false;
    for (i, &line) in all.iter().enumerate() {
        let t = line.trim_start();
        // The module may carry more attributes (`#[allow(...)]`) first.
        let item = all[i + 1..]
            .iter()
            .map(|n| n.trim_start())
            .find(|n| !n.starts_with("#["));
        if t.starts_with("#[cfg(test)]") && item.is_some_and(|n| n.starts_with("mod ")) {
            // Unit tests sit at the end of a file.
            break;
        }
        if in_block_comment {
            if let Some(i) = line.find("*/") {
                in_block_comment = false;
                out.push_str(&line[i + 2..]);
                out.push('\n');
            }
            continue;
        }
        let mut l = line;
        if let Some(i) = l.find("/*") {
            if !l[i..].contains("*/") {
                in_block_comment = true;
            }
            l = &l[..i];
        }
        if let Some(i) = l.find("//") {
            l = &l[..i];
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first names after every `crate::` in `code`: `crate::io::Device`
/// gives `io`, `crate::{Endian, io::Device}` gives `Endian` and `io`.
fn crate_names(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before_ok = rest[..i].chars().next_back().is_none_or(|c| !is_ident(c));
        rest = &rest[i + "crate::".len()..];
        if !before_ok {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The top-level items of a use group: nested braces belong to
            // the item before them.
            let mut depth = 0;
            let mut items = vec![String::new()];
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => items.push(String::new()),
                    _ if depth == 0 => items.last_mut().expect("one item").push(c),
                    _ => {}
                }
            }
            for item in items {
                let name: String = item.trim().chars().take_while(|&c| is_ident(c)).collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// The crate root's modules, and for every name it re-exports (`pub use
/// fs::{Ufs, ...}`) the module it comes from.
fn root_table(lib_rs: &str) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let code = code_of(lib_rs);
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for stmt in code.split(';') {
        let s = stmt.split_whitespace().collect::<Vec<_>>().join(" ");
        let s = s.trim();
        if let Some(m) = s
            .strip_prefix("pub mod ")
            .or_else(|| s.strip_prefix("pub(crate) mod "))
            .or_else(|| s.strip_prefix("mod "))
        {
            modules.insert(m.trim().to_string());
        } else if let Some(u) = s.strip_prefix("pub use ") {
            let (module, items) = u.split_once("::").unwrap_or((u, ""));
            let items = items.trim_matches(|c| c == '{' || c == '}');
            for item in items.split(',') {
                // `a::B` and `B as C` export the last name given.
                let item = item.trim();
                let name = item.rsplit(" as ").next().unwrap_or(item);
                let name = name.rsplit("::").next().unwrap_or(name).trim();
                if !name.is_empty() {
                    reexports.insert(name.to_string(), module.trim().to_string());
                }
            }
        }
    }
    (modules, reexports)
}

/// The top-level module a source file belongs to (`fsck/pass1.rs` is in
/// `fsck`); `None` for lib.rs.
fn module_of(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    if first == "lib.rs" {
        return None;
    }
    Some(first.trim_end_matches(".rs").to_string())
}

/// Everything wrong with the layering of `files` (path below src, source).
fn problems(lib_rs: &str, files: &[(String, String)]) -> Vec<String> {
    let (modules, reexports) = root_table(lib_rs);
    let mut out = Vec::new();
    for m in &modules {
        if layer_of(m).is_none() {
            out.push(format!(
                "module `{m}` is not in the layer table: add it to LAYERS in \
                 ufs/tests/layers.rs (and to the layer list in docs/design.md)"
            ));
        }
    }
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, src) in files {
        let Some(from) = module_of(Path::new(rel)) else {
            continue;
        };
        for name in crate_names(&code_of(src)) {
            let to = if modules.contains(&name) {
                name
            } else if let Some(m) = reexports.get(&name) {
                m.clone()
            } else {
                ROOT.to_string()
            };
            if to == from {
                continue;
            }
            if let (Some(a), Some(b)) = (layer_of(&from), layer_of(&to)) {
                if b > a {
                    out.push(format!(
                        "{rel}: `{from}` ({}) uses `{to}`, which is in a higher layer ({})",
                        LAYERS[a].0, LAYERS[b].0
                    ));
                }
            }
            edges.entry(from.clone()).or_default().insert(to);
        }
    }
    out.extend(cycles(&edges));
    out
}

/// Every cycle among modules, once each (depth-first search).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        found: &mut Vec<String>,
    ) {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                0 => visit(m, edges, state, stack, found),
                1 => {
                    let at = stack.iter().position(|s| s == m).unwrap_or(0);
                    let mut ring = stack[at..].to_vec();
                    ring.push(m.clone());
                    found.push(format!("import cycle: {}", ring.join(" -> ")));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    let mut found = Vec::new();
    for n in edges.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            visit(n, edges, &mut state, &mut Vec::new(), &mut found);
        }
    }
    found
}

fn sources(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read ufs/src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            sources(&p, base, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p.strip_prefix(base).expect("below src");
            let src = std::fs::read_to_string(&p).expect("read source");
            out.push((rel.to_string_lossy().into_owned(), src));
        }
    }
}

#[test]
fn no_module_imports_a_higher_layer_and_there_are_no_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &src, &mut files);
    assert!(files.len() > 20, "found {} files", files.len());
    let lib_rs = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let found = problems(&lib_rs, &files);
    assert!(found.is_empty(), "layering problems:\n{}", found.join("\n"));
}

/// The checker finds what it is there to find.
#[test]
fn the_checker_sees_upward_imports_cycles_and_unknown_modules() {
    let lib = "//! docs\npub mod io;\npub mod fs;\npub mod session;\npub mod mystery;\n\
               pub use fs::{Ufs, OpenOptions};\npub use session::Session;\n";
    let f = |p: &str, s: &str| (p.to_string(), s.to_string());
    let files = vec![
        // io (I/O) naming the write session through the root re-export.
        f(
            "io/mod.rs",
            "use crate::Session;\nuse crate::{Endian, io::Device};\n",
        ),
        // fs -> session is upward; session -> fs is fine but closes a cycle.
        f(
            "fs.rs",
            "fn x() { let _ = crate::session::Session::new; }\n",
        ),
        f(
            "session.rs",
            "use crate::fs::Ufs;\n// crate::newfs in a comment\n",
        ),
        f(
            "write.rs",
            "use crate::fs::Ufs;\n#[cfg(test)]\n#[allow(clippy::unwrap_used)]\nmod tests {\n use crate::newfs;\n}\n",
        ),
    ];
    let p = problems(lib, &files);
    let has = |s: &str| p.iter().any(|x| x.contains(s));
    assert!(has("module `mystery` is not in the layer table"), "{p:#?}");
    assert!(has("io/mod.rs: `io` (I/O) uses `session`"), "{p:#?}");
    assert!(
        has("fs.rs: `fs` (validated model) uses `session`"),
        "{p:#?}"
    );
    assert!(has("import cycle: "), "{p:#?}");
    // Comments, unit tests and the crate root's own items are no edges.
    assert!(!p.iter().any(|x| x.contains("newfs")), "{p:#?}");
    assert!(!p.iter().any(|x| x.contains("(crate root)")), "{p:#?}");
    assert_eq!(
        crate_names("use crate::{Endian, io::{self, Device}, units::Ino};"),
        ["Endian", "io", "units"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}
