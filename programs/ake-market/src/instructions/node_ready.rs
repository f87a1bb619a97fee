use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, NODE_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::matching::{queue_lock, take_named_or_queue, Armed, NamedWork, Rules};
use crate::pool::ensure_free_slot;
use crate::state::{Config, Market, MarketMut, Node, NodeStatus, Stake};

#[event_cpi]
#[derive(Accounts)]
pub struct NodeReady<'info> {
    /// Pays one slot's rent when the market's pool has none free.
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
    #[account(mut, address = node.market @ MarketError::AccountMismatch)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, seeds = [STAKE_SEED, node.owner.as_ref()], bump = owner_stake.bump)]
    pub owner_stake: Box<Account<'info, Stake>>,
    /// CHECK: the best queued job this node can serve, when it is a job.
    /// Decoded (owner, discriminator, market) and ignored when it is not
    /// one: a job closed since the client read the queue must not fail this.
    #[account(mut)]
    pub candidate_job: Option<UncheckedAccount<'info>>,
    /// CHECK: the best queued entry, when it is a batch (with `frame_job`);
    /// decoded and ignored like `candidate_job`.
    #[account(mut)]
    pub candidate_batch: Option<UncheckedAccount<'info>>,
    /// CHECK: the batch's next frame job address (checked before use), created here.
    #[account(mut)]
    pub frame_job: Option<UncheckedAccount<'info>>,
    pub system_program: Program<'info, System>,
}

/// Takes the best queued job (or batch frame) the node can serve and its
/// owner can cover (locking that job's collateral), or joins the node
/// queue (locking the market's stake per GPU for each of its GPUs). A
/// stale or missing pick joins the queue too: `match_job` pairs it later.
pub fn handler(mut ctx: Context<NodeReady>) -> Result<()> {
    require!(!ctx.accounts.config.paused, MarketError::Paused);
    let now = Clock::get()?.unix_timestamp;
    let rules = Rules::of(&ctx.accounts.config);
    let node_key = ctx.accounts.node.key();
    let market_key = ctx.accounts.market.key();
    let tier = ctx.accounts.config.tier_of(ctx.accounts.owner_stake.amount);
    let a = &mut ctx.accounts;
    require!(!a.node.suspended, MarketError::NodeSuspended);
    require!(!a.node.held, MarketError::NodeHeld);
    require!(now >= a.node.armable_at, MarketError::NodeCoolingDown);
    require!(a.node.status == NodeStatus::Idle, MarketError::NodeNotIdle);

    let grown = ensure_free_slot(&a.market, &a.node_signer.to_account_info())?;
    let mut market = MarketMut::load(&a.market)?;
    require!(
        market.gpu_required == 0 || a.node.profile.vram_mib > 0,
        MarketError::GpuMarketNeedsGpus
    );
    require!(
        a.owner_stake.free() >= queue_lock(&market, &a.node)?,
        MarketError::InsufficientStake
    );
    let named = NamedWork {
        job: a.candidate_job.as_ref(),
        batch: a.candidate_batch.as_ref(),
        frame_job: a.frame_job.as_ref(),
    };
    let node = (node_key, &mut **a.node, &mut **a.owner_stake);
    let armed = take_named_or_queue(&mut market, market_key, named, node, tier, &rules, now)?;
    drop(market);
    if let Some(grown) = grown {
        emit_cpi!(grown);
    }
    match armed {
        Armed::Took(took) => {
            emit_cpi!(took.assigned);
            if let Some(frame) = took.frame {
                emit_cpi!(frame);
            }
        }
        Armed::Queued { queued, barred } => {
            if let Some(barred) = barred {
                emit_cpi!(barred);
            }
            emit_cpi!(queued);
        }
    }
    Ok(())
}
