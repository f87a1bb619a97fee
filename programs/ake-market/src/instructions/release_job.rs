use anchor_lang::prelude::*;

use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{CONFIG_SEED, CREATOR_SEED, MAX_HANDBACKS, NODE_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::{JobQueued, JobReleased};
use crate::matching::{candidate_with_stake, requeue, Offer, Rules};
use crate::math::{bps_of_ceil, late_release_slash};
use crate::release_budget::return_release_budgets;
use crate::settlement::refund_job;
use crate::sla::{mark_breach, take_collateral};
use crate::state::{
    Batch, Config, Creator, Job, JobSpec, JobState, Market, MarketMut, Node, NodeStatus,
    ReleaseParams, ReleaseReason, Stake,
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
    /// (Never the releasing node, nor, below, its owner's stake: a second
    /// copy of an account would be written back over the first.)
    #[account(
        mut,
        constraint = candidate_node.market == market.key() @ MarketError::AccountMismatch,
        constraint = candidate_node.key() != node.key() @ MarketError::AccountMismatch,
    )]
    pub candidate_node: Option<Box<Account<'info, Node>>>,
    /// The candidate's owner's stake; omitted when the candidate belongs to
    /// the releasing node's owner (its stake is already here).
    #[account(mut, constraint = candidate_owner_stake.key() != owner_stake.key() @ MarketError::AccountMismatch)]
    pub candidate_owner_stake: Option<Box<Account<'info, Stake>>>,
    /// The job's batch, when the job is a frame: the owner gets no more of its frames.
    #[account(mut)]
    pub batch: Option<Box<Account<'info, Batch>>>,
    /// The creator's record: a job refunded as unrunnable raises its posting fee.
    #[account(mut, seeds = [CREATOR_SEED, job.creator.as_ref()], bump = creator_account.bump)]
    pub creator_account: Box<Account<'info, Creator>>,
    pub token_program: Program<'info, Token>,
}

/// What a hand-back costs, from the job's terms and the owner's budget.
struct Price {
    slash: u64,
    over_budget: bool,
    in_free_window: bool,
}

