use anchor_lang::prelude::*;

use crate::constants::MAX_GPU_MODEL_LEN;

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
    /// Success rate in bps (neutral start); gates jobs with a minimum.
    pub reputation_bps: u16,
    /// Set when the node breaks its SLA (expiry, lost dispute); only the
    /// owner's `rearm_node` clears it.
    pub suspended: bool,
    pub jobs_completed: u64,
    pub jobs_expired: u64,
    pub jobs_disputed: u64,
    /// Lifetime verified work, micro-USD.
    pub work_micro_usd: u64,
    pub registered_at: i64,
    pub bump: u8,
}

impl Node {
    pub const SPACE: usize = 8 + Node::INIT_SPACE;
    pub const NEUTRAL_REPUTATION_BPS: u16 = 5_000;
}

/// The highest minimum reputation a job may ask for: a node that never
/// fails settles where a sixteenth of the gap rounds to zero (9,985 or
/// above), so a job asking for more could never be served and would squat
/// a queue slot.
pub const MAX_REPUTATION_BPS: u16 = 9_985;

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
