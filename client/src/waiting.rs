//! Why a queued job waits: where it stands in its market's queue, and what
//! each waiting node lacks to take it (`ake job status`); where a node
//! stands, or why it is idle (`ake node show`).

use ake_market::matching::{collateral_for, queue_lock};
use ake_market::state::releases::{mark_of_tag, marked};
use ake_market::state::{Job, JobState, Node, NodeStatus, Slot, Stake};
use serde::Serialize;
use solana_sdk::pubkey::Pubkey;

use crate::accounts::decode;
use crate::pda;
use crate::protocol::{Protocol, ProtocolError};

/// Accounts one read asks for (an RPC node's `getMultipleAccounts` limit).
const READ_CHUNK: usize = 100;

/// A queued job's place and what keeps the waiting nodes from it. Each
/// waiting node is counted once, under the first thing it lacks, in the
/// order of the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WaitReport {
    /// Waiting jobs and batches served before it (higher stake tiers first,
    /// then in posting order).
    pub ahead: u32,
    pub queued: u32,
    pub paused: bool,
    pub waiting_nodes: u32,
    /// Nodes whose owner handed this job back (never assigned it again).
    pub owner_handed_back: u32,
    /// Nodes with fewer GPUs than the job asks.
    pub too_few_gpus: u32,
    /// Nodes below the reputation the job asks.
    pub reputation_too_low: u32,
    /// Nodes whose owner's free stake cannot lock the job's collateral.
    pub collateral_short: u32,
    /// Nodes that could take it now: it goes to one at the next post,
    /// submit or `ake crank`.
    pub able: u32,
    /// The collateral it locks from a node owner's free stake (base units).
    pub collateral: u64,
}

impl WaitReport {
    /// What a person reads: the place in line, then why no node took it.
    pub fn describe(&self, job: &Job) -> String {
        let mut why = Vec::new();
        if self.paused {
            why.push("the market is paused: nothing is assigned until it resumes".to_string());
        }
        if self.waiting_nodes == 0 {
            why.push("no node is waiting for work in this market".into());
        }
        let mut counted = |n: u32, what: String| {
            if n > 0 {
                why.push(format!(
                    "{n} {} {what}",
                    if n == 1 { "node" } else { "nodes" }
                ));
            }
        };
        counted(
            self.owner_handed_back,
            "of owners that handed it back".into(),
        );
        counted(
            self.too_few_gpus,
            format!("with fewer than its {} GPUs", job.gpus),
        );
        counted(
            self.reputation_too_low,
            format!(
                "below the {} bps reputation it asks",
                job.min_reputation_bps
            ),
        );
        counted(
            self.collateral_short,
            format!(
                "whose owner's free stake cannot lock its {} base units of collateral",
                self.collateral
            ),
        );
        counted(
            self.able,
            "able to take it now (it goes to one at the next post, submit or `ake crank`)".into(),
        );
        format!(
            "{} of {} queued jobs ahead of it; {} waiting: {}",
            self.ahead,
            self.queued,
            self.waiting_nodes,
            why.join("; ")
        )
    }
}

impl Protocol {
    /// Why the queued job `key` waits; None when it is not queued.
    pub async fn why_waiting(
        &self,
        key: &Pubkey,
        job: &Job,
    ) -> Result<Option<WaitReport>, ProtocolError> {
        if job.state != JobState::Queued {
            return Ok(None);
        }
        let market = self.market_at(&job.market).await?;
        let config = self.config().await?;
        let queued = market.queued_jobs();
        let nodes = market.queued_nodes();
        let mut report = WaitReport {
            ahead: position(&queued, key, job),
            queued: u32::try_from(queued.len()).unwrap_or(u32::MAX),
            paused: config.paused,
            waiting_nodes: u32::try_from(nodes.len()).unwrap_or(u32::MAX),
            collateral: collateral_for(&market, job).unwrap_or(u64::MAX),
            ..WaitReport::default()
        };
        let free = self.free_stake_of(&nodes).await?;
        let excluded = job.releases.marks();
        for (slot, free) in nodes.iter().zip(free) {
            let lacks = if marked(excluded, mark_of_tag(slot.aux)) {
                &mut report.owner_handed_back
            } else if slot.gpus < job.gpus {
                &mut report.too_few_gpus
            } else if slot.reputation_bps < job.min_reputation_bps {
                &mut report.reputation_too_low
            } else if free < report.collateral {
                &mut report.collateral_short
            } else {
                &mut report.able
            };
            *lacks += 1;
        }
        Ok(Some(report))
    }

