//! The free-space arithmetic of one cylinder group, in one place.
//!
//! A group's fragment map (`cg_blksfree`, a 1 for each free fragment) is
//! the truth; everything else UFS stores about free space in the group is
//! derived from it: the free whole blocks (`cs_nbfree`), the free fragments
//! in partly used blocks (`cs_nffree`), the free runs of each length inside
//! those blocks (`cg_frsum`), the map of wholly free blocks
//! (`cg_clustersfree`) and the runs of wholly free blocks of each length up
//! to `fs_contigsumsize` (`cg_clustersum`). FreeBSD derives them with
//! `ffs_fragacct` and `ffs_clusteracct` (sys/ufs/ffs/ffs_subr.c), and fsck
//! rebuilds them the same way (sbin/fsck_ffs/pass5.c).
//!
//! The write path (`crate::alloc`), fsck's phase 5 and the reference test
//! of newfs's analytic counts all call these functions. They read the map
//! through a predicate (`free(n)`: whether fragment `n` of the group is
//! free), so the same arithmetic runs over a cylinder-group block, fsck's
//! block-used map or a planned layout.

/// What one block of a group holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockState {
    /// All `frag` fragments free and the block wholly inside the group
    /// (the last block of a short last group is never a free block).
    pub whole: bool,
    /// Free fragments in the block.
    pub free: u32,
}

/// The state of block `b` of a group of `nfrags` fragments of `frag` per
/// block.
pub fn block_state(free: impl Fn(u64) -> bool, nfrags: u64, frag: u32, b: u64) -> BlockState {
    let f = u64::from(frag);
    let start = b.saturating_mul(f);
    let n = (0..f)
        .filter(|&i| start + i < nfrags && free(start + i))
        .count();
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    BlockState {
        whole: n == frag && start.saturating_add(f) <= nfrags,
        free: n,
    }
}

/// `ffs_fragacct`: adds `sign` times each free run inside block `b` to
/// `sum` (`sum[n]` counts runs of `n` fragments; a run of 8 or more, which
/// only a wholly free block has, lands in entry 7). A wholly free block
/// counts as a block, not as runs, so it adds nothing.
pub fn fragacct(
    sum: &mut [i64; 8],
    free: impl Fn(u64) -> bool,
    nfrags: u64,
    frag: u32,
    b: u64,
    sign: i64,
) {
    if block_state(&free, nfrags, frag, b).whole {
        return;
    }
    let f = u64::from(frag);
    let start = b.saturating_mul(f);
    let is_free = |i: u64| start + i < nfrags && free(start + i);
    let mut run = 0usize;
    for i in 0..f {
        if is_free(i) {
            run += 1;
        } else {
            if run > 0 {
                sum[run.min(7)] += sign;
            }
            run = 0;
        }
    }
    if run > 0 {
        sum[run.min(7)] += sign;
    }
}

/// Every count a group's fragment map determines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Wholly free blocks (`cs_nbfree`).
    pub nbfree: u64,
    /// Free fragments in partly used blocks (`cs_nffree`).
    pub nffree: u64,
    /// `cg_frsum`: entry `n` counts free runs of `n` fragments inside partly
    /// used blocks (entry 0 is unused).
    pub frsum: [u32; 8],
    /// `cg_clustersfree`: bit `b` (LSB first, as on disk) set when block
    /// `b` is wholly free; one bit per whole block of the group.
    pub clusters: Vec<u8>,
    /// `cg_clustersum[0..=contigsumsize]`: entry `n` counts runs of `n`
    /// wholly free blocks, longer runs counted in the last entry (entry 0
    /// is unused). Empty when `contigsumsize` is 0.
    pub clustersum: Vec<u32>,
}

