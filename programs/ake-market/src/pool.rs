//! A market's slot pool grows on demand: an instruction that may add an
//! entry first makes sure one slot is free, growing the account by one slot
//! at its payer's expense when none is. The rent is not refunded (the slot
//! is reused forever), so filling the queues costs permanent rent and blocks
//! nobody. A market holds at most `MAX_SLOTS` entries (its list counts are
//! u16): 65,535 slots, a 4.7 MB account, half Solana's 10 MiB limit.

use anchor_lang::prelude::*;
use anchor_lang::system_program::{self, Transfer};

use crate::errors::MarketError;
use crate::events::PoolGrown;
use crate::state::Market;

/// Slots a market can hold at most: every list count fits its u16.
pub const MAX_SLOTS: u32 = u16::MAX as u32;

const _: () = assert!(Market::space_for(MAX_SLOTS) <= 10 * 1024 * 1024);

/// Grows `market` by one slot, `payer` paying its rent, when its pool has
/// no free slot; the event to emit when it grew.
pub fn ensure_free_slot<'info>(
    market: &AccountLoader<'info, Market>,
    payer: &AccountInfo<'info>,
) -> Result<Option<PoolGrown>> {
    let slot_count = {
        let m = market.load()?;
        if m.has_free_slot() {
            return Ok(None);
        }
        m.slot_count
    };
    require!(slot_count < MAX_SLOTS, MarketError::MarketFull);
    let info = market.to_account_info();
    let rent = resize_paid(&info, payer, Market::space_for(slot_count + 1))?;
    let mut m = market.load_mut()?;
    m.slot_count = slot_count + 1;
    Ok(Some(PoolGrown {
        market: market.key(),
        slot_count: m.slot_count,
        payer: payer.key(),
        rent,
    }))
}

/// Resizes `account` (owned by this program) to `len` bytes, `payer`
/// topping its lamports up to the rent-exempt minimum first. Returns the
/// lamports paid.
pub fn resize_paid<'info>(
    account: &AccountInfo<'info>,
    payer: &AccountInfo<'info>,
    len: usize,
) -> Result<u64> {
    let rent = Rent::get()?
        .minimum_balance(len)
        .saturating_sub(account.lamports());
    require!(
        payer.lamports() >= rent.saturating_add(Rent::get()?.minimum_balance(0)),
        MarketError::PayerCannotPayRent
    );
    if rent > 0 {
        system_program::transfer(
            CpiContext::new(
                system_program::ID,
                Transfer {
                    from: payer.clone(),
                    to: account.clone(),
                },
            ),
            rent,
        )?;
    }
    // New bytes are zero: slots beyond `slots_used` are never read before
    // the pool hands them out.
    account.resize(len)?;
    Ok(rent)
}
