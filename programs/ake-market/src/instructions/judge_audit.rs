use anchor_lang::prelude::*;

use ake_program_common::account_creation::{create_pda, is_uncreated, read_existing, write_new};

use crate::audit::{judge, spec_at_fault, Vote};
use crate::constants::{CONFIG_SEED, STAKE_SEED, UNAUDITABLE_SEED};
use crate::errors::MarketError;
use crate::events::{AuditJudged, RevealsDue, SpecMarkedUnauditable};
use crate::instructions::draw_audit::release_to_result_collateral;
use crate::state::{AuditPhase, Config, Job, JobState, Stake, UnauditableSpec};

#[event_cpi]
#[derive(Accounts)]
pub struct JudgeAudit<'info> {
    /// Pays the rent of the spec's unauditable mark when the verdict makes one.
    #[account(mut)]
    pub caller: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, constraint = job.audit.phase == AuditPhase::Auditing @ MarketError::InvalidJobState)]
    pub job: Box<Account<'info, Job>>,
    /// CHECK: the first run (`job.audit.runs[0]`), decoded here: closed
    /// when no node took it in time (refunded to the reserve).
    #[account(mut, address = job.audit.runs[0] @ MarketError::WrongAuditRun)]
    pub first_run: UncheckedAccount<'info>,
    /// CHECK: the second run (`job.audit.runs[1]`), as `first_run`.
    #[account(mut, address = job.audit.runs[1] @ MarketError::WrongAuditRun)]
    pub second_run: UncheckedAccount<'info>,
    /// The audited node owner's stake: a job that did not fail drops to its
    /// result collateral.
    #[account(mut, seeds = [STAKE_SEED, job.node_owner.as_ref()], bump = owner_stake.bump)]
    pub owner_stake: Box<Account<'info, Stake>>,
    /// CHECK: PDA ["unauditable", market, spec hash], created when the
    /// three digests all differ (left alone when it exists).
    #[account(mut, seeds = [UNAUDITABLE_SEED, job.market.as_ref(), job.spec_hash.as_ref()], bump)]
    pub unauditable_spec: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// Anyone judges an audit once every run committed (or closed uncommitted)
/// and every party revealed its digest or its time to reveal is up
/// (`crate::audit::judge`). That time starts with the first call that finds
/// every run committed while a digest is missing (`reveal_secs` from then:
/// nobody can reveal before, so nobody is judged silent before). A run of
/// the audited node's owner, or of the other run's owner, does not vote:
/// an owner counts once.
///
/// Three different digests mark the spec unauditable on its market (the
/// caller pays the mark's rent, about 0.0017 SOL, once per spec).
///
/// Writes: caller, job, both runs, owner_stake, unauditable_spec. Compute:
/// two decodes and writes, one account creation at most.
pub fn handler(ctx: Context<JudgeAudit>) -> Result<()> {
    let a = &mut *ctx.accounts;
    let now = Clock::get()?.unix_timestamp;
    let infos = [
        a.first_run.to_account_info(),
        a.second_run.to_account_info(),
    ];
    let mut runs = [decode_run(&infos[0])?, decode_run(&infos[1])?];
    let mut all_revealed = a.job.audit.revealed;
    for run in runs.iter().flatten() {
        require!(run.state == JobState::Submitted, MarketError::AuditNotReady);
        all_revealed &= run.audit.revealed;
    }
    if !all_revealed {
        if a.job.audit.reveal_deadline == 0 {
            let deadline = now
                .checked_add(i64::from(a.config.params.audit.reveal_secs))
                .ok_or(MarketError::MathOverflow)?;
            a.job.audit.reveal_deadline = deadline;
            let event = RevealsDue {
                job: a.job.key(),
                deadline,
            };
            emit_cpi!(event);
            return Ok(());
        }
        require!(
            now > a.job.audit.reveal_deadline,
            MarketError::AuditNotReady
        );
    }
    let votes = votes(&a.job, &runs);
    let audited = a.job.audit.revealed.then_some(a.job.audit.digest);
    let outcome = judge(audited, votes);
    let marked = spec_at_fault(audited, votes) && is_uncreated(&a.unauditable_spec);
    let mut mark_event = None;
    if marked {
        let payer = a.caller.to_account_info();
        let mark = a.unauditable_spec.to_account_info();
        let bump = ctx.bumps.unauditable_spec;
        let job_key = a.job.key();
        mark_event = Some(mark_unauditable(
            &payer,
            &mark,
            (job_key, &a.job),
            bump,
            now,
        )?);
    }
    a.job.audit.phase = outcome.audited;
    a.job.audit.resolved_at = now;
    let mut run_verdicts = [AuditPhase::Unaudited; 2];
    for (i, run) in runs.iter_mut().enumerate() {
        if let Some(run) = run {
            // A run that did not vote (its owner already did) still ran:
            // paid if it revealed.
            run.audit.phase = match (outcome.runs[i], run.audit.revealed) {
                (AuditPhase::Unaudited, true) => AuditPhase::RunPaid,
                (AuditPhase::Unaudited, false) => AuditPhase::RunFailed,
                (verdict, _) => verdict,
            };
            run_verdicts[i] = run.audit.phase;
            // A run that lost may appeal until its challenge window from now.
            run.audit.resolved_at = now;
            write_new(&infos[i], &**run)?;
        }
    }
    if outcome.audited != AuditPhase::Failed {
        release_to_result_collateral(&mut a.job, &mut a.owner_stake)?;
    }
    let usage_padded = outcome.audited == AuditPhase::Passed && padded(&a.job, &runs);
    let event = AuditJudged {
        job: a.job.key(),
        verdict: outcome.audited,
        runs: a.job.audit.runs,
        run_verdicts,
        usage_padded,
    };
    emit_cpi!(event);
    if let Some(event) = mark_event {
        emit_cpi!(event);
    }
    Ok(())
}

