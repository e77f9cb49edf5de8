//! `ufs setfattr` and `getfattr`: extended attributes (UFS2), in the
//! spelling of the Linux attr tools.

use super::*;

// ---- setfattr / getfattr ------------------------------------------------------

/// Arguments of `ufs setfattr`.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["name", "remove"]))]
pub struct SetfattrArgs {
    /// Attribute to set: `user.NAME` or `system.NAME`.
    #[arg(short = 'n', value_name = "NAME")]
    pub name: Option<String>,
    /// Value: text (surrounding double quotes are removed), `0x` + hex, or
    /// `0s` + base64. Default: empty.
    #[arg(
        short = 'v',
        value_name = "VALUE",
        requires = "name",
        allow_hyphen_values = true
    )]
    pub value: Option<OsString>,
    /// Attribute to remove.
    #[arg(short = 'x', value_name = "NAME", conflicts_with = "name")]
    pub remove: Option<String>,
    /// Change a symbolic link itself, not what it points to.
    #[arg(long = "no-dereference")]
    pub no_follow: bool,
    /// Image file.
    pub image: PathBuf,
    /// Path in the image.
    pub path: OsString,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// `user.NAME` / `system.NAME` into the namespace and name bytes.
pub(super) fn parse_attr_name(s: &str) -> Result<(Namespace, Vec<u8>), String> {
    let (ns, name) = match s.split_once('.') {
        Some(("user", n)) => (Namespace::User, n),
        Some(("system", n)) => (Namespace::System, n),
        _ => {
            return Err(format!(
                "invalid attribute name '{s}' (user.NAME or system.NAME)"
            ))
        }
    };
    if name.is_empty() || name.len() > 255 || name.contains('\0') {
        return Err(format!(
            "invalid attribute name '{s}' (1 to 255 bytes after the namespace)"
        ));
    }
    Ok((ns, name.as_bytes().to_vec()))
}

pub(super) fn parse_value(v: &[u8]) -> Result<Vec<u8>, String> {
    if let Some(hex) = v.strip_prefix(b"0x").or_else(|| v.strip_prefix(b"0X")) {
        if hex.len() % 2 != 0 {
            return Err("hex value has an odd number of digits".into());
        }
        return hex
            .chunks(2)
            .map(|p| {
                std::str::from_utf8(p)
                    .ok()
                    .and_then(|s| u8::from_str_radix(s, 16).ok())
                    .ok_or_else(|| "invalid hex value".to_string())
            })
            .collect();
    }
    if let Some(b64) = v.strip_prefix(b"0s").or_else(|| v.strip_prefix(b"0S")) {
        return ufskit::xattr::base64_decode(b64).ok_or_else(|| "invalid base64 value".to_string());
    }
    if v.len() >= 2 && v.starts_with(b"\"") && v.ends_with(b"\"") {
        return Ok(v[1..v.len() - 1].to_vec());
    }
    Ok(v.to_vec())
}

/// Runs `ufs setfattr`.
pub fn setfattr(a: SetfattrArgs) -> i32 {
    let op = match (&a.name, &a.remove) {
        (Some(n), _) => match parse_attr_name(n) {
            Ok((ns, name)) => {
                let v = a.value.as_ref().map(|v| v.as_bytes()).unwrap_or(b"");
                match parse_value(v) {
                    Ok(v) => (ns, name, Some(v)),
                    Err(e) => return usage("setfattr", &e),
                }
            }
            Err(e) => return usage("setfattr", &e),
        },
        (None, Some(n)) => match parse_attr_name(n) {
            Ok((ns, name)) => (ns, name, None),
            Err(e) => return usage("setfattr", &e),
        },
        (None, None) => return usage("setfattr", "need -n NAME or -x NAME"),
    };
    let follow = if a.no_follow {
        Follow::NotLast
    } else {
        Follow::All
    };
    edit(&a.image, &a.common, |s| {
        let path = bytes(&a.path);
        s.each(path, |fs| {
            let ino = fs.lookup_bytes(path, follow)?;
            let (ns, name, value) = &op;
            match value {
                Some(v) => fs.set_xattr(ino, *ns, name, v)?,
                None => fs.remove_xattr(ino, *ns, name).map_err(|e| match e {
                    Error::NotFound { .. } => Fail(format!(
                        "{}.{}: no such attribute",
                        ns.prefix(),
                        escape_name(name)
                    )),
                    e => e.into(),
                })?,
            }
            Ok(())
        });
    })
}

