use anchor_lang::prelude::*;

use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::CONFIG_SEED;
use crate::due::{index_due, unindex_due, DuePages, DuePick};
use crate::errors::MarketError;
use crate::events::JobDisputed;
use crate::state::{Config, DuePage, Job, JobState, MarketLedger, Node};
use crate::vaults::deposit;

#[event_cpi]
#[derive(Accounts)]
pub struct DisputeJob<'info> {
    /// Pays for the dispute's due page when it creates one (refunded when it closes).
    #[account(mut)]
    pub creator: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = mint)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, has_one = creator @ MarketError::NotCreator, has_one = node @ MarketError::AccountMismatch, constraint = job.market == ledger.market @ MarketError::AccountMismatch)]
    pub job: Box<Account<'info, Job>>,
    /// The job's market's settlement books (the bond is counted there: a
    /// dispute never writes the market).
    #[account(mut, seeds = [crate::constants::LEDGER_SEED, ledger.market.as_ref()], bump = ledger.bump)]
    pub ledger: Box<Account<'info, MarketLedger>>,
    #[account(mut)]
    pub node: Box<Account<'info, Node>>,
    #[account(mut, address = ledger.escrow_vault @ MarketError::AccountMismatch)]
    pub escrow_vault: Box<Account<'info, TokenAccount>>,
    pub mint: Box<Account<'info, Mint>>,
    #[account(mut, token::mint = mint, token::authority = creator)]
    pub creator_token: Box<Account<'info, TokenAccount>>,
    /// The due page indexing the submitted job, which it leaves.
    #[account(mut, address = job.due_page @ MarketError::WrongDuePage)]
    pub due_page: AccountLoader<'info, DuePage>,
    /// CHECK: the due page `due` names for the dispute's timeout (PDA checked in `index_due`).
    #[account(mut)]
    pub dispute_page: UncheckedAccount<'info>,
    /// CHECK: the next shard of that bucket (see `submit_result`).
    #[account(mut)]
    pub dispute_spill: UncheckedAccount<'info>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

/// The creator challenges a result inside the challenge window by posting
/// the bond of the job's terms. The job freezes until the arbiter resolves it or
/// the dispute times out in the creator's favour; it moves to the due page
/// of its timeout (`due`), where the crank finds it then.
pub fn handler(mut ctx: Context<DisputeJob>, due: DuePick) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut ctx.accounts;
    // The terms the job was assigned under, not today's parameters.
    let terms = a.job.terms;
    require!(
        a.job.state == JobState::Submitted,
        MarketError::InvalidJobState
    );
    // An audit in progress decides the result first (and a run is not the
    // creator's to dispute).
    require!(a.job.audit.settles_as_usual(), MarketError::AuditPending);
    let window_end = a
        .job
        .challenge_window_end()
        .ok_or(MarketError::MathOverflow)?;
    require!(now <= window_end, MarketError::ChallengeWindowClosed);

    deposit(
        a.creator_token.to_account_info(),
        a.escrow_vault.to_account_info(),
        a.mint.to_account_info(),
        a.creator.to_account_info(),
        terms.dispute_bond,
        a.mint.decimals,
    )?;
    let timeout_at = now
        .checked_add(i64::from(terms.dispute_timeout_secs))
        .ok_or(MarketError::MathOverflow)?;
    let job_key = a.job.key();
    MarketLedger::add(&mut a.ledger.escrow_in, terms.dispute_bond)?;
    unindex_due(&a.due_page, &a.job.due_page)?;
    let pages = DuePages {
        page: &a.dispute_page.to_account_info(),
        spill: &a.dispute_spill.to_account_info(),
        payer: &a.creator.to_account_info(),
    };
    let indexed = index_due(a.ledger.market, job_key, timeout_at, due, pages)?;
    a.job.due_page = indexed.page;
    a.job.state = JobState::Disputed;
    a.job.bond = terms.dispute_bond;
    a.job.disputed_at = now;
    a.node.jobs_disputed = a
        .node
        .jobs_disputed
        .checked_add(1)
        .ok_or(MarketError::MathOverflow)?;
    let event = JobDisputed {
        job: job_key,
        node: a.node.key(),
        bond: terms.dispute_bond,
        timeout_at,
        due_page: a.job.due_page,
    };
    emit_cpi!(event);
    if let Some(opened) = indexed.opened {
        emit_cpi!(opened);
    }
    Ok(())
}