    /// Each waiting node's owner's free stake (0 when unreadable), in order:
    /// two batched reads (the nodes, then their owners' stakes).
    async fn free_stake_of(&self, nodes: &[Slot]) -> Result<Vec<u64>, ProtocolError> {
        let keys: Vec<Pubkey> = nodes.iter().map(|s| s.key).collect();
        let mut owners = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(READ_CHUNK) {
            for account in self.chain.accounts(chunk).await? {
                let node = account.and_then(|a| decode::<Node>(&a.data).ok());
                owners.push(node.map(|n| pda::stake(&n.owner)));
            }
        }
        let stake_keys: Vec<Pubkey> = owners.iter().flatten().copied().collect();
        let mut stakes = std::collections::HashMap::new();
        for chunk in stake_keys.chunks(READ_CHUNK) {
            for (key, account) in chunk.iter().zip(self.chain.accounts(chunk).await?) {
                if let Some(stake) = account.and_then(|a| decode::<Stake>(&a.data).ok()) {
                    stakes.insert(*key, stake.free());
                }
            }
        }
        Ok(owners
            .iter()
            .map(|o| o.and_then(|k| stakes.get(&k).copied()).unwrap_or(0))
            .collect())
    }
}

/// Entries served before the job's own (its queue slot, in serving order).
fn position(queued: &[Slot], key: &Pubkey, job: &Job) -> u32 {
    let own = queued.iter().position(|s| s.key == *key).or_else(|| {
        // A frame waits as its batch's entry.
        job.batch()
            .and_then(|b| queued.iter().position(|s| s.key == b))
    });
    u32::try_from(own.unwrap_or(queued.len())).unwrap_or(u32::MAX)
}

/// Where a node stands: its place among the waiting nodes, or why it is
/// idle (not waiting for work).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeStanding {
    /// While it waits: waiting nodes served before it (higher stake tiers
    /// first, then in the order they joined).
    pub ahead: Option<u32>,
    pub waiting_nodes: u32,
    /// While idle: what keeps it out of the queue, each with what to do.
    pub idle_because: Vec<String>,
}

impl Protocol {
    /// Where the node `key` stands in its market's queue, or why it is idle.
    pub async fn node_standing(
        &self,
        key: &Pubkey,
        node: &Node,
    ) -> Result<NodeStanding, ProtocolError> {
        let market = self.market_at(&node.market).await?;
        let waiting = market.queued_nodes();
        let mut standing = NodeStanding {
            ahead: waiting
                .iter()
                .position(|s| s.key == *key)
                .map(|at| u32::try_from(at).unwrap_or(u32::MAX)),
            waiting_nodes: u32::try_from(waiting.len()).unwrap_or(u32::MAX),
            idle_because: Vec::new(),
        };
        if node.status != NodeStatus::Idle {
            return Ok(standing);
        }
        let why = &mut standing.idle_because;
        if node.suspended {
            why.push(format!("suspended after an SLA breach: its owner or operator runs `ake node rearm {key}` once the cooldown ends"));
        }
        if node.held {
            why.push(format!(
                "held out of the queue by its owner or operator: `ake node rearm {key}` releases it"
            ));
        }
        let now = self.chain.clock().await?.unix_timestamp;
        if now < node.armable_at {
            why.push(format!(
                "cooling down for {} s more (until unix time {})",
                node.armable_at - now,
                node.armable_at
            ));
        }
        if self.config().await?.paused {
            why.push("the markets are paused: no node is armed until they resume".into());
        }
        let lock = queue_lock(&market, node).unwrap_or(u64::MAX);
        let free = self.stake(&node.owner).await?.map_or(0, |s| s.free());
        if free < lock {
            why.push(format!("its owner's free stake ({free} base units) cannot lock the {lock} a waiting node locks: `ake stake deposit`"));
        }
        if why.is_empty() {
            why.push("nothing on-chain keeps it out: its daemon has not armed it (is `ake-node run` running? `ake-node status` says why)".into());
        }
        Ok(standing)
    }
}