/// The assigned node hands its job back before the deadline (input or
/// image unavailable, spec it cannot run, shutdown: `reason` is recorded for
/// people and changes nothing). Free inside the job's release window; after
/// it, the expiry slash (net of the bounty an owner could take itself)
/// scaled by the time held, burned. Past the owner's release budget (per
/// registered GPU, see `ReleaseParams`) a release inside the window sends
/// the node to the back of the queue after a cooldown, never a suspension;
/// after the window it is recorded and priced as an expiry. The job never
/// goes back to this owner (and no node of it searches past it), returns to
/// the front of its tier (or to the best waiting node), and is refunded as
/// unrunnable once `max_releases` counted owners (nodes with proven work)
/// handed it back (an audit run: one more, `Job::unrunnable_at`): then every releaser's budget comes back (their stakes as
/// remaining accounts) and the creator's posting fee rises a step.
pub fn handler<'info>(
    mut ctx: Context<'info, ReleaseJob<'info>>,
    reason: ReleaseReason,
) -> Result<()> {
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

    let (max_releases, stake_per_gpu) = {
        let m = a.market.load()?;
        (m.max_releases, m.min_stake_per_gpu)
    };
    let release_rules = params.release;
    let proven = a.node.proven_micro_usd >= release_rules.proof_floor_micro_usd;
    let collateral = a.job.collateral;
    let held = now.saturating_sub(a.job.assigned_at);
    let price = release_price(
        &a.job,
        &mut a.owner_stake,
        now,
        (&release_rules, stake_per_gpu),
    )?;

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
    a.owner_stake.left_job(&a.job);
    a.node.close_job()?;
    if price.over_budget && price.in_free_window {
        a.node.armable_at = a.node.armable_at.max(
            now.checked_add(i64::from(release_rules.over_budget_cooldown_secs))
                .ok_or(MarketError::MathOverflow)?,
        );
    } else if price.over_budget {
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
    let batch_halted =
        exclude_from_batch(&a.job, a.batch.as_deref_mut(), (owner, proven), &mut market)?;

    let job = &mut a.job;
    job.releases.record(owner, proven);
    job.last_release = Some(reason);
    job.collateral = 0;
    job.node = Pubkey::default();
    job.node_owner = Pubkey::default();
    job.state = JobState::Queued;

    let unrunnable = job.releases.counted >= job.unrunnable_at(max_releases);
    let offer = if unrunnable || job.releases.total >= MAX_HANDBACKS {
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
        unrunnable,
        budgets_returned: 0,
        creator_fee_steps: 0,
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
        if unrunnable {
            give_back_budgets(&mut ctx, &mut released, now, (&owner, price.over_budget))?;
        }
        let a = &mut ctx.accounts;
        a.job.close(a.rent_receiver.to_account_info())?;
        emit_cpi!(released);
        return Ok(());
    };
    drop(market);
    let attempt = a.job.attempts;
    emit_cpi!(released);
    emit_follow_up(&ctx, &offer, job_key, market_key, attempt)
}

/// The job was refunded as unrunnable: its hand-backs cost their owners
/// nothing (this one's unless it was past the budget, and the other
/// releasers' through their stakes as remaining accounts), and a creator's
/// job that is not a frame raises its posting fee a step (a batch's frames
/// count once, when the halted batch is refunded).
fn give_back_budgets(
    ctx: &mut Context<ReleaseJob>,
    released: &mut JobReleased,
    now: i64,
    (owner, over_budget): (&Pubkey, bool),
) -> Result<()> {
    let a = &mut ctx.accounts;
    let rules = a.config.params.release;
    if !over_budget {
        a.owner_stake.return_release(now, &rules);
    }
    // The candidate's stake is written back when the instruction ends: it
    // may not be one of the stakes given budget here (that write would undo it).
    let candidate_stake = a.candidate_owner_stake.as_ref().map(|s| s.key());
    // An audit run's recorded owner (the audited node's) never handed it
    // back, and its creator never posted it: neither gets anything for it.
    if a.job.audit.is_run() {
        return Ok(());
    }
    released.budgets_returned = return_release_budgets(
        ctx.remaining_accounts,
        &a.job.releases,
        (owner, candidate_stake),
        now,
        &rules,
    )?;
    if a.job.batch().is_none() {
        released.creator_fee_steps = a.creator_account.note_unrunnable(now, &rules);
    }
    Ok(())
}

/// For a frame: its batch hands this owner no more frames (its queue entry
/// marks the owner), and halts (leaves the queue) when that makes
/// `MAX_RELEASES` counted owners and no frame was ever submitted (see
/// `Batch::record_release`). Returns whether it halted.
fn exclude_from_batch(
    job: &Job,
    batch: Option<&mut Account<Batch>>,
    (owner, proven): (Pubkey, bool),
    market: &mut MarketMut,
) -> Result<bool> {
    let JobSpec::Frame(frame) = &job.spec else {
        return Ok(false);
    };
    let batch = batch.ok_or(MarketError::BatchMissing)?;
    require_keys_eq!(batch.key(), frame.batch, MarketError::AccountMismatch);
    let was_queued = batch.in_queue();
    let halted = batch.record_release(owner, proven);
    if halted {
        // A halted batch is stale only after `max_queue_secs` from now.
        batch.queued_at = Clock::get()?.unix_timestamp;
    }
    if halted && was_queued {
        market.remove_job(&frame.batch, batch.queue_slot)?;
    } else if halted && batch.parked {
        market.remove_parked(&frame.batch, batch.queue_slot)?;
        batch.parked = false;
    } else if was_queued || batch.parked {
        market.mark_released(&frame.batch, batch.queue_slot, batch.releases.marks())?;
    }
    Ok(halted)
}

fn release_price(
    job: &Job,
    owner_stake: &mut Stake,
    now: i64,
    (rules, stake_per_gpu): (&ReleaseParams, u64),
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
    let in_budget = owner_stake.count_release(now, rules, stake_per_gpu);
    let in_free_window = now <= terms.release_window_end;
    let slash = if in_free_window {
        // Inside the free window a release never costs stake, even past the
        // budget (which then costs the node a cooldown at the back of the
        // queue instead): a creator posting unrunnable jobs cannot make an
        // honest node pay.
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
        in_free_window,
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
