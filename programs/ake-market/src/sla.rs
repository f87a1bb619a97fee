//! What breaking the SLA costs a node: a slash of the collateral its owner
//! locked for that one job (part burned, part a bounty for whoever enforced
//! it), a lower reputation, and suspension until the owner re-arms it after
//! a cooldown (out of the node queue at once). No
//! slash ever reaches beyond the job's own collateral.

use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::math::charge_micro_usd;
use crate::state::{Job, Market, MarketMut, Node, NodeStatus, Stake};
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

/// A broken SLA: the failed job counts against the node's reputation at
/// the value of the time the node held it (from assignment to `held_until`,
/// at most the job's max duration: a whole missed job at full value, a job
/// handed back seconds after assignment at a few seconds' worth, so a
/// creator choosing a huge job shape cannot magnify a node's failure), and
/// the node is suspended; its owner may re-arm it once `cooldown_secs` have
/// passed.
pub fn mark_breach(
    node: &mut Node,
    job: &Job,
    held_until: i64,
    now: i64,
    cooldown_secs: u32,
) -> Result<()> {
    let held = u64::try_from(held_until.saturating_sub(job.assigned_at)).unwrap_or(0);
    let seconds = held.min(u64::from(job.max_duration_secs));
    let value =
        charge_micro_usd(job.rate_micro_usd, job.gpus, seconds).ok_or(MarketError::MathOverflow)?;
    node.record_failure(value)?;
    node.suspended = true;
    node.armable_at = now
        .checked_add(i64::from(cooldown_secs))
        .ok_or(MarketError::MathOverflow)?;
    Ok(())
}

/// Takes a node that may no longer be matched (suspended) out of the node
/// queue at once, unlocking the stake its place held. Returns whether it
/// was queued.
pub fn leave_queue(
    node_key: Pubkey,
    node: &mut Node,
    market: &mut MarketMut,
    owner_stake: &mut Stake,
) -> Result<bool> {
    if node.status != NodeStatus::Queued {
        return Ok(false);
    }
    market.remove_node(&node_key, node.queue_slot)?;
    owner_stake.unlock(node.locked_stake)?;
    node.locked_stake = 0;
    node.status = NodeStatus::Idle;
    Ok(true)
}
