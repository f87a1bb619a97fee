use anchor_lang::prelude::*;

/// Where the crank finds submitted and disputed jobs without scanning the
/// program: a page of up to `DUE_PAGE_JOBS` job keys falling due around one
/// `DUE_BUCKET_SECS` bucket of one market, PDA
/// `["due", market, bucket (u32 LE), shard (u16 LE)]`, zero-copy. Shards of
/// a bucket exist as a prefix 0..n (a shard is created only when the one
/// before it is full, and closed only when the one after it is gone), so a
/// reader walks them until the first missing one. Created and paid for by
/// the submitter (or the disputer), closed by anyone once every job in it
/// left and no job can be added any more, the rent back to its payer.
/// Jobs stay in the market only while assigned (at most one per busy node).
#[account(zero_copy)]
#[repr(C)]
pub struct DuePage {
    pub market: Pubkey,
    /// Paid the rent; gets it back at `close_due_page`.
    pub payer: Pubkey,
    /// `due time / DUE_BUCKET_SECS`, rounded up; every job here falls due
    /// within `DUE_TOLERANCE_SECS` of the bucket's end.
    pub bucket: u32,
    pub shard: u16,
    /// Entries written: the next job goes at `len`.
    pub len: u16,
    /// Entries whose job has not left (settled, or moved on by a dispute).
    pub open: u16,
    pub bump: u8,
    pub _reserved: [u8; 5],
    pub jobs: [Pubkey; DUE_PAGE_JOBS],
}

/// Jobs one page holds: 1,112 bytes, 0.0086 SOL of rent that the page's
/// payer gets back (a node's hot key pays it, so it is kept small).
pub const DUE_PAGE_JOBS: usize = 32;
/// Width of a due bucket: a job is finalized at most this much after its
/// window ends, plus the crank's own delay.
pub const DUE_BUCKET_SECS: i64 = 300;
/// How far a page's bucket end may be from a job's due time: the client
/// picks the bucket before its transaction lands (and a daemon rebroadcasts
/// signed bytes for a while), so the program accepts any bucket this close.
pub const DUE_TOLERANCE_SECS: i64 = 900;

impl DuePage {
    pub const SPACE: usize = 8 + std::mem::size_of::<DuePage>();

    /// The bucket whose end is at or just after `due_ts`.
    pub fn bucket_of(due_ts: i64) -> Option<u32> {
        let up = due_ts.max(0).checked_add(DUE_BUCKET_SECS - 1)?;
        u32::try_from(up / DUE_BUCKET_SECS).ok()
    }

    /// When bucket `bucket` ends.
    pub fn bucket_end(bucket: u32) -> i64 {
        i64::from(bucket) * DUE_BUCKET_SECS
    }

    /// Whether a job due at `due_ts` may go in bucket `bucket`.
    pub fn accepts_due(bucket: u32, due_ts: i64) -> bool {
        Self::bucket_end(bucket).abs_diff(due_ts) <= DUE_TOLERANCE_SECS as u64
    }

    /// Whether no job can be added to bucket `bucket` any more at `now`
    /// (every new due time is later than now).
    pub fn is_final(bucket: u32, now: i64) -> bool {
        now > Self::bucket_end(bucket) + DUE_TOLERANCE_SECS
    }

    pub fn is_full(&self) -> bool {
        usize::from(self.len) >= DUE_PAGE_JOBS
    }

    /// The keys written so far (settled jobs included).
    pub fn entries(&self) -> &[Pubkey] {
        &self.jobs[..usize::from(self.len).min(DUE_PAGE_JOBS)]
    }
}

const _: () = assert!(std::mem::size_of::<DuePage>() == 80 + 32 * DUE_PAGE_JOBS);
