//! What a node earned, epoch by epoch: its jobs, GPU-seconds and burn
//! credited, the reward and which bound set it, whether it was claimed,
//! and its USD value at the epoch's price. An epoch's record (`NodeWork`)
//! lives on-chain until the claim closes it; the claim's `RewardClaimed`
//! event carries the record, so claimed epochs are read back from the
//! record address's history (its newest transaction, normally).

use ake_emissions::events::RewardClaimed;
use ake_emissions::math::claim_amounts;
use ake_emissions::state::EpochSummary;
use ake_market::events::{NodeKeyRotated, NodeRegistered};
use serde::Serialize;
use solana_sdk::pubkey::Pubkey;

use crate::accounts::decode_event;
use crate::pda;
use crate::protocol::{Protocol, ProtocolError, MAX_HISTORY_READS};
use crate::sender::with_retry;

/// Transactions of an epoch record's history read to find its claim. The
/// claim closes the record, so it is the newest unless someone named the
/// closed address in later transactions.
const CLAIM_READS: usize = 8;

/// Which bound set a reward: its pro-rata share of the node emission, the
/// cap (its burn x the multiplier), or the floor (its burn x phi, minted
/// back above the schedule).
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    ProRata,
    Cap,
    Floor,
}

/// One node's epoch.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct EpochEarning {
    pub epoch: u64,
    /// Closed epochs pay; an open one is still counting.
    pub closed: bool,
    pub jobs: u32,
    pub gpu_secs: u64,
    pub work_micro_usd: u64,
    /// Tokens burned for its jobs: what caps and floors its reward.
    pub burned_credited: u64,
    /// Paid (claimed) or what a claim pays now; none while the epoch is open.
    pub reward: Option<u64>,
    pub applied: Option<Applied>,
    pub claimed: bool,
    /// The reward at the epoch's price (micro-USD per token burned that
    /// epoch), rounded down; none without a reward or a burn to price it.
    pub reward_micro_usd: Option<u64>,
    /// The epoch closed, its record is gone, and its address has history
    /// but no claim among the newest transactions this endpoint returns:
    /// a claim buried by later transactions naming the address (or pruned
    /// history), or an address someone named although the node never
    /// worked that epoch. The figures are unknown here.
    pub details_unavailable: bool,
}

impl Protocol {
    /// `node`'s earnings in `first..=last` (epochs it did no work in are
    /// left out), oldest first. Reads one record and one summary per epoch,
    /// and for a claimed epoch its record's newest transactions.
    pub async fn node_earnings(
        &self,
        node: &Pubkey,
        first: u64,
        last: u64,
    ) -> Result<Vec<EpochEarning>, ProtocolError> {
        let mut out = Vec::new();
        for epoch in first..=last {
            let summary = self.epoch_summary(epoch).await?;
            if let Some(e) = self.epoch_earning(node, epoch, summary.as_ref()).await? {
                out.push(e);
            }
        }
        Ok(out)
    }

    async fn epoch_earning(
        &self,
        node: &Pubkey,
        epoch: u64,
        summary: Option<&EpochSummary>,
    ) -> Result<Option<EpochEarning>, ProtocolError> {
        let closed = summary.is_some_and(|s| s.closed);
        if let Some(w) = self.node_work(epoch, node).await? {
            let claim = summary.filter(|s| s.closed).and_then(|s| {
                claim_amounts(
                    s.node_share,
                    w.burned_tokens,
                    s.burned_tokens,
                    s.max_reward_per_burn_bps,
                    s.reward_floor_bps,
                )
            });
            let reward = claim.map(|c| c.amount());
            return Ok(Some(EpochEarning {
                epoch,
                closed,
                jobs: w.jobs,
                gpu_secs: w.gpu_secs,
                work_micro_usd: w.work_micro_usd,
                burned_credited: w.burned_tokens,
                reward,
                applied: claim.map(|c| applied(c.amount(), c.pro_rata, c.cap, c.floor)),
                claimed: false,
                reward_micro_usd: reward.and_then(|r| value_at(r, summary)),
                details_unavailable: false,
            }));
        }
        // Only a closed epoch's record can have been claimed.
        if !closed {
            return Ok(None);
        }
        let claim = match self.claimed(node, epoch).await {
            Err(ProtocolError::HistoryTooLong { .. }) => {
                return Ok(Some(EpochEarning {
                    epoch,
                    closed,
                    jobs: 0,
                    gpu_secs: 0,
                    work_micro_usd: 0,
                    burned_credited: 0,
                    reward: None,
                    applied: None,
                    claimed: true,
                    reward_micro_usd: None,
                    details_unavailable: true,
                }))
            }
            other => other?,
        };
        Ok(claim.map(|c| EpochEarning {
            epoch,
            closed,
            jobs: c.jobs,
            gpu_secs: c.gpu_secs,
            work_micro_usd: c.work_micro_usd,
            burned_credited: c.burned_tokens,
            reward: Some(c.amount),
            applied: Some(applied(c.amount, c.pro_rata, c.cap, c.floor)),
            claimed: true,
            reward_micro_usd: value_at(c.amount, summary),
            details_unavailable: false,
        }))
    }

