use anchor_lang::prelude::*;

use ake_program_common::account_creation::{read_existing, write_new};

use crate::constants::MAX_RELEASES;
use crate::state::{FrameRef, Job, JobSpec, LockedPrice, Releases};

/// A batch of frames sharing one spec, PDA `["batch", creator, nonce (u64 LE)]`.
///
/// The spec and the escrow are held once; the batch waits in the job queue
/// as one entry and hands its frames out in order. A frame's job account,
/// PDA `["frame", batch, frame (u32 LE)]`, is created when a node takes it
/// (its rent comes out of the reserve the creator deposited here) and from
/// then on lives and settles like any job, its rent coming back here when it
/// closes. The reserve holds `parallelism` frames' rent, so the rent a batch
/// locks follows how many frames it has out at once, not its length: with
/// every frame's rent out the batch parks (leaves the queue) until a frame
/// closes and anyone calls `requeue_batch`. Once every frame was handed out
/// (or the rest cancelled) and every frame's job has settled, `close_batch`
/// returns this account's lamports (reserve included) to the creator.
#[account]
#[derive(Debug)]
pub struct Batch {
    pub creator: Pubkey,
    pub nonce: u64,
    pub market: Pubkey,
    /// The shared spec; `{frame}` in its command and env is the frame number.
    pub spec: JobSpec,
    /// As `Job.spec_hash`: of the whole borsh-encoded `JobSpec` (variant
    /// byte included) when inline, the named sha256 when remote.
    pub spec_hash: [u8; 32],
    pub gpus: u16,
    pub max_duration_secs: u32,
    pub min_reputation_bps: u16,
    /// The market rate when posted, micro-USD per GPU-second.
    pub rate_micro_usd: u64,
    /// Per frame.
    pub max_charge_micro_usd: u64,
    /// Tokens in the market's escrow vault for each frame not yet handed out.
    pub escrow_per_frame: u64,
    pub price: LockedPrice,
    pub tier: u8,
    pub first_frame: u32,
    pub frame_count: u32,
    /// Frames handed out so far, in order: the next is `first_frame + handed_out`.
    pub handed_out: u32,
    /// The frames not handed out were refunded; no more will be.
    pub cancelled: bool,
    /// Frames whose job account `close_batch` has seen closed (in order).
    pub frames_closed: u32,
    /// Lamports reserved per frame for its job account's rent.
    pub frame_rent: u64,
    /// The most frames with a job account at once (running, submitted or
    /// disputed): the reserve the creator deposited holds this many frames'
    /// rent. (Lamports anyone else sends the batch only add frames' worth
    /// to it, and end with the creator at `cancel_batch` or `close_batch`.)
    pub parallelism: u32,
    /// Every frame's rent is out: the batch left the queue until a frame
    /// closes and `requeue_batch` puts it back (at the back of its tier).
    pub parked: bool,
    /// Owners that handed a frame of this batch back: they get no more of
    /// its frames (one unrunnable batch costs an owner one release, as one
    /// unrunnable job does).
    pub releases: Releases,
    /// Frames whose node submitted a result: once one has, someone can run
    /// the batch and releases no longer halt it.
    pub frames_submitted: u32,
    /// `MAX_RELEASES` counted owners handed frames back before any frame
    /// was submitted: the batch left the queue. Its creator may resume or
    /// cancel it; anyone may refund it once it has been stale for the
    /// market's `max_queue_secs`.
    pub halted: bool,
    /// The creator resumed it after a halt: releases never halt it again.
    pub resumed: bool,
    pub posted_at: i64,
    /// When the batch joined the queue or last handed a frame out: past the
    /// market's `max_queue_secs` anyone may refund the rest.
    pub queued_at: i64,
    /// The market slot of its queue entry (see `Job::queue_slot`).
    pub queue_slot: u32,
    pub bump: u8,
}

