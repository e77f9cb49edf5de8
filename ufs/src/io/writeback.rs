//! A write-combining layer: small positioned writes that continue one
//! another are gathered into large ones.
//!
//! Building an image writes a file's data, then its inode, then the next
//! file's data right after the first, and so on: two or three sequential
//! streams interleaved, in pieces of a few KiB, with the odd fragment
//! filled in later just before or between what was written (the fragment
//! allocator backfills partly used blocks). Sent one by one they cost a
//! system call each; [`WriteBack`] keeps a handful of growing runs in
//! memory, joins runs that come to touch, and writes each out when it
//! reaches [`RUN_LIMIT`] or, least recently written first, when there are
//! too many, so the device sees large sequential writes. Reads see pending
//! data (read your writes) and are served from memory when one run holds
//! all the bytes asked for; [`Device::flush`] writes everything out first.
//! Memory is bounded by about `(MAX_RUNS + 4) * 2 * RUN_LIMIT` (1 MiB).

use super::Device;

/// Largest run kept before it is written out.
pub const RUN_LIMIT: usize = 64 << 10;
/// Most runs kept at once: one per stream of writes (data, inodes, a
/// backfilled fragment) and one to spare. Eight made no fewer writes
/// (19,900 for 200,000 files either way) and cost half a MiB of memory.
pub const MAX_RUNS: usize = 4;
/// Largest run a write just before it is prepended to (the run's bytes
/// are moved, so only short runs are worth it).
const PREPEND_LIMIT: usize = 64 << 10;

struct Run {
    offset: u64,
    data: Vec<u8>,
    /// When the run was last written to (for choosing one to write out).
    stamp: u64,
}

impl Run {
    fn end(&self) -> u64 {
        self.offset + self.data.len() as u64
    }
}

/// Wraps a device and combines sequential writes.
pub struct WriteBack<D> {
    inner: D,
    /// Pending runs; they never overlap one another.
    runs: Vec<Run>,
    len: u64,
    clock: u64,
    /// Buffers of runs written out, kept for new runs: every buffer has
    /// room for `BUFFER` bytes from the start, so a run never grows by
    /// reallocation (a copy into freshly faulted pages each time, most of
    /// this layer's cost before).
    spare: Vec<Vec<u8>>,
    /// Whether [`Device::flush`] also flushes the device (makes the data
    /// durable), or only writes the pending runs to it.
    durable: bool,
}

/// Buffers kept for new runs: about as many as there are streams of
/// writes at once (data, inodes, a backfilled fragment).
const SPARE_BUFFERS: usize = 4;
/// Room in each run's buffer: a run is written out at `RUN_LIMIT`, and the
/// write or join that takes it there adds less than `RUN_LIMIT` more.
const BUFFER: usize = 2 * RUN_LIMIT;

impl<D: Device> WriteBack<D> {
    /// Wraps `inner`.
    pub fn new(inner: D) -> Self {
        let len = inner.len();
        WriteBack {
            inner,
            runs: Vec::new(),
            len,
            clock: 0,
            spare: Vec::new(),
            durable: true,
        }
    }

    /// Makes [`Device::flush`] only hand the pending writes to the device,
    /// not make them durable (no `fsync` of an image file): for building
    /// a new image, which is as durable as any file written without
    /// `fsync` (`cp`, NetBSD makefs) and where waiting for the disk to
    /// take every byte would double the time on a slow disk.
    pub fn not_durable(mut self) -> Self {
        self.durable = false;
        self
    }

    fn write_run(&mut self, i: usize) -> std::io::Result<()> {
        let run = self.runs.swap_remove(i);
        let r = self.inner.write_at(run.offset, &run.data);
        if self.spare.len() < SPARE_BUFFERS {
            let mut data = run.data;
            data.clear();
            self.spare.push(data);
        }
        r
    }

