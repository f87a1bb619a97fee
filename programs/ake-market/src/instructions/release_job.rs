use anchor_lang::prelude::*;

use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{CONFIG_SEED, MAX_RELEASES, NODE_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::{JobQueued, JobReleased};
use crate::matching::{candidate_with_stake, requeue, Offer, Rules};
use crate::math::{bps_of_ceil, late_release_slash};
use crate::settlement::refund_job;
use crate::sla::{mark_breach, take_collateral};
use crate::state::{
    Batch, Config, Job, JobSpec, JobState, Market, MarketMut, Node, NodeStatus, ReleaseReason,
    Stake,
};
use crate::vaults::Vault;

#[event_cpi]
#[derive(Accounts)]
pub struct ReleaseJob<'info> {
    pub node_signer: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = mint, has_one = stake_vault)]
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
    #[account(mut)]
    pub stake_vault: Box<Account<'info, TokenAccount>>,
    #[account(mut, address = market.load()?.escrow_vault @ MarketError::AccountMismatch)]
    pub escrow_vault: Box<Account<'info, TokenAccount>>,
    #[account(mut)]
    pub mint: Box<Account<'info, Mint>>,
    /// CHECK: gets the job account's rent back: the job's creator, or the
    /// batch for a frame (`Job::rent_receiver`).
    #[account(mut, address = job.rent_receiver() @ MarketError::AccountMismatch)]
    pub rent_receiver: UncheckedAccount<'info>,
    #[account(mut, token::mint = mint, constraint = creator_token.owner == job.creator @ MarketError::WrongTokenOwner)]
    pub creator_token: Box<Account<'info, TokenAccount>>,
    /// The best waiting node for the re-queued job, when there is one.
    #[account(mut, constraint = candidate_node.market == market.key() @ MarketError::AccountMismatch)]
    pub candidate_node: Option<Box<Account<'info, Node>>>,
    /// The candidate's owner's stake; omitted when the candidate belongs to
    /// the releasing node's owner (its stake is already here).
    #[account(mut)]
    pub candidate_owner_stake: Option<Box<Account<'info, Stake>>>,
    /// The job's batch, when the job is a frame: the owner gets no more of its frames.
    #[account(mut)]
    pub batch: Option<Box<Account<'info, Batch>>>,
    pub token_program: Program<'info, Token>,
}

/// What a hand-back costs, from the job's terms and the owner's budget.
struct Price {
    slash: u64,
    over_budget: bool,
}

/// The assigned node hands its job back before the deadline (input or
/// image unavailable, spec it cannot run, shutdown: `reason` is recorded for
/// people and changes nothing). Free inside the job's release window; after
/// it, the expiry slash (net of the bounty an owner could take itself)
/// scaled by the time held, burned. Past the owner's release budget it is
/// recorded as an expiry (reputation, suspension) and, after the window,
/// priced as one. The
/// job never goes back to this owner, returns to the front of its tier (or
/// to the best waiting node), and is refunded once it has been handed back
/// `max_releases` times.
pub fn handler(mut ctx: Context<ReleaseJob>, reason: ReleaseReason) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let rules = Rules::of(&ctx.accounts.config);
    let params = rules.params;
    let a = &mut ctx.accounts;
    let job_key = a.job.key();
    let node_key = a.node.key();
    let market_key = a.market.key();
    let owner = a.node.owner;
    require_keys_eq!(a.job.node, node_key, MarketError::NotAssignedNode);
    require!(
        a.job.state == JobState::Assigned,
        MarketError::InvalidJobState
    );
    require!(now <= a.job.deadline, MarketError::DeadlinePassed);

    let (budget, budget_window, max_releases) = {
        let m = a.market.load()?;
        (
            m.release_budget,
            m.release_budget_window_secs,
            m.max_releases,
        )
    };
    let collateral = a.job.collateral;
    let held = now.saturating_sub(a.job.assigned_at);
    let price = release_price(&a.job, &mut a.owner_stake, now, budget_window, budget)?;

    let mut market = MarketMut::load(&a.market)?;
    market.untrack(&job_key, a.job.in_flight_slot);
    let stake_vault = Vault::stake(
        a.config.stake_vault_bump,
        a.stake_vault.to_account_info(),
        a.mint.to_account_info(),
        a.mint.decimals,
    );
    take_collateral(
        &mut a.owner_stake,
        &mut market,
        &stake_vault,
        price.slash,
        0,
        None,
    )?;
    a.owner_stake.unlock(collateral - price.slash)?;
    a.node.close_job()?;
    if price.over_budget {
        mark_breach(
            &mut a.node,
            &a.job,
            now,
            now,
            params.sla.rearm_cooldown_secs,
        )?;
        a.node.jobs_expired = a
            .node
            .jobs_expired
            .checked_add(1)
            .ok_or(MarketError::MathOverflow)?;
    }
    a.node.status = NodeStatus::Idle;
    a.node.current_job = Pubkey::default();
    let batch_halted = exclude_from_batch(&a.job, a.batch.as_deref_mut(), owner, &mut market)?;

    let job = &mut a.job;
    let slot = usize::from(job.releases).min(MAX_RELEASES - 1);
    job.released_by[slot] = owner;
    job.releases = job
        .releases
        .checked_add(1)
        .ok_or(MarketError::MathOverflow)?;
    job.last_release = Some(reason);
    job.collateral = 0;
    job.node = Pubkey::default();
    job.node_owner = Pubkey::default();
    job.state = JobState::Queued;

    let offer = if job.releases >= max_releases {
        None
    } else {
        let candidate = candidate_with_stake(
            a.candidate_node.as_mut().map(|n| (n.key(), &mut ***n)),
            a.candidate_owner_stake.as_mut().map(|s| &mut ***s),
            Some(&mut **a.owner_stake),
        )?;
        Some(requeue(&mut market, job_key, job, candidate, &rules, now)?)
    };

    let mut released = JobReleased {
        job: job_key,
        node: node_key,
        owner,
        reason,
        held_secs: held,
        slashed: price.slash,
        over_budget: price.over_budget,
        requeued: offer.is_some(),
        refund: 0,
        posting_fee_burned: 0,
        batch_halted,
    };
    let Some(offer) = offer else {
        let escrow = Vault::escrow(
            &market_key,
            market.escrow_bump,
            a.escrow_vault.to_account_info(),
            a.mint.to_account_info(),
            a.mint.decimals,
        );
        (released.refund, released.posting_fee_burned) = refund_job(
            &mut market,
            &escrow,
            &mut a.job,
            &a.creator_token.to_account_info(),
        )?;
        drop(market);
        a.job.close(a.rent_receiver.to_account_info())?;
        emit_cpi!(released);
        return Ok(());
    };
    drop(market);
    let attempt = a.job.attempts;
    emit_cpi!(released);
    emit_follow_up(&ctx, &offer, job_key, market_key, attempt)
}