impl Batch {
    /// Bytes of a batch whose borsh spec takes `spec_len` bytes.
    pub fn space_for(spec_len: usize) -> usize {
        8 + 32 + 8 + 32 // discriminator, creator, nonce, market
            + spec_len
            + 32 + 2 + 4 + 2 // spec hash, gpus, duration, min reputation
            + 8 + 8 + 8 // rate, max charge, escrow per frame
            + LockedPrice::INIT_SPACE
            + 1 + 4 + 4 + 4 + 1 + 4 // tier, first, count, handed out, cancelled, closed
            + 8 + 8 + 8 // frame rent, posted at, queued at
            + 4 + 1 // parallelism, parked
            + Releases::INIT_SPACE + 4 + 1 + 1 // releases, submitted, halted, resumed
            + 4 // queue slot
            + 1 // bump
    }

    /// Bytes of a frame's job account (its spec is a reference to the batch).
    pub fn frame_job_space() -> usize {
        Job::space_for(FrameRef::SPEC_LEN)
    }

    /// The frames still waiting to be handed out.
    pub fn frames_waiting(&self) -> u32 {
        if self.cancelled {
            0
        } else {
            self.frame_count - self.handed_out
        }
    }

    /// Whether the batch is in the queue: frames can be handed out now.
    pub fn in_queue(&self) -> bool {
        self.frames_waiting() > 0 && !self.halted && !self.parked
    }

    /// Lamports above the account's own rent: the reserve for frames not
    /// yet created (frames that closed gave theirs back).
    pub fn spare_reserve(info: &AccountInfo) -> Result<u64> {
        let own = Rent::get()?.minimum_balance(info.data_len());
        Ok(info.lamports().saturating_sub(own))
    }

    /// Records that `owner` handed a frame back (`proven`: from a node with
    /// the proven work that makes it count); true when that halts the
    /// batch: `MAX_RELEASES` counted owners and no frame submitted by
    /// anyone, so nobody has shown they can run it.
    pub fn record_release(&mut self, owner: Pubkey, proven: bool) -> bool {
        self.releases.record(owner, proven);
        let halts = !self.halted
            && !self.resumed
            && self.frames_waiting() > 0
            && self.frames_submitted == 0
            && usize::from(self.releases.counted) >= MAX_RELEASES;
        self.halted |= halts;
        halts
    }

    /// Counts a submitted frame in the batch account `info` (a frame's
    /// submit names its batch; a re-arm may take its next frame in the same
    /// transaction, and reads the account after this writes it).
    pub fn count_submitted(info: &AccountInfo) -> Result<()> {
        let mut batch = read_existing::<Batch>(info, &crate::ID)?;
        batch.frames_submitted = batch.frames_submitted.saturating_add(1);
        write_new(info, &batch)
    }

    /// The frame number handed out next.
    pub fn next_frame(&self) -> u32 {
        // Saturating: past the last frame (all handed out) it is never used.
        self.first_frame.saturating_add(self.handed_out)
    }

    /// Frames that exist or will: all of them, or those handed out before a cancel.
    pub fn frames_total(&self) -> u32 {
        if self.cancelled {
            self.handed_out
        } else {
            self.frame_count
        }
    }

    /// The job of frame `frame`, queued as of `now`, to be assigned at once.
    pub fn frame_job(&self, batch: Pubkey, frame: u32, bump: u8, now: i64) -> Job {
        Job {
            creator: self.creator,
            nonce: self.nonce,
            market: self.market,
            spec_hash: self.spec_hash,
            gpus: self.gpus,
            max_duration_secs: self.max_duration_secs,
            min_reputation_bps: self.min_reputation_bps,
            rate_micro_usd: self.rate_micro_usd,
            max_charge_micro_usd: self.max_charge_micro_usd,
            escrow: self.escrow_per_frame,
            tier: self.tier,
            posted_at: self.posted_at,
            // Frames are renders, never `Verify::Exact`: tolerant
            // comparison is issue 34's.
            ..Job::queued(
                JobSpec::Frame(FrameRef { batch, frame }),
                self.price,
                now,
                bump,
            )
        }
    }
}
