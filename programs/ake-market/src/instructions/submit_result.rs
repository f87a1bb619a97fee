use anchor_lang::prelude::*;

use crate::audit::{audit_rate_bps, draw_start};
use crate::constants::{CONFIG_SEED, MAX_URI_LEN, NODE_SEED, STAKE_SEED};
use crate::due::{index_due, DuePages, DuePick};
use crate::errors::MarketError;
use crate::events::ResultSubmitted;
use crate::matching::{queue_lock, take_named_or_queue, Armed, NamedWork, Rules};
use crate::math::result_collateral;
use crate::settlement::charge_for;
use crate::state::{
    AuditParams, AuditPhase, Batch, Config, Job, JobResult, JobSpec, JobState, Market, MarketMut,
    Node, NodeStatus, Stake, Verify,
};

#[event_cpi]
#[derive(Accounts)]
pub struct SubmitResult<'info> {
    /// Pays for a due page when it creates one (refunded when it closes).
    #[account(mut)]
    pub node_signer: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(
        mut,
        seeds = [NODE_SEED, node_signer.key().as_ref()],
        bump = node.bump,
        constraint = node.signer == node_signer.key() @ MarketError::NotNodeSigner,
    )]
    pub node: Box<Account<'info, Node>>,
    #[account(mut, has_one = market @ MarketError::AccountMismatch)]
    pub job: Box<Account<'info, Job>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, seeds = [STAKE_SEED, node.owner.as_ref()], bump = owner_stake.bump)]
    pub owner_stake: Box<Account<'info, Stake>>,
    /// CHECK: for the re-arm, the best queued job for this node, when it is
    /// a job. Unchecked on purpose: it may have been cancelled or refunded
    /// since the daemon signed, and that must not fail the submit; it is
    /// decoded (owner, discriminator, market) and ignored when it is not one.
    #[account(mut)]
    pub candidate_job: Option<UncheckedAccount<'info>>,
    /// CHECK: for the re-arm, the best queued entry when it is a batch (with
    /// `frame_job`); decoded and ignored like `candidate_job`.
    #[account(mut)]
    pub candidate_batch: Option<UncheckedAccount<'info>>,
    /// CHECK: the batch's next frame job address (checked before use), created by the re-arm.
    #[account(mut)]
    pub frame_job: Option<UncheckedAccount<'info>>,
    /// CHECK: the job's batch when the job is a frame (address checked in
    /// the handler): counts the submitted frame, so releases no longer halt
    /// it. Unchecked because the re-arm may name the same batch as
    /// `candidate_batch` (its next frame), which is read after this writes.
    #[account(mut)]
    pub batch: Option<UncheckedAccount<'info>>,
    /// CHECK: the due page `due` names (PDA checked in `index_due`), created
    /// here when it is the bucket's first.
    #[account(mut)]
    pub due_page: UncheckedAccount<'info>,
    /// CHECK: the next shard of that bucket, used (and created) when the
    /// named page filled since the daemon read it.
    #[account(mut)]
    pub due_spill: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// The assigned node reports its result before the deadline. Usage is
