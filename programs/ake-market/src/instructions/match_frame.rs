use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::FrameHandedOut;
use crate::matching::{take_frame, FrameAccounts, Rules};
use crate::state::{Batch, Config, Market, MarketMut, Node, Seeker, Stake};

#[event_cpi]
#[derive(Accounts)]
pub struct MatchFrame<'info> {
    /// Anyone: the poster, a crank, the waiting node's own daemon. Pays
    /// only the fee: the frame's rent comes from the batch's reserve.
    pub payer: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, has_one = market @ MarketError::AccountMismatch)]
    pub batch: Box<Account<'info, Batch>>,
    /// CHECK: the batch's next frame job address (checked in `take_frame`), created here.
    #[account(mut)]
    pub frame_job: UncheckedAccount<'info>,
    /// The best waiting node for the batch's frames.
    #[account(mut, has_one = market @ MarketError::AccountMismatch)]
    pub node: Box<Account<'info, Node>>,
    #[account(mut, seeds = [STAKE_SEED, node.owner.as_ref()], bump = owner_stake.bump)]
    pub owner_stake: Box<Account<'info, Stake>>,
    pub system_program: Program<'info, System>,
}

/// Hands a batch's next frame to the best node waiting in the queue. Batches
/// never match at posting, so a node that was already waiting gets its
/// frame here; one transaction may carry several of these.
pub fn handler(mut ctx: Context<MatchFrame>) -> Result<()> {
    let a = &mut ctx.accounts;
    require!(!a.config.paused, MarketError::Paused);
    let now = Clock::get()?.unix_timestamp;
    let rules = Rules::of(&a.config);
    let node_key = a.node.key();
    let batch_key = a.batch.key();
    let mut market = MarketMut::load(&a.market)?;
    require!(a.batch.in_queue(), MarketError::BatchHasNoFramesWaiting);
    let best = market.best_node_for(
        a.batch.gpus,
        a.batch.min_reputation_bps,
        a.batch.releases.marks(),
    );
    match best {
        None => return err!(MarketError::NoNodeForBatch),
        Some(best) => require_keys_eq!(best, node_key, MarketError::WrongMatchCandidate),
    }
    // And the batch must be that node's best work (priority between
    // batches is the queue's, not the caller's) and one its owner can cover.
    require!(
        market.best_job_for(&Seeker::node(
            &a.node,
            // Its queue lock is released when it takes the frame.
            a.owner_stake.free().saturating_add(a.node.locked_stake)
        )) == Some(batch_key),
        MarketError::WrongMatchCandidate
    );
    market.remove_node(&node_key, a.node.queue_slot)?;
    let accounts = FrameAccounts {
        batch: a.batch.to_account_info(),
        frame_job: a.frame_job.to_account_info(),
    };
    let hand_out = take_frame(
        &mut market,
        &mut a.batch,
        &accounts,
        (node_key, &mut a.node, &mut a.owner_stake),
        &rules,
        now,
    )?;
    drop(market);
    // Never idle a waiting node from someone else's call: an owner who
    // cannot cover the frame under the market's current terms keeps its place.
    require!(
        hand_out.idled_event(node_key).is_none(),
        MarketError::InsufficientStake
    );
    let frames_waiting = a.batch.frames_waiting();
    let parked = a.batch.parked;
    if let Some(assigned) = hand_out.assigned_event(node_key) {
        emit_cpi!(assigned);
        emit_cpi!(FrameHandedOut {
            batch: batch_key,
            frame: hand_out.frame,
            job: hand_out.job,
            node: node_key,
            frames_waiting,
            parked,
        });
    }
    Ok(())
}
