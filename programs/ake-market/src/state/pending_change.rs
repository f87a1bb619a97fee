use anchor_lang::prelude::*;

use crate::instructions::create_market::MarketArgs;
use crate::state::Params;

/// A parameter change waiting out the timelock, PDA `["pending", target]`
/// where `target` is the config or the market it changes: at most one per
/// account, visible to anyone with the time it takes effect.
#[account]
#[derive(Debug)]
pub struct PendingChange {
    pub target: Pubkey,
    pub proposed_at: i64,
    /// Applicable (by anyone) from this unix time on.
    pub eta: i64,
    /// The authority that proposed it: gets the rent back.
    pub payer: Pubkey,
    pub bump: u8,
    pub change: Change,
}

/// What a pending change sets once applied.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The protocol parameters (fee split, oracle, windows, SLA, tiers,
    /// the timelock itself) and the arbiter.
    Config { params: Params, arbiter: Pubkey },
    /// A market's rate, shape limits, posting fee, collateral, release and
    /// queue rules.
    Market { index: u16, args: MarketArgs },
}

impl PendingChange {
    /// Bytes of an account holding `change`.
    pub fn space_for(change: &Change) -> Result<usize> {
        let mut bytes = Vec::new();
        change
            .serialize(&mut bytes)
            .map_err(|_| error!(crate::errors::MarketError::MathOverflow))?;
        Ok(8 + 32 + 8 + 8 + 32 + 1 + bytes.len())
    }
}
