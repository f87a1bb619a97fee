use anchor_lang::prelude::*;

use crate::constants::{MAX_URI_LEN, NODE_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::ResultSubmitted;
use crate::math::result_collateral;
use crate::settlement::charge_for;
use crate::state::{
    Job, JobResult, JobState, Market, Node, NodeStatus, Stake, UsageReceipt, PHASE_SUBMITTED,
};

#[event_cpi]
#[derive(Accounts)]
pub struct SubmitResult<'info> {
    pub node_signer: Signer<'info>,
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
}

/// The assigned node reports its result before the deadline. Usage is
/// bounded by the chain's clock (wall seconds since assignment) and the
/// job's GPUs. The node is free for new work at once; its execution
/// collateral is released down to the result collateral, which stays
/// locked until the job settles.
pub fn handler(
    mut ctx: Context<SubmitResult>,
    commitment: [u8; 32],
    output_uri: String,
    usage: UsageReceipt,
) -> Result<()> {
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

    let terms = a.job.terms;
    let (_, charged) = charge_for(&a.job, usage.wall_secs)?;
    let kept = result_collateral(a.job.collateral, charged, terms.result_collateral_bps)
        .ok_or(MarketError::MathOverflow)?;
    let released = a.job.collateral - kept;
    a.owner_stake.unlock(released)?;
    a.job.collateral = kept;

    let window_end = now
        .checked_add(i64::from(terms.challenge_window_secs))
        .ok_or(MarketError::MathOverflow)?;
    a.market
        .load_mut()?
        .track(job_key, window_end, PHASE_SUBMITTED)?;
    a.job.state = JobState::Submitted;
    a.job.submitted_at = now;
    a.job.result = Some(JobResult {
        commitment,
        output_uri: output_uri.clone(),
        usage,
    });
    a.node.status = NodeStatus::Idle;
    a.node.current_job = Pubkey::default();
    emit_cpi!(ResultSubmitted {
        job: job_key,
        node: node_key,
        commitment,
        output_uri,
        usage,
        collateral_released: released,
        result_collateral: kept,
    });
    Ok(())
}
