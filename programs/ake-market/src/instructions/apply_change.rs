use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, PENDING_SEED};
use crate::errors::MarketError;
use crate::events::ConfigUpdated;
use crate::instructions::propose_change::check_config_change;
use crate::state::{Change, Config, Market, PendingChange};
use ake_program_common::timelock;

#[event_cpi]
#[derive(Accounts)]
pub struct ApplyChange<'info> {
    #[account(mut, seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(
        mut,
        seeds = [PENDING_SEED, pending.target.as_ref()],
        bump = pending.bump,
        close = payer,
    )]
    pub pending: Box<Account<'info, PendingChange>>,
    /// CHECK: whoever proposed the change: gets its rent back.
    #[account(mut, address = pending.payer @ MarketError::AccountMismatch)]
    pub payer: UncheckedAccount<'info>,
    /// The market a market change applies to.
    #[account(mut)]
    pub market: Option<AccountLoader<'info, Market>>,
}

/// Anyone applies a pending change once its timelock has passed; it is
/// checked again against the parameters in force now. Jobs already
/// assigned keep the terms they were assigned under; posted jobs keep
/// their rate.
pub fn handler(mut ctx: Context<ApplyChange>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut ctx.accounts;
    require!(now >= a.pending.eta, MarketError::TimelockNotElapsed);
    require!(
        timelock::applicable(now, a.pending.eta),
        MarketError::ChangeExpired
    );
    let target = a.pending.target;
    match a.pending.change.clone() {
        Change::Config { params, arbiter } => {
            require_keys_eq!(target, a.config.key(), MarketError::WrongChangeTarget);
            check_config_change(&a.config, &params)?;
            a.config.params = params;
            a.config.arbiter = arbiter;
            emit_cpi!(ConfigUpdated { params, arbiter });
        }
        Change::Market { index, args } => {
            let market = a.market.as_ref().ok_or(MarketError::WrongChangeTarget)?;
            require_keys_eq!(target, market.key(), MarketError::WrongChangeTarget);
            args.apply(&mut *market.load_mut()?)?;
            let event = args.event(target, index, false);
            emit_cpi!(event);
        }
    }
    Ok(())
}
