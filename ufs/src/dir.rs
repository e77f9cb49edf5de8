//! Directories: entries packed in 512-byte chunks (`DIRBLKSIZ`).
//!
//! Each entry is `struct direct` (dir.h): inode number, record length, type,
//! name length, then the name, NUL-terminated and padded to 4 bytes. The
//! record length covers any free space after the entry, and no entry crosses
//! a chunk boundary.
//!
//! The rules for a well-formed entry live here, as two named checks on an
//! [`EntryHead`]: [`EntryHead::reader_check`], what the kernel's reader
//! accepts (`ufs_dirbadentry` in sys/ufs/ufs/ufs_lookup.c, plus a `/` in a
//! name, which a path lookup could never reach), and
//! [`EntryHead::fsck_check`], fsck_ffs's stricter `dircheck()` (an empty
//! name, a type above 15 and an entry running past the directory's size
//! are bad too; an unused slot is looked at less). [`parse_chunk`] applies
//! the reader's rule and reports the first bad entry with its offset;
//! everything else works with the validated [`RawEntry`] values it returns.
//! fsck applies its own rule and words the verdict in its own messages.

use crate::error::{CorruptKind, Error, Location, Result};
use crate::ondisk::consts::{DIRBLKSIZ, MAXNAMLEN};
use crate::ondisk::DirectHdr;
use crate::units::Ino;
use crate::Endian;

/// Bytes an entry with a name of `namlen` bytes needs (`DIRECTSIZ`): the
/// 8-byte header, the name and its NUL, rounded up to 4.
pub const fn direct_size(namlen: usize) -> usize {
    (DirectHdr::SIZE + namlen + 1 + 3) & !3
}

/// The smallest directory: its `.` and `..` entries (`MINDIRSIZE`, the size
/// of `struct dirtemplate`).
pub const MINDIRSIZE: usize = direct_size(1) + direct_size(2);

/// Largest `d_type` fsck accepts (`DT_*` values are 4 bits).
pub const DT_MAX: u8 = 15;

/// One entry as stored, inode 0 (an empty slot) included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    /// Byte offset of the entry within the directory.
    pub offset: u64,
    /// `d_ino` (0 for an unused slot).
    pub ino: Ino,
    /// `d_reclen`.
    pub reclen: u16,
    /// `d_type`.
    pub dtype: u8,
    /// The name bytes (`d_namlen` of them).
    pub name: Vec<u8>,
}

/// Why an entry is bad, in fsck's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadEntry {
    /// Record length zero, not a multiple of 4, too small for its name, or
    /// running past the chunk.
    RecLen(u16),
    /// Name longer than 255 bytes.
    NameLen(u8),
    /// Name contains NUL or `/`, or is not NUL-terminated.
    Name,
    /// Name length zero on an entry in use (fsck's rule only).
    EmptyName,
    /// `d_type` above [`DT_MAX`] on an entry in use (fsck's rule only).
    Type(u8),
    /// The entry runs past the end of the directory (fsck's rule only).
    PastEnd,
}

/// An entry's header and name as found, before any check: what both rules
/// look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryHead<'a> {
    /// `d_ino` (0 for an unused slot).
    pub ino: u32,
    /// `d_reclen`.
    pub reclen: u16,
    /// `d_type`.
    pub dtype: u8,
    /// `d_namlen`.
    pub namlen: u8,
    /// The name bytes present (fewer than `namlen` when the buffer ends).
    pub name: &'a [u8],
    /// Whether a NUL follows the name.
    pub terminated: bool,
}