/// For a frame: its batch hands this owner no more frames, and leaves the
/// queue once `MAX_RELEASES` owners handed frames back (anyone may then
/// refund the rest). Returns whether it halted.
fn exclude_from_batch(
    job: &Job,
    batch: Option<&mut Account<Batch>>,
    owner: Pubkey,
    market: &mut MarketMut,
) -> Result<bool> {
    let JobSpec::Frame(frame) = &job.spec else {
        return Ok(false);
    };
    let batch = batch.ok_or(MarketError::AccountMismatch)?;
    require_keys_eq!(batch.key(), frame.batch, MarketError::AccountMismatch);
    let was_queued = batch.in_queue();
    let halted = batch.record_release(owner);
    if halted && was_queued {
        market.remove_job(&frame.batch, batch.queue_slot)?;
    } else if halted && batch.parked {
        market.remove_parked(&frame.batch, batch.queue_slot)?;
        batch.parked = false;
    }
    Ok(halted)
}

fn release_price(
    job: &Job,
    owner_stake: &mut Stake,
    now: i64,
    budget_window: u32,
    budget: u16,
) -> Result<Price> {
    let terms = job.terms;
    let expiry_slash = bps_of_ceil(job.collateral, u64::from(terms.expiry_slash_bps))
        .ok_or(MarketError::MathOverflow)?
        .min(job.collateral);
    // What an expiry really costs an owner who expires its own job and
    // takes the bounty: a release is never priced above it.
    let bounty = crate::math::split_payment(expiry_slash, terms.expiry_bounty_bps)
        .ok_or(MarketError::MathOverflow)?
        .0;
    let expiry_net = expiry_slash - bounty;
    let in_budget = owner_stake.count_release(now, budget_window, budget);
    let slash = if now <= terms.release_window_end {
        // Inside the free window a release never costs stake, even past the
        // budget (which then costs the node its reputation and a suspension
        // instead): a creator posting unrunnable jobs cannot make an honest
        // node pay.
        0
    } else if !in_budget {
        expiry_net
    } else {
        let held = u64::try_from(now.saturating_sub(job.assigned_at)).unwrap_or(0);
        let span = u64::try_from(job.deadline.saturating_sub(job.assigned_at)).unwrap_or(0);
        late_release_slash(expiry_net, held, span).ok_or(MarketError::MathOverflow)?
    };
    Ok(Price {
        slash,
        over_budget: !in_budget,
    })
}

fn emit_follow_up(
    ctx: &Context<ReleaseJob>,
    offer: &Offer,
    job_key: Pubkey,
    market_key: Pubkey,
    attempt: u8,
) -> Result<()> {
    if let Some(idled) = offer.idled_event(job_key) {
        emit_cpi!(idled);
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
