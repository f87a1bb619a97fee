use anchor_lang::prelude::*;
use anchor_spl::token::TokenAccount;

use crate::constants::DISPUTE_TIMEOUT_FEE_BPS;
use crate::due::unindex_due;
use crate::errors::MarketError;
use crate::events::AuditSettled;
use crate::math::bps_of_ceil;
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

/// Anyone settles what an audit's verdict decided (no challenge window for
/// the creator: the verdict is the check; a loss waits out its node's time
/// to appeal):
/// - a run on the winning side is paid like any job (its charge burned,
///   its work credited), its unspent escrow back to the audit reserve;
/// - a run, or an audited job, that lost burns its node owner's whole
///   collateral for it (`R`: not paid to anyone, so sybils gain nothing
///   from a false mismatch) and the bond of an appeal the arbiter
///   rejected, resets the node's reputation and suspends it; a losing
///   run's escrow goes back to the reserve, a losing audited job's escrow
///   back to its creator. A node that revealed may appeal first: a loss
///   settles after the job's challenge window counted from the verdict,
///   or at once when it appealed and lost the appeal;
/// - an appeal the arbiter left undecided past the dispute timeout and
///   the job's max duration (`Job::appeal_decide_by`) penalises nobody
///   and pays nobody: the collateral and the bond come
///   back (less `DISPUTE_TIMEOUT_FEE_BPS` of the bond, burned), the escrow
///   goes back as for a loss, and reputation is unchanged.
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
        AuditPhase::RunFailed
        | AuditPhase::Failed
        | AuditPhase::Appealed
        | AuditPhase::RunAppealed => {
            let loss = loss_now(&a.job)?;
            let vault = a.stake_vault.to_account_info();
            lose(job_key, &mut a.job, &mut a.settle, vault, &a.market, loss)?
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

/// How a job that lost its audit ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Loss {
    /// The verdict stands (not appealed, or the appeal rejected).
    Verdict,
    /// Appealed, and the arbiter did not decide in time.
    Undecided,
}

/// How a job that lost its audit settles now: its verdict once its node's
/// time to appeal is over, an appeal once the arbiter's time is up.
fn loss_now(job: &Job) -> Result<Loss> {
    let now = Clock::get()?.unix_timestamp;
    if matches!(
        job.audit.phase,
        AuditPhase::Appealed | AuditPhase::RunAppealed
    ) {
        let decide_by = job.appeal_decide_by().ok_or(MarketError::MathOverflow)?;
        require!(now > decide_by, MarketError::AppealUndecided);
        return Ok(Loss::Undecided);
    }
    require!(job.appeal_time_over(now), MarketError::AppealWindowOpen);
    Ok(Loss::Verdict)
}

/// The node lost its audit: its whole collateral for the job (and a
/// rejected appeal's bond) is moved to the escrow vault and burned with the
/// market's other burns, or, when the arbiter left its appeal undecided,
/// only the timeout fee of the bond (rounded up: the protocol's favour);
/// the escrow goes back to the creator (an audited job) or the reserve (a
/// run).
fn lose<'info>(
    job_key: Pubkey,
    job: &mut Job,
    s: &mut SettleAccounts<'info>,
    stake_vault: AccountInfo<'info>,
    market: &AccountLoader<'info, Market>,
    loss: Loss,
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
    let bond = job.appeal_bond();
    let slash = match loss {
        Loss::Verdict => job.collateral.checked_add(bond),
        Loss::Undecided => bps_of_ceil(bond, DISPUTE_TIMEOUT_FEE_BPS).map(|fee| fee.min(bond)),
    }
    .ok_or(MarketError::MathOverflow)?;
    let locked = job
        .collateral
        .checked_add(bond)
        .ok_or(MarketError::MathOverflow)?;
    s.slash_to_burn(stake_vault, slash)?;
    s.node_owner_stake.unlock(locked - slash)?;
    let posting_fee = job.posting_fee;
    let ledger = &mut s.ledger;
    let out = escrow
        .checked_add(posting_fee)
        .ok_or(MarketError::MathOverflow)?;
    MarketLedger::add(&mut ledger.escrow_out, out)?;
    MarketLedger::add(&mut ledger.pending_burn, posting_fee)?;
    unindex_due(&s.due_page, &job.due_page)?;
    s.node.close_job()?;
    if loss == Loss::Verdict {
        // A loss that stands suspends the node (out of the queue) and
        // resets its reputation; an undecided appeal judged nobody.
        let now = Clock::get()?.unix_timestamp;
        let cooldown = s.config.params.sla.rearm_cooldown_secs;
        mark_breach(&mut s.node, job, job.submitted_at, now, cooldown)?;
        s.node.reset_reputation();
        let node_key = s.node.key();
        let mut m = MarketMut::load(market)?;
        leave_queue(node_key, &mut s.node, &mut m, &mut s.node_owner_stake)?;
    }
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
