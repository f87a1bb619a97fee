use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{CONFIG_SEED, LEDGER_SEED};
use crate::errors::MarketError;
use crate::events::MarketSwept;
use crate::state::{Config, MarketLedger};

#[event_cpi]
#[derive(Accounts)]
pub struct SweepMarket<'info> {
    /// Anyone (the crank): pays only the fee.
    pub caller: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = mint, has_one = treasury)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, seeds = [LEDGER_SEED, ledger.market.as_ref()], bump = ledger.bump)]
    pub ledger: Box<Account<'info, MarketLedger>>,
    #[account(mut, address = ledger.escrow_vault @ MarketError::AccountMismatch)]
    pub escrow_vault: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub mint: Box<Account<'info, Mint>>,
    #[account(mut)]
    pub treasury: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

/// Burns what a market's settlements left to burn and pays the treasury its
/// fees, out of the escrow vault, in one go: the only instruction of a
/// settlement's that writes the mint and the treasury, sent by the crank
/// once per market per pass instead of once per settlement. Works while
/// paused (it only finishes what settled).
pub fn handler(ctx: Context<SweepMarket>) -> Result<()> {
    let a = &ctx.accounts;
    let (burned, paid) = (a.ledger.pending_burn, a.ledger.pending_treasury);
    require!(burned > 0 || paid > 0, MarketError::NothingToSweep);
    let escrow = a.ledger.escrow(a.escrow_vault.to_account_info(), &a.mint);
    escrow.burn(burned)?;
    escrow.pay_out(&a.treasury.to_account_info(), paid)?;
    let ledger = &mut ctx.accounts.ledger;
    ledger.pending_burn = 0;
    ledger.pending_treasury = 0;
    MarketLedger::add(&mut ledger.tokens_burned, burned)?;
    MarketLedger::add(&mut ledger.treasury_paid, paid)?;
    let swept = MarketSwept {
        market: ledger.market,
        burned,
        treasury_paid: paid,
        tokens_burned: ledger.tokens_burned,
    };
    emit_cpi!(swept);
    Ok(())
}
