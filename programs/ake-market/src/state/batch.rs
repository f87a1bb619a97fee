use anchor_lang::prelude::*;

use crate::constants::MAX_RELEASES;
use crate::state::{FrameRef, Job, JobSpec, JobState, LockedPrice, SlaTerms};

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
    pub released_by: [Pubkey; MAX_RELEASES],
    pub releasers: u8,
    /// `MAX_RELEASES` owners handed frames back: the batch left the queue
    /// and anyone may refund its waiting frames.
    pub halted: bool,
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
            + 32 * MAX_RELEASES + 1 + 1 // released by, releasers, halted
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

    /// Whether `owner` handed a frame of this batch back before.
    pub fn released_by_owner(&self, owner: &Pubkey) -> bool {
        self.released_by[..usize::from(self.releasers)].contains(owner)
    }

    /// The owner tags of `released_by`, for the queue's exclusion filter.
    pub fn excluded_owner_tags(&self) -> [u64; MAX_RELEASES] {
        let mut tags = [0u64; MAX_RELEASES];
        for (tag, owner) in tags
            .iter_mut()
            .zip(&self.released_by[..usize::from(self.releasers)])
        {
            *tag = crate::state::owner_tag(owner);
        }
        tags
    }

    /// Records that `owner` handed a frame back; true when that makes
    /// `MAX_RELEASES` owners and the batch halts.
    pub fn record_release(&mut self, owner: Pubkey) -> bool {
        if self.released_by_owner(&owner) || self.halted {
            return false;
        }
        self.released_by[usize::from(self.releasers)] = owner;
        self.releasers += 1;
        self.halted = usize::from(self.releasers) == MAX_RELEASES;
        self.halted
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
            spec: JobSpec::Frame(FrameRef { batch, frame }),
            spec_hash: self.spec_hash,
            gpus: self.gpus,
            max_duration_secs: self.max_duration_secs,
            min_reputation_bps: self.min_reputation_bps,
            rate_micro_usd: self.rate_micro_usd,
            max_charge_micro_usd: self.max_charge_micro_usd,
            escrow: self.escrow_per_frame,
            price: self.price,
            tier: self.tier,
            state: JobState::Queued,
            attempts: 0,
            expiries: 0,
            releases: 0,
            released_by: Default::default(),
            last_release: None,
            posted_at: self.posted_at,
            queued_at: now,
            assigned_at: 0,
            deadline: 0,
            submitted_at: 0,
            node: Pubkey::default(),
            node_owner: Pubkey::default(),
            collateral: 0,
            terms: SlaTerms::default(),
            posting_fee: 0,
            bond: 0,
            disputed_at: 0,
            result: None,
            queue_slot: 0,
            in_flight_slot: 0,
            due_page: Pubkey::default(),
            bump,
        }
    }
}
