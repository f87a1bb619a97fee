use anchor_lang::prelude::*;

use crate::constants::CONFIG_SEED;
use crate::errors::MarketError;
use crate::events::BatchResumed;
use crate::matching::batch_entry;
use crate::pool::ensure_free_slot;
use crate::state::{Batch, Config, Market, MarketMut};

#[event_cpi]
#[derive(Accounts)]
pub struct ResumeBatch<'info> {
    /// The batch's creator; pays for a pool slot when none is free.
    #[account(mut)]
    pub creator: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(
        mut,
        has_one = market @ MarketError::AccountMismatch,
        has_one = creator @ MarketError::NotCreator,
    )]
    pub batch: Box<Account<'info, Batch>>,
    pub system_program: Program<'info, System>,
}

/// The creator puts a halted batch back in the queue, at the back of its
/// tier: it says the batch can run (the owners that handed frames back
/// still get none of it). Releases never halt it again; it ends when its
/// frames are done, when its creator cancels it, or when anyone refunds it
/// after `max_queue_secs` without a frame handed out. With every frame's
/// rent out it parks instead, as it would have in the queue.
pub fn handler(mut ctx: Context<ResumeBatch>) -> Result<()> {
    let a = &mut ctx.accounts;
    require!(!a.config.paused, MarketError::Paused);
    require!(a.batch.halted, MarketError::BatchNotHalted);
    require!(
        a.batch.frames_waiting() > 0,
        MarketError::BatchHasNoFramesWaiting
    );
    let grown = ensure_free_slot(&a.market, &a.creator.to_account_info())?;
    let batch = &mut a.batch;
    let spare = Batch::spare_reserve(&batch.to_account_info())?;
    let mut market = MarketMut::load(&a.market)?;
    let entry = batch_entry(&market, batch.key(), batch)?;
    batch.queue_slot = market.enqueue_job(entry, false)?;
    batch.parked = spare < batch.frame_rent;
    if batch.parked {
        market.park_job(&batch.key(), batch.queue_slot)?;
    }
    drop(market);
    batch.halted = false;
    batch.resumed = true;
    batch.queued_at = Clock::get()?.unix_timestamp;
    let resumed = BatchResumed {
        batch: batch.key(),
        market: a.market.key(),
        frames_waiting: batch.frames_waiting(),
        parked: batch.parked,
    };
    emit_cpi!(resumed);
    if let Some(grown) = grown {
        emit_cpi!(grown);
    }
    Ok(())
}
