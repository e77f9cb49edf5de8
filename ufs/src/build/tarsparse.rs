//! Sparse members of tar archives, for `ufs makefs`.
//!
//! The `tar` crate expands old GNU sparse members (`tar -S` in GNU format)
//! into their full contents, zeros included, but knows nothing of the PAX
//! sparse formats GNU tar writes with `--format=posix -S`: there the
//! member's data is only the stored chunks, and the map is in PAX records
//! (formats 0.0 and 0.1) or at the start of the data (1.0), with the real
//! name in `GNU.sparse.name` (GNU tar's manual, "Storing Sparse Files").
//! This module reads those maps, and writes any tar member's data leaving
//! holes where whole 4 KiB pieces are zero, so a sparse file stays sparse.

use std::io::Read;

/// Where a member's bytes go: (file offset, bytes).
pub type WriteAt<'a> = dyn FnMut(u64, &[u8]) -> Result<(), String> + 'a;

/// Hole granularity: the page size SEEK_HOLE reports holes in on Linux
/// and FreeBSD, and a multiple of every UFS fragment size ufskit makes.
const PIECE: u64 = 4096;
/// At most this many map entries are accepted (each costs 16 bytes).
const MAX_CHUNKS: u64 = 1 << 20;

/// What the PAX records of a member say about sparseness.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PaxSparse {
    /// `GNU.sparse.name`: the real name (0.1 and 1.0 store the member as
    /// `GNUSparseFile.N/NAME`).
    pub name: Option<Vec<u8>>,
    /// `GNU.sparse.size` or `GNU.sparse.realsize`: the expanded size.
    pub size: Option<u64>,
    /// The map from the records (0.0's offset/numbytes pairs, 0.1's
    /// `GNU.sparse.map`); `None` with format 1.0, whose map is in the data.
    pub map: Option<Vec<(u64, u64)>>,
    /// `GNU.sparse.major` is 1: the map heads the data.
    pub map_in_data: bool,
}

impl PaxSparse {
    /// Whether the member is sparse in a PAX format.
    pub fn is_sparse(&self) -> bool {
        self.size.is_some() && (self.map.is_some() || self.map_in_data)
    }
}

fn num(v: &str) -> Result<u64, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("bad number {v:?} in a PAX sparse record"))
}

/// Reads the GNU sparse records from a member's PAX extensions, given as
/// (key, value) pairs in archive order.
pub fn from_pax<'a>(
    records: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Result<PaxSparse, String> {
    let mut s = PaxSparse::default();
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    let mut pending: Option<u64> = None;
    for (k, v) in records {
        let text = || String::from_utf8_lossy(v).into_owned();
        match k {
            "GNU.sparse.name" => s.name = Some(v.to_vec()),
            "GNU.sparse.size" | "GNU.sparse.realsize" => s.size = Some(num(&text())?),
            "GNU.sparse.major" => s.map_in_data = num(&text())? == 1,
            "GNU.sparse.offset" => pending = Some(num(&text())?),
            "GNU.sparse.numbytes" => {
                let off = pending
                    .take()
                    .ok_or("GNU.sparse.numbytes without an offset")?;
                pairs.push((off, num(&text())?));
                s.map = Some(pairs.clone());
            }
            "GNU.sparse.map" => {
                let n: Vec<u64> = text()
                    .split(',')
                    .filter(|w| !w.is_empty())
                    .map(num)
                    .collect::<Result<_, _>>()?;
                if !n.len().is_multiple_of(2) {
                    return Err("GNU.sparse.map has an odd count of numbers".into());
                }
                s.map = Some(n.chunks_exact(2).map(|c| (c[0], c[1])).collect());
            }
            _ => {}
        }
    }
    Ok(s)
}