    /// An empty buffer for a new run.
    fn buffer(&mut self) -> Vec<u8> {
        self.spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BUFFER))
    }

    /// Writes out the least recently written run.
    fn write_oldest(&mut self) -> std::io::Result<()> {
        let oldest = (0..self.runs.len()).min_by_key(|&i| self.runs[i].stamp);
        match oldest {
            Some(i) => self.write_run(i),
            None => Ok(()),
        }
    }

    /// Joins run `i` with a run starting where it ends, if there is one,
    /// and writes the result out when it has grown to the limit.
    fn grew(&mut self, i: usize) -> std::io::Result<()> {
        let end = self.runs[i].end();
        if let Some(j) = self.runs.iter().position(|r| r.offset == end) {
            let next = self.runs.swap_remove(j);
            // swap_remove moved the last run into `j`: `i` may have moved.
            let i = if i == self.runs.len() { j } else { i };
            self.runs[i].data.extend_from_slice(&next.data);
            return self.check_limit(i);
        }
        self.check_limit(i)
    }

    fn check_limit(&mut self, i: usize) -> std::io::Result<()> {
        if self.runs[i].data.len() >= RUN_LIMIT {
            self.write_run(i)?;
        }
        Ok(())
    }

    /// Writes out every pending run and gives back the device.
    pub fn into_inner(mut self) -> std::io::Result<D> {
        while !self.runs.is_empty() {
            self.write_run(0)?;
        }
        Ok(self.inner)
    }
}

