use anchor_lang::prelude::*;

use crate::errors::MarketError;

/// An owner's stake, PDA `["stake", owner]`. Tokens sit in the config's stake vault.
#[account]
#[derive(InitSpace, Debug)]
pub struct Stake {
    pub owner: Pubkey,
    /// Active stake: counts for tiers and node collateral.
    pub amount: u64,
    /// Part of `amount` backing waiting nodes or assigned jobs: cannot leave.
    pub locked: u64,
    /// Requested out, waiting for `unlock_at`; no longer counts for anything.
    pub unbonding: u64,
    pub unlock_at: i64,
    pub bump: u8,
}

impl Stake {
    pub const SPACE: usize = 8 + Stake::INIT_SPACE;

    pub fn free(&self) -> u64 {
        self.amount.saturating_sub(self.locked)
    }

    pub fn lock(&mut self, amount: u64) -> Result<()> {
        require!(self.free() >= amount, MarketError::InsufficientStake);
        self.locked = self
            .locked
            .checked_add(amount)
            .ok_or(MarketError::MathOverflow)?;
        Ok(())
    }

    pub fn unlock(&mut self, amount: u64) -> Result<()> {
        self.locked = self
            .locked
            .checked_sub(amount)
            .ok_or(MarketError::MathOverflow)?;
        Ok(())
    }
}
