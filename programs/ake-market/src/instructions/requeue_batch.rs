use anchor_lang::prelude::*;

use crate::constants::CONFIG_SEED;
use crate::errors::MarketError;
use crate::events::BatchRequeued;
use crate::state::{Batch, Config, Market, MarketMut};

#[event_cpi]
#[derive(Accounts)]
pub struct RequeueBatch<'info> {
    /// Anyone (the crank, the creator): the batch kept its pool slot, so
    /// this pays only the fee.
    pub payer: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, has_one = market @ MarketError::AccountMismatch)]
    pub batch: Box<Account<'info, Batch>>,
}

/// Puts a parked batch back in the queue, at the back of its tier (its
/// frames had their turn), once a frame closed and gave its rent back to the
/// batch's reserve. Settlements do not write the market's queue, so the
/// returning rent cannot requeue the batch itself: the crank does it, from
/// the market's parked list (and anyone may).
pub fn handler(mut ctx: Context<RequeueBatch>) -> Result<()> {
    let a = &mut ctx.accounts;
    require!(!a.config.paused, MarketError::Paused);
    let batch = &mut a.batch;
    require!(
        batch.parked && batch.frames_waiting() > 0 && !batch.halted,
        MarketError::BatchNotParked
    );
    let spare = Batch::spare_reserve(&batch.to_account_info())?;
    require!(spare >= batch.frame_rent, MarketError::BatchReserveInUse);

    let mut market = MarketMut::load(&a.market)?;
    market.unpark_job(&batch.key(), batch.queue_slot)?;
    drop(market);
    batch.parked = false;
    batch.queued_at = Clock::get()?.unix_timestamp;
    let requeued = BatchRequeued {
        batch: batch.key(),
        market: a.market.key(),
        frames_waiting: batch.frames_waiting(),
        frames_reserved: spare / batch.frame_rent,
        queue_slot: batch.queue_slot,
    };
    emit_cpi!(requeued);
    Ok(())
}