impl GroupCounts {
    /// Nothing counted yet, with room for the cluster bits of
    /// `whole_blocks` blocks and runs of up to `contigsumsize` blocks.
    fn empty(whole_blocks: u64, contigsumsize: u32) -> Self {
        GroupCounts {
            clusters: vec![0u8; usize::try_from(whole_blocks.div_ceil(8)).unwrap_or(0)],
            clustersum: if contigsumsize > 0 {
                vec![0; contigsumsize as usize + 1]
            } else {
                Vec::new()
            },
            ..GroupCounts::default()
        }
    }
    /// Counts the run of `run` wholly free blocks that just ended (longer
    /// runs in the last entry) and starts the next.
    fn end_cluster(&mut self, run: &mut usize) {
        let cap = self.clustersum.len().saturating_sub(1);
        if *run > 0 && cap > 0 {
            self.clustersum[(*run).min(cap)] += 1;
        }
        *run = 0;
    }
    /// Whether block `b` is wholly free.
    pub fn block_free(&self, b: u64) -> bool {
        usize::try_from(b / 8)
            .ok()
            .and_then(|i| self.clusters.get(i))
            .is_some_and(|&byte| byte & (1 << (b % 8)) != 0)
    }
}

/// Derives a group's counts from its fragment map: `nfrags` fragments (the
/// last group may be short and end inside a block), `frag` per block,
/// `contigsumsize` cluster lengths counted (`fs_contigsumsize`, 0 for
/// none). Fragments at or past `nfrags` count as used.
pub fn group_counts(
    free: impl Fn(u64) -> bool,
    nfrags: u64,
    frag: u32,
    contigsumsize: u32,
) -> GroupCounts {
    let f = u64::from(frag.max(1));
    let whole_blocks = nfrags / f;
    let mut out = GroupCounts::empty(whole_blocks, contigsumsize);
    let mut cluster_run = 0usize;
    let mut sum = [0i64; 8];
    for b in 0..nfrags.div_ceil(f) {
        let st = block_state(&free, nfrags, frag, b);
        if st.whole {
            out.nbfree += 1;
            cluster_run += 1;
            if let Some(byte) = usize::try_from(b / 8)
                .ok()
                .and_then(|i| out.clusters.get_mut(i))
            {
                *byte |= 1 << (b % 8);
            }
        } else {
            out.end_cluster(&mut cluster_run);
            out.nffree += u64::from(st.free);
            if st.free > 0 {
                fragacct(&mut sum, &free, nfrags, frag, b, 1);
            }
        }
    }
    out.end_cluster(&mut cluster_run);
    for (d, s) in out.frsum.iter_mut().zip(sum) {
        *d = u32::try_from(s).unwrap_or(u32::MAX);
    }
    out
}

/// [`group_counts`] over the fragment map as a group stores it (bit `n % 8`
/// of byte `n / 8` set when fragment `n` is free; bytes past `map` read as
/// used), 64 fragments at a time: wholly free and wholly used words count
/// in one step, and only partly used blocks are looked at bit by bit.
/// fsck's phase 5 derives every group's counts this way; a predicate call
/// per fragment was most of that phase. `frag` other than 1, 2, 4 or 8
/// (which the superblock checks refuse) goes the predicate's way.
pub fn group_counts_map(map: &[u8], nfrags: u64, frag: u32, contigsumsize: u32) -> GroupCounts {
    if !matches!(frag, 1 | 2 | 4 | 8) {
        let free = |n: u64| {
            usize::try_from(n / 8)
                .ok()
                .and_then(|i| map.get(i))
                .is_some_and(|&b| b & (1 << (n % 8)) != 0)
        };
        return group_counts(free, nfrags, frag, contigsumsize);
    }
    let f = u64::from(frag);
    let whole_blocks = nfrags / f;
    let nblocks = nfrags.div_ceil(f);
    let mut out = GroupCounts::empty(whole_blocks, contigsumsize);
    let mut run = 0usize;
    // Blocks per word: 8 to 64, so a word's blocks start at a byte of
    // `clusters`.
    let per_word = 64 / f;
    let fmask = (1u64 << f) - 1;
    for k in 0..nfrags.div_ceil(64) {
        let first = k * 64;
        let mut w = word_le(map, first / 8);
        if nfrags - first < 64 {
            w &= (1u64 << (nfrags - first)) - 1;
        }
        let b0 = k * per_word;
        if w == u64::MAX {
            // Every block of the word wholly free and inside the group.
            out.nbfree += per_word;
            run += (64 / frag) as usize;
            let lo = usize::try_from(b0 / 8).unwrap_or(usize::MAX);
            let hi = usize::try_from((b0 + per_word) / 8).unwrap_or(usize::MAX);
            if let Some(s) = out.clusters.get_mut(lo..hi) {
                s.fill(0xff);
            }
            continue;
        }
        if w == 0 {
            out.end_cluster(&mut run);
            continue;
        }
        for j in 0..per_word.min(nblocks - b0) {
            let bits = (w >> (j * f)) & fmask;
            // Fragments past `nfrags` were masked off: a block reaching
            // past the group is never all ones.
            if bits == fmask {
                out.nbfree += 1;
                run += 1;
                let b = b0 + j;
                if let Some(byte) = usize::try_from(b / 8)
                    .ok()
                    .and_then(|i| out.clusters.get_mut(i))
                {
                    *byte |= 1 << (b % 8);
                }
                continue;
            }
            out.end_cluster(&mut run);
            out.nffree += u64::from(bits.count_ones());
            // ffs_fragacct: each run of free fragments in the block.
            let mut x = bits;
            while x != 0 {
                x >>= x.trailing_zeros();
                let ones = (!x).trailing_zeros();
                out.frsum[(ones as usize).min(7)] += 1;
                x >>= ones;
            }
        }
    }
    out.end_cluster(&mut run);
    out
}

