//! `ufs put` and `ufs makefs` carry extended attributes into UFS2 images:
//! Linux `user.NAME` (set with setfattr) and a tar member's PAX
//! `SCHILY.xattr.user.NAME` / `LIBARCHIVE.xattr.user.NAME` become the UFS2
//! user namespace's NAME, read back with `ufs getfattr` and by FreeBSD's
//! fsck as a clean image; other namespaces are named as not copied, UFS1
//! (which has none) is warned about; `--no-xattrs` copies none.

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

/// Sets `name` to `value` on `path` with the host's setfattr; false when
/// the file system refuses (the caller skips).
fn setfattr(name: &str, value: &str, path: &std::path::Path) -> bool {
    let o = Command::new("setfattr")
        .args(["-n", name, "-v", value])
        .arg(path)
        .output()
        .unwrap();
    if !o.status.success() {
        ufskit_testkit::skip(&format!(
            "the temporary directory's file system refuses {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    o.status.success()
}

/// `ufs getfattr -d IMAGE PATH`'s output.
fn dump(img: &std::path::Path, path: &str) -> String {
    let o = output_ok(
        Command::new(bin())
            .args(["getfattr", "-d"])
            .arg(img)
            .arg(path),
        "getfattr",
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn makefs_carries_user_xattrs_from_a_directory() {
    if !require("setfattr", "apt-get install attr") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (d, tree) = (dir.path(), dir.path().join("t"));
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("f"), "data").unwrap();
    std::fs::hard_link(tree.join("f"), tree.join("f2")).unwrap();
    std::fs::write(tree.join("plain"), "no attributes").unwrap();
    if !setfattr("user.mime_type", "text/plain", &tree.join("f")) {
        return;
    }
    assert!(setfattr("user.dir", "yes", &tree.join("sub")));
    assert!(setfattr("user.top", "root", &tree));
    let img = d.join("x.img");
    output_ok(
        Command::new(bin())
            .args(["makefs", "--reproducible"])
            .arg(&img)
            .arg(&tree),
        "makefs",
    );
    for path in ["/f", "/f2"] {
        let got = dump(&img, path);
        assert!(
            got.contains("user.mime_type=\"text/plain\""),
            "{path}: {got}"
        );
    }
    assert!(dump(&img, "/sub").contains("user.dir=\"yes\""));
    assert!(dump(&img, "/").contains("user.top=\"root\""));
    assert!(!dump(&img, "/plain").contains("user."));
    if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&img) {
        r.unwrap_or_else(|e| panic!("FreeBSD fsck_ffs: {e}"));
    }
    // --no-xattrs: none, and the image is the one a tree without them makes.
    let none = d.join("none.img");
    output_ok(
        Command::new(bin())
            .args(["makefs", "--reproducible", "--no-xattrs"])
            .arg(&none)
            .arg(&tree),
        "makefs --no-xattrs",
    );
    for path in ["/", "/f", "/sub"] {
        assert!(!dump(&none, path).contains("user."), "{path}");
    }
    // UFS1 has no extended attributes: the build goes on and says so.
    let o = output_ok(
        Command::new(bin())
            .args(["makefs", "-O", "1"])
            .arg(d.join("one.img"))
            .arg(&tree),
        "makefs -O 1",
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("UFS1 has none"), "{err}");
}

#[test]
fn makefs_carries_pax_xattrs_from_a_tar() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let archive = d.join("x.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    let file = |b: &mut tar::Builder<std::fs::File>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).unwrap();
    };
    // star / GNU tar spelling: the value as is.
    b.append_pax_extensions([("SCHILY.xattr.user.star", &b"plain value"[..])])
        .unwrap();
    file(&mut b, "a", b"one");
    // libarchive spelling: the name %-encoded, the value in base64
    // ("bin\0ary"), and a namespace UFS2 has no counterpart for.
    b.append_pax_extensions([
        ("LIBARCHIVE.xattr.user.two%20words", &b"YmluAGFyeQ=="[..]),
        ("SCHILY.xattr.security.selinux", &b"label"[..]),
    ])
    .unwrap();
    file(&mut b, "b", b"two");
    file(&mut b, "c", b"three");
    b.finish().unwrap();
    drop(b);
    let img = d.join("x.img");
    let o = output_ok(
        Command::new(bin()).arg("makefs").arg(&img).arg(&archive),
        "makefs",
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not copied") && err.contains("security.selinux"),
        "{err}"
    );
    assert!(dump(&img, "/a").contains("user.star=\"plain value\""));
    let b_attrs = dump(&img, "/b");
    assert!(b_attrs.contains("user.two words="), "{b_attrs}");
    let o = output_ok(
        Command::new(bin())
            .args(["getfattr", "-n", "user.two words", "--only-values"])
            .arg(&img)
            .arg("/b"),
        "getfattr --only-values",
    );
    assert_eq!(o.stdout, b"bin\0ary");
    assert!(!dump(&img, "/c").contains("user."));
    if let Some(r) = ufskit_testkit::freebsd::fsck_clean(&img) {
        r.unwrap_or_else(|e| panic!("FreeBSD fsck_ffs: {e}"));
    }
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
