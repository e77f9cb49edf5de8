//! `ufs put` carries host extended attributes into UFS2 images: Linux
//! `user.NAME` (set with setfattr) becomes the UFS2 user namespace's NAME,
//! read back with `ufs getfattr` and by FreeBSD's fsck as a clean image;
//! other namespaces are named as not copied; `--no-xattrs` copies none.

// A test reports failure by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{output_ok, require, ufs_bin as bin};
use std::process::Command;

#[test]
fn put_carries_user_xattrs() {
    let dir = tempfile::tempdir().unwrap();
    let (d, tree) = (dir.path(), dir.path().join("t"));
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("f"), "data").unwrap();
    if !require("setfattr", "apt-get install attr") {
        return;
    }
    let set = |name: &str, value: &str, path: &std::path::Path| {
        Command::new("setfattr")
            .args(["-n", name, "-v", value])
            .arg(path)
            .output()
            .unwrap()
    };
    let o = set("user.mime_type", "text/plain", &tree.join("f"));
    if !o.status.success() {
        ufskit_testkit::skip(&format!(
            "the temporary directory's file system refuses user xattrs: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
        return;
    }
    assert!(set("user.dir", "yes", &tree).status.success());
    let trusted = set("trusted.note", "x", &tree.join("f")).status.success();
    let img = d.join("x.img");
    output_ok(
        Command::new(bin()).args(["newfs", "-s", "8m"]).arg(&img),
        "newfs",
    );
    let o = output_ok(
        Command::new(bin())
            .args(["put", "-r"])
            .arg(&img)
            .arg(&tree)
            .arg("/t"),
        "put",
    );
    if trusted {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("not copied") && err.contains("trusted.note"),
            "{err}"
        );
    }
    let get = |path: &str| {
        let o = output_ok(
            Command::new(bin())
                .args(["getfattr", "-d"])
                .arg(&img)
                .arg(path),
            "getfattr",
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert!(
        get("/t/f").contains("user.mime_type=\"text/plain\""),
        "{}",
        get("/t/f")
    );
    assert!(get("/t").contains("user.dir=\"yes\""), "{}", get("/t"));
    if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&img) {
        r.unwrap_or_else(|e| panic!("FreeBSD fsck_ffs: {e}"));
    }
    output_ok(
        Command::new(bin())
            .args(["put", "--no-xattrs"])
            .arg(&img)
            .arg(tree.join("f"))
            .arg("/g"),
        "put --no-xattrs",
    );
    assert!(!get("/g").contains("user."), "{}", get("/g"));
}

/// `ufs extract` restores the image's user-namespace attributes as Linux
/// `user.NAME` (read back with the host's getfattr), on files, directories
/// and read-only files alike; a system-namespace attribute is named in a
/// warning and not written; `--no-xattrs` restores none.
#[test]
fn extract_restores_user_xattrs() {
    if !require("getfattr", "apt-get install attr") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Can the temporary directory's file system hold user attributes?
    let probe = d.join("probe");
    std::fs::write(&probe, "").unwrap();
    if let Err(e) = host_takes_user_xattrs(&probe) {
        ufskit_testkit::skip(&format!(
            "the temporary directory's file system refuses user xattrs: {e}"
        ));
        return;
    }
    let img = d.join("x.img");
    let ufs = |args: &[&str]| {
        output_ok(
            Command::new(bin()).args(args),
            &format!("ufs {}", args.join(" ")),
        )
    };
    let i = img.to_str().unwrap();
    ufs(&["newfs", "-s", "8m", i]);
    ufs(&["mkdir", i, "/d"]);
    ufs(&["touch", i, "/d/f", "/ro"]);
    ufs(&["chmod", i, "0444", "/ro"]);
    ufs(&["chmod", i, "0555", "/d"]);
    ufs(&[
        "setfattr",
        "-n",
        "user.mime_type",
        "-v",
        "text/plain",
        i,
        "/d/f",
    ]);
    ufs(&["setfattr", "-n", "user.bin", "-v", "0x00ff10", i, "/d/f"]);
    ufs(&["setfattr", "-n", "user.dir", "-v", "yes", i, "/d"]);
    ufs(&["setfattr", "-n", "user.locked", "-v", "1", i, "/ro"]);
    ufs(&[
        "setfattr",
        "-n",
        "system.posix1e.acl_access",
        "-v",
        "0x0102",
        i,
        "/d/f",
    ]);
    let getfattr = |p: &std::path::Path| {
        let o = output_ok(
            Command::new("getfattr")
                .args(["-d", "-e", "hex", "--absolute-names"])
                .arg(p),
            "getfattr",
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let ex = d.join("ex");
    let o = ufs(&["extract", i, ex.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("system.posix1e.acl_access not restored"),
        "{err}"
    );
    let f = getfattr(&ex.join("d/f"));
    // "text/plain" and the binary value, byte for byte.
    assert!(f.contains("user.mime_type=0x746578742f706c61696e"), "{f}");
    assert!(f.contains("user.bin=0x00ff10"), "{f}");
    assert!(!f.contains("posix1e"), "{f}");
    assert!(getfattr(&ex.join("d")).contains("user.dir=0x796573"));
    assert!(getfattr(&ex.join("ro")).contains("user.locked=0x31"));

    let none = d.join("none");
    let o = ufs(&["extract", "--no-xattrs", i, none.to_str().unwrap()]);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for p in ["d/f", "d", "ro"] {
        let got = getfattr(&none.join(p));
        assert!(!got.contains("user."), "{p}: {got}");
    }
}

/// Sets and removes a user attribute on `p` with the host's setfattr.
fn host_takes_user_xattrs(p: &std::path::Path) -> Result<(), String> {
    if !require("setfattr", "apt-get install attr") {
        return Err("no setfattr".into());
    }
    let o = Command::new("setfattr")
        .args(["-n", "user.probe", "-v", "1"])
        .arg(p)
        .output()
        .map_err(|e| e.to_string())?;
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}
