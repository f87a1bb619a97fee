use anchor_lang::prelude::*;
use anchor_spl::token::TokenAccount;

use crate::due::unindex_due;
use crate::errors::MarketError;
use crate::events::AuditSettled;
use crate::settlement::*;
use crate::sla::{leave_queue, mark_breach};
use crate::state::{AuditPhase, Job, JobState, Market, MarketLedger, MarketMut};

#[event_cpi]
#[derive(Accounts)]
pub struct SettleAudit<'info> {
    /// CHECK: gets the job account's rent back: the audited job's creator,
    /// or for a run whoever paid its rent (`Job::rent_receiver`).
    #[account(mut, address = job.rent_receiver() @ MarketError::AccountMismatch)]
    pub rent_receiver: UncheckedAccount<'info>,
    #[account(mut, close = rent_receiver)]
    pub job: Box<Account<'info, Job>>,
    #[account(mut, address = settle.config.stake_vault @ MarketError::AccountMismatch)]
    pub stake_vault: Box<Account<'info, TokenAccount>>,
    /// A run's unspent escrow goes back to its audit reserve; a losing node
    /// waiting in the queue leaves it.
    #[account(mut, address = settle.ledger.market @ MarketError::AccountMismatch)]
    pub market: AccountLoader<'info, Market>,
    pub settle: SettleAccounts<'info>,
}

/// Anyone settles what an audit's verdict decided, at once (no challenge
/// window: the verdict is the check):
/// - a run on the winning side is paid like any job (its charge burned,
///   its work credited), its unspent escrow back to the audit reserve;
/// - a run, or an audited job, that lost burns its node owner's whole
///   collateral for it (`R`: not paid to anyone, so sybils gain nothing
///   from a false mismatch), resets the node's reputation and suspends it;
///   a losing run's escrow goes back to the reserve, a losing audited job's
///   escrow back to its creator.
///
/// An audited job that passed (or was not judged) settles through
/// `finalize_job` after its challenge window.
pub fn handler(mut ctx: Context<SettleAudit>) -> Result<()> {
    let a = &mut ctx.accounts;
    let job_key = a.job.key();
    let verdict = a.job.audit.phase;
    let bump = ctx.bumps.settle.reporter;
    a.settle.node_owner_stake.left_job(&a.job);
    let event = match verdict {
        AuditPhase::RunPaid => {
            let settled = settle_job(&mut a.job, &mut a.settle, bump, true)?;
            add_reserve(&a.market, settled.refund)?;
            AuditSettled {
                job: job_key,
                node: a.job.node,
                verdict,
                slashed: 0,
                creator_refund: 0,
                to_reserve: settled.refund,
                charged: settled.charged,
            }
        }
        AuditPhase::RunFailed | AuditPhase::Failed => {
            let vault = a.stake_vault.to_account_info();
            lose(job_key, &mut a.job, &mut a.settle, vault, &a.market)?
        }
        _ => return err!(MarketError::InvalidJobState),
    };
    emit_cpi!(event);
    Ok(())
}

fn add_reserve(market: &AccountLoader<Market>, amount: u64) -> Result<()> {
    let mut m = MarketMut::load(market)?;
    m.audit_reserve = m
        .audit_reserve
        .checked_add(amount)
        .ok_or(MarketError::MathOverflow)?;
    Ok(())
}

/// The node lost its audit: its whole collateral for the job is moved to
/// the escrow vault and burned with the market's other burns; the escrow
/// goes back to the creator (an audited job) or the reserve (a run).
fn lose<'info>(
    job_key: Pubkey,
    job: &mut Job,
    s: &mut SettleAccounts<'info>,
    stake_vault: AccountInfo<'info>,
    market: &AccountLoader<'info, Market>,
) -> Result<AuditSettled> {
    require!(
        job.state == JobState::Submitted,
        MarketError::InvalidJobState
    );
    s.require_job(job)?;
    let is_run = job.audit.is_run();
    let escrow = job.escrow;
    let (creator_refund, to_reserve) = if is_run {
        add_reserve(market, escrow)?;
        (0, escrow)
    } else {
        require_keys_eq!(
            s.creator_token.owner,
            job.creator,
            MarketError::WrongTokenOwner
        );
        s.escrow()
            .pay_out(&s.creator_token.to_account_info(), escrow)?;
        (escrow, 0)
    };
    let slash = job.collateral;
    s.slash_to_burn(stake_vault, slash)?;
    let posting_fee = job.posting_fee;
    let ledger = &mut s.ledger;
    let out = escrow
        .checked_add(posting_fee)
        .ok_or(MarketError::MathOverflow)?;
    MarketLedger::add(&mut ledger.escrow_out, out)?;
    MarketLedger::add(&mut ledger.pending_burn, posting_fee)?;
    unindex_due(&s.due_page, &job.due_page)?;
    let now = Clock::get()?.unix_timestamp;
    let cooldown = s.config.params.sla.rearm_cooldown_secs;
    mark_breach(&mut s.node, job, job.submitted_at, now, cooldown)?;
    s.node.reset_reputation();
    s.node.close_job()?;
    let node_key = s.node.key();
    let mut m = MarketMut::load(market)?;
    leave_queue(node_key, &mut s.node, &mut m, &mut s.node_owner_stake)?;
    job.posting_fee = 0;
    job.collateral = 0;
    job.escrow = 0;
    job.state = JobState::Settled;
    Ok(AuditSettled {
        job: job_key,
        node: job.node,
        verdict: job.audit.phase,
        slashed: slash,
        creator_refund,
        to_reserve,
        charged: 0,
    })
}
