//! The treasury is this program's token account PDA `["treasury"]`, its
//! own authority: only this program moves its tokens (crank tips, spends
//! the authority proposed and the timelock let through).

use anchor_lang::prelude::*;
use anchor_spl::token::{self, Transfer};

use crate::constants::TREASURY_SEED;
use crate::state::EmissionsConfig;

/// Pays `amount` out of the treasury to the token account `to`.
pub fn pay_from_treasury<'info>(
    config: &EmissionsConfig,
    treasury: &AccountInfo<'info>,
    to: &AccountInfo<'info>,
    amount: u64,
) -> Result<()> {
    if amount == 0 {
        return Ok(());
    }
    let bump = [config.treasury_bump];
    let seeds: &[&[u8]] = &[TREASURY_SEED, &bump];
    token::transfer(
        CpiContext::new_with_signer(
            token::ID,
            Transfer {
                from: treasury.clone(),
                to: to.clone(),
                authority: treasury.clone(),
            },
            &[seeds],
        ),
        amount,
    )
}
