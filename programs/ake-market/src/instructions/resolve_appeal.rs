use anchor_lang::prelude::*;

use ake_program_common::account_creation::is_uncreated;

use crate::constants::{STAKE_SEED, UNAUDITABLE_SEED};
use crate::errors::MarketError;
use crate::events::AppealResolved;
use crate::instructions::draw_audit::release_to_result_collateral;
use crate::instructions::judge_audit::mark_unauditable;
use crate::state::{AuditPhase, Job, Stake};

#[event_cpi]
#[derive(Accounts)]
pub struct ResolveAppeal<'info> {
    /// The arbiter in force when the job was assigned; pays the rent of
    /// the spec's unauditable mark when it upholds an appeal.
    #[account(mut, address = job.terms.arbiter @ MarketError::NotArbiter)]
    pub arbiter: Signer<'info>,
    #[account(mut)]
    pub job: Box<Account<'info, Job>>,
    #[account(mut, seeds = [STAKE_SEED, job.node_owner.as_ref()], bump = owner_stake.bump)]
    pub owner_stake: Box<Account<'info, Stake>>,
    /// CHECK: PDA ["unauditable", market, spec hash], created when the
    /// appeal is upheld (left alone when it exists).
    #[account(mut, seeds = [UNAUDITABLE_SEED, job.market.as_ref(), job.spec_hash.as_ref()], bump)]
    pub unauditable_spec: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// The arbiter decides an appeal (`appeal_audit`), having re-run the spec.
/// Upheld: the node ran the spec as given and the spec is at fault (it
/// reads the clock or the host): the bond is unlocked, an audited job
/// becomes `Inconclusive` (down to its result collateral; it settles as
/// usual, the creator's challenge window counted from now) and a run
/// `RunPaid`, and the spec is marked unauditable on its market (the
/// arbiter pays the mark's rent, about 0.0017 SOL, once per spec).
/// Rejected: the verdict stands, and settling it burns the bond with the
/// collateral. Writes: arbiter, job, owner_stake, unauditable_spec.
/// Compute: no loop, one account creation at most.
pub fn handler(ctx: Context<ResolveAppeal>, upheld: bool) -> Result<()> {
    let a = &mut *ctx.accounts;
    let now = Clock::get()?.unix_timestamp;
    let job_key = a.job.key();
    let job = &mut a.job;
    let is_run = match job.audit.phase {
        AuditPhase::Appealed => false,
        AuditPhase::RunAppealed => true,
        _ => return err!(MarketError::NoAppeal),
    };
    // Past its deadline the appeal has lapsed (settle_audit takes it from
    // there): a late word must not race whoever settles first.
    require!(
        job.appeal_decide_by().is_some_and(|t| now <= t),
        MarketError::AppealDecisionLate
    );
    let mut mark_event = None;
    job.audit.phase = match (upheld, is_run) {
        (false, false) => AuditPhase::Failed,
        (false, true) => AuditPhase::RunFailed,
        (true, _) => {
            a.owner_stake.unlock(job.terms.dispute_bond)?;
            job.disputed_at = 0;
            if is_uncreated(&a.unauditable_spec) {
                let payer = a.arbiter.to_account_info();
                let mark = a.unauditable_spec.to_account_info();
                let bump = ctx.bumps.unauditable_spec;
                mark_event = Some(mark_unauditable(&payer, &mark, (job_key, job), bump, now)?);
            }
            if is_run {
                AuditPhase::RunPaid
            } else {
                release_to_result_collateral(job, &mut a.owner_stake)?;
                job.audit.resolved_at = now;
                AuditPhase::Inconclusive
            }
        }
    };
    let event = AppealResolved {
        job: job_key,
        node: job.node,
        upheld,
        verdict: job.audit.phase,
        spec_marked: mark_event.is_some(),
    };
    emit_cpi!(event);
    if let Some(event) = mark_event {
        emit_cpi!(event);
    }
    Ok(())
}
