use anchor_lang::prelude::*;

use crate::constants::{MAX_URI_LEN, NODE_SEED};
use crate::errors::MarketError;
use crate::events::LiveLogsAnnounced;
use crate::state::{Job, JobState, Node};

/// Writable: none (the fee payer aside). Compute: no loop; one event.
#[event_cpi]
#[derive(Accounts)]
pub struct AnnounceLogs<'info> {
    pub node_signer: Signer<'info>,
    #[account(
        seeds = [NODE_SEED, node_signer.key().as_ref()],
        bump = node.bump,
        constraint = node.signer == node_signer.key() @ MarketError::NotNodeSigner,
    )]
    pub node: Box<Account<'info, Node>>,
    #[account(constraint = job.node == node.key() @ MarketError::NotAssignedNode)]
    pub job: Box<Account<'info, Job>>,
}

/// The node running a job says where it uploads the job's stdout and
/// stderr while it runs (`ake job logs --follow` reads them there). It
/// changes no state: the event in the job's history is the announcement.
/// Live logs are the node's word until the run ends; the committed logs
/// are what the result's root covers.
pub fn handler(ctx: Context<AnnounceLogs>, uri: String) -> Result<()> {
    let job = &ctx.accounts.job;
    require!(
        job.state == JobState::Assigned,
        MarketError::InvalidJobState
    );
    require!(
        !uri.is_empty() && uri.len() <= MAX_URI_LEN,
        MarketError::InvalidLogsUri
    );
    emit_cpi!(LiveLogsAnnounced {
        job: job.key(),
        node: ctx.accounts.node.key(),
        attempt: job.attempts,
        uri,
    });
    Ok(())
}
