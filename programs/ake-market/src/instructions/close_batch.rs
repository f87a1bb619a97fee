use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::events::BatchClosed;
use crate::matching::frame_job_address;
use crate::state::Batch;

#[event_cpi]
#[derive(Accounts)]
pub struct CloseBatch<'info> {
    /// CHECK: the batch's creator: gets the batch account's lamports.
    #[account(mut, address = batch.creator @ MarketError::AccountMismatch)]
    pub creator: UncheckedAccount<'info>,
    #[account(mut)]
    pub batch: Box<Account<'info, Batch>>,
    // Remaining accounts: the job accounts of frames `first_frame +
    // frames_closed ..`, in order, each already closed (settled).
}

/// Anyone (the creator, the crank) checks that the frames passed as
/// remaining accounts have settled (their job accounts are closed), in
/// order from where the last call stopped (at most what one transaction
/// can name; the count is kept between calls); once every frame that was
/// handed out has, and none waits, the batch closes and its rent goes back
/// to the creator. The daemon reads the spec from the batch while a frame
/// runs, so the batch never closes under a running frame.
pub fn handler<'info>(ctx: Context<'info, CloseBatch<'info>>) -> Result<()> {
    let batch_key = ctx.accounts.batch.key();
    let batch = &mut ctx.accounts.batch;
    require!(batch.frames_waiting() == 0, MarketError::BatchNotFinished);
    let before = batch.frames_closed;
    for info in ctx.remaining_accounts {
        if batch.frames_closed >= batch.frames_total() {
            break;
        }
        let frame = batch.first_frame + batch.frames_closed;
        require_keys_eq!(
            info.key(),
            frame_job_address(&batch_key, frame).0,
            MarketError::AccountMismatch
        );
        // Settled: the account is gone (lamports may have been sent to
        // the address since; only the program could give it data again).
        if info.owner == &crate::ID && !info.data_is_empty() {
            break;
        }
        batch.frames_closed += 1;
    }
    if batch.frames_closed < batch.frames_total() {
        // Progress is kept; nothing settled since the last call is an error.
        require!(batch.frames_closed > before, MarketError::BatchNotFinished);
        return Ok(());
    }
    let rent_returned = batch.to_account_info().lamports();
    batch.close(ctx.accounts.creator.to_account_info())?;
    emit_cpi!(BatchClosed {
        batch: batch_key,
        rent_returned,
        first_frame: batch.first_frame,
        frame_count: batch.frame_count,
        handed_out: batch.handed_out,
    });
    Ok(())
}
