//! Every state change emits one of these through `emit_cpi!` (self-CPI), which
//! survives log truncation and is visible to native tests.

use anchor_lang::prelude::*;

use crate::state::{Params, UsageReceipt};

#[event]
pub struct ConfigInitialized {
    pub authority: Pubkey,
    pub mint: Pubkey,
    pub treasury: Pubkey,
    pub params: Params,
}

#[event]
pub struct ConfigUpdated {
    pub params: Params,
    pub arbiter: Pubkey,
}

#[event]
pub struct AuthorityProposed {
    pub authority: Pubkey,
    pub proposed: Pubkey,
}

#[event]
pub struct AuthorityAccepted {
    pub previous: Pubkey,
    pub authority: Pubkey,
}

#[event]
pub struct PauseSet {
    pub paused: bool,
}

#[event]
pub struct MarketSaved {
    pub market: Pubkey,
    pub index: u16,
    pub name: String,
    pub rate_micro_usd: u64,
    pub min_stake_per_gpu: u64,
    pub max_gpus_per_job: u16,
    pub max_duration_secs: u32,
    pub created: bool,
}

#[event]
pub struct StakeDeposited {
    pub owner: Pubkey,
    pub amount: u64,
    pub staked: u64,
    pub tier: u8,
}

#[event]
pub struct UnstakeRequested {
    pub owner: Pubkey,
    pub amount: u64,
    pub unlock_at: i64,
}

#[event]
pub struct StakeWithdrawn {
    pub owner: Pubkey,
    pub amount: u64,
}

#[event]
pub struct NodeRegistered {
    pub node: Pubkey,
    pub owner: Pubkey,
    pub signer: Pubkey,
    pub market: Pubkey,
    pub gpus: u16,
}

#[event]
pub struct NodeQueued {
    pub node: Pubkey,
    pub market: Pubkey,
    pub tier: u8,
    pub locked_stake: u64,
}

#[event]
pub struct NodeLeftQueue {
    pub node: Pubkey,
    pub market: Pubkey,
}

#[event]
pub struct JobPosted {
    pub job: Pubkey,
    pub creator: Pubkey,
    pub market: Pubkey,
    pub nonce: u64,
    pub max_charge_micro_usd: u64,
    pub escrow: u64,
    pub price_mantissa: u64,
    pub price_expo: i32,
    pub tier: u8,
}

#[event]
pub struct JobQueued {
    pub job: Pubkey,
    pub market: Pubkey,
    pub at_front: bool,
}

#[event]
pub struct JobAssigned {
    pub job: Pubkey,
    pub node: Pubkey,
    pub deadline: i64,
    pub attempt: u8,
}

#[event]
pub struct JobCancelled {
    pub job: Pubkey,
    pub refund: u64,
}

#[event]
pub struct ResultSubmitted {
    pub job: Pubkey,
    pub node: Pubkey,
    pub commitment: [u8; 32],
    pub output_uri: String,
    pub usage: UsageReceipt,
}

#[event]
pub struct JobSettled {
    pub job: Pubkey,
    pub node: Pubkey,
    pub market: Pubkey,
    /// Micro-USD of verified work: the node's claim on the epoch emission.
    pub work_micro_usd: u64,
    pub charged: u64,
    pub burned: u64,
    pub treasury_fee: u64,
    pub refund: u64,
    pub accepted_by_creator: bool,
}

#[event]
pub struct JobExpired {
    pub job: Pubkey,
    pub node: Pubkey,
    pub requeued: bool,
    pub refund: u64,
}

#[event]
pub struct NodeSlashed {
    pub node: Pubkey,
    pub owner: Pubkey,
    pub job: Pubkey,
    pub slashed: u64,
    pub burned: u64,
    pub bounty: u64,
    pub reputation_bps: u16,
}

#[event]
pub struct NodeRearmed {
    pub node: Pubkey,
    pub owner: Pubkey,
}

#[event]
pub struct JobDisputed {
    pub job: Pubkey,
    pub node: Pubkey,
    pub bond: u64,
    pub timeout_at: i64,
}

#[event]
pub struct DisputeResolved {
    pub job: Pubkey,
    pub node: Pubkey,
    pub creator_won: bool,
    /// Resolved by the timeout rather than by the arbiter.
    pub timed_out: bool,
    /// Escrow + bond returned to the creator (creator won).
    pub refund: u64,
    /// The bond, burned (node won).
    pub bond_burned: u64,
    /// Stake taken from the node's owner (creator won), all burned.
    pub slashed: u64,
}