/// Arguments of `ufs getfattr`.
#[derive(clap::Args, Debug)]
pub struct GetfattrArgs {
    /// Print values too, not just names.
    #[arg(short = 'd')]
    pub dump: bool,
    /// Print only this attribute (`user.NAME`), with its value.
    #[arg(short = 'n', value_name = "NAME")]
    pub name: Option<String>,
    /// Print values only, raw, without names or quoting (with -n).
    #[arg(long, requires = "name")]
    pub only_values: bool,
    /// Look at a symbolic link itself, not what it points to.
    #[arg(long = "no-dereference")]
    pub no_follow: bool,
    /// Image file.
    pub image: PathBuf,
    /// Path in the image.
    pub path: OsString,
}

/// A value the way getfattr prints it: quoted text when it is printable,
/// else `0x` and hex.
pub(super) fn show_value(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) if !s.chars().any(char::is_control) => {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        }
        _ => {
            let mut out = String::from("0x");
            for b in v {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
    }
}

/// Runs `ufs getfattr`.
pub fn getfattr(a: GetfattrArgs) -> i32 {
    let want = match a.name.as_deref().map(parse_attr_name).transpose() {
        Ok(w) => w,
        Err(e) => return usage("getfattr", &e),
    };
    let fs = match open_ro(&a.image, None) {
        Ok(fs) => fs,
        Err(c) => return c,
    };
    let path = bytes(&a.path);
    let follow = if a.no_follow {
        Follow::NotLast
    } else {
        Follow::All
    };
    let r = (|| -> Result<Vec<ufskit::xattr::Xattr>, Fail> {
        let ino = fs.lookup_bytes(path, follow)?;
        let inode = fs.allocated_inode(ino)?;
        Ok(fs.xattrs(&inode)?)
    })();
    let attrs = match r {
        Ok(x) => x,
        Err(f) => {
            eprintln!("ufs: {}: {}: {}", a.image.display(), escape_name(path), f.0);
            return crate::EXIT_FAILURE;
        }
    };
    let mut out = String::new();
    if let Some((ns, name)) = &want {
        let Some(x) = attrs.iter().find(|x| x.namespace == *ns && x.name == *name) else {
            eprintln!(
                "ufs: {}: {}: {}.{}: no such attribute",
                a.image.display(),
                escape_name(path),
                ns.prefix(),
                escape_name(name)
            );
            return crate::EXIT_FAILURE;
        };
        if a.only_values {
            use std::io::Write;
            let mut o = std::io::stdout().lock();
            return match o.write_all(&x.value).and_then(|()| o.flush()) {
                Ok(()) => 0,
                Err(e) => crate::output::fail("writing output", &e),
            };
        }
        out.push_str(&format!("# file: {}\n", escape_name(path)));
        out.push_str(&format!(
            "{}.{}={}\n\n",
            ns.prefix(),
            escape_name(name),
            show_value(&x.value)
        ));
    } else if !attrs.is_empty() {
        out.push_str(&format!("# file: {}\n", escape_name(path)));
        let mut sorted: Vec<_> = attrs.iter().collect();
        sorted.sort_by(|x, y| (x.namespace, &x.name).cmp(&(y.namespace, &y.name)));
        for x in sorted {
            out.push_str(&format!(
                "{}.{}",
                x.namespace.prefix(),
                escape_name(&x.name)
            ));
            if a.dump {
                out.push('=');
                out.push_str(&show_value(&x.value));
            }
            out.push('\n');
        }
        out.push('\n');
    }
    print!("{out}");
    0
}
