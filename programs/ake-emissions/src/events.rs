use anchor_lang::prelude::*;

use crate::state::{BreakerParams, EmissionsChange, Rewards, Schedule};

#[event]
pub struct EmissionsInitialized {
    pub authority: Pubkey,
    pub mint: Pubkey,
    pub treasury: Pubkey,
    pub reporter: Pubkey,
    pub schedule: Schedule,
    pub rewards: Rewards,
    pub breaker: BreakerParams,
}

#[event]
pub struct EmissionsUpdated {
    pub schedule: Schedule,
    pub rewards: Rewards,
    pub breaker: BreakerParams,
    pub timelock_secs: u32,
}

#[event]
pub struct ChangeProposed {
    /// Applicable from this unix time on.
    pub eta: i64,
    pub change: EmissionsChange,
}

#[event]
pub struct ChangeCancelled {
    pub eta: i64,
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
pub struct GuardianSet {
    pub guardian: Pubkey,
}

#[event]
pub struct PauseSet {
    pub paused: bool,
    /// The guardian or the authority.
    pub by: Pubkey,
}

#[event]
pub struct WorkReported {
    pub epoch: u64,
    pub market_index: u16,
    pub node: Pubkey,
    pub work_micro_usd: u64,
    pub burned_tokens: u64,
    pub gpu_secs: u64,
    /// The market's work so far this epoch.
    pub market_work_micro_usd: u64,
}

/// Part of an ended epoch's markets were summed; `close_epoch` goes on
/// from `markets_tallied` (a protocol with more markets than one
/// transaction can name closes an epoch in several calls).
#[event]
pub struct EpochTallied {
    pub epoch: u64,
    pub markets_tallied: u16,
    pub total_work_micro_usd: u64,
    pub burned_tokens: u64,
}

#[event]
pub struct EpochClosed {
    pub epoch: u64,
    pub emission: u64,
    pub node_share: u64,
    /// The most nodes can claim in all: min(node share, burned x
    /// multiplier), or burned x phi when that is more (at most node share +
    /// `max_remint_per_epoch`): the part above the node share is minted
    /// back from the burn.
    pub payable: u64,
    /// Paid out of the treasury to `closed_by`.
    pub crank_tip: u64,
    pub total_work_micro_usd: u64,
    pub burned_tokens: u64,
    pub burned_micro_usd: u64,
    pub jobs: u64,
    pub closed_by: Pubkey,
}

#[event]
pub struct RewardClaimed {
    pub epoch: u64,
    pub node: Pubkey,
    pub owner: Pubkey,
    pub amount: u64,
    /// The node's pro-rata share of the epoch's node emission.
    pub pro_rata: u64,
    /// Its cap: tokens burned for its jobs x the multiplier.
    pub cap: u64,
    /// Its floor: tokens burned for its jobs x phi.
    pub floor: u64,
    /// The part of `amount` minted back above the schedule.
    pub reminted: u64,
    /// The node's record for the epoch, closed by this claim: what the
    /// reward paid for (earnings reports read it back from history).
    pub jobs: u32,
    pub gpu_secs: u64,
    pub work_micro_usd: u64,
    pub burned_tokens: u64,
}

#[event]
pub struct SpendProposed {
    /// Applicable from this unix time on.
    pub eta: i64,
    pub to: Pubkey,
    pub amount: u64,
}

#[event]
pub struct SpendCancelled {
    pub eta: i64,
}

#[event]
pub struct TreasurySpent {
    pub to: Pubkey,
    pub amount: u64,
    /// What the treasury holds after.
    pub treasury_balance: u64,
}
