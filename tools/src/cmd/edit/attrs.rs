//! `ufs chmod` and `chown`: modes (octal or symbolic) and owners (numbers
//! or names from the image's own passwd and group files).

use super::*;

// ---- chmod --------------------------------------------------------------------

/// Arguments of `ufs chmod`.
#[derive(clap::Args, Debug)]
pub struct ChmodArgs {
    /// Change a symbolic link itself, not what it points to.
    #[arg(long = "no-dereference")]
    pub no_follow: bool,
    /// Image file.
    pub image: PathBuf,
    /// Octal (`0644`, `4755`) or symbolic (`u+x`, `go-w`, `a=rX,u+s`) mode.
    pub mode: String,
    /// Paths to change.
    #[arg(required = true)]
    pub paths: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Computes a new permission set from the old one and "is a directory".
pub(super) type ModeFn = Box<dyn Fn(u16, bool) -> u16>;

/// Parses an octal or symbolic mode (chmod(1) syntax, without the umask:
/// a missing "who" means all).
pub(super) fn parse_mode(s: &str) -> Result<ModeFn, String> {
    let bad = || format!("invalid mode '{s}' (octal like 0644, or symbolic like u+x,go-w)");
    if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
        let v = u16::from_str_radix(s, 8).map_err(|_| bad())?;
        if v > 0o7777 {
            return Err(bad());
        }
        return Ok(Box::new(move |_, _| v));
    }
    // [ugoa]*([-+=]([rwxXst]*|[ugo]))+ , ...
    type Clause = (u16, Vec<(u8, Perm)>);
    enum Perm {
        Bits(u16, bool),
        Copy(u8),
    }
    let mut clauses: Vec<Clause> = Vec::new();
    for clause in s.split(',') {
        let b = clause.as_bytes();
        let mut i = 0;
        let mut who = 0u16;
        while i < b.len() && b"ugoa".contains(&b[i]) {
            who |= match b[i] {
                b'u' => 0o4700,
                b'g' => 0o2070,
                b'o' => 0o1007,
                _ => 0o7777,
            };
            i += 1;
        }
        if who == 0 {
            who = 0o7777;
        }
        let mut ops = Vec::new();
        if i >= b.len() {
            return Err(bad());
        }
        while i < b.len() {
            let op = b[i];
            if !b"+-=".contains(&op) {
                return Err(bad());
            }
            i += 1;
            if i < b.len() && b"ugo".contains(&b[i]) {
                ops.push((op, Perm::Copy(b[i])));
                i += 1;
                continue;
            }
            let mut bits = 0u16;
            let mut cap_x = false;
            while i < b.len() && b"rwxXst".contains(&b[i]) {
                match b[i] {
                    b'r' => bits |= 0o444,
                    b'w' => bits |= 0o222,
                    b'x' => bits |= 0o111,
                    b'X' => cap_x = true,
                    b's' => bits |= 0o6000,
                    _ => bits |= 0o1000,
                }
                i += 1;
            }
            ops.push((op, Perm::Bits(bits, cap_x)));
        }
        clauses.push((who, ops));
    }
    Ok(Box::new(move |old, is_dir| {
        let mut m = old & 0o7777;
        for (who, ops) in &clauses {
            for (op, p) in ops {
                let bits = match p {
                    Perm::Bits(bits, cap_x) => {
                        let x = if *cap_x && (is_dir || m & 0o111 != 0) {
                            0o111
                        } else {
                            0
                        };
                        (bits | x) & who
                    }
                    Perm::Copy(c) => {
                        let v = match c {
                            b'u' => (m >> 6) & 7,
                            b'g' => (m >> 3) & 7,
                            _ => m & 7,
                        };
                        (v << 6 | v << 3 | v) & who & 0o777
                    }
                };
                match op {
                    b'+' => m |= bits,
                    b'-' => m &= !bits,
                    _ => {
                        // `=` clears what "who" covers (set-id bits only for u/g).
                        m &= !(who & 0o777 | who & 0o7000);
                        m |= bits;
                    }
                }
            }
        }
        m
    }))
}