impl<'a> EntryHead<'a> {
    /// Decodes the entry at the start of `buf`; None when not even the
    /// 8-byte header fits.
    pub fn decode(buf: &'a [u8], endian: Endian) -> Option<EntryHead<'a>> {
        let h = DirectHdr::decode(buf, endian)?;
        let end = DirectHdr::SIZE + usize::from(h.d_namlen);
        Some(EntryHead {
            ino: h.d_ino,
            reclen: h.d_reclen,
            dtype: h.d_type,
            namlen: h.d_namlen,
            name: buf.get(DirectHdr::SIZE..end.min(buf.len())).unwrap_or(&[]),
            terminated: buf.get(end) == Some(&0),
        })
    }

    /// Bytes the entry needs (`DIRSIZ`).
    pub fn size(&self) -> usize {
        direct_size(usize::from(self.namlen))
    }

    /// Whether the name is whole, terminated and free of NUL and `/`.
    fn name_ok(&self) -> bool {
        self.name.len() == usize::from(self.namlen)
            && !has_nul_or_slash(self.name)
            && self.terminated
    }

    /// The reader's rule, for an entry with `room` bytes left in its
    /// `DIRBLKSIZ` chunk: a record length that is not zero, a multiple of
    /// 4, inside the chunk and big enough for the name (checked for unused
    /// slots too, as `ufs_dirbadentry` does); for an entry in use, a whole
    /// NUL-terminated name without NUL or `/`.
    pub fn reader_check(&self, room: usize) -> std::result::Result<(), BadEntry> {
        let reclen = usize::from(self.reclen);
        if reclen == 0 || reclen % 4 != 0 || reclen > room || reclen < self.size() {
            return Err(BadEntry::RecLen(self.reclen));
        }
        if usize::from(self.namlen) > MAXNAMLEN {
            return Err(BadEntry::NameLen(self.namlen));
        }
        if self.ino != 0 && !self.name_ok() {
            return Err(BadEntry::Name);
        }
        Ok(())
    }

    /// fsck_ffs's rule (`dircheck()` in sbin/fsck_ffs/dir.c), for an entry
    /// with `room` bytes left in its chunk and `filesize` bytes left in the
    /// directory: the record length not zero, a multiple of 4 and inside
    /// the chunk; then, for an entry in use only, big enough for the name
    /// and inside the directory, a name of at least one byte, a type of at
    /// most [`DT_MAX`], and a whole NUL-terminated name without NUL or `/`.
    #[inline]
    pub fn fsck_check(&self, room: usize, filesize: i64) -> std::result::Result<(), BadEntry> {
        let reclen = usize::from(self.reclen);
        if reclen == 0 || reclen > room || reclen % 4 != 0 {
            return Err(BadEntry::RecLen(self.reclen));
        }
        if self.ino == 0 {
            return Ok(());
        }
        let size = self.size();
        if reclen < size {
            return Err(BadEntry::RecLen(self.reclen));
        }
        if filesize < i64::try_from(size).unwrap_or(i64::MAX) {
            return Err(BadEntry::PastEnd);
        }
        if self.namlen == 0 {
            return Err(BadEntry::EmptyName);
        }
        if self.dtype > DT_MAX {
            return Err(BadEntry::Type(self.dtype));
        }
        if !self.name_ok() {
            return Err(BadEntry::Name);
        }
        Ok(())
    }
}

/// Whether `name` holds a NUL or a `/`. A word at a time: fsck looks at
/// the name of every entry it reads, and a loop over the bytes was a tenth
/// of its directory phase.
fn has_nul_or_slash(name: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const SLASHES: u64 = u64::from_ne_bytes([b'/'; 8]);
    // Whether a byte of `x` is zero or `/`. A subtraction's borrow runs
    // only upwards from a zero byte, so the test has no false answers for
    // "any" (it may mark other bytes above the first zero; none is asked).
    let bad = |x: u64| {
        let y = x ^ SLASHES;
        (x.wrapping_sub(ONES) & !x | y.wrapping_sub(ONES) & !y) & HIGHS != 0
    };
    if let Some(last) = name.last_chunk::<8>() {
        // Whole words, then the last eight bytes (overlapping the words
        // before them unless the length is a multiple of eight).
        let mut words = name.chunks_exact(8);
        words.any(|w| {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            bad(u64::from_ne_bytes(b))
        }) || bad(u64::from_ne_bytes(*last))
    } else if let (Some(first), Some(last)) = (name.first_chunk::<4>(), name.last_chunk::<4>()) {
        // Four to seven bytes: the first four and the last four, in one
        // word.
        let x = u64::from(u32::from_ne_bytes(*first)) | u64::from(u32::from_ne_bytes(*last)) << 32;
        bad(x)
    } else {
        name.iter().any(|&c| c == 0 || c == b'/')
    }
}

impl std::fmt::Display for BadEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadEntry::RecLen(r) => write!(f, "bad record length {r}"),
            BadEntry::NameLen(n) => write!(f, "bad name length {n}"),
            BadEntry::Name => write!(f, "name contains NUL or '/' or is not terminated"),
            BadEntry::EmptyName => write!(f, "empty name"),
            BadEntry::Type(t) => write!(f, "bad entry type {t}"),
            BadEntry::PastEnd => write!(f, "entry runs past the end of the directory"),
        }
    }
}

