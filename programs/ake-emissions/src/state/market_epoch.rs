use anchor_lang::prelude::*;

/// PDA `["market_epoch", epoch (u64 LE), market index (u16 LE)]`: one
/// market's verified work in one epoch, written by that market's
/// settlements (so no account is written by every settlement in every
/// market). `close_epoch` sums the markets into the epoch's summary and
/// closes these records, their rent back to whoever paid for them.
#[account]
#[derive(InitSpace, Debug)]
pub struct MarketEpoch {
    pub epoch: u64,
    pub market_index: u16,
    pub total_work_micro_usd: u64,
    pub burned_tokens: u64,
    pub burned_micro_usd: u64,
    pub jobs: u64,
    /// Nodes with a work record this epoch whose first report came from this market.
    pub nodes: u32,
    /// Gets the rent back when the epoch's tally closes it.
    pub payer: Pubkey,
    pub bump: u8,
}

impl MarketEpoch {
    pub const SPACE: usize = 8 + MarketEpoch::INIT_SPACE;
}