impl<D: Device> Device for WriteBack<D> {
    // Each usize cast is of an offset inside `buf` or inside a pending
    // run's in-memory data.
    #[allow(clippy::cast_possible_truncation)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let end = offset + buf.len() as u64;
        // All of it pending in one run: no need to ask the device.
        if let Some(r) = self
            .runs
            .iter()
            .find(|r| offset >= r.offset && end <= r.end())
        {
            let at = (offset - r.offset) as usize;
            buf.copy_from_slice(&r.data[at..at + buf.len()]);
            return Ok(());
        }
        let covered_by_runs = end <= self.len;
        if covered_by_runs && offset < self.inner.len() {
            // Whatever the device has, then the pending bytes on top.
            let dev_end = end.min(self.inner.len());
            self.inner
                .read_at(offset, &mut buf[..(dev_end - offset) as usize])?;
            buf[(dev_end - offset) as usize..].fill(0);
        } else if covered_by_runs {
            buf.fill(0);
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "past the end of the image",
            ));
        }
        for r in &self.runs {
            let lo = r.offset.max(offset);
            let hi = r.end().min(end);
            if lo < hi {
                buf[(lo - offset) as usize..(hi - offset) as usize]
                    .copy_from_slice(&r.data[(lo - r.offset) as usize..(hi - r.offset) as usize]);
            }
        }
        Ok(())
    }

    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        let end = offset + buf.len() as u64;
        if buf.is_empty() {
            self.len = self.len.max(end);
            return Ok(());
        }
        // Overlapping an older run partly: write that run out first so the
        // newer bytes win without merging logic.
        while let Some(i) = self.runs.iter().position(|r| {
            r.offset < end && offset < r.end() && !(offset >= r.offset && end <= r.end())
        }) {
            self.write_run(i)?;
        }
        self.clock += 1;
        let stamp = self.clock;
        if let Some(r) = self
            .runs
            .iter_mut()
            .find(|r| offset >= r.offset && end <= r.end())
        {
            // Inside the run's in-memory data.
            #[allow(clippy::cast_possible_truncation)]
            let at = (offset - r.offset) as usize;
            r.data[at..at + buf.len()].copy_from_slice(buf);
            r.stamp = stamp;
        } else if let Some(i) = self.runs.iter().position(|r| r.end() == offset) {
            self.runs[i].data.extend_from_slice(buf);
            self.runs[i].stamp = stamp;
            self.grew(i)?;
        } else if let Some(i) = self
            .runs
            .iter()
            .position(|r| r.offset == end && r.data.len() <= PREPEND_LIMIT)
        {
            let r = &mut self.runs[i];
            r.data.extend_from_slice(buf);
            r.data.rotate_right(buf.len());
            r.offset = offset;
            r.stamp = stamp;
            // (No run ends where this one now starts: the branch above
            // would have taken the write.)
            self.check_limit(i)?;
        } else if buf.len() >= RUN_LIMIT {
            self.inner.write_at(offset, buf)?;
        } else {
            if self.runs.len() >= MAX_RUNS {
                self.write_oldest()?;
            }
            let mut data = self.buffer();
            data.extend_from_slice(buf);
            self.runs.push(Run {
                offset,
                data,
                stamp,
            });
        }
        self.len = self.len.max(end);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn flush(&mut self) -> std::io::Result<()> {
        while !self.runs.is_empty() {
            self.write_run(0)?;
        }
        if self.durable {
            self.inner.flush()
        } else {
            Ok(())
        }
    }

    fn is_read_only(&self) -> bool {
        self.inner.is_read_only()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64 from `seed`: the tests' reproducible sequence.
    fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// Step `step` against `model`: a read of `len` bytes at `off` that
    /// must match it, or a write made to both.
    fn model_step(
        wb: &mut WriteBack<Vec<u8>>,
        model: &mut [u8],
        (off, len): (u64, usize),
        read: bool,
        step: u32,
    ) {
        let o = usize::try_from(off).expect("small");
        if read {
            let mut got = vec![0u8; len];
            wb.read_at(off, &mut got).expect("read");
            assert_eq!(got, model[o..o + len], "step {step}");
        } else {
            let data: Vec<u8> = (0..len)
                .map(|i| i.to_le_bytes()[0] ^ step.to_le_bytes()[0])
                .collect();
            wb.write_at(off, &data).expect("write");
            model[o..o + len].copy_from_slice(&data);
        }
    }

    /// Random writes and reads through the layer behave exactly like the
    /// same operations on a plain buffer, and flushing makes the device equal.
    #[test]
    fn behaves_like_the_device_itself() {
        let mut model = vec![0u8; 1 << 16];
        let mut wb = WriteBack::new(vec![0u8; 1 << 16]);
        let mut next = xorshift(0x1234_5678);
        for step in 0..20_000u32 {
            let off = next() % 60_000;
            let o = usize::try_from(off).expect("small");
            let len = usize::try_from(next() % 3000).expect("small") + 1;
            let len = len.min(model.len() - o);
            let read = next().is_multiple_of(3);
            model_step(&mut wb, &mut model, (off, len), read, step);
        }
        wb.flush().expect("flush");
        assert_eq!(wb.into_inner().expect("inner"), model);
    }
    /// Writes in whole 512-byte units, so that they often meet, continue
    /// and fill gaps between pending runs (the joining paths), and reads
    /// served from one run or from several: still exactly a plain buffer.
    #[test]
    fn joined_runs_behave_like_the_device_itself() {
        for seed in 1..=8u64 {
            let mut model = vec![0u8; 1 << 18];
            let mut wb = WriteBack::new(vec![0u8; 1 << 18]);
            let mut next = xorshift(0x9e37_79b9 ^ seed);
            for step in 0..20_000u32 {
                let off = (next() % 400) * 512;
                let len = usize::try_from((next() % 8 + 1) * 512).expect("small");
                let read = next().is_multiple_of(4);
                model_step(&mut wb, &mut model, (off, len), read, step);
                assert!(wb.runs.len() <= MAX_RUNS);
                for (i, a) in wb.runs.iter().enumerate() {
                    for b in &wb.runs[i + 1..] {
                        assert!(a.end() <= b.offset || b.end() <= a.offset, "runs overlap");
                    }
                }
            }
            wb.flush().expect("flush");
            assert_eq!(wb.into_inner().expect("inner"), model, "seed {seed}");
        }
    }
}