/// Parses one `DIRBLKSIZ` chunk that starts at directory offset `base`.
/// Stops at the first bad entry and returns it with the entries before it.
pub fn parse_chunk(
    chunk: &[u8],
    base: u64,
    endian: Endian,
) -> (Vec<RawEntry>, Option<(u64, BadEntry)>) {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < chunk.len() {
        let offset = base + pos as u64;
        let rest = &chunk[pos..];
        let Some(e) = EntryHead::decode(rest, endian) else {
            return (out, Some((offset, BadEntry::RecLen(0))));
        };
        if let Err(why) = e.reader_check(rest.len()) {
            return (out, Some((offset, why)));
        }
        out.push(RawEntry {
            offset,
            ino: Ino(e.ino),
            reclen: e.reclen,
            dtype: e.dtype,
            name: e.name.to_vec(),
        });
        pos += usize::from(e.reclen);
    }
    (out, None)
}

/// Parses a whole directory's data (a multiple of `DIRBLKSIZ` in a sane
/// directory), returning the used entries. The first bad entry is an error
/// naming the directory and the offset.
pub fn parse_all(dir: Ino, data: &[u8], endian: Endian) -> Result<Vec<RawEntry>> {
    let mut out = Vec::new();
    for (i, chunk) in data.chunks(DIRBLKSIZ).enumerate() {
        let base = (i * DIRBLKSIZ) as u64;
        if chunk.len() < DIRBLKSIZ {
            return Err(Error::corrupt(
                CorruptKind::BadDirEntry,
                Location::DirEntry { dir, offset: base },
                format!("directory size is not a multiple of {DIRBLKSIZ}"),
            ));
        }
        let (entries, bad) = parse_chunk(chunk, base, endian);
        if let Some((offset, why)) = bad {
            return Err(Error::corrupt(
                CorruptKind::BadDirEntry,
                Location::DirEntry { dir, offset },
                why.to_string(),
            ));
        }
        out.extend(entries.into_iter().filter(|e| e.ino.0 != 0));
    }
    Ok(out)
}

