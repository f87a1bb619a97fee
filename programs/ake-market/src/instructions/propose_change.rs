use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, MARKET_SEED, PENDING_SEED};
use crate::errors::MarketError;
use crate::events::ChangeProposed;
use crate::state::{Change, Config, Params, PendingChange};
use ake_program_common::account_creation::{create_pda, is_uncreated, write_new};
use ake_program_common::timelock;

#[event_cpi]
#[derive(Accounts)]
pub struct ProposeChange<'info> {
    pub authority: Signer<'info>,
    /// Pays for the pending change's account (back when it is applied or
    /// cancelled): separate from the authority, which may be a
    /// program-owned account that cannot pay.
    #[account(mut)]
    pub payer: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = authority @ MarketError::NotAuthority)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: created here, PDA ["pending", target]; checked in the handler.
    #[account(mut)]
    pub pending: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// The authority proposes a change to the protocol parameters or to a
/// market. It is checked now (a bad value fails at once) and again when
/// applied, and waits `timelock_secs` so everyone sees it coming.
pub fn handler(ctx: Context<ProposeChange>, change: Change) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &ctx.accounts;
    let target = match &change {
        Change::Config { params, .. } => {
            check_config_change(&a.config, params)?;
            a.config.key()
        }
        Change::Market { index, args } => {
            require!(
                *index < a.config.market_count,
                MarketError::WrongMarketIndex
            );
            args.validate()?;
            Pubkey::find_program_address(&[MARKET_SEED, &index.to_le_bytes()], &crate::ID).0
        }
    };
    let (address, bump) =
        Pubkey::find_program_address(&[PENDING_SEED, target.as_ref()], &crate::ID);
    require_keys_eq!(a.pending.key(), address, MarketError::WrongChangeTarget);
    let info = a.pending.to_account_info();
    require!(is_uncreated(&info), MarketError::ChangeAlreadyPending);
    let eta = timelock::eta(now, a.config.params.timelock_secs).ok_or(MarketError::MathOverflow)?;
    create_pda(
        &a.payer.to_account_info(),
        &info,
        &crate::ID,
        PendingChange::space_for(&change)?,
        &[PENDING_SEED, target.as_ref(), &[bump]],
    )?;
    let pending = PendingChange {
        target,
        proposed_at: now,
        eta,
        payer: a.payer.key(),
        bump,
        change,
    };
    write_new(&info, &pending)?;
    emit_cpi!(ChangeProposed {
        target,
        eta,
        change: pending.change,
    });
    Ok(())
}

/// A protocol change must pass the bounds (the unbonding period at least
/// the release-budget window among them) and at most halve the delay.
pub fn check_config_change(config: &Config, params: &Params) -> Result<()> {
    params.validate()?;
    require!(
        timelock::valid_change(config.params.timelock_secs, params.timelock_secs),
        MarketError::InvalidTimelock
    );
    Ok(())
}
