use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{CONFIG_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::{JobAssigned, JobExpired, JobQueued, NodeSlashed};
use crate::matching::{assign, must_assign};
use crate::sla::penalize;
use crate::state::{Config, Job, JobState, Market, Node, NodeStatus, Stake, Waiting};
use crate::vaults::Vault;

#[event_cpi]
#[derive(Accounts)]
pub struct ExpireJob<'info> {
    /// Anyone: paid a bounty out of the slash.
    pub caller: Signer<'info>,
    #[account(mut, token::mint = mint)]
    pub caller_token: Box<Account<'info, TokenAccount>>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = mint, has_one = stake_vault)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: the job's creator: gets the rent back when the job is refunded.
    #[account(mut, address = job.creator @ MarketError::AccountMismatch)]
    pub creator: UncheckedAccount<'info>,
    #[account(mut, has_one = market @ MarketError::AccountMismatch, has_one = node @ MarketError::AccountMismatch)]
    pub job: Box<Account<'info, Job>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut)]
    pub node: Box<Account<'info, Node>>,
    #[account(mut, seeds = [STAKE_SEED, node.owner.as_ref()], bump = node_owner_stake.bump)]
    pub node_owner_stake: Box<Account<'info, Stake>>,
    #[account(mut)]
    pub stake_vault: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = market.load()?.escrow_vault @ MarketError::AccountMismatch)]
    pub escrow_vault: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub mint: Box<Account<'info, Mint>>,
    #[account(mut, token::mint = mint, constraint = creator_token.owner == job.creator @ MarketError::WrongTokenOwner)]
    pub creator_token: Box<Account<'info, TokenAccount>>,
    /// The best waiting node for the re-queued job, when there is one.
    #[account(mut, constraint = candidate_node.market == market.key() @ MarketError::AccountMismatch)]
    pub candidate_node: Option<Box<Account<'info, Node>>>,
    pub token_program: Program<'info, Token>,
}

/// Anyone may expire a job whose node missed its deadline. The node's owner
/// is slashed (part burned, part the caller's bounty), the node is suspended
/// until its owner re-arms it, and the job goes back to the front of its
/// tier, or is refunded once it has used all its attempts.
pub fn handler(mut ctx: Context<ExpireJob>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let params = ctx.accounts.config.params;
    let a = &mut ctx.accounts;
    let job_key = a.job.key();
    let node_key = a.node.key();
    let market_key = a.market.key();
    require!(
        a.job.state == JobState::Assigned,
        MarketError::InvalidJobState
    );
    require!(now > a.job.deadline, MarketError::DeadlineNotReached);

    a.node_owner_stake.unlock(a.job.locked_stake)?;
    a.job.locked_stake = 0;
    a.job.node = Pubkey::default();
    a.job.node_owner = Pubkey::default();
    a.node.jobs_expired = a
        .node
        .jobs_expired
        .checked_add(1)
        .ok_or(MarketError::MathOverflow)?;
    a.node.status = NodeStatus::Idle;
    a.node.current_job = Pubkey::default();

    let mut market = a.market.load_mut()?;
    market.untrack(&job_key);
    let stake_vault = Vault::stake(
        a.config.stake_vault_bump,
        a.stake_vault.to_account_info(),
        a.mint.to_account_info(),
        a.mint.decimals,
    );
    let slash = penalize(
        &mut a.node,
        &mut a.node_owner_stake,
        &mut market,
        &stake_vault,
        params.sla.expiry_slash_bps,
        params.sla.expiry_bounty_bps,
        Some(&a.caller_token.to_account_info()),
    )?;
    let slashed = NodeSlashed {
        node: node_key,
        owner: a.node.owner,
        job: job_key,
        slashed: slash.slashed,
        burned: slash.burned,
        bounty: slash.bounty,
        reputation_bps: a.node.reputation_bps,
    };

    if a.job.attempts >= params.max_job_attempts {
        let refund = a.job.escrow;
        market.open_escrow = market
            .open_escrow
            .checked_sub(refund)
            .ok_or(MarketError::MathOverflow)?;
        let escrow = Vault::escrow(
            &market_key,
            market.escrow_bump,
            a.escrow_vault.to_account_info(),
            a.mint.to_account_info(),
            a.mint.decimals,
        );
        drop(market);
        escrow.pay_out(&a.creator_token.to_account_info(), refund)?;
        a.job.escrow = 0;
        a.job.state = JobState::Settled;
        a.job.close(a.creator.to_account_info())?;
        emit_cpi!(slashed);
        emit_cpi!(JobExpired {
            job: job_key,
            node: node_key,
            requeued: false,
            refund
        });
        return Ok(());
    }

    a.job.state = JobState::Queued;
    let best = market.best_node_for(a.job.gpus, a.job.min_reputation_bps);
    let passed = a.candidate_node.as_ref().map(|n| n.key());
    let reassigned = if must_assign(best, passed)? {
        let candidate = a
            .candidate_node
            .as_mut()
            .ok_or(MarketError::MatchCandidateMissing)?;
        let candidate_key = candidate.key();
        market.remove_node(&candidate_key)?;
        let stake = candidate.locked_stake;
        let deadline = assign(
            &mut market,
            job_key,
            &mut a.job,
            candidate_key,
            candidate,
            stake,
            now,
            params.completion_grace_secs,
        )?;
        Some((candidate_key, deadline))
    } else {
        market.enqueue_job(
            Waiting {
                key: job_key,
                gpus: a.job.gpus,
                reputation_bps: a.job.min_reputation_bps,
                tier: a.job.tier,
            },
            true,
        )?;
        None
    };
    drop(market);
    let attempt = a.job.attempts;
    emit_cpi!(slashed);
    emit_cpi!(JobExpired {
        job: job_key,
        node: node_key,
        requeued: true,
        refund: 0
    });
    match reassigned {
        Some((node, deadline)) => emit_cpi!(JobAssigned {
            job: job_key,
            node,
            deadline,
            attempt
        }),
        None => emit_cpi!(JobQueued {
            job: job_key,
            market: market_key,
            at_front: true
        }),
    }
    Ok(())
}