/// bounded by the chain's clock (wall seconds since assignment) and the
/// job's GPUs. The node is free for new work at once; its execution
/// collateral is released down to the result collateral, which stays
/// locked until the job settles. The job leaves the market's pool for a due
/// page (`due`), where the crank finds it when its challenge window ends.
pub fn handler(
    mut ctx: Context<SubmitResult>,
    result: JobResult,
    due: DuePick,
    rearm: bool,
) -> Result<()> {
    let JobResult {
        commitment,
        output_uri,
        usage,
        sealed_digest,
        sealed_salt,
    } = result;
    let now = Clock::get()?.unix_timestamp;
    let a = &mut ctx.accounts;
    let job_key = a.job.key();
    let node_key = a.node.key();
    require_keys_eq!(a.job.node, node_key, MarketError::NotAssignedNode);
    require!(
        a.job.state == JobState::Assigned,
        MarketError::InvalidJobState
    );
    require!(now <= a.job.deadline, MarketError::DeadlinePassed);
    require!(
        output_uri.len() <= MAX_URI_LEN,
        MarketError::OutputUriTooLong
    );
    let held = u64::try_from(now.saturating_sub(a.job.assigned_at)).unwrap_or(0);
    require!(usage.wall_secs <= held, MarketError::UsageExceedsClock);
    // A run that happened lasted at least a second; a zero receipt would
    // release all collateral without any work behind it.
    require!(usage.wall_secs > 0, MarketError::UsageZero);
    require!(
        u128::from(usage.gpu_secs) <= u128::from(usage.wall_secs) * u128::from(a.job.gpus),
        MarketError::GpuSecondsExceedWall
    );

    if let JobSpec::Frame(frame) = &a.job.spec {
        let batch = a.batch.as_ref().ok_or(MarketError::BatchMissing)?;
        require_keys_eq!(batch.key(), frame.batch, MarketError::AccountMismatch);
        Batch::count_submitted(&batch.to_account_info())?;
    }

    let terms = a.job.terms;
    let (_, charged) = charge_for(&a.job, usage.wall_secs)?;
    let audited = a.job.verify == Verify::Exact;
    require!(
        !audited || sealed_digest != [0u8; 32],
        MarketError::SealedDigestMissing
    );
    // An auditable job keeps its whole execution collateral until its
    // audit resolves: that is the `R` its audit rate is set against.
    let kept = if audited {
        a.job.collateral
    } else {
        result_collateral(a.job.collateral, charged, terms.result_collateral_bps)
            .ok_or(MarketError::MathOverflow)?
    };
    if audited {
        open_audit(&mut a.job, &a.config.params.audit, charged)?;
    }
    let released = a.job.collateral - kept;
    a.owner_stake.unlock(released)?;
    a.job.collateral = kept;

    let window_end = now
        .checked_add(i64::from(terms.challenge_window_secs))
        .ok_or(MarketError::MathOverflow)?;
    // An auditable job is due at once: the crank finds it to draw it (its
    // window closes 400 slots on), and sees it again for every later step.
    let due_at = if audited && !a.job.audit.is_run() {
        now
    } else {
        window_end
    };
    MarketMut::load(&a.market)?.untrack(&job_key, a.job.in_flight_slot);
    let pages = DuePages {
        page: &a.due_page.to_account_info(),
        spill: &a.due_spill.to_account_info(),
        payer: &a.node_signer.to_account_info(),
    };
    let indexed = index_due(a.market.key(), job_key, due_at, due, pages)?;
    a.job.due_page = indexed.page;
    a.job.state = JobState::Submitted;
    a.job.submitted_at = now;
    a.job.result = Some(JobResult {
        commitment,
        output_uri: output_uri.clone(),
        usage,
        sealed_digest,
        sealed_salt,
    });
    a.node.status = NodeStatus::Idle;
    a.node.current_job = Pubkey::default();
    let due_page = a.job.due_page;
    let rearmed = if rearm {
        rearm_after_submit(a, now)?
    } else {
        None
    };
    emit_cpi!(ResultSubmitted {
        job: job_key,
        node: node_key,
        commitment,
        output_uri,
        usage,
        collateral_released: released,
        result_collateral: kept,
        due_page,
        sealed_digest,
        sealed_salt,
    });
    if let Some(opened) = indexed.opened {
        emit_cpi!(opened);
    }
    match rearmed {
        Some(Armed::Took(took)) => {
            emit_cpi!(took.assigned);
            if let Some(frame) = took.frame {
                emit_cpi!(frame);
            }
        }
        Some(Armed::Queued { queued, barred }) => {
            if let Some(barred) = barred {
                emit_cpi!(barred);
            }
            emit_cpi!(queued);
        }
        None => {}
    }
    Ok(())
}

/// An auditable job's submit: the job waits for its draw (`draw_audit`),
/// seeded by slot hashes at least 32 slots ahead (an audit run's submit is
/// its commitment, nothing more).
fn open_audit(job: &mut Job, params: &AuditParams, charged: u64) -> Result<()> {
    if job.audit.is_run() {
        return Ok(());
    }
    let slot = Clock::get()?.slot;
    job.audit.phase = AuditPhase::Undrawn;
    job.audit.draw_slot = draw_start(slot).ok_or(MarketError::MathOverflow)?;
    job.audit.rate_bps = audit_rate_bps(charged, job.collateral, params.k_bps, params.p_min_bps);
    Ok(())
}

/// Best effort, never failing the submit (the daemon rebroadcasts the same
/// signed bytes, so a stale candidate must not keep them from landing):
/// the node takes its best queued work when the client named it and it is
/// still current, else joins the node queue (the submit just freed the
/// job's slot, so the pool has room); it stays idle for its daemon's
/// `node_ready` only when it may not arm now.
fn rearm_after_submit(a: &mut SubmitResult, now: i64) -> Result<Option<Armed>> {
    let rules = Rules::of(&a.config);
    let node_key = a.node.key();
    let market_key = a.market.key();
    let mut market = MarketMut::load(&a.market)?;
    let lock = queue_lock(&market, &a.node)?;
    // A node its owner or operator holds finishes this job and stays out.
    let out = a.node.suspended || a.node.held;
    if rules.paused || out || now < a.node.armable_at || a.owner_stake.free() < lock {
        return Ok(None);
    }
    let tier = a.config.tier_of(a.owner_stake.amount);
    let named = NamedWork {
        job: a.candidate_job.as_ref(),
        batch: a.candidate_batch.as_ref(),
        frame_job: a.frame_job.as_ref(),
    };
    let node = (node_key, &mut **a.node, &mut **a.owner_stake);
    let armed = take_named_or_queue(&mut market, market_key, named, node, tier, &rules, now)?;
    Ok(Some(armed))
}
