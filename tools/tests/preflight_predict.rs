//! preflight predicts by doing (issue 14, item 4): the repair a boot would
//! run is tried on an in-memory overlay, and what it does to the tree is
//! what `ufs fsck -y` on a copy really does — whatever the repair engine
//! does today. Text and `--json`.

mod common;

use common::{ufs, ufs_ok, unpack_to};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

struct Case {
    _t: tempfile::TempDir,
    dir: PathBuf,
    img: PathBuf,
    fstab: PathBuf,
}

/// `populated/NAME.img.zst` as a jail container with `-T` (fsck -y at boot).
fn container(name: &str) -> Case {
    let t = tempfile::tempdir().expect("tmp");
    let dir = t.path().to_path_buf();
    let img = dir.join("rootfs.volume");
    unpack_to(&format!("populated/{name}.img.zst"), &img);
    let fstab = dir.join("fstab.j");
    let root = dir.join("root");
    let line = format!("md {} md rw,-P,-F{},-Tufs\n", root.display(), img.display());
    std::fs::write(&fstab, line).expect("fstab");
    Case {
        _t: t,
        dir,
        img,
        fstab,
    }
}

/// Every path `ufs ls -R` shows (`/a/b`).
fn ls_r(img: &Path) -> BTreeSet<String> {
    let text = ufs_ok(["ls".as_ref(), "-R".as_ref(), img.as_os_str()]);
    let mut cur = String::new();
    let mut v = BTreeSet::new();
    for l in text.lines() {
        if l.is_empty() {
            continue;
        }
        if l.starts_with('/') && l.ends_with(':') {
            cur = l.trim_end_matches(':').trim_end_matches('/').to_string();
            continue;
        }
        v.insert(format!("{cur}/{l}"));
    }
    v
}

fn flip(img: &Path, at: &[(u64, u8)]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .expect("open");
    for &(off, mask) in at {
        let mut b = [0u8];
        f.read_exact_at(&mut b, off).expect("read");
        b[0] ^= mask;
        f.write_all_at(&b, off).expect("write");
    }
}

