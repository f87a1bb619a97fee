//! What breaking the SLA costs a node: a slash of its owner's stake (part
//! burned, part a bounty for whoever enforced it), a lower reputation, and
//! suspension until the owner re-arms it.

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

/// Slashes `bps` of the owner's stake from the stake vault: `bounty_bps` of
/// it to `bounty_to` (when given), the rest burned. Marks the node.
#[allow(clippy::too_many_arguments)]
pub fn penalize<'info>(
    node: &mut Node,
    stake: &mut Stake,
    market: &mut Market,
    stake_vault: &Vault<'info>,
    bps: u16,
    bounty_bps: u16,
    bounty_to: Option<&AccountInfo<'info>>,
) -> Result<Slash> {
    let slashed = stake.slash(bps)?;
    let bounty = match bounty_to {
        Some(_) => {
            crate::math::split_payment(slashed, bounty_bps)
                .ok_or(MarketError::MathOverflow)?
                .0
        }
        None => 0,
    };
    let burned = slashed - bounty;
    stake_vault.burn(burned)?;
    if let Some(to) = bounty_to {
        stake_vault.pay_out(to, bounty)?;
    }
    market.tokens_burned = market
        .tokens_burned
        .checked_add(burned)
        .ok_or(MarketError::MathOverflow)?;
    node.reputation_bps = next_reputation(node.reputation_bps, false);
    node.suspended = true;
    Ok(Slash {
        slashed,
        burned,
        bounty,
    })
}
