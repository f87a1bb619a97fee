use anchor_lang::prelude::*;

use crate::constants::{MAX_GPU_MODEL_LEN, OPERATOR_REARMS_PER_WINDOW};
use crate::errors::MarketError;
use crate::math::reputation_bps;

/// A GPU node, PDA `["node", signer]`. The owner (cold key) stakes and is
/// paid; the signer (hot key, held by the daemon) arms the node and submits
/// results. The node learns its work from `current_job`, never by scanning.
#[account]
#[derive(InitSpace, Debug)]
pub struct Node {
    pub owner: Pubkey,
    pub signer: Pubkey,
    pub market: Pubkey,
    pub gpus: u16,
    pub profile: HardwareProfile,
    pub status: NodeStatus,
    /// The job assigned to this node; default when none.
    pub current_job: Pubkey,
    /// Owner stake locked while the node waits in the queue (the market's
    /// stake per GPU x its GPUs); released when it takes a job, which then
    /// locks its own collateral.
    pub locked_stake: u64,
    /// The owner's tier when the node was armed.
    pub tier: u8,
    /// Value-weighted success rate in bps (`math::reputation_bps` of the
    /// two sums below); starts at 0 and gates jobs with a minimum.
    pub reputation_bps: u16,
    /// Verified work that counts for reputation, micro-USD.
    pub proven_micro_usd: u64,
    /// What the jobs it failed (expiry, lost dispute, release past budget)
    /// were worth at most, micro-USD.
    pub failed_micro_usd: u64,
    /// Set when the node breaks its SLA (expiry, lost dispute); only the
    /// owner's `rearm_node` clears it, and not before `armable_at`.
    pub suspended: bool,
    /// The node cannot be armed (nor re-armed) before this time: the
    /// cooldown after a suspension, and the same wait after registering,
    /// so a fresh identity never skips a punished one's wait.
    pub armable_at: i64,
    /// Jobs naming this node that have not settled (assigned, submitted or
    /// disputed): the node cannot be closed or re-keyed while any remain.
    pub open_jobs: u16,
    pub jobs_completed: u64,
    pub jobs_expired: u64,
    pub jobs_disputed: u64,
    /// Lifetime verified work, micro-USD.
    pub work_micro_usd: u64,
    pub registered_at: i64,
    /// The market slot of its entry while queued (see `Job::queue_slot`).
    pub queue_slot: u32,
    /// Held out of the queue by its owner or operator (`node_unready`):
    /// it does not arm until one of them re-arms it.
    pub held: bool,
    /// When the operator last lifted this node's suspensions, newest
    /// first (0: never): at most `OPERATOR_REARMS_PER_WINDOW` in any
    /// `OPERATOR_REARM_WINDOW_SECS`, a rolling window.
    pub operator_rearmed_at: [i64; OPERATOR_REARMS_PER_WINDOW as usize],
    pub bump: u8,
}

impl Node {
    pub const SPACE: usize = 8 + Node::INIT_SPACE;

    /// Credits verified work to the node's reputation.
    pub fn record_success(&mut self, work_micro_usd: u64) -> Result<()> {
        self.proven_micro_usd = self
            .proven_micro_usd
            .checked_add(work_micro_usd)
            .ok_or(MarketError::MathOverflow)?;
        self.reputation_bps = reputation_bps(self.proven_micro_usd, self.failed_micro_usd);
        Ok(())
    }

    /// Debits a failed job, weighted by what it was worth at most.
    pub fn record_failure(&mut self, job_value_micro_usd: u64) -> Result<()> {
        self.failed_micro_usd = self
            .failed_micro_usd
            .checked_add(job_value_micro_usd)
            .ok_or(MarketError::MathOverflow)?;
        self.reputation_bps = reputation_bps(self.proven_micro_usd, self.failed_micro_usd);
        Ok(())
    }

    /// A lost audit: everything the node proved counts for nothing.
    pub fn reset_reputation(&mut self) {
        self.proven_micro_usd = 0;
        self.reputation_bps = reputation_bps(0, self.failed_micro_usd);
    }

    /// One more job names this node until it settles.
    pub fn open_job(&mut self) -> Result<()> {
        self.open_jobs = self
            .open_jobs
            .checked_add(1)
            .ok_or(MarketError::MathOverflow)?;
        Ok(())
    }

    /// A job naming this node settled, was refunded or went back to the queue.
    pub fn close_job(&mut self) -> Result<()> {
        self.open_jobs = self
            .open_jobs
            .checked_sub(1)
            .ok_or(MarketError::MathOverflow)?;
        Ok(())
    }
}

/// The highest minimum reputation a job may ask for: what a node reaches
/// with 99 times the prior (990 USD) of verified work and no failure. A
/// job asking for more would wait for a node that hardly exists.
pub const MAX_REPUTATION_BPS: u16 = 9_900;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, InitSpace, Debug, PartialEq, Eq)]
pub struct HardwareProfile {
    #[max_len(MAX_GPU_MODEL_LEN)]
    pub gpu_model: String,
    pub vram_mib: u32,
    /// sha256 of the node's benchmark report.
    pub benchmark_hash: [u8; 32],
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Registered, not waiting for work.
    Idle,
    /// Waiting in the market's node queue.
    Queued,
    /// Running `current_job`.
    Busy,
}