/// Creates the unauditable mark of `job`'s spec on its market (`mark`, the
/// PDA with `bump`, checked by the caller), paid by `payer`: the event to
/// emit.
pub fn mark_unauditable<'info>(
    payer: &AccountInfo<'info>,
    mark: &AccountInfo<'info>,
    (job_key, job): (Pubkey, &Job),
    bump: u8,
    now: i64,
) -> Result<SpecMarkedUnauditable> {
    create_pda(
        payer,
        mark,
        &crate::ID,
        8 + UnauditableSpec::INIT_SPACE,
        &[
            UNAUDITABLE_SEED,
            job.market.as_ref(),
            job.spec_hash.as_ref(),
            &[bump],
        ],
    )?;
    write_new(
        mark,
        &UnauditableSpec {
            market: job.market,
            spec_hash: job.spec_hash,
            job: job_key,
            marked_at: now,
            bump,
        },
    )?;
    Ok(SpecMarkedUnauditable {
        market: job.market,
        spec_hash: job.spec_hash,
        job: job_key,
    })
}

/// Each run's vote: absent when it closed uncommitted or its owner votes
/// already (the audited node's, or the first run's).
fn votes(job: &Job, runs: &[Option<Box<Job>>; 2]) -> [Vote; 2] {
    let mut voted = vec![job.node_owner];
    let mut out: [Vote; 2] = [None, None];
    for (i, run) in runs.iter().enumerate() {
        if let Some(run) = run {
            if !voted.contains(&run.node_owner) {
                voted.push(run.node_owner);
                out[i] = Some(run.audit.revealed.then_some(run.audit.digest));
            }
        }
    }
    out
}

/// A run still open, or None when it closed (refunded before committing).
pub fn decode_run(info: &AccountInfo) -> Result<Option<Box<Job>>> {
    if is_uncreated(info) {
        return Ok(None);
    }
    let run = read_existing::<Job>(info, &crate::ID)?;
    require!(run.audit.is_run(), MarketError::WrongAuditRun);
    Ok(Some(Box::new(run)))
}

/// The audited job reported more than 1.5x the wall seconds of a run that
/// agreed with it.
fn padded(job: &Job, runs: &[Option<Box<Job>>; 2]) -> bool {
    let wall = |j: &Job| {
        j.result
            .as_ref()
            .map_or(0, |r| u128::from(r.usage.wall_secs))
    };
    runs.iter().flatten().any(|run| {
        run.audit.revealed && run.audit.digest == job.audit.digest && wall(job) * 2 > wall(run) * 3
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_of(owner: Pubkey, digest: u8) -> Box<Job> {
        let mut job = Job::blank();
        job.node_owner = owner;
        job.audit.revealed = true;
        job.audit.digest = [digest; 32];
        Box::new(job)
    }

    /// What an owner holding both runs gets (possible only past the 16
    /// audits `Stake` remembers it holding): one vote, never two.
    #[test]
    fn one_owner_s_two_runs_vote_once_and_the_audited_owner_s_never() {
        let (audited, other) = (Pubkey::new_unique(), Pubkey::new_unique());
        let job = job_of(audited, 1);
        let both = [Some(job_of(other, 2)), Some(job_of(other, 2))];
        assert_eq!(votes(&job, &both), [Some(Some([2; 32])), None]);
        let own = [Some(job_of(audited, 1)), Some(job_of(other, 2))];
        assert_eq!(votes(&job, &own), [None, Some(Some([2; 32]))]);
        // One vote against the job's digest decides nothing.
        assert!(matches!(
            judge(Some([1; 32]), votes(&job, &both)).audited,
            AuditPhase::Inconclusive
        ));
    }
}
