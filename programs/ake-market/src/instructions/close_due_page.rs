use anchor_lang::prelude::*;

use crate::due::due_page_address;
use crate::errors::MarketError;
use crate::events::DuePageClosed;
use crate::state::DuePage;

#[event_cpi]
#[derive(Accounts)]
pub struct CloseDuePage<'info> {
    /// Anyone (the crank); pays only the fee.
    pub caller: Signer<'info>,
    #[account(mut, close = payer)]
    pub page: AccountLoader<'info, DuePage>,
    /// CHECK: the next shard of the page's bucket: must not be a page
    /// (shards close from the last, so the ones that exist stay a prefix).
    pub next_shard: UncheckedAccount<'info>,
    /// CHECK: whoever paid the page's rent: gets it back.
    #[account(mut, address = page.load()?.payer @ MarketError::AccountMismatch)]
    pub payer: UncheckedAccount<'info>,
}

/// Closes a due page once every job it indexed left and no job can be
/// added to its bucket any more; its rent goes back to whoever paid it.
/// Writes: page (closed), payer.
pub fn handler(ctx: Context<CloseDuePage>) -> Result<()> {
    let now = Clock::get()?.unix_timestamp;
    let a = &ctx.accounts;
    let page = a.page.load()?;
    let next = due_page_address(&page.market, page.bucket, page.shard.saturating_add(1)).0;
    require_keys_eq!(a.next_shard.key(), next, MarketError::WrongDuePage);
    // Only a page of ours counts as the next shard: lamports a stranger
    // sends to its address cannot keep this one open.
    let next_is_page = *a.next_shard.owner == crate::ID && !a.next_shard.data_is_empty();
    require!(
        page.open == 0 && DuePage::is_final(page.bucket, now) && !next_is_page,
        MarketError::DuePageInUse
    );
    let event = DuePageClosed {
        page: a.page.key(),
        market: page.market,
        bucket: page.bucket,
        shard: page.shard,
        payer: page.payer,
        rent: a.page.to_account_info().lamports(),
    };
    drop(page);
    emit_cpi!(event);
    Ok(())
}