/// The 8 bytes of `map` from byte `at` as a little-endian word; bytes past
/// the end read as 0.
fn word_le(map: &[u8], at: u64) -> u64 {
    let at = usize::try_from(at).unwrap_or(usize::MAX);
    let mut b = [0u8; 8];
    if let Some(s) = map.get(at..) {
        let n = s.len().min(8);
        b[..n].copy_from_slice(&s[..n]);
    }
    u64::from_le_bytes(b)
}

/// A group's count as `cg_cs` and the summary area hold it. A group has at
/// most `fs_fpg` fragments and `fs_ipg` inodes, both `i32` on disk, so on a
/// validated geometry this never saturates.
pub fn cs_count(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Free inodes of a group of `ipg` inodes whose map says `used(n)`
/// (`cs_nifree`).
pub fn free_inodes(used: impl Fn(u32) -> bool, ipg: u32) -> u32 {
    let n = (0..ipg).filter(|&n| !used(n)).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fragment map from a picture: `#` used, `.` free, spaces ignored.
    fn map(pic: &str) -> Vec<bool> {
        pic.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c == '.')
            .collect()
    }

    fn counts(pic: &str, frag: u32, contig: u32) -> GroupCounts {
        let m = map(pic);
        group_counts(
            |n| m[usize::try_from(n).unwrap()],
            m.len() as u64,
            frag,
            contig,
        )
    }

    #[test]
    fn frag8_runs_blocks_and_clusters() {
        // Blocks: free, free, partly (runs 3 and 1), used, free, partly
        // (run 7), free, free, free.
        let c = counts(
            "........ ........ ...#.### ######## ........ #....... \
             ........ ........ ........",
            8,
            2,
        );
        assert_eq!(c.nbfree, 6);
        assert_eq!(c.nffree, 4 + 7);
        assert_eq!(c.frsum, [0, 1, 0, 1, 0, 0, 0, 1]);
        // Clusters: runs of 2, 1, 3 capped at contigsumsize 2.
        assert_eq!(c.clustersum, vec![0, 1, 2]);
        assert_eq!(c.clusters, vec![0b1101_0011, 0b1]);
        assert!(c.block_free(8) && !c.block_free(2));
    }

    #[test]
    fn frag4_with_short_last_block() {
        // Ten fragments: two whole blocks and a two-fragment tail, which is
        // never a free block however free it is (the last group of a file
        // system whose size is not a multiple of the block).
        let c = counts(".... .#.. ..", 4, 16);
        assert_eq!(c.nbfree, 1);
        assert_eq!(c.nffree, 3 + 2);
        assert_eq!(c.frsum, [0, 1, 2, 0, 0, 0, 0, 0]);
        assert_eq!(c.clusters, vec![0b01]);
        assert_eq!(c.clustersum.len(), 17);
        assert_eq!(c.clustersum[1], 1);
        assert_eq!(c.clustersum.iter().sum::<u32>(), 1);
    }

    #[test]
    fn frag1_has_no_fragment_runs() {
        // One fragment per block (bsize == fsize): every free fragment is
        // a free block.
        let c = counts("..#...#", 1, 0);
        assert_eq!((c.nbfree, c.nffree), (5, 0));
        assert_eq!(c.frsum, [0; 8]);
        assert!(c.clustersum.is_empty());
    }

    #[test]
    fn fragacct_adds_and_removes_the_same_runs() {
        let m = map(".#..#...");
        let free = |n: u64| m[usize::try_from(n).unwrap()];
        let mut sum = [0i64; 8];
        fragacct(&mut sum, free, 8, 8, 0, 1);
        assert_eq!(sum, [0, 1, 1, 1, 0, 0, 0, 0]);
        fragacct(&mut sum, free, 8, 8, 0, -1);
        assert_eq!(sum, [0; 8]);
        // A wholly free block adds nothing.
        fragacct(&mut sum, |_| true, 8, 8, 0, 1);
        assert_eq!(sum, [0; 8]);
    }

    #[test]
    fn block_state_counts_only_inside_the_group() {
        let all = |_: u64| true;
        assert_eq!(
            block_state(all, 12, 8, 1),
            BlockState {
                whole: false,
                free: 4
            }
        );
        assert_eq!(
            block_state(all, 12, 8, 0),
            BlockState {
                whole: true,
                free: 8
            }
        );
    }

    /// Bits of a picture's map, LSB first, as a group stores it.
    fn bytes(m: &[bool]) -> Vec<u8> {
        let mut out = vec![0u8; m.len().div_ceil(8)];
        for (i, _) in m.iter().enumerate().filter(|(_, &free)| free) {
            out[i / 8] |= 1 << (i % 8);
        }
        out
    }

    #[test]
    fn map_counts_match_the_pictures() {
        for (pic, frag, contig) in [
            (
                "........ ........ ...#.### ######## ........ #....... \
                 ........ ........ ........",
                8,
                2,
            ),
            (".... .#.. ..", 4, 16),
            ("..#...#", 1, 0),
        ] {
            let m = map(pic);
            let want = counts(pic, frag, contig);
            assert_eq!(
                group_counts_map(&bytes(&m), m.len() as u64, frag, contig),
                want
            );
        }
    }

    proptest::proptest! {
        /// The word-at-a-time counts are the predicate's, for any map,
        /// length (short last blocks and words included), fragments per
        /// block and cluster summary size; long runs of free and used
        /// fragments are likely, so whole words of each come up.
        #[test]
        fn map_counts_match_the_predicate(
            runs in proptest::collection::vec((proptest::bool::ANY, 1usize..150), 0..40),
            fshift in 0u32..4,
            contig in 0u32..20,
            cut in 0usize..64,
        ) {
            let mut m: Vec<bool> = runs.iter().flat_map(|&(free, n)| std::iter::repeat_n(free, n)).collect();
            m.truncate(m.len().saturating_sub(cut));
            let frag = 1 << fshift;
            let want = group_counts(|n| m[usize::try_from(n).unwrap()], m.len() as u64, frag, contig);
            // Trailing bytes past the group's fragments are ignored.
            let mut b = bytes(&m);
            if let (Some(last), r @ 1..) = (b.last_mut(), m.len() % 8) {
                *last |= 0xff << r;
            }
            b.extend([0xff; 9]);
            proptest::prop_assert_eq!(group_counts_map(&b, m.len() as u64, frag, contig), want);
        }
    }

    #[test]
    fn inode_counts() {
        assert_eq!(free_inodes(|n| n < 3 || n == 7, 16), 12);
    }
}
