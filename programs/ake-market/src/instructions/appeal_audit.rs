use anchor_lang::prelude::*;

use crate::constants::{NODE_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::AuditAppealed;
use crate::sla::leave_queue;
use crate::state::{AuditPhase, Job, JobState, Market, MarketMut, Node, Stake};

#[event_cpi]
#[derive(Accounts)]
pub struct AppealAudit<'info> {
    pub node_signer: Signer<'info>,
    #[account(
        mut,
        seeds = [NODE_SEED, node_signer.key().as_ref()],
        bump = node.bump,
        constraint = node.signer == node_signer.key() @ MarketError::NotNodeSigner,
    )]
    pub node: Box<Account<'info, Node>>,
    /// The audited job or audit run this node lost.
    #[account(mut, constraint = job.node == node.key() @ MarketError::NotAssignedNode)]
    pub job: Box<Account<'info, Job>>,
    /// Its owner's stake, where the bond is locked.
    #[account(mut, seeds = [STAKE_SEED, job.node_owner.as_ref()], bump = owner_stake.bump)]
    pub owner_stake: Box<Account<'info, Stake>>,
    /// The job's market: the node leaves its queue when the stake its
    /// place holds is needed for the bond.
    #[account(mut, address = job.market @ MarketError::AccountMismatch)]
    pub market: AccountLoader<'info, Market>,
}

/// A node appeals an audit it lost, within the job's challenge window
/// counted from the verdict (at least a minute: `Job::appeal_window_end`),
/// by locking its terms' dispute bond from its owner's free stake. Two
/// runs of a spec that reads the clock or the host can agree with each
/// other and not with an honest node: the arbiter, who can re-run the
/// spec, decides (`resolve_appeal`). Only a node that
/// revealed its digest may appeal (there is nothing to compare otherwise),
/// and only once. When the owner's free stake is short of the bond and the
/// node waits in the queue, it leaves the queue first, unlocking the stake
/// its place held: waiting for work never costs a node its appeal.
/// Writes: node, job, owner_stake, market. Compute: no loop (one queue
/// removal at most).
pub fn handler(ctx: Context<AppealAudit>) -> Result<()> {
    let a = &mut *ctx.accounts;
    let now = Clock::get()?.unix_timestamp;
    let job = &mut a.job;
    require!(
        job.state == JobState::Submitted
            && job.audit.lost()
            && job.audit.revealed
            && job.appeal_bond() == 0,
        MarketError::NotAppealable
    );
    let window_end = job.appeal_window_end().ok_or(MarketError::MathOverflow)?;
    require!(now <= window_end, MarketError::AppealWindowClosed);
    let bond = job.terms.dispute_bond;
    if a.owner_stake.free() < bond {
        let mut market = MarketMut::load(&a.market)?;
        let node_key = a.node.key();
        leave_queue(node_key, &mut a.node, &mut market, &mut a.owner_stake)?;
    }
    a.owner_stake.lock(bond)?;
    job.audit.phase = if job.audit.is_run() {
        AuditPhase::RunAppealed
    } else {
        AuditPhase::Appealed
    };
    job.disputed_at = now;
    let decide_by = job.appeal_decide_by().ok_or(MarketError::MathOverflow)?;
    let event = AuditAppealed {
        job: job.key(),
        node: job.node,
        bond,
        decide_by,
    };
    emit_cpi!(event);
    Ok(())
}
