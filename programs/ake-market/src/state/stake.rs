use anchor_lang::prelude::*;

use crate::errors::MarketError;

/// An owner's stake, PDA `["stake", owner]`. Tokens sit in the config's stake vault.
#[account]
#[derive(InitSpace, Debug)]
pub struct Stake {
    pub owner: Pubkey,
    /// Active stake: counts for tiers and node collateral.
    pub amount: u64,
    /// Part of `amount` backing waiting nodes or jobs' collateral: cannot leave.
    pub locked: u64,
    /// Requested out, waiting for `unlock_at`; no longer counts for anything.
    pub unbonding: u64,
    pub unlock_at: i64,
    /// The release-budget window (unix time / the market's window length)
    /// that `releases_in_window` counts.
    pub release_window: u64,
    pub releases_in_window: u16,
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

    /// Takes `amount` out of the stake locked for one job: the active
    /// amount and its lock shrink together, so the owner's free stake and
    /// other jobs' collateral are untouched.
    pub fn slash_locked(&mut self, amount: u64) -> Result<()> {
        require!(amount <= self.locked, MarketError::MathOverflow);
        self.amount = self
            .amount
            .checked_sub(amount)
            .ok_or(MarketError::MathOverflow)?;
        self.locked -= amount;
        Ok(())
    }

    /// Counts one hand-back in the window containing `now`; false once the
    /// owner has used its budget for that window.
    pub fn count_release(&mut self, now: i64, window_secs: u32, budget: u16) -> bool {
        let window = now.max(0) as u64 / u64::from(window_secs.max(1));
        if window != self.release_window {
            self.release_window = window;
            self.releases_in_window = 0;
        }
        if self.releases_in_window >= budget {
            return false;
        }
        self.releases_in_window += 1;
        true
    }

    pub fn unlock(&mut self, amount: u64) -> Result<()> {
        self.locked = self
            .locked
            .checked_sub(amount)
            .ok_or(MarketError::MathOverflow)?;
        Ok(())
    }
}