/// Encodes one entry at the start of `out` (which must hold `reclen` bytes).
pub fn encode_entry(
    out: &mut [u8],
    ino: Ino,
    reclen: u16,
    dtype: u8,
    name: &[u8],
    endian: Endian,
) -> bool {
    let need = direct_size(name.len());
    if name.len() > MAXNAMLEN || out.len() < need || usize::from(reclen) < need {
        return false;
    }
    let h = DirectHdr {
        d_ino: ino.0,
        d_reclen: reclen,
        d_type: dtype,
        // Checked above: at most MAXNAMLEN (255).
        d_namlen: u8::try_from(name.len()).unwrap_or(u8::MAX),
    };
    h.encode_into(out, endian);
    out[DirectHdr::SIZE..DirectHdr::SIZE + name.len()].copy_from_slice(name);
    for b in &mut out[DirectHdr::SIZE + name.len()..need] {
        *b = 0;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_with(entries: &[(u32, &[u8])]) -> Vec<u8> {
        let mut c = vec![0u8; DIRBLKSIZ];
        let mut pos = 0;
        for (i, (ino, name)) in entries.iter().enumerate() {
            let reclen = if i + 1 == entries.len() {
                DIRBLKSIZ - pos
            } else {
                direct_size(name.len())
            };
            assert!(encode_entry(
                &mut c[pos..],
                Ino(*ino),
                u16::try_from(reclen).unwrap(),
                8,
                name,
                Endian::Little
            ));
            pos += reclen;
        }
        c
    }

    #[test]
    fn parses_entries_and_last_reclen_fills_the_chunk() {
        let c = chunk_with(&[(2, b"."), (2, b".."), (5, b"hello")]);
        let (e, bad) = parse_chunk(&c, 0, Endian::Little);
        assert!(bad.is_none());
        assert_eq!(e.len(), 3);
        assert_eq!(e[2].name, b"hello");
        assert_eq!(e[2].offset, 24);
    }

    #[test]
    fn reclen_past_chunk_is_bad() {
        let mut c = chunk_with(&[(2, b".")]);
        c[4..6].copy_from_slice(&516u16.to_le_bytes());
        let (_, bad) = parse_chunk(&c, 0, Endian::Little);
        assert_eq!(bad, Some((0, BadEntry::RecLen(516))));
    }

    #[test]
    fn nul_or_slash_found_at_every_place() {
        // Bytes next to the ones looked for, in value and in bit pattern.
        let others = [b'a', b'.', b'0', 0x01, 0x2e, 0x30, 0x7f, 0x80, 0xaf, 0xff];
        for len in 0..20 {
            for &fill in &others {
                let clean = vec![fill; len];
                assert!(!has_nul_or_slash(&clean), "{clean:?}");
                for at in 0..len {
                    for bad in [0u8, b'/'] {
                        let mut n = clean.clone();
                        n[at] = bad;
                        assert!(has_nul_or_slash(&n), "{n:?}");
                    }
                }
            }
        }
        // Mixed names against the byte-at-a-time rule.
        let alphabet = [0u8, b'/', b'a', 0x01, 0x2e, 0x30, 0x80, 0xaf, 0xff];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let len = usize::try_from(seed >> 59).unwrap_or(0);
            let name: Vec<u8> = (0..len)
                .map(|k| {
                    let pick = (seed >> (k * 2 % 56)) % 9;
                    alphabet[usize::try_from(pick).unwrap_or(0)]
                })
                .collect();
            let naive = name.iter().any(|&c| c == 0 || c == b'/');
            assert_eq!(has_nul_or_slash(&name), naive, "{name:?}");
        }
    }

    #[test]
    fn slash_in_name_is_bad() {
        let c = chunk_with(&[(2, b"."), (7, b"a/b")]);
        let (_, bad) = parse_chunk(&c, 0, Endian::Little);
        assert_eq!(bad, Some((12, BadEntry::Name)));
    }

    /// One entry at the start of a chunk: header fields as given, then
    /// the name and a NUL.
    fn raw(ino: u32, reclen: u16, dtype: u8, name: &[u8]) -> Vec<u8> {
        let mut c = vec![0u8; DIRBLKSIZ];
        DirectHdr {
            d_ino: ino,
            d_reclen: reclen,
            d_type: dtype,
            d_namlen: u8::try_from(name.len()).unwrap_or(u8::MAX),
        }
        .encode_into(&mut c, Endian::Little);
        c[8..8 + name.len()].copy_from_slice(name);
        c
    }

    fn verdicts(c: &[u8], filesize: i64) -> (Result<(), BadEntry>, Result<(), BadEntry>) {
        let e = EntryHead::decode(c, Endian::Little).expect("header fits");
        (e.reader_check(c.len()), e.fsck_check(c.len(), filesize))
    }

    #[test]
    fn the_reader_and_fsck_rules_differ_where_freebsd_does() {
        let full = i64::try_from(DIRBLKSIZ).unwrap();
        // A good entry passes both.
        assert_eq!(verdicts(&raw(5, 512, 8, b"file"), full), (Ok(()), Ok(())));
        // An empty name: the kernel reads it, fsck calls it bad.
        assert_eq!(
            verdicts(&raw(5, 512, 8, b""), full),
            (Ok(()), Err(BadEntry::EmptyName))
        );
        // A type above 15: the same.
        assert_eq!(
            verdicts(&raw(5, 512, 16, b"x"), full),
            (Ok(()), Err(BadEntry::Type(16)))
        );
        // An entry past the directory's size: only fsck knows the size.
        assert_eq!(
            verdicts(&raw(5, 512, 8, b"file"), 8),
            (Ok(()), Err(BadEntry::PastEnd))
        );
        // An unused slot too short for its name: the kernel checks the
        // length of unused slots too, fsck does not.
        assert_eq!(
            verdicts(&raw(0, 8, 0, b"longname"), full),
            (Err(BadEntry::RecLen(8)), Ok(()))
        );
        // A record length that is not a multiple of 4, or leaves the
        // chunk: bad for both.
        for r in [0u16, 6, 516] {
            let (a, b) = verdicts(&raw(5, r, 8, b"f"), full);
            assert_eq!((a, b), (Err(BadEntry::RecLen(r)), Err(BadEntry::RecLen(r))));
        }
        // A '/' or NUL in a name, or a missing terminator: bad for both.
        let mut unterminated = raw(5, 512, 8, b"abc");
        unterminated[11] = b'x';
        for c in [
            raw(5, 512, 8, b"a/b"),
            raw(5, 512, 8, b"a\0b"),
            unterminated,
        ] {
            assert_eq!(
                verdicts(&c, full),
                (Err(BadEntry::Name), Err(BadEntry::Name))
            );
        }
        assert_eq!(MINDIRSIZE, 24);
    }

    #[test]
    fn zero_reclen_is_bad_not_a_hang() {
        let c = vec![0u8; DIRBLKSIZ];
        let (_, bad) = parse_chunk(&c, 0, Endian::Little);
        assert_eq!(bad, Some((0, BadEntry::RecLen(0))));
    }
}

