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

/// A queued job's place and what keeps the waiting nodes from it. Each
/// waiting node is counted once, under the first thing it lacks, in the
/// order of the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WaitReport {
    /// Queue entries served before it (a batch is one entry, however many
    /// frames it has left): higher stake tiers first, then in the order
    /// they joined (a job back from a node joins at the front of its tier).
    pub ahead: u32,
    /// Queue entries in the market.
    pub queued: u32,
    pub paused: bool,
    pub waiting_nodes: u32,
    /// Nodes whose owner handed this job back (never assigned it again).
    pub owner_handed_back: u32,
    /// Nodes with fewer GPUs than the job asks.
    pub too_few_gpus: u32,
    /// Nodes below the reputation the job asks.
    pub reputation_too_low: u32,
    /// Nodes whose owner's free stake (with the node's own queue lock)
    /// cannot lock the job's collateral.
    pub collateral_short: u32,
    /// Nodes that could serve it, once the entries ahead of it that they
    /// also fit are served.
    pub able: u32,
    /// The collateral it locks from a node owner's free stake (base units).
    pub collateral: u64,
}

impl WaitReport {
    /// What a person reads: the place in line, then why no node took it;
    /// `amount` writes a token amount given in base units.
    pub fn describe(&self, job: &Job, amount: impl Fn(u64) -> String) -> String {
        let mut why = Vec::new();
        if self.paused {
            why.push("the market is paused: nothing is assigned until it resumes".to_string());
        }
        if self.waiting_nodes == 0 {
            why.push("no node is waiting for work in this market".into());
        }
        let mut counted = |n: u32, what: String| {
            if n > 0 {
                why.push(format!("{} {what}", nodes(n)));
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
                "whose owner's free stake cannot lock its {} AKE of collateral",
                amount(self.collateral)
            ),
        );
        counted(
            self.able,
            "that could serve it once the entries ahead of it that they fit are served".into(),
        );
        format!(
            "{} of {} queue entries ahead of it; {} waiting: {}",
            self.ahead,
            self.queued,
            nodes(self.waiting_nodes),
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
        // The queue checks the collateral as posted, assignment as it is now.
        let own = queued
            .iter()
            .find(|s| s.key == *key || job.batch() == Some(s.key));
        let needed = report.collateral.max(own.map_or(0, |s| s.aux));
        let free = self.free_stake_of(&nodes).await?;
        let excluded = job.excluded_marks();
        for (slot, free) in nodes.iter().zip(free) {
            let lacks = if marked(excluded, mark_of_tag(slot.aux)) {
                &mut report.owner_handed_back
            } else if slot.gpus < job.gpus {
                &mut report.too_few_gpus
            } else if slot.reputation_bps < job.min_reputation_bps {
                &mut report.reputation_too_low
            } else if free < needed {
                &mut report.collateral_short
            } else {
                &mut report.able
            };
            *lacks += 1;
        }
        Ok(Some(report))
    }

    /// What each waiting node's owner could lock for a job, in order: its
    /// stake's free part and the node's own queue lock, which assignment
    /// unlocks first (0 when unreadable). Two reads: the nodes, then their
    /// owners' stakes, each once.
    async fn free_stake_of(&self, nodes: &[Slot]) -> Result<Vec<u64>, ProtocolError> {
        let keys: Vec<Pubkey> = nodes.iter().map(|s| s.key).collect();
        // Each node's owner's stake address and the node's own lock.
        let waiting: Vec<Option<(Pubkey, u64)>> = self
            .chain
            .accounts(&keys)
            .await?
            .into_iter()
            .map(|a| {
                let node = a.and_then(|a| decode::<Node>(&a.data).ok())?;
                Some((pda::stake(&node.owner), node.locked_stake))
            })
            .collect();
        let owners: std::collections::BTreeSet<Pubkey> =
            waiting.iter().flatten().map(|(stake, _)| *stake).collect();
        let owners: Vec<Pubkey> = owners.into_iter().collect();
        let mut free = std::collections::HashMap::new();
        for (key, account) in owners.iter().zip(self.chain.accounts(&owners).await?) {
            if let Some(stake) = account.and_then(|a| decode::<Stake>(&a.data).ok()) {
                free.insert(*key, stake.free());
            }
        }
        Ok(waiting
            .iter()
            .map(|w| {
                w.map_or(0, |(stake, locked)| {
                    free.get(&stake)
                        .copied()
                        .unwrap_or(0)
                        .saturating_add(locked)
                })
            })
            .collect())
    }
}

/// "1 node", "2 nodes".
fn nodes(n: u32) -> String {
    format!("{n} {}", if n == 1 { "node" } else { "nodes" })
}

/// Entries served before the job's own (its queue slot, in serving order).
fn position(queued: &[Slot], key: &Pubkey, job: &Job) -> u32 {
    // A frame waits as its batch's entry.
    let own = queued
        .iter()
        .position(|s| s.key == *key || job.batch() == Some(s.key));
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
    /// While idle: what keeps it out of the queue (empty otherwise).
    pub idle_because: Vec<IdleReason>,
}

/// Why an idle node is not waiting for work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum IdleReason {
    Paused,
    /// After an SLA breach: its owner or operator re-arms it.
    Suspended,
    /// Held out of the queue by its owner or operator.
    Held,
    /// It may not arm before `until` (unix time).
    CoolingDown {
        secs: i64,
        until: i64,
    },
    /// It registered no VRAM and the market requires GPUs.
    NoGpuForGpuMarket,
    /// Its owner's free stake cannot lock the queue lock (base units).
    StakeShort {
        free: u64,
        lock: u64,
    },
    /// Nothing on-chain keeps it out: its daemon has not armed it.
    NotArmed,
}

impl Protocol {
    /// Where the node `key` stands in its market's queue, or why it is
    /// idle (the checks `node_ready` makes, in its order).
    pub async fn node_standing(
        &self,
        key: &Pubkey,
        node: &Node,
    ) -> Result<NodeStanding, ProtocolError> {
        if node.status == NodeStatus::Busy {
            return Ok(NodeStanding::default());
        }
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
        if self.config().await?.paused {
            why.push(IdleReason::Paused);
        }
        if node.suspended {
            why.push(IdleReason::Suspended);
        }
        if node.held {
            why.push(IdleReason::Held);
        }
        let now = self.chain.clock().await?.unix_timestamp;
        if now < node.armable_at {
            why.push(IdleReason::CoolingDown {
                secs: node.armable_at - now,
                until: node.armable_at,
            });
        }
        if market.gpu_required != 0 && node.profile.vram_mib == 0 {
            why.push(IdleReason::NoGpuForGpuMarket);
        }
        let lock = queue_lock(&market, node).unwrap_or(u64::MAX);
        let free = self.stake(&node.owner).await?.map_or(0, |s| s.free());
        if free < lock {
            why.push(IdleReason::StakeShort { free, lock });
        }
        if why.is_empty() {
            why.push(IdleReason::NotArmed);
        }
        Ok(standing)
    }
}
