use anchor_lang::prelude::*;

use crate::constants::{CONFIG_SEED, LOOKUP_TABLE_PROGRAM, MARKET_SEED};
use crate::errors::MarketError;
use crate::events::LookupTableSet;
use crate::state::{Config, Market};

#[event_cpi]
#[derive(Accounts)]
#[instruction(index: u16)]
pub struct SetLookupTable<'info> {
    pub authority: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = authority @ MarketError::NotAuthority)]
    pub config: Box<Account<'info, Config>>,
    #[account(
        mut,
        seeds = [MARKET_SEED, &index.to_le_bytes()],
        bump = market.load()?.bump,
        constraint = market.load()?.config == config.key() @ MarketError::AccountMismatch,
    )]
    pub market: AccountLoader<'info, Market>,
    /// CHECK: its owner here, its state in the handler. Its addresses are
    /// not: clients compile their messages from the table's own contents,
    /// and a table only ever grows, so a table naming other addresses makes
    /// transactions longer, never wrong.
    #[account(owner = LOOKUP_TABLE_PROGRAM @ MarketError::NotALookupTable)]
    pub lookup_table: UncheckedAccount<'info>,
}

/// Whether a lookup table's state (as its program lays it out: a u32
/// variant, 1 for a table; the deactivation slot; the last extension's slot
/// and start index; the authority as an option) is an active table that
/// only `authority` can change, or that no one can (frozen): a table
/// someone else holds could be deactivated under the market's clients.
fn held_by(data: &[u8], authority: &Pubkey) -> bool {
    let is_table = data.get(0..4) == Some(&1u32.to_le_bytes()[..]);
    let active = data.get(4..12) == Some(&u64::MAX.to_le_bytes()[..]);
    let held = match data.get(21) {
        Some(0) => true,
        Some(1) => data.get(22..54) == Some(authority.as_ref()),
        _ => false,
    };
    is_table && active && held
}

/// The authority names the address lookup table clients use for this
/// market's transactions (the crank packs settlements into v0 transactions
/// through it). At once: it changes no one's terms, only transaction sizes.
/// `_index` only seeds the market's address (checked by Anchor).
pub fn handler(ctx: Context<SetLookupTable>, _index: u16) -> Result<()> {
    let table = ctx.accounts.lookup_table.key();
    require!(
        held_by(
            &ctx.accounts.lookup_table.try_borrow_data()?,
            &ctx.accounts.config.authority
        ),
        MarketError::LookupTableNotHeld
    );
    ctx.accounts.market.load_mut()?.lookup_table = table;
    emit_cpi!(LookupTableSet {
        market: ctx.accounts.market.key(),
        lookup_table: table,
    });
    Ok(())
}
