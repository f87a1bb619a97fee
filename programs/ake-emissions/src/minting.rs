//! Every mint goes through here: the rolling-window circuit breaker, the
//! cap, then `mint_to` signed by the mint-authority PDA.

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
