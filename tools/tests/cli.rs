//! The read-side subcommands of the `ufs` binary, run as a user would run
//! them, checked against what FreeBSD and the Linux kernel say about the
//! same images:
//!
//! * `info --dumpfs` against FreeBSD 12.1 `dumpfs` output, byte for byte;
//!   `info`, `info --json` and `info --cg N` against the numbers in it;
//! * `ls -lR`, `stat`, `cat`, `readlink` against the manifests recorded by
//!   the Linux kernel's ufs driver (tests/images/README.md);
//! * failures: one line on stderr naming the image (and path), exit status
//!   1, never a panic; usage errors exit 2.

mod common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Every FreeBSD-made image with the `dumpfs` output of its own bytes (the
/// `.cmd` files record the sha256 of the image dumpfs read).
fn dumpfs_pairs() -> Vec<(String, String)> {
    let mut v = Vec::new();
    for sub in ["freebsd", "populated"] {
        for txt in list(sub, ".dumpfs.txt") {
            let img = txt.replace(".dumpfs.txt", ".img.zst");
            assert!(images_dir().join(&img).is_file(), "{txt} has no {img}");
            v.push((img, txt));
        }
    }
    assert!(
        v.len() >= 12,
        "expected the 8 freebsd + 4 populated images, found {v:?}"
    );
    v
}

fn read_text(rel: &str) -> String {
    std::fs::read_to_string(images_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The part of a dumpfs text before the per-group sections, and each
/// group's section (from its blank line to the next).
fn split_dumpfs(text: &str) -> (String, Vec<String>) {
    let mut parts = text.split("\ncg ");
    let head = parts.next().expect("head").to_string();
    let groups = parts.map(|p| format!("\ncg {p}")).collect::<Vec<_>>();
    // Every section but the last ends with the blank line that separates it
    // from the next, which split() took; put it back.
    let n = groups.len();
    let groups = groups
        .into_iter()
        .enumerate()
        .map(|(i, g)| if i + 1 < n { format!("{g}\n") } else { g })
        .collect();
    (head, groups)
}

/// `key value` pairs of dumpfs's superblock part (first occurrence wins).
fn dumpfs_fields(head: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for line in head.lines() {
        if line.starts_with("cs[]") {
            break;
        }
        let toks: Vec<&str> = line.split(['\t', ' ']).filter(|t| !t.is_empty()).collect();
        for w in toks.windows(2) {
            m.entry(w[0].to_string())
                .or_insert_with(|| w[1].to_string());
        }
        if let Some(i) = toks.iter().position(|t| *t == "id") {
            // id [ a b ]
            m.insert("id0".into(), toks[i + 2].into());
            m.insert("id1".into(), toks[i + 3].into());
        }
        for key in ["fsmnt", "volname"] {
            if let Some(rest) = line.strip_prefix(key).and_then(|r| r.strip_prefix('\t')) {
                m.insert(key.into(), rest.split('\t').next().unwrap_or("").into());
            }
        }
    }
    m
}

/// ctime(3) text (`Sun Nov 29 14:30:27 2026`, UTC) to seconds.
fn parse_ctime(s: &str) -> i64 {
    let t: Vec<&str> = s.split_whitespace().collect();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = months.iter().position(|x| *x == t[1]).expect("month") + 1;
    parse_time(&format!("{}-{m}-{}", t[4], t[2]), t[3])
}

#[test]
fn dumpfs_output_is_freebsd_dumpfs_for_every_freebsd_made_image() {
    for (img, txt) in dumpfs_pairs() {
        let i = unpack(&img);
        let got = ufs_ok(["info".as_ref(), "--dumpfs".as_ref(), i.path.as_os_str()]);
        assert_same(
            &format!("ufs info --dumpfs {img} vs {txt}"),
            &read_text(&txt),
            &got,
        );
    }
}

/// `info --cg N` prints dumpfs's section for group N; `--dumpfs --cg N`
/// prints the superblock part and only that group.
#[test]
fn info_cg_prints_dumpfs_group_sections() {
    for (img, txt) in dumpfs_pairs() {
        let i = unpack(&img);
        let (head, groups) = split_dumpfs(&read_text(&txt));
        assert!(!groups.is_empty(), "{txt}: no groups");
        for (n, want) in groups.iter().enumerate() {
            let n = n.to_string();
            let got = ufs_ok(["info", "--cg", &n, i.path.to_str().expect("utf8")]);
            // The last section has no blank line after it.
            assert_same(&format!("{img} --cg {n}"), want.trim_end(), got.trim_end());
            let got = ufs_ok([
                "info",
                "--dumpfs",
                "--cg",
                &n,
                i.path.to_str().expect("utf8"),
            ]);
            let want_all = format!("{head}{}", want.trim_end());
            assert_same(
                &format!("{img} --dumpfs --cg {n}"),
                &want_all,
                got.trim_end(),
            );
        }
        // One past the last group is an error naming the image.
        let out = ufs([
            "info",
            "--cg",
            &groups.len().to_string(),
            i.path.to_str().expect("utf8"),
        ]);
        assert_eq!(out.status.code(), Some(1), "{img}: --cg past the end");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(i.path.to_str().expect("utf8")), "{err}");
    }
}

/// `info --json` (and `--json --cg N`) give the numbers FreeBSD's dumpfs
/// printed for the same image.
#[test]
fn info_json_agrees_with_freebsd_dumpfs() {
    for (img, txt) in dumpfs_pairs() {
        let i = unpack(&img);
        let text = read_text(&txt);
        let (head, groups) = split_dumpfs(&text);
        let d = dumpfs_fields(&head);
        let j: Value = serde_json::from_str(&ufs_ok([
            "info".as_ref(),
            "--json".as_ref(),
            i.path.as_os_str(),
        ]))
        .unwrap_or_else(|e| panic!("{img}: --json is not JSON: {e}"));
        let num = |k: &str| -> i64 {
            d.get(k)
                .unwrap_or_else(|| panic!("{txt}: no {k}"))
                .trim_end_matches('%')
                .parse()
                .unwrap_or_else(|e| panic!("{txt}: {k}: {e}"))
        };
        let ufs2 = head.contains("(UFS2)");
        let ctx = format!("{img} --json vs {txt}");
        assert_eq!(j["format"], if ufs2 { "UFS2" } else { "UFS1" }, "{ctx}");
        assert_eq!(j["endian"], "little", "{ctx}");
        for (jk, dk) in [
            ("ncg", "ncg"),
            ("size_frags", "size"),
            ("dsize_frags", "blocks"),
            ("bsize", "bsize"),
            ("fsize", "fsize"),
            ("frag", "frag"),
            ("fpg", "fpg"),
            ("ipg", "ipg"),
            ("minfree", "minfree"),
        ] {
            assert_eq!(j[jk].as_i64(), Some(num(dk)), "{ctx}: {jk} (dumpfs {dk})");
        }
        for k in ["ndir", "nbfree", "nifree", "nffree"] {
            assert_eq!(j["free"][k].as_i64(), Some(num(k)), "{ctx}: free.{k}");
        }
        assert_eq!(
            j["inodes"].as_i64(),
            Some(num("ncg") * num("ipg")),
            "{ctx}: inodes"
        );
        assert_eq!(
            j["size_bytes"].as_i64(),
            Some(num("size") * num("fsize")),
            "{ctx}"
        );
        assert_eq!(
            j["optim"].as_str(),
            d.get("optim").map(String::as_str),
            "{ctx}: optim"
        );
        assert_eq!(
            j["fsmnt"].as_str(),
            d.get("fsmnt").map(String::as_str),
            "{ctx}: fsmnt"
        );
        assert_eq!(
            j["volname"].as_str(),
            d.get("volname").map(String::as_str),
            "{ctx}: volname"
        );
        let id: Vec<u64> = ["id0", "id1"]
            .iter()
            .map(|k| u64::from_str_radix(&d[*k], 16).expect("hex id"))
            .collect();
        assert_eq!(j["id"], serde_json::json!(id), "{ctx}: id");
        let time_line = head.lines().next().expect("magic line");
        let t = parse_ctime(time_line.split("time\t").nth(1).expect("time"));
        assert_eq!(j["time"].as_i64(), Some(t), "{ctx}: time ({time_line})");
        if ufs2 {
            assert_eq!(
                j["superblock_location"].as_i64(),
                Some(num("location")),
                "{ctx}"
            );
        }
        let flags = head
            .lines()
            .find(|l| l.starts_with("flags"))
            .expect("flags line");
        assert_eq!(
            j["soft_updates"].as_bool(),
            Some(flags.contains("soft-updates")),
            "{ctx}: {flags}"
        );
        assert_eq!(
            j["journal"].as_bool(),
            Some(flags.contains("journal")),
            "{ctx}: {flags}"
        );
        let ck = head.lines().find(|l| l.starts_with("check hashes"));
        let want_ck: Vec<&str> = ck
            .map(|l| l["check hashes".len()..].split_whitespace().collect())
            .unwrap_or_default();
        let got_ck: Vec<&str> = j["check_hashes"]
            .as_array()
            .expect("check_hashes")
            .iter()
            .map(|v| v.as_str().expect("str"))
            .collect();
        assert_eq!(got_ck, want_ck, "{ctx}: check hashes");
        assert_eq!(
            j["backups_sectors"].as_array().map(Vec::len),
            Some(groups.len()),
            "{ctx}"
        );

        // Per group: the counts, fragment summary and maps.
        for (n, sec) in groups.iter().enumerate() {
            let g: Value = serde_json::from_str(&ufs_ok([
                "info",
                "--json",
                "--cg",
                &n.to_string(),
                i.path.to_str().expect("utf8"),
            ]))
            .expect("cg json");
            let gd = dumpfs_fields(sec);
            let ctx = format!("{ctx}: cg {n}");
            assert_eq!(g["cg"].as_u64(), Some(n as u64), "{ctx}");
            for k in ["ndir", "nbfree", "nifree", "nffree", "ndblk", "niblk"] {
                assert_eq!(g[k].to_string(), gd[k], "{ctx}: {k}");
            }
            let frsum_line = sec.lines().find(|l| l.starts_with("frsum")).expect("frsum");
            let want: Vec<i64> = frsum_line
                .split('\t')
                .skip(1)
                .map(|x| x.parse().expect("frsum"))
                .collect();
            let got: Vec<i64> = g["frsum"].as_array().expect("frsum")[1..]
                .iter()
                .map(|v| v.as_i64().expect("int"))
                .collect();
            assert_eq!(got, want, "{ctx}: frsum[1..frag]");
            // dumpfs wraps its range lists six to a line.
            let map = |label: &str| -> String {
                let start = sec
                    .find(label)
                    .unwrap_or_else(|| panic!("{ctx}: no {label}"));
                let rest = &sec[start + label.len()..];
                let mut s = String::new();
                for (k, l) in rest.lines().enumerate() {
                    if k > 0 && !l.starts_with('\t') {
                        break;
                    }
                    s.push_str(if k == 0 { l } else { &l[1..] });
                    if l.ends_with(',') {
                        s.push(' ');
                    }
                }
                s.trim().to_string()
            };
            assert_eq!(
                g["inodes_used"].as_str(),
                Some(map("inodes used:").as_str()),
                "{ctx}"
            );
            assert_eq!(
                g["frags_free"].as_str(),
                Some(map("blks free:").as_str()),
                "{ctx}"
            );
        }
    }
}

/// The plain summary says what `--json` says, for FreeBSD images of both
/// versions and both byte orders.
#[test]
fn info_summary_matches_json() {
    let mut imgs: Vec<String> = dumpfs_pairs().into_iter().map(|(i, _)| i).collect();
    imgs.push("real/ufs-little.img.zst".into());
    imgs.push("real/ufs-big.img.zst".into());
    for img in imgs {
        let i = unpack(&img);
        let p = i.path.to_str().expect("utf8");
        let j: Value = serde_json::from_str(&ufs_ok(["info", "--json", p])).expect("json");
        let s = ufs_ok(["info", p]);
        let field = |label: &str| -> String {
            s.lines()
                .find_map(|l| l.strip_prefix(label).map(|r| r.trim().to_string()))
                .unwrap_or_else(|| panic!("{img}: no `{label}` in\n{s}"))
        };
        let ctx = format!("{img}: summary\n{s}");
        assert_eq!(field("image:"), p, "{ctx}");
        assert_eq!(
            field("format:"),
            format!(
                "{} ({}-endian)",
                j["format"].as_str().expect("format"),
                j["endian"].as_str().expect("endian")
            ),
            "{ctx}"
        );
        assert_eq!(
            field("superblock at:"),
            format!("byte {}", j["superblock_location"]),
            "{ctx}"
        );
        assert_eq!(field("block size:"), j["bsize"].to_string(), "{ctx}");
        assert_eq!(field("fragment size:"), j["fsize"].to_string(), "{ctx}");
        assert_eq!(
            field("size:"),
            format!("{} fragments ({} bytes)", j["size_frags"], j["size_bytes"]),
            "{ctx}"
        );
        assert_eq!(
            field("cylinder groups:"),
            format!(
                "{} of {} fragments, {} inodes each",
                j["ncg"], j["fpg"], j["ipg"]
            ),
            "{ctx}"
        );
        let f = &j["free"];
        assert_eq!(
            field("free:"),
            format!(
                "{} blocks, {} fragments, {} inodes; {} directories",
                f["nbfree"], f["nffree"], f["nifree"], f["ndir"]
            ),
            "{ctx}"
        );
        let backups: Vec<String> = j["backups_sectors"]
            .as_array()
            .expect("backups")
            .iter()
            .map(Value::to_string)
            .collect();
        assert_eq!(
            field("superblock backups (512-byte sectors, for fsck -b):"),
            backups.join(", "),
            "{ctx}"
        );
    }
    // What the README of the real images says about them.
    for (img, endian) in [
        ("real/ufs-little.img.zst", "little"),
        ("real/ufs-big.img.zst", "big"),
    ] {
        let i = unpack(img);
        let s = ufs_ok(["info".as_ref(), i.path.as_os_str()]);
        assert!(
            s.contains(&format!("format:             UFS2 ({endian}-endian)\n")),
            "{img}:\n{s}"
        );
        assert!(
            s.contains("check hashes:       superblock cylinder-groups inodes\n"),
            "{img}:\n{s}"
        );
        assert!(
            s.contains("flags:              soft-updates check-hashes\n"),
            "{img}:\n{s}"
        );
    }
}

/// One parsed `ufs ls -l` line.
#[derive(Debug)]
struct LsLine {
    ino: Option<u32>,
    mode: String,
    nlink: u32,
    uid: u32,
    gid: u32,
    size: String,
    mtime: i64,
    name: String,
    target: Option<String>,
}

fn tok(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(' ');
    match s.find(' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

fn parse_ls_l(line: &str, with_ino: bool) -> LsLine {
    let mut rest = line;
    let mut ino = None;
    if with_ino {
        let (i, r) = tok(rest);
        ino = Some(i.parse().unwrap_or_else(|e| panic!("{line:?}: inode: {e}")));
        rest = r;
    }
    let (mode, r) = tok(rest);
    let (nlink, r) = tok(r);
    let (uid, r) = tok(r);
    let (gid, r) = tok(r);
    let (mut size, mut r) = tok(r);
    let size_s;
    if mode.starts_with('c') || mode.starts_with('b') {
        let (minor, r2) = tok(r);
        size_s = format!("{size} {minor}");
        size = &size_s;
        r = r2;
    }
    let (date, r) = tok(r);
    let (time, name) = tok(r);
    let (name, target) = if mode.starts_with('l') {
        let (n, t) = name
            .split_once(" -> ")
            .unwrap_or_else(|| panic!("{line:?}: no ->"));
        (n.to_string(), Some(t.to_string()))
    } else {
        (name.to_string(), None)
    };
    LsLine {
        ino,
        mode: mode.into(),
        nlink: nlink
            .parse()
            .unwrap_or_else(|e| panic!("{line:?}: nlink: {e}")),
        uid: uid.parse().unwrap_or_else(|e| panic!("{line:?}: uid: {e}")),
        gid: gid.parse().unwrap_or_else(|e| panic!("{line:?}: gid: {e}")),
        size: size.to_string(),
        mtime: parse_time(date, time),
        name,
        target,
    }
}

/// `ls -l`'s mode string for a manifest entry.
fn mode_string(e: &Entry) -> String {
    let t = match e.kind.as_str() {
        "dir" => 'd',
        "file" => '-',
        "symlink" => 'l',
        "fifo" => 'p',
        "chardev" => 'c',
        "blockdev" => 'b',
        "socket" => 's',
        k => panic!("type {k}"),
    };
    let m = e.mode;
    let mut s = String::from(t);
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        let bit = 0o400 >> i;
        let set = m & bit != 0;
        let special = match i {
            2 => Some((0o4000, 's', 'S')),
            5 => Some((0o2000, 's', 'S')),
            8 => Some((0o1000, 't', 'T')),
            _ => None,
        };
        s.push(match special {
            Some((sb, lo, up)) if m & sb != 0 => {
                if set {
                    lo
                } else {
                    up
                }
            }
            _ if set => c,
            _ => '-',
        });
    }
    s
}

/// `ufs ls -lR` as a manifest-like map: path (relative) to its line.
fn ls_lr(img: &std::path::Path) -> BTreeMap<String, LsLine> {
    let out = ufs_ok([
        "ls".as_ref(),
        "-l".as_ref(),
        "-R".as_ref(),
        "-i".as_ref(),
        img.as_os_str(),
    ]);
    let mut m = BTreeMap::new();
    let mut dir: Option<String> = None;
    for line in out.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(d) = line.strip_suffix(':').filter(|d| d.starts_with('/')) {
            dir = Some(d.trim_start_matches('/').to_string());
            continue;
        }
        let l = parse_ls_l(line, true);
        let d = dir
            .as_deref()
            .unwrap_or_else(|| panic!("entry before a header: {line}"));
        let path = if d.is_empty() {
            l.name.clone()
        } else {
            format!("{d}/{}", l.name)
        };
        assert!(m.insert(path.clone(), l).is_none(), "{path} listed twice");
    }
    m
}

/// Every entry of the kernel's manifest appears in `ufs ls -lR` with the
/// same type, mode, link count, owner, size, time and symlink target, and
/// nothing else does.
#[test]
fn ls_lr_matches_the_kernel_manifests() {
    let cases = [
        ("real/ufs-little.img.zst", "real/ufs-little.img.manifest"),
        ("real/ufs-big.img.zst", "real/ufs-big.img.manifest"),
        ("ref/ufs1-le.img.zst", "ref/tree.manifest"),
        ("ref/ufs1-be.img.zst", "ref/tree.manifest"),
        ("ref/ufs2-be.img.zst", "ref/tree.manifest"),
        ("ref/ufs2-le-b4096.img.zst", "ref/tree.manifest"),
    ];
    for (img, man) in cases {
        let i = unpack(img);
        let got = ls_lr(&i.path);
        let want = parse_manifest(&read_manifest(man));
        let want_paths: Vec<&str> = want
            .iter()
            .filter(|e| e.path != ".")
            .map(|e| e.path.as_str())
            .collect();
        let got_paths: Vec<&str> = got.keys().map(String::as_str).collect();
        let mut sorted = want_paths.clone();
        sorted.sort_unstable();
        assert_same(
            &format!("{img}: paths of ls -lR vs {man}"),
            &sorted.join("\n"),
            &got_paths.join("\n"),
        );
        for e in want.iter().filter(|e| e.path != ".") {
            let l = &got[&e.path];
            let ctx = format!("{img}: {} ls {l:?} vs manifest {e:?}", e.path);
            assert_eq!(l.mode, mode_string(e), "{ctx}");
            assert_eq!(
                (l.nlink, l.uid, l.gid, l.mtime),
                (e.nlink, e.uid, e.gid, e.mtime),
                "{ctx}"
            );
            match e.kind.as_str() {
                "chardev" | "blockdev" => assert_eq!(l.size.replace(' ', ""), e.content, "{ctx}"),
                "dir" => {}
                _ => assert_eq!(Some(l.size.parse::<u64>().expect("size")), e.size, "{ctx}"),
            }
            if e.kind == "symlink" {
                assert_eq!(l.target.as_deref(), Some(e.content.as_str()), "{ctx}");
            }
        }
    }
}

/// `ls` without -l, with -a, of a file, and of `#INO`.
#[test]
fn ls_short_all_file_and_inode_forms() {
    let i = unpack("real/ufs-little.img.zst");
    let p = i.path.to_str().expect("utf8");
    let names = "\
.snap\ndir1\nfile1\nfile3\nlink1\nlong-link\nsparse\nsparse2\nsparse3\nxattrs\nxattrs2\nxattrs3\n";
    assert_same("ls /", names, &ufs_ok(["ls", p]));
    assert_same(
        "ls -a /",
        &format!(".\n..\n{names}"),
        &ufs_ok(["ls", "-a", p]),
    );
    assert_same("ls #2", names, &ufs_ok(["ls", p, "#2"]));
    assert_same("ls /dir1/dir2", "dir3\n", &ufs_ok(["ls", p, "/dir1/dir2"]));
    let l = parse_ls_l(ufs_ok(["ls", "-l", "-i", p, "/file1"]).trim_end(), true);
    assert_eq!(
        (l.name.as_str(), l.size.as_str(), l.ino),
        ("/file1", "23", Some(4)),
        "{l:?}"
    );
    // ls follows a symlink to a directory? link1 points at a file: listed as that file.
    let l = parse_ls_l(ufs_ok(["ls", "-l", p, "/link1"]).trim_end(), false);
    assert_eq!(
        (l.mode.as_str(), l.size.as_str()),
        ("-rw-r--r--", "12"),
        "{l:?}"
    );
}

/// `stat` of every entry of the real images agrees with the kernel's view;
/// the extended attributes the kernel cannot show are there.
#[test]
fn stat_of_real_images() {
    for img in ["real/ufs-little.img.zst", "real/ufs-big.img.zst"] {
        let i = unpack(img);
        let p = i.path.to_str().expect("utf8");
        let man = parse_manifest(&read_manifest(&img.replace(".zst", ".manifest")));
        for e in &man {
            let path = if e.path == "." {
                "/".to_string()
            } else {
                format!("/{}", e.path)
            };
            let j: Value =
                serde_json::from_str(&ufs_ok(["stat", "--json", p, &path])).expect("json");
            let ctx = format!("{img}: stat --json {path}: {j}");
            assert_eq!(
                j["mode"].as_u64().map(|m| m & 0o7777),
                Some(u64::from(e.mode)),
                "{ctx}"
            );
            assert_eq!(j["uid"].as_u64(), Some(u64::from(e.uid)), "{ctx}");
            assert_eq!(j["gid"].as_u64(), Some(u64::from(e.gid)), "{ctx}");
            assert_eq!(j["nlink"].as_u64(), Some(u64::from(e.nlink)), "{ctx}");
            assert_eq!(j["mtime"]["sec"].as_i64(), Some(e.mtime), "{ctx}");
            if let Some(size) = e.size {
                assert_eq!(j["size"].as_u64(), Some(size), "{ctx}");
            }
            let t = match e.kind.as_str() {
                "dir" => "Directory",
                "file" => "Regular",
                "symlink" => "Symlink",
                k => panic!("{k}"),
            };
            assert_eq!(j["type"], t, "{ctx}");
            let text = ufs_ok(["stat", p, &path]);
            assert!(
                text.contains(&format!("size:        {}\n", j["size"])),
                "{ctx}\n{text}"
            );
            assert!(
                text.contains(&format!("inode:       {}\n", j["ino"])),
                "{ctx}\n{text}"
            );
            if e.kind == "symlink" {
                assert!(
                    text.contains(&format!("target:      {} (in ", e.content)),
                    "{ctx}\n{text}"
                );
            }
        }
        // stat does not follow a final symlink: link1 itself, in the inode.
        let s = ufs_ok(["stat", p, "/link1"]);
        assert!(s.contains("type:        Symlink\n"), "{s}");
        assert!(
            s.contains("target:      dir1/dir2/dir3/file2 (in inode)\n"),
            "{s}"
        );
        let s = ufs_ok(["stat", p, "/long-link"]);
        assert!(s.contains(" (in block)\n"), "{s}");
        // Extended attributes, text and JSON.
        let s = ufs_ok(["stat", p, "/xattrs"]);
        let x: Vec<&str> = s.lines().filter(|l| l.starts_with("xattr:")).collect();
        assert_eq!(x, ["xattr:       user.test = \"testvalue\""], "{img}:\n{s}");
        let j: Value =
            serde_json::from_str(&ufs_ok(["stat", "--json", p, "/xattrs"])).expect("json");
        assert_eq!(
            j["xattrs"],
            serde_json::json!([{"namespace": "user", "name": "test", "size": 9, "value": "testvalue"}]),
            "{img}"
        );
        let s = ufs_ok(["stat", p, "/xattrs2"]);
        let x: Vec<&str> = s.lines().filter(|l| l.starts_with("xattr:")).collect();
        assert_eq!(x.len(), 2297, "{img}: xattrs2");
        assert!(
            x.contains(&"xattr:       user.attr2296 = \"value2296\""),
            "{img}"
        );
        let s = ufs_ok(["stat", p, "/xattrs3"]);
        let x: Vec<&str> = s.lines().filter(|l| l.starts_with("xattr:")).collect();
        assert_eq!(x, ["xattr:       user.big = <63999 bytes>"], "{img}");
        // Triple indirect: the block list names all three levels.
        let s = ufs_ok(["stat", p, "/sparse3"]);
        for level in 1..=3 {
            assert!(
                s.contains(&format!("block:       indirect level {level} ")),
                "{img}: level {level}\n{s}"
            );
        }
        // #INO addresses an inode directly.
        let s = ufs_ok(["stat", p, "#2"]);
        assert!(
            s.starts_with("inode:       2\ntype:        Directory\n"),
            "{s}"
        );
    }
    // Device numbers of the ref images (UFS1 and UFS2).
    for img in ["ref/ufs1-be.img.zst", "ref/ufs2-le.img.zst"] {
        let i = unpack(img);
        let p = i.path.to_str().expect("utf8");
        let s = ufs_ok(["stat", p, "/special/char-1-3"]);
        assert!(
            s.contains("type:        CharDevice\n") && s.contains("device:      1, 3 "),
            "{img}:\n{s}"
        );
        let s = ufs_ok(["stat", p, "/special/block-8-1"]);
        assert!(s.contains("device:      8, 1 "), "{img}:\n{s}");
    }
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `cat` of every regular file (up to 4 GiB) hashes to the kernel's
/// sha256; symlinks are followed inside the image.
#[test]
fn cat_matches_the_kernel_manifests() {
    let cases = [
        ("real/ufs-little.img.zst", "real/ufs-little.img.manifest"),
        ("real/ufs-big.img.zst", "real/ufs-big.img.manifest"),
        ("ref/ufs1-le-b4096.img.zst", "ref/tree.manifest"),
        ("ref/ufs2-be.img.zst", "ref/tree.manifest"),
    ];
    for (img, man) in cases {
        let i = unpack(img);
        let mut n = 0;
        for e in parse_manifest(&read_manifest(man)) {
            // 2,000 five-byte files in many/: two of them are enough here
            // (extract and mtree read them all in interop.rs).
            if e.kind != "file"
                || e.content.starts_with("partial:")
                || (e.path.starts_with("many/f")
                    && !matches!(e.path.as_str(), "many/f0000" | "many/f1999"))
            {
                continue;
            }
            let out = ufs([
                "cat".as_ref(),
                i.path.as_os_str(),
                format!("/{}", e.path).as_ref(),
            ]);
            assert!(
                out.status.success(),
                "{img}: cat {}: {}",
                e.path,
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                out.stdout.len() as u64,
                e.size.expect("size"),
                "{img}: cat {}",
                e.path
            );
            assert_eq!(sha256_hex(&out.stdout), e.content, "{img}: cat {}", e.path);
            n += 1;
        }
        assert!(n >= 8, "{img}: only {n} files checked");
    }
    let i = unpack("real/ufs-little.img.zst");
    let p = i.path.to_str().expect("utf8");
    assert_eq!(ufs_ok(["cat", p, "/link1"]), "Hello World\n");
    assert_eq!(
        ufs_ok(["cat", p, "/long-link"]),
        ufs_ok(["cat", p, "/file1"])
    );
    assert_eq!(ufs_ok(["cat", p, "#4"]), ufs_ok(["cat", p, "/file1"]));
}

/// `readlink` prints every symlink's target (fast and slow, UFS1 and UFS2).
#[test]
fn readlink_matches_the_kernel_manifests() {
    for (img, man) in [
        ("real/ufs-big.img.zst", "real/ufs-big.img.manifest"),
        ("ref/ufs1-le.img.zst", "ref/tree.manifest"),
        ("ref/ufs2-le-b4096.img.zst", "ref/tree.manifest"),
    ] {
        let i = unpack(img);
        let links: Vec<Entry> = parse_manifest(&read_manifest(man))
            .into_iter()
            .filter(|e| e.kind == "symlink")
            .collect();
        assert!(links.len() >= 2, "{man}");
        for e in links {
            let got = ufs_ok([
                "readlink".as_ref(),
                i.path.as_os_str(),
                format!("/{}", e.path).as_ref(),
            ]);
            assert_eq!(
                got,
                format!("{}\n", e.content),
                "{img}: readlink {}",
                e.path
            );
        }
    }
}

/// Runs a command expected to fail on the image: status 1, nothing on
/// stdout, exactly one line on stderr naming `names` (image, path).
#[track_caller]
fn assert_fails(args: &[&str], names: &[&str]) {
    let out = ufs(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "ufs {args:?}: status; stderr:\n{err}"
    );
    assert_eq!(
        err.lines().count(),
        1,
        "ufs {args:?}: want one line on stderr, got:\n{err}"
    );
    assert!(err.starts_with("ufs: "), "ufs {args:?}: {err}");
    for n in names {
        assert!(
            err.contains(n),
            "ufs {args:?}: stderr does not name {n:?}: {err}"
        );
    }
    assert!(
        out.stdout.is_empty(),
        "ufs {args:?}: stdout {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Every read subcommand, on every kind of bad image.
#[test]
fn bad_images_fail_with_one_line_naming_the_image() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let real = unpack("real/ufs-little.img.zst");
    let data = std::fs::read(&real.path).expect("read");
    let half = d.join("half.img");
    std::fs::write(&half, &data[..data.len() / 2]).expect("write");
    // A superblock that survives, the rest of the image gone: cut just
    // after the first superblock.
    let sbcut = d.join("sb-only.img");
    std::fs::write(&sbcut, &data[..65536 + 8192]).expect("write");
    let zeros = d.join("zeros.img");
    std::fs::write(&zeros, vec![0u8; 1 << 20]).expect("write");
    let noise = d.join("noise.img");
    let mut x: u32 = 12345;
    let bytes: Vec<u8> = (0..(4 << 20))
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    std::fs::write(&noise, bytes).expect("write");
    let empty = d.join("empty.img");
    std::fs::write(&empty, b"").expect("write");
    let text = d.join("notes.txt");
    std::fs::write(&text, b"not a file system\n").expect("write");
    let missing = d.join("missing.img");
    let subdir = d.join("a-directory");
    std::fs::create_dir(&subdir).expect("mkdir");
    let dest = d.join("dest");

    for img in [
        &missing, &half, &sbcut, &zeros, &noise, &empty, &text, &subdir,
    ] {
        let p = img.to_str().expect("utf8");
        let dst = dest.to_str().expect("utf8");
        for args in [
            vec!["info", p],
            vec!["info", "--json", p],
            vec!["info", "--dumpfs", p],
            vec!["info", "--cg", "0", p],
            vec!["ls", "-lR", p],
            vec!["stat", p, "/file1"],
            vec!["cat", p, "/file1"],
            vec!["readlink", p, "/link1"],
            vec!["extract", p, dst],
            vec!["mtree", p],
        ] {
            assert_fails(&args, &[p]);
        }
        assert!(!dest.exists(), "extract of {p} created the destination");
    }
}

/// Bad paths in a good image: status 1, one line naming image and path.
#[test]
fn bad_paths_fail_with_one_line_naming_image_and_path() {
    let i = unpack("real/ufs-big.img.zst");
    let p = i.path.to_str().expect("utf8");
    let dest = i.dir.path().join("dest");
    let dst = dest.to_str().expect("utf8");
    for (args, path) in [
        (vec!["ls", p, "/nope"], "/nope"),
        (
            vec!["ls", "-l", p, "/file1/below-a-file"],
            "/file1/below-a-file",
        ),
        (vec!["ls", p, "#99999"], "#99999"),
        (vec!["ls", p, "#x"], "#x"),
        (vec!["stat", p, "/dir1/nope"], "/dir1/nope"),
        (vec!["stat", p, "#1000000"], "#1000000"),
        (vec!["cat", p, "/nope"], "/nope"),
        (vec!["cat", p, "/dir1"], "/dir1"),
        (vec!["cat", p, "/link1/x"], "/link1/x"),
        (vec!["readlink", p, "/file1"], "/file1"),
        (vec!["readlink", p, "/nope"], "/nope"),
        (vec!["mtree", p, "/nope"], "/nope"),
        (vec!["mtree", p, "/file1"], "/file1"),
        (vec!["extract", p, dst, "/nope"], "/nope"),
    ] {
        assert_fails(&args, &[p, path]);
    }
    assert!(
        !dest.exists(),
        "a failed extract created {}",
        dest.display()
    );
}

/// Usage errors exit 2 (clap's convention) without touching the image.
#[test]
fn usage_errors_exit_2() {
    let i = unpack("real/ufs-little.img.zst");
    let p = i.path.to_str().expect("utf8");
    for args in [
        vec![],
        vec!["bogus"],
        vec!["info"],
        vec!["info", "--cg", "x", p],
        vec!["info", "--cg", "-1", p],
        vec!["info", "--dumpfs", "--json", p],
        vec!["ls", "--nope", p],
        vec!["cat", p],
        vec!["readlink", p],
        vec!["stat", p],
        vec!["extract", p],
        vec!["info", p, "extra"],
    ] {
        let out = ufs(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "ufs {args:?}: {err}");
        assert!(!err.is_empty(), "ufs {args:?}: no message");
        assert!(out.stdout.is_empty(), "ufs {args:?}: stdout");
    }
    // --help and --version are not errors.
    for args in [vec!["--help"], vec!["--version"], vec!["info", "--help"]] {
        let out = ufs(&args);
        assert_eq!(out.status.code(), Some(0), "ufs {args:?}");
        assert!(!out.stdout.is_empty(), "ufs {args:?}");
    }
}