/// `ufs preflight --full` (`--json`, or `-v`: the table and every full
/// result below it).
fn preflight(c: &Case, json: bool) -> (Option<i32>, String) {
    let mut args = vec!["preflight".as_ref(), "--full".as_ref()];
    args.push(if json { "--json" } else { "-v" }.as_ref());
    args.extend(["--fstab".as_ref(), c.fstab.as_os_str()]);
    let o = ufs(args);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// What `ufs fsck -y -f` on a copy takes out of `ls -R`, and the paths
/// the prediction says it removes or moves to lost+found: must be equal.
/// Returns the prediction's JSON row.
fn prediction_matches_repair(c: &Case, before: &BTreeSet<String>) -> serde_json::Value {
    let before_bytes = std::fs::read(&c.img).expect("read");
    let (_, json) = preflight(c, true);
    assert_eq!(
        std::fs::read(&c.img).expect("read"),
        before_bytes,
        "preflight wrote to the container"
    );
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let row = v["containers"][0].clone();
    let copy = c.dir.join("copy.img");
    std::fs::copy(&c.img, &copy).expect("copy");
    ufs([
        "fsck".as_ref(),
        "-y".as_ref(),
        "-f".as_ref(),
        copy.as_os_str(),
    ]);
    let after = ls_r(&copy);
    let gone: BTreeSet<String> = before.difference(&after).cloned().collect();
    let mut predicted = BTreeSet::new();
    for k in ["would_remove", "would_move_to_lost_found"] {
        for p in row[k].as_array().unwrap_or_else(|| panic!("{k} in {row}")) {
            predicted.insert(p.as_str().expect("path").to_string());
        }
    }
    assert_eq!(predicted, gone, "prediction vs. the real repair:\n{row}");
    assert_eq!(
        row["ok"].as_bool(),
        Some(gone.is_empty() && row["at_boot"] != "attach refused (broken)"),
        "{row}"
    );
    assert_eq!(v["ok"], row["ok"]);
    row
}

/// The full result and what happens at boot (`-v`'s lines after the
/// table); the table's lines fit 100 columns.
fn row_text(out: &str) -> String {
    let (table, full) = out.split_once("\n\n").expect("-v section");
    for l in table.lines() {
        assert!(l.chars().count() <= 100, "wider than 100 columns: {l}");
    }
    full.to_string()
}

#[test]
fn superblock_bit_flips_repair_from_the_alternate() {
    let c = container("pop-ufs2-8m");
    let clean = ls_r(&c.img);
    // fs_bsize and fs_ncg of the primary: its geometry no longer holds.
    flip(&c.img, &[(65536 + 49, 0x04), (65536 + 44, 0x04)]);
    let (code, out) = preflight(&c, false);
    assert_eq!(code, Some(0), "{out}");
    let text = row_text(&out);
    assert!(
        text.contains("repairs from alternate superblock at 192"),
        "{out}"
    );
    assert!(text.contains("fsck -y repairs, then mounts"), "{out}");
    assert!(!text.contains("attach refused"), "{out}");
    let row = prediction_matches_repair(&c, &clean);
    assert_eq!(row["repairs_from_alternate_superblock"], 192, "{row}");
    assert_eq!(row["ok"], true, "{row}");
    assert!(row["would_remove"].as_array().is_some_and(Vec::is_empty));
    assert!(
        row["result"]
            .as_str()
            .is_some_and(|r| r.contains("no usable primary superblock")),
        "the full reason is in --json: {row}"
    );
}

#[test]
fn zeroed_cylinder_group_header_is_predicted_as_repaired() {
    let c = container("pop-ufs2-16m-b4096");
    let before = ls_r(&c.img);
    // Cylinder group 1's header: fragment fpg + cblkno, fsize bytes each.
    let f = common::dumpfs_fields(&c.img, &["fpg", "cblkno", "fsize"]);
    let at = (f[0] + f[1]) * f[2];
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&c.img)
            .expect("open");
        f.write_all_at(&[0u8; 4096], at).expect("zero");
    }
    let (_, out) = preflight(&c, false);
    let text = row_text(&out);
    assert!(text.contains("cylinder group 1:"), "{out}");
    assert!(
        !text.contains("cylinder group 1: cylinder group 1:"),
        "{out}"
    );
    let row = prediction_matches_repair(&c, &before);
    let removed = row["would_remove"].as_array().map_or(0, Vec::len);
    if removed > 0 {
        assert!(
            text.contains(&format!("repair would remove {removed} file")),
            "{out}"
        );
    }
}

#[test]
fn a_repair_that_removes_files_is_not_ok() {
    let c = container("pop-ufs2-16m-b4096");
    let docs = ufs_ok([
        "ls".as_ref(),
        "-i".as_ref(),
        c.img.as_os_str(),
        "/".as_ref(),
    ])
    .lines()
    .find(|l| l.ends_with(" docs"))
    .and_then(|l| l.split_whitespace().next().map(str::to_string))
    .expect("docs");
    let script = c.dir.join("clri.script");
    std::fs::write(&script, format!("clri {docs}\n")).expect("script");
    ufs_ok([
        "debug".as_ref(),
        "-f".as_ref(),
        script.as_os_str(),
        c.img.as_os_str(),
    ]);
    // What `ls -R` shows of the damaged image (/docs, not its entries).
    let before = ls_r(&c.img);
    let (code, out) = preflight(&c, false);
    assert_eq!(code, Some(1), "{out}");
    let text = row_text(&out);
    assert!(text.contains("repair would remove 1 file (/docs)"), "{out}");
    let row = prediction_matches_repair(&c, &before);
    assert_eq!(row["ok"], false);
    assert_eq!(row["would_remove"], serde_json::json!(["/docs"]));
    // The clean flag is still set, but -T's fsck -y checks fully at boot
    // (FreeBSD's rule): preflight does without --full too.
    let o = ufs([
        "preflight".as_ref(),
        "--fstab".as_ref(),
        c.fstab.as_os_str(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(!out.contains("  clean  "), "{out}");
}
