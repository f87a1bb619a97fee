use anchor_lang::prelude::*;

/// PDA `["epoch", epoch (u64 LE)]`: the epoch's work summed over the
/// markets' records once it ended (`close_epoch`), then its emission.
/// Never closed, so anyone can chart burn vs mint.
#[account]
#[derive(InitSpace, Debug)]
pub struct EpochSummary {
    pub epoch: u64,
    pub total_work_micro_usd: u64,
    pub burned_tokens: u64,
    pub burned_micro_usd: u64,
    pub jobs: u64,
    pub nodes: u32,
    /// Markets whose records were summed so far (in index order): the
    /// epoch closes once every market was.
    pub markets_tallied: u16,
    pub closed: bool,
    pub closed_at: i64,
    /// The epoch's whole emission (after the cap).
    pub emission: u64,
    /// The emission's part for nodes, shared by burn: all of it, or 0 when
    /// nobody worked.
    pub node_share: u64,
    /// What nodes may claim in all (see `math::close_amounts`): above
    /// `node_share` (at most phi x `burned_tokens`) it is minted back.
    pub payable: u64,
    /// Paid to whoever closed the epoch, out of the treasury.
    pub crank_tip: u64,
    /// The reward multiplier and floor in force when the epoch closed
    /// (the floor is phi, or less when the re-mint ceiling bound it):
    /// claims use them, so a later parameter change never reaches a
    /// closed epoch.
    pub max_reward_per_burn_bps: u16,
    pub reward_floor_bps: u16,
    /// Node rewards minted so far, and the part of them minted back above
    /// the schedule.
    pub claimed: u64,
    pub reminted: u64,
    pub claims: u32,
    pub bump: u8,
}

impl EpochSummary {
    pub const SPACE: usize = 8 + EpochSummary::INIT_SPACE;

    /// A fresh, open epoch with nothing reported.
    pub fn open(epoch: u64, bump: u8) -> Self {
        EpochSummary {
            epoch,
            total_work_micro_usd: 0,
            burned_tokens: 0,
            burned_micro_usd: 0,
            jobs: 0,
            nodes: 0,
            markets_tallied: 0,
            closed: false,
            closed_at: 0,
            emission: 0,
            node_share: 0,
            payable: 0,
            crank_tip: 0,
            max_reward_per_burn_bps: 0,
            reward_floor_bps: 0,
            claimed: 0,
            reminted: 0,
            claims: 0,
            bump,
        }
    }
}
