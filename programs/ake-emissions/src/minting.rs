//! Every mint goes through here. Schedule mints pass the rolling-window
//! circuit breaker and the cap; mints back above the schedule (the reward
//! floor) are bounded instead by the burn their epoch recorded. Both are
//! `mint_to` signed by the mint-authority PDA.

use anchor_lang::prelude::*;
use anchor_spl::token::{self, MintTo};

use crate::constants::MINT_AUTHORITY_SEED;
use crate::errors::EmissionsError;
use crate::math::decayed_window_total;
use crate::state::EmissionsConfig;

pub struct MintAccounts<'info> {
    pub mint: AccountInfo<'info>,
    pub mint_authority: AccountInfo<'info>,
}

/// Mints out of the schedule: never past the breaker's window limit or the
/// emission cap.
pub fn mint<'info>(
    config: &mut EmissionsConfig,
    accounts: &MintAccounts<'info>,
    to: &AccountInfo<'info>,
    amount: u64,
    now: i64,
) -> Result<()> {
    if amount == 0 {
        return Ok(());
    }
    let elapsed = now.saturating_sub(config.window.last_ts);
    let in_window = decayed_window_total(config.window.total, elapsed, config.breaker.window_secs)
        .checked_add(amount)
        .ok_or(EmissionsError::MathOverflow)?;
    require!(
        in_window <= config.breaker.window_limit,
        EmissionsError::CircuitBreakerTripped
    );
    let minted = config
        .total_minted
        .checked_add(amount)
        .ok_or(EmissionsError::MathOverflow)?;
    require!(
        minted <= config.schedule.emission_cap,
        EmissionsError::EmissionCapReached
    );
    config.window = crate::state::BreakerWindow {
        last_ts: now,
        total: in_window,
    };
    config.total_minted = minted;
    mint_signed(config, accounts, to, amount)
}

/// Mints back tokens burned for work, to hold the reward floor. The caller
/// has checked the amount against its epoch's allowance (phi x that
/// epoch's recorded burn), so supply never grows past genesis plus the
/// cap; the breaker, sized for the schedule, does not count it (sustained
/// demand would otherwise block every claim).
pub fn remint<'info>(
    config: &mut EmissionsConfig,
    accounts: &MintAccounts<'info>,
    to: &AccountInfo<'info>,
    amount: u64,
) -> Result<()> {
    if amount == 0 {
        return Ok(());
    }
    config.total_reminted = config
        .total_reminted
        .checked_add(amount)
        .ok_or(EmissionsError::MathOverflow)?;
    mint_signed(config, accounts, to, amount)
}

fn mint_signed<'info>(
    config: &EmissionsConfig,
    accounts: &MintAccounts<'info>,
    to: &AccountInfo<'info>,
    amount: u64,
) -> Result<()> {
    let bump = [config.mint_authority_bump];
    let seeds: &[&[u8]] = &[MINT_AUTHORITY_SEED, &bump];
    token::mint_to(
        CpiContext::new_with_signer(
            token::ID,
            MintTo {
                mint: accounts.mint.clone(),
                to: to.clone(),
                authority: accounts.mint_authority.clone(),
            },
            &[seeds],
        ),
        amount,
    )
}
