use anchor_lang::prelude::*;

/// PDA `["node_work", epoch (u64 LE), node]`: one node's verified work in one
/// epoch. Closed at claim, its rent returned to whoever paid for it.
#[account]
#[derive(InitSpace, Debug)]
pub struct NodeWork {
    pub epoch: u64,
    pub node: Pubkey,
    /// Paid at claim: the node's owner at report time.
    pub owner: Pubkey,
    pub work_micro_usd: u64,
    /// Tokens burned for this node's jobs in the epoch (payments only, not
    /// posting fees): its reward is capped by this.
    pub burned_tokens: u64,
    pub jobs: u32,
    /// GPU-seconds of those jobs, from their usage receipts.
    pub gpu_secs: u64,
    /// Gets the rent back at claim.
    pub payer: Pubkey,
    pub bump: u8,
}

impl NodeWork {
    pub const SPACE: usize = 8 + NodeWork::INIT_SPACE;
}
