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

    /// Takes `bps` of active + unbonding stake, active first. Locks stay as
    /// they are (they are released by their jobs); `free()` is then zero
    /// until the owner tops the stake up. Returns the amount slashed.
    pub fn slash(&mut self, bps: u16) -> Result<u64> {
        let (from_active, from_unbonding) =
            crate::math::slash_split(self.amount, self.unbonding, bps)
                .ok_or(MarketError::MathOverflow)?;
        self.amount -= from_active;
        self.unbonding -= from_unbonding;
        Ok(from_active + from_unbonding)
    }

    pub fn unlock(&mut self, amount: u64) -> Result<()> {
        self.locked = self
            .locked
            .checked_sub(amount)
            .ok_or(MarketError::MathOverflow)?;
        Ok(())
    }
}