/// Whether `name` can stand in a directory entry: 1 to `MAXNAMLEN` (255)
/// bytes, no `/` and no NUL (`.` and `..` included: every directory has
/// them).
pub fn valid_entry_name(name: &[u8]) -> bool {
    !name.is_empty() && name.len() <= MAXNAMLEN && !name.contains(&b'/') && !name.contains(&0)
}

/// Packs entries into `DIRBLKSIZ` chunks the way FreeBSD lays out a new
/// directory: in order, each chunk's last entry taking the chunk's slack.
/// A name that [`valid_entry_name`] refuses is an error, never a corrupt
/// directory.
pub fn pack(entries: &[(&[u8], Ino, u8)], endian: Endian) -> crate::error::Result<Vec<u8>> {
    if let Some((bad, _, _)) = entries.iter().find(|(n, _, _)| !valid_entry_name(n)) {
        return Err(crate::error::Error::InvalidInput(format!(
            "invalid file name {:?} (1 to 255 bytes, no '/' or NUL)",
            String::from_utf8_lossy(bad)
        )));
    }
    let mut out: Vec<u8> = Vec::new();
    let mut chunk_start = 0usize;
    let mut last: Option<usize> = None;
    for (name, ino, dtype) in entries {
        let need = direct_size(name.len());
        let pos = out.len();
        if pos + need > chunk_start + DIRBLKSIZ {
            if let Some(l) = last {
                // Stretch the previous chunk's last entry to its end.
                // Within one DIRBLKSIZ (512-byte) chunk.
                let reclen = u16::try_from(chunk_start + DIRBLKSIZ - l).unwrap_or(0);
                let h = DirectHdr::decode(&out[l..], endian);
                if let Some(mut h) = h {
                    h.d_reclen = reclen;
                    h.encode_into(&mut out[l..], endian);
                }
                out.resize(chunk_start + DIRBLKSIZ, 0);
                chunk_start += DIRBLKSIZ;
            }
        }
        let pos = out.len();
        out.resize(pos + need, 0);
        // Cannot fail: the name was checked and `need` bytes were made.
        // An entry of a name of at most 255 bytes: under 300 bytes.
        let need16 = u16::try_from(need).unwrap_or(0);
        let _ = encode_entry(&mut out[pos..], *ino, need16, *dtype, name, endian);
        last = Some(pos);
    }
    if let Some(l) = last {
        // Within one DIRBLKSIZ (512-byte) chunk.
        let reclen = u16::try_from(chunk_start + DIRBLKSIZ - l).unwrap_or(0);
        if let Some(mut h) = DirectHdr::decode(&out[l..], endian) {
            h.d_reclen = reclen;
            h.encode_into(&mut out[l..], endian);
        }
        out.resize(chunk_start + DIRBLKSIZ, 0);
    }
    Ok(out)
}

#[cfg(test)]
mod pack_tests {
    use super::*;

    #[test]
    fn packed_directories_parse_back() {
        let names: Vec<Vec<u8>> = (0..300)
            .map(|i| format!("name-{i}-{}", "x".repeat(i % 40)).into_bytes())
            .collect();
        let entries: Vec<(&[u8], Ino, u8)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_slice(), Ino(u32::try_from(i).unwrap() + 3), 8))
            .collect();
        let data = pack(&entries, Endian::Big).expect("valid names");
        assert_eq!(data.len() % DIRBLKSIZ, 0);
        let got = parse_all(Ino(2), &data, Endian::Big).expect("valid");
        assert_eq!(got.len(), 300);
        assert!(got.iter().zip(&names).all(|(e, n)| &e.name == n));
    }

    #[test]
    fn invalid_names_are_refused_not_packed() {
        let long = vec![b'x'; 256];
        for bad in [&b""[..], b"a/b", b"nul\0", &long] {
            let e = [(bad, Ino(3), 8u8)];
            assert!(pack(&e, Endian::Little).is_err(), "{bad:?}");
        }
        let max = vec![b'y'; 255];
        let ok = [
            (&b"."[..], Ino(2), 4u8),
            (b"..", Ino(2), 4),
            (&max[..], Ino(3), 8),
        ];
        assert!(pack(&ok, Endian::Little).is_ok());
    }
}
