//! What breaking the SLA costs a node: a slash of the collateral its owner
//! locked for that one job (part burned, part a bounty for whoever enforced
//! it), a lower reputation, and suspension until the owner re-arms it. No
//! slash ever reaches beyond the job's own collateral.

use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::math::next_reputation;
use crate::state::{Market, Node, Stake};
use crate::vaults::Vault;

pub struct Slash {
    pub slashed: u64,
    pub burned: u64,
    pub bounty: u64,
}

/// Takes `amount` of one job's locked collateral out of the stake vault:
/// `bounty_bps` of it to `bounty_to` (when given), the rest burned.
pub fn take_collateral<'info>(
    stake: &mut Stake,
    market: &mut Market,
    stake_vault: &Vault<'info>,
    amount: u64,
    bounty_bps: u16,
    bounty_to: Option<&AccountInfo<'info>>,
) -> Result<Slash> {
    stake.slash_locked(amount)?;
    let bounty = match bounty_to {
        Some(_) => {
            crate::math::split_payment(amount, bounty_bps)
                .ok_or(MarketError::MathOverflow)?
                .0
        }
        None => 0,
    };
    let burned = amount - bounty;
    stake_vault.burn(burned)?;
    if let Some(to) = bounty_to {
        stake_vault.pay_out(to, bounty)?;
    }
    market.tokens_burned = market
        .tokens_burned
        .checked_add(burned)
        .ok_or(MarketError::MathOverflow)?;
    Ok(Slash {
        slashed: amount,
        burned,
        bounty,
    })
}

/// A broken SLA: reputation falls and the node is suspended until its
/// owner re-arms it.
pub fn mark_breach(node: &mut Node) {
    node.reputation_bps = next_reputation(node.reputation_bps, false);
    node.suspended = true;
}