    /// The claim of `node`'s record for `epoch`, from the record address's
    /// history; none when it never existed.
    async fn claimed(
        &self,
        node: &Pubkey,
        epoch: u64,
    ) -> Result<Option<RewardClaimed>, ProtocolError> {
        let record = pda::node_work(epoch, node);
        let history = with_retry(|| self.chain.signatures_for(&record)).await?;
        for signature in history.signatures.iter().take(CLAIM_READS) {
            let inner =
                with_retry(|| self.chain.inner_instructions(signature, &ake_emissions::ID)).await?;
            let found = inner.unwrap_or_default().iter().find_map(|data| {
                decode_event::<RewardClaimed>(data).filter(|c| c.node == *node && c.epoch == epoch)
            });
            if found.is_some() {
                return Ok(found);
            }
        }
        if history.signatures.is_empty() {
            return Ok(None);
        }
        Err(ProtocolError::HistoryTooLong {
            key: record,
            read: CLAIM_READS.min(history.signatures.len()),
        })
    }

    /// The nodes `owner` registered or moved to a new key, from the
    /// NodeRegistered and NodeKeyRotated events in the newest
    /// [`MAX_HISTORY_READS`] transactions it signed; `complete` is false
    /// when its history is longer (pass the nodes by address then).
    pub async fn owner_nodes(&self, owner: &Pubkey) -> Result<(Vec<Pubkey>, bool), ProtocolError> {
        let history = with_retry(|| self.chain.signatures_for(owner)).await?;
        let mut nodes = Vec::new();
        for signature in history.signatures.iter().take(MAX_HISTORY_READS) {
            let inner =
                with_retry(|| self.chain.inner_instructions(signature, &ake_market::ID)).await?;
            for data in inner.unwrap_or_default() {
                if let Some(r) = decode_event::<NodeRegistered>(&data).filter(|r| r.owner == *owner)
                {
                    nodes.push(r.node);
                }
                if let Some(r) = decode_event::<NodeKeyRotated>(&data).filter(|r| r.owner == *owner)
                {
                    nodes.push(r.new_node);
                }
            }
        }
        // Oldest first, each once.
        nodes.reverse();
        let mut seen = std::collections::HashSet::new();
        nodes.retain(|n| seen.insert(*n));
        let complete = history.complete && history.signatures.len() <= MAX_HISTORY_READS;
        Ok((nodes, complete))
    }
}

fn applied(amount: u64, pro_rata: u64, cap: u64, floor: u64) -> Applied {
    if amount == floor && floor > pro_rata.min(cap) {
        Applied::Floor
    } else if cap < pro_rata {
        Applied::Cap
    } else {
        Applied::ProRata
    }
}

/// `tokens` at the epoch's price: the USD its burns were worth per token.
fn value_at(tokens: u64, summary: Option<&EpochSummary>) -> Option<u64> {
    let s = summary.filter(|s| s.burned_tokens > 0)?;
    let value = u128::from(tokens) * u128::from(s.burned_micro_usd) / u128::from(s.burned_tokens);
    u64::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_that_set_a_reward_is_named() {
        // Pro rata under the cap and above the floor.
        assert_eq!(applied(50, 50, 100, 10), Applied::ProRata);
        // A small node share: the floor is minted back.
        assert_eq!(applied(10, 4, 100, 10), Applied::Floor);
        // A large share for a small burn: capped.
        assert_eq!(applied(100, 500, 100, 10), Applied::Cap);
        // Pro rata exactly at the floor is pro rata, not a remint.
        assert_eq!(applied(10, 10, 100, 10), Applied::ProRata);
    }
}