/// Runs `ufs chmod`.
pub fn chmod(a: ChmodArgs) -> i32 {
    let f = match parse_mode(&a.mode) {
        Ok(f) => f,
        Err(e) => return usage("chmod", &e),
    };
    let follow = if a.no_follow {
        Follow::NotLast
    } else {
        Follow::All
    };
    edit(&a.image, &a.common, |s| {
        for p in &a.paths {
            s.each(bytes(p), |fs| {
                let ino = fs.lookup_bytes(bytes(p), follow)?;
                let i = fs.allocated_inode(ino)?;
                let perm = f(i.perm(), i.is_dir());
                fs.set_attr(
                    ino,
                    &SetAttr {
                        perm: Some(perm),
                        ..Default::default()
                    },
                )?;
                Ok(())
            });
        }
    })
}

// ---- chown --------------------------------------------------------------------

/// Arguments of `ufs chown`.
#[derive(clap::Args, Debug)]
pub struct ChownArgs {
    /// Change a symbolic link itself, not what it points to.
    #[arg(long = "no-dereference")]
    pub no_follow: bool,
    /// Image file.
    pub image: PathBuf,
    /// `USER`, `USER:GROUP` or `:GROUP`: numbers, or names from the
    /// image's /etc/passwd and /etc/group.
    pub owner: String,
    /// Paths to change.
    #[arg(required = true)]
    pub paths: Vec<OsString>,
    /// Common editing options.
    #[command(flatten)]
    pub common: Common,
}

/// Looks a user or group name up in one of the image's colon-separated
/// databases (/etc/passwd, /etc/group): the id in field 3.
fn id_from_image(fs: &Ufs, db: &str, name: &str) -> Option<u32> {
    let ino = fs.lookup(db, Follow::All).ok()?;
    let data = fs.read_all(ino).ok()?;
    String::from_utf8_lossy(&data).lines().find_map(|l| {
        let mut f = l.split(':');
        if f.next()? != name {
            return None;
        }
        f.nth(1)?.parse().ok()
    })
}

fn resolve_id(fs: &Ufs, db: &str, s: &str) -> Result<u32, Fail> {
    if let Ok(n) = s.parse::<u32>() {
        return Ok(n);
    }
    if let Some(n) = id_from_image(fs, db, s) {
        return Ok(n);
    }
    match (db, s) {
        (_, "root") | ("/etc/group", "wheel") => Ok(0),
        _ => Err(Fail(format!(
            "unknown {} '{s}' (not a number, and not in the image's {db})",
            if db == "/etc/group" { "group" } else { "user" }
        ))),
    }
}

/// Runs `ufs chown`.
pub fn chown(a: ChownArgs) -> i32 {
    let (user, group) = match a.owner.split_once(':') {
        Some((u, g)) => (u.to_string(), Some(g.to_string())),
        None => (a.owner.clone(), None),
    };
    if user.is_empty() && group.as_deref().unwrap_or("").is_empty() {
        return usage(
            "chown",
            &format!("invalid owner '{}' (USER, USER:GROUP or :GROUP)", a.owner),
        );
    }
    let follow = if a.no_follow {
        Follow::NotLast
    } else {
        Follow::All
    };
    // Not `edit`: a name that does not resolve is a usage error, and the
    // image, not written to yet, is left as it was.
    let mut s = match Editing::open(&a.image, &a.common) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let ids = (|| -> Result<(Option<u32>, Option<u32>), Fail> {
        let uid = if user.is_empty() {
            None
        } else {
            Some(resolve_id(&s.fs, "/etc/passwd", &user)?)
        };
        let gid = match group.as_deref() {
            None | Some("") => None,
            Some(g) => Some(resolve_id(&s.fs, "/etc/group", g)?),
        };
        Ok((uid, gid))
    })();
    let (uid, gid) = match ids {
        Ok(x) => x,
        Err(f) => {
            eprintln!("ufs chown: {}", f.0);
            drop(s);
            return crate::EXIT_USAGE;
        }
    };
    for p in &a.paths {
        s.each(bytes(p), |fs| {
            let ino = fs.lookup_bytes(bytes(p), follow)?;
            fs.set_attr(
                ino,
                &SetAttr {
                    uid,
                    gid,
                    ..Default::default()
                },
            )?;
            Ok(())
        });
    }
    s.finish()
}