/// Reads format 1.0's map from the head of the data: decimal numbers, one
/// per line (the count, then offset and size pairs), padded with zeros to
/// a 512-byte boundary. Returns the map and the bytes the header took.
fn map_from_data(r: &mut dyn Read) -> Result<Vec<(u64, u64)>, String> {
    let mut used = 0u64;
    let mut line = Vec::new();
    let mut next = |used: &mut u64| -> Result<u64, String> {
        line.clear();
        let mut b = [0u8; 1];
        loop {
            r.read_exact(&mut b)
                .map_err(|e| format!("sparse map: {e}"))?;
            *used += 1;
            if b[0] == b'\n' {
                break;
            }
            if line.len() > 20 {
                return Err("sparse map: number too long".into());
            }
            line.push(b[0]);
        }
        num(&String::from_utf8_lossy(&line))
    };
    let count = next(&mut used)?;
    if count > MAX_CHUNKS {
        return Err(format!("sparse map: {count} chunks is too many"));
    }
    // At most MAX_CHUNKS (checked above).
    #[allow(clippy::cast_possible_truncation)]
    let mut map = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let off = next(&mut used)?;
        map.push((off, next(&mut used)?));
    }
    let pad = used.next_multiple_of(512) - used;
    std::io::copy(&mut r.take(pad), &mut std::io::sink())
        .map_err(|e| format!("sparse map: {e}"))?;
    Ok(map)
}

/// Writes `data` (at file offset `off`) through `write`, leaving out every
/// 4 KiB-aligned piece that is all zeros, so it stays a hole.
pub fn write_nonzero(off: u64, data: &[u8], write: &mut WriteAt<'_>) -> Result<(), String> {
    let mut at = 0usize;
    while at < data.len() {
        let pos = off + at as u64;
        let piece = usize::try_from(PIECE - pos % PIECE).unwrap_or(usize::MAX);
        let end = data.len().min(at.saturating_add(piece));
        let part = &data[at..end];
        if part.iter().any(|&b| b != 0) {
            write(pos, part)?;
        }
        at = end;
    }
    Ok(())
}

/// Copies a member's data to the file through `write`: placed by the map
/// for a PAX sparse member, else in order; zero pieces become holes.
/// Returns the bytes read from the archive.
pub fn copy(
    r: &mut dyn Read,
    sparse: &PaxSparse,
    buf: &mut [u8],
    write: &mut WriteAt<'_>,
) -> Result<u64, String> {
    let map = if !sparse.is_sparse() {
        vec![(0, u64::MAX)]
    } else if let Some(m) = &sparse.map {
        m.clone()
    } else {
        map_from_data(r)?
    };
    let size = sparse.size.unwrap_or(u64::MAX);
    let mut read = 0u64;
    for (off, len) in map {
        if off.checked_add(len).is_none_or(|e| e > size) && sparse.is_sparse() {
            return Err(format!(
                "sparse map chunk at {off} (+{len}) is past the file's size {size}"
            ));
        }
        let mut done = 0u64;
        while done < len {
            let want = usize::try_from(len - done)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let n = r.read(&mut buf[..want]).map_err(|e| e.to_string())?;
            if n == 0 {
                if sparse.is_sparse() {
                    return Err("archive ends inside a sparse member's data".into());
                }
                return Ok(read);
            }
            write_nonzero(off + done, &buf[..n], write)?;
            done += n as u64;
            read += n as u64;
        }
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_pieces_are_left_out() {
        let mut data = vec![0u8; 3 * 4096];
        data[5000] = 1;
        let mut got = Vec::new();
        write_nonzero(0, &data, &mut |o, d| {
            got.push((o, d.len()));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, [(4096, 4096)]);
    }

    #[test]
    fn format_1_0_map_heads_the_data() {
        let mut member = b"2\n0\n3\n8192\n2\n".to_vec();
        member.resize(512, 0);
        member.extend_from_slice(b"abcXY");
        let s = PaxSparse {
            size: Some(8194),
            map_in_data: true,
            ..Default::default()
        };
        let mut got = Vec::new();
        copy(&mut member.as_slice(), &s, &mut [0u8; 64], &mut |o, d| {
            got.push((o, d.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, [(0, b"abc".to_vec()), (8192, b"XY".to_vec())]);
    }

    #[test]
    fn a_map_past_the_size_is_refused() {
        let s =
            from_pax([("GNU.sparse.size", &b"10"[..]), ("GNU.sparse.map", b"0,20")].into_iter())
                .unwrap();
        let r = copy(&mut &[0u8; 20][..], &s, &mut [0u8; 8], &mut |_, _| Ok(()));
        assert!(r.is_err());
    }
}
