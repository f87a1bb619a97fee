use anchor_lang::prelude::*;
use anchor_spl::token::TokenAccount;

use crate::disputes::{resolve, Verdict};
use crate::errors::MarketError;
use crate::settlement::*;
use crate::state::{Job, Market};

#[event_cpi]
#[derive(Accounts)]
pub struct ResolveDispute<'info> {
    /// The arbiter in force when the job was assigned.
    #[account(address = job.terms.arbiter @ MarketError::NotArbiter)]
    pub arbiter: Signer<'info>,
    /// CHECK: gets the job account's rent back: the job's creator, or the
    /// batch for a frame (`Job::rent_receiver`).
    #[account(mut, address = job.rent_receiver() @ MarketError::AccountMismatch)]
    pub rent_receiver: UncheckedAccount<'info>,
    #[account(mut, close = rent_receiver)]
    pub job: Box<Account<'info, Job>>,
    #[account(mut, address = settle.config.stake_vault @ MarketError::AccountMismatch)]
    pub stake_vault: Box<Account<'info, TokenAccount>>,
    /// Written only when the creator wins: a node waiting in the queue
    /// leaves it (suspended).
    #[account(mut, address = settle.ledger.market @ MarketError::AccountMismatch)]
    pub market: AccountLoader<'info, Market>,
    pub settle: SettleAccounts<'info>,
}

/// The arbiter decides a dispute.
pub fn handler(mut ctx: Context<ResolveDispute>, creator_wins: bool) -> Result<()> {
    let a = &mut ctx.accounts;
    let job_key = a.job.key();
    let vault = a.stake_vault.to_account_info();
    let event = resolve(
        job_key,
        &mut a.job,
        &mut a.settle,
        vault,
        if creator_wins {
            Verdict::CreatorWins
        } else {
            Verdict::NodeWins
        },
        ctx.bumps.settle.reporter,
        Some(&a.market),
    )?;
    emit_cpi!(event);
    Ok(())
}
