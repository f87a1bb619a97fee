use anchor_lang::prelude::*;

/// A treasury spend waiting out the timelock, PDA `["spend", config]`: one
/// at a time, applied by anyone after `eta`, cancelled by the authority.
#[account]
#[derive(InitSpace, Debug)]
pub struct PendingSpend {
    pub proposed_at: i64,
    /// Applicable (by anyone) from this unix time on.
    pub eta: i64,
    /// Paid the account's rent: gets it back.
    pub payer: Pubkey,
    /// The AKE token account paid.
    pub to: Pubkey,
    pub amount: u64,
    pub bump: u8,
}

impl PendingSpend {
    pub const SPACE: usize = 8 + PendingSpend::INIT_SPACE;
}
