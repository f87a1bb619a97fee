use anchor_lang::prelude::*;

use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{CONFIG_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::{JobExpired, JobQueued, NodeSlashed};
use crate::matching::{candidate_with_stake, requeue, Rules};
use crate::math::bps_of_ceil;
use crate::settlement::refund_job;
use crate::sla::{mark_breach, take_collateral};
use crate::state::{Config, Job, JobState, Market, MarketMut, Node, NodeStatus, Stake};
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
    /// CHECK: gets the job account's rent back: the job's creator, or the
    /// batch for a frame (`Job::rent_receiver`).
    #[account(mut, address = job.rent_receiver() @ MarketError::AccountMismatch)]
    pub rent_receiver: UncheckedAccount<'info>,
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
    /// `dup`: the creator may be the caller, expiring its own job (both
    /// are token accounts of another program: nothing is written twice).
    #[account(mut, dup, token::mint = mint, constraint = creator_token.owner == job.creator @ MarketError::WrongTokenOwner)]
    pub creator_token: Box<Account<'info, TokenAccount>>,
    /// The best waiting node for the re-queued job, when there is one.
    #[account(mut, constraint = candidate_node.market == market.key() @ MarketError::AccountMismatch)]
    pub candidate_node: Option<Box<Account<'info, Node>>>,
    /// The candidate's owner's stake; omitted when the candidate belongs to
    /// the expired node's owner (its stake is already here).
    #[account(mut)]
    pub candidate_owner_stake: Option<Box<Account<'info, Stake>>>,
    pub token_program: Program<'info, Token>,
}

/// Anyone may expire a job whose node missed its deadline. The job's own
/// collateral is slashed (part burned, part the caller's bounty; the rest of
/// it unlocked), the node is suspended until its owner re-arms it, and the
/// job goes back to the front of its tier, or is refunded once it has
/// missed `max_job_attempts` deadlines or finds the queue full.
pub fn handler(mut ctx: Context<ExpireJob>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let rules = Rules::of(&ctx.accounts.config);
    let params = rules.params;
    let a = &mut ctx.accounts;
    let job_key = a.job.key();
    let node_key = a.node.key();
    let market_key = a.market.key();
    require!(
        a.job.state == JobState::Assigned,
        MarketError::InvalidJobState
    );
    require!(now > a.job.deadline, MarketError::DeadlineNotReached);

    let collateral = a.job.collateral;
    let terms = a.job.terms;
    let slash = bps_of_ceil(collateral, u64::from(terms.expiry_slash_bps))
        .ok_or(MarketError::MathOverflow)?
        .min(collateral);
    a.node.jobs_expired = a
        .node
        .jobs_expired
        .checked_add(1)
        .ok_or(MarketError::MathOverflow)?;
    a.node.status = NodeStatus::Idle;
    a.node.current_job = Pubkey::default();

    let mut market = MarketMut::load(&a.market)?;
    market.untrack(&job_key, a.job.in_flight_slot);
    let stake_vault = Vault::stake(
        a.config.stake_vault_bump,
        a.stake_vault.to_account_info(),
        a.mint.to_account_info(),
        a.mint.decimals,
    );
    let taken = take_collateral(
        &mut a.node_owner_stake,
        &mut market,
        &stake_vault,
        slash,
        terms.expiry_bounty_bps,
        Some(&a.caller_token.to_account_info()),
    )?;
    mark_breach(
        &mut a.node,
        &a.job,
        now,
        now,
        params.sla.rearm_cooldown_secs,
    )?;
    a.node.close_job()?;
    a.node_owner_stake.unlock(collateral - slash)?;
    a.node_owner_stake.left_job(&a.job);
    let slashed = NodeSlashed {
        node: node_key,
        owner: a.node.owner,
        job: job_key,
        slashed: taken.slashed,
        burned: taken.burned,
        bounty: taken.bounty,
        reputation_bps: a.node.reputation_bps,
    };
    a.job.collateral = 0;
    a.job.node = Pubkey::default();
    a.job.node_owner = Pubkey::default();
    a.job.expiries = a
        .job
        .expiries
        .checked_add(1)
        .ok_or(MarketError::MathOverflow)?;
    a.job.state = JobState::Queued;

    let offer = if a.job.expiries >= params.max_job_attempts {
        None
    } else {
        let candidate = candidate_with_stake(
            a.candidate_node.as_mut().map(|n| (n.key(), &mut ***n)),
            a.candidate_owner_stake.as_mut().map(|s| &mut ***s),
            Some(&mut **a.node_owner_stake),
        )?;
        Some(requeue(
            &mut market,
            job_key,
            &mut a.job,
            candidate,
            &rules,
            now,
        )?)
    };

    let Some(offer) = offer else {
        let escrow = Vault::escrow(
            &market_key,
            market.escrow_bump,
            a.escrow_vault.to_account_info(),
            a.mint.to_account_info(),
            a.mint.decimals,
        );
        let (refund, posting_fee_burned) = refund_job(
            &mut market,
            &escrow,
            &mut a.job,
            &a.creator_token.to_account_info(),
        )?;
        drop(market);
        a.job.close(a.rent_receiver.to_account_info())?;
        emit_cpi!(slashed);
        emit_cpi!(JobExpired {
            job: job_key,
            node: node_key,
            requeued: false,
            refund,
            posting_fee_burned
        });
        return Ok(());
    };
    drop(market);
    let attempt = a.job.attempts;
    emit_cpi!(slashed);
    emit_cpi!(JobExpired {
        job: job_key,
        node: node_key,
        requeued: true,
        refund: 0,
        posting_fee_burned: 0
    });
    if let Some(idled) = offer.idled_event(job_key) {
        emit_cpi!(idled);
    }
    if let Some(barred) = offer.barred_event() {
        emit_cpi!(barred);
    }
    match offer.assigned_event(job_key, attempt) {
        Some(assigned) => emit_cpi!(assigned),
        None => emit_cpi!(JobQueued {
            job: job_key,
            market: market_key,
            at_front: true
        }),
    }
    Ok(())
}
