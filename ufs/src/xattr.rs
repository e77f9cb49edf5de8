//! UFS2 extended attributes: the records of an inode's extended-attribute
//! area (`di_extb`, `di_extsize`).
//!
//! Each record (sys/ufs/ufs/extattr.h, `struct extattr`) is a 32-bit total
//! length, a namespace byte, a content-padding byte, a name-length byte and
//! the name, padded so the content starts on an 8-byte boundary
//! (`EXTATTR_BASE_LENGTH`), then the content and its padding. Records follow
//! each other until the area's size is used up.

use crate::error::{CorruptKind, Error, Location, Result};
use crate::ondisk::ExtattrHdr;
use crate::units::Ino;
use crate::Endian;

/// Attribute namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    /// `EXTATTR_NAMESPACE_USER` (1).
    User,
    /// `EXTATTR_NAMESPACE_SYSTEM` (2).
    System,
    /// Anything else, kept as found.
    Other(u8),
}

impl Namespace {
    /// From the on-disk byte.
    pub fn from_byte(b: u8) -> Self {
        match b {
            1 => Namespace::User,
            2 => Namespace::System,
            o => Namespace::Other(o),
        }
    }
    /// To the on-disk byte.
    pub fn byte(self) -> u8 {
        match self {
            Namespace::User => 1,
            Namespace::System => 2,
            Namespace::Other(o) => o,
        }
    }
    /// The prefix getfattr and lsextattr use (`user`, `system`).
    pub fn prefix(self) -> String {
        match self {
            Namespace::User => "user".into(),
            Namespace::System => "system".into(),
            Namespace::Other(o) => format!("ns{o}"),
        }
    }
}

/// One extended attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Xattr {
    /// Namespace.
    pub namespace: Namespace,
    /// Name bytes.
    pub name: Vec<u8>,
    /// Content.
    pub value: Vec<u8>,
}

/// Length of the record head plus name, rounded up to 8
/// (`EXTATTR_BASE_LENGTH`).
pub fn base_length(namelen: usize) -> usize {
    (ExtattrHdr::SIZE + namelen + 7) & !7
}

/// Parses an extended-attribute area of `ino`.
pub fn parse(ino: Ino, area: &[u8], endian: Endian) -> Result<Vec<Xattr>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < area.len() {
        let at = Location::Xattr {
            ino,
            offset: pos as u64,
        };
        let bad = |msg: String| Err(Error::corrupt(CorruptKind::BadXattr, at, msg));
        let Some(h) = ExtattrHdr::decode(&area[pos..], endian) else {
            return bad("record header runs past the area".into());
        };
        let len = h.ea_length as usize;
        if len == 0 {
            // A zero length ends the list (the rest of the area is padding).
            break;
        }
        let base = base_length(usize::from(h.ea_namelength));
        if !len.is_multiple_of(8)
            || len < base + usize::from(h.ea_contentpadlen)
            || len > area.len() - pos
        {
            return bad(format!("record length {len} is invalid"));
        }
        let name = area
            [pos + ExtattrHdr::SIZE..pos + ExtattrHdr::SIZE + usize::from(h.ea_namelength)]
            .to_vec();
        let value = area[pos + base..pos + len - usize::from(h.ea_contentpadlen)].to_vec();
        out.push(Xattr {
            namespace: Namespace::from_byte(h.ea_namespace),
            name,
            value,
        });
        pos += len;
    }
    Ok(out)
}

/// Encodes attributes into an area (the inverse of [`parse`]).
pub fn encode(attrs: &[Xattr], endian: Endian) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for a in attrs {
        if a.name.is_empty() || a.name.len() > 255 {
            return Err(Error::InvalidInput(format!(
                "extended attribute name of {} bytes",
                a.name.len()
            )));
        }
        let base = base_length(a.name.len());
        let padded = (a.value.len() + 7) & !7;
        let len = base + padded;
        let len32 = u32::try_from(len)
            .map_err(|_| Error::InvalidInput("extended attribute too large".into()))?;
        let start = out.len();
        out.resize(start + len, 0);
        let h = ExtattrHdr {
            ea_length: len32,
            ea_namespace: a.namespace.byte(),
            // Padding to 8 bytes: below 8.
            ea_contentpadlen: u8::try_from(padded - a.value.len()).unwrap_or(0),
            ea_namelength: u8::try_from(a.name.len())
                .map_err(|_| Error::InvalidInput("extended attribute name too long".into()))?,
        };
        h.encode_into(&mut out[start..], endian);
        out[start + ExtattrHdr::SIZE..start + ExtattrHdr::SIZE + a.name.len()]
            .copy_from_slice(&a.name);
        out[start + base..start + base + a.value.len()].copy_from_slice(&a.value);
    }
    Ok(out)
}

/// Decodes base64 (the standard alphabet; `=` padding optional), as
/// getfattr's `0s` values and libarchive's PAX xattr records carry
/// binary values. `None` when it is not base64.
pub fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s: Vec<u8> = s.iter().copied().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let attrs = vec![
            Xattr {
                namespace: Namespace::User,
                name: b"test".to_vec(),
                value: b"testvalue".to_vec(),
            },
            Xattr {
                namespace: Namespace::System,
                name: b"x".to_vec(),
                value: vec![],
            },
        ];
        for e in [Endian::Little, Endian::Big] {
            let area = encode(&attrs, e).expect("encodes");
            assert_eq!(area.len() % 8, 0);
            assert_eq!(parse(Ino(5), &area, e).expect("parses"), attrs);
        }
    }

    #[test]
    fn overlong_record_is_an_error_with_offset() {
        let mut area = encode(
            &[Xattr {
                namespace: Namespace::User,
                name: b"a".to_vec(),
                value: b"b".to_vec(),
            }],
            Endian::Little,
        )
        .expect("encodes");
        area[0] = 200;
        let e = parse(Ino(9), &area, Endian::Little)
            .unwrap_err()
            .to_string();
        assert!(e.contains("inode 9") && e.contains("byte 0"), "{e}");
    }
}
