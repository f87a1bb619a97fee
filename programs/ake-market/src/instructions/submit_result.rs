use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, MAX_URI_LEN, NODE_SEED};
use crate::errors::MarketError;
use crate::events::ResultSubmitted;
use crate::state::{
    Config, Job, JobResult, JobState, Market, Node, NodeStatus, UsageReceipt, PHASE_SUBMITTED,
};

#[event_cpi]
#[derive(Accounts)]
pub struct SubmitResult<'info> {
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
}

/// The assigned node reports its result before the deadline. The node is
/// free for new work at once; its stake stays locked until the job settles.
pub fn handler(
    mut ctx: Context<SubmitResult>,
    commitment: [u8; 32],
    output_uri: String,
    usage: UsageReceipt,
) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let window = ctx.accounts.config.params.challenge_window_secs;
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

    let window_end = now
        .checked_add(i64::from(window))
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
        usage
    });
    Ok(())
}
