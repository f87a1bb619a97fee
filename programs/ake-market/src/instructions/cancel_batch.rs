use anchor_lang::prelude::*;

use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::{CONFIG_SEED, CREATOR_SEED};
use crate::errors::MarketError;
use crate::events::BatchCancelled;
use crate::state::{Batch, Config, Creator, Market, MarketMut};
use crate::vaults::Vault;

#[event_cpi]
#[derive(Accounts)]
pub struct CancelBatch<'info> {
    /// The creator at any time; anyone (the crank) once the batch is stale.
    pub caller: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: the batch's creator: gets the spare rent reserve back.
    #[account(mut, address = batch.creator @ MarketError::AccountMismatch)]
    pub creator: UncheckedAccount<'info>,
    #[account(mut, has_one = market @ MarketError::AccountMismatch)]
    pub batch: Box<Account<'info, Batch>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    #[account(mut, address = market.load()?.escrow_vault @ MarketError::AccountMismatch)]
    pub escrow_vault: Box<Account<'info, TokenAccount>>,
    #[account(address = escrow_vault.mint @ MarketError::WrongMint)]
    pub mint: Box<Account<'info, Mint>>,
    #[account(mut, token::mint = mint, constraint = creator_token.owner == batch.creator @ MarketError::WrongTokenOwner)]
    pub creator_token: Box<Account<'info, TokenAccount>>,
    /// The creator's record: a halted batch refunded raises its posting fee.
    #[account(mut, seeds = [CREATOR_SEED, batch.creator.as_ref()], bump = creator_account.bump)]
    pub creator_account: Box<Account<'info, Creator>>,
    pub token_program: Program<'info, Token>,
}

/// Refunds the frames not handed out yet (escrow and the spare rent reserve)
/// and takes the batch out of the queue; frames already handed out run to
/// settlement as usual. The creator may do it at any time, even while
/// paused; anyone may once the batch, queued or halted, has handed out no
/// frame for longer than the market's `max_queue_secs` (counted from the
/// end of the last pause, and never while paused), as for a stale job: a
/// halt alone never lets a stranger end a batch. A halted batch is
/// unrunnable: the creator's posting fee rises a step. (Its releasers'
/// budgets come back with the frame jobs they handed back, when those are
/// refunded as unrunnable: each hand-back is of one job, and given back
/// once.)
pub fn handler(mut ctx: Context<CancelBatch>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &mut ctx.accounts;
    let frames = a.batch.frames_waiting();
    require!(frames > 0, MarketError::BatchHasNoFramesWaiting);
    let market_key = a.market.key();
    let mut market = MarketMut::load(&a.market)?;
    let stale = a.caller.key() != a.batch.creator;
    // A parked batch waits for its own frames, not for nodes, so it is
    // never stale (anyone may requeue it once a frame closed).
    let halted = a.batch.halted;
    if stale {
        require!(a.batch.in_queue() || halted, MarketError::BatchNotStale);
        require!(!a.config.paused, MarketError::Paused);
        let waited = now.saturating_sub(a.batch.queued_at.max(a.config.unpaused_at));
        require!(
            waited > i64::from(market.max_queue_secs),
            MarketError::BatchNotStale
        );
    }
    if a.batch.in_queue() {
        market.remove_job(&a.batch.key(), a.batch.queue_slot)?;
    } else if a.batch.parked {
        market.remove_parked(&a.batch.key(), a.batch.queue_slot)?;
        a.batch.parked = false;
    }
    let refund = a
        .batch
        .escrow_per_frame
        .checked_mul(u64::from(frames))
        .ok_or(MarketError::MathOverflow)?;
    Vault::escrow(
        &market_key,
        market.escrow_bump,
        a.escrow_vault.to_account_info(),
        a.mint.to_account_info(),
        a.mint.decimals,
    )
    .pay_out(&a.creator_token.to_account_info(), refund)?;
    market.open_escrow = market
        .open_escrow
        .checked_sub(refund)
        .ok_or(MarketError::MathOverflow)?;
    drop(market);
    // No frame will be created any more: the whole spare reserve goes back
    // (frames still out give theirs back to the batch, and `close_batch`
    // returns them).
    let rent_returned = Batch::spare_reserve(&a.batch.to_account_info())?;
    a.batch.sub_lamports(rent_returned)?;
    a.creator.add_lamports(rent_returned)?;
    a.batch.cancelled = true;
    // Unrunnable: halted, or resumed after a halt and still nobody
    // submitted a frame (a resume just before the cancel changes nothing).
    let unrunnable = halted || (a.batch.resumed && a.batch.frames_submitted == 0);
    if unrunnable {
        a.creator_account
            .note_unrunnable(now, &a.config.params.release);
    }
    let batch = a.batch.key();
    emit_cpi!(BatchCancelled {
        batch,
        frames_refunded: frames,
        refund,
        rent_returned,
        stale,
        halted: unrunnable,
    });
    Ok(())
}
