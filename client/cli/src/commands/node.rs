use std::path::PathBuf;

use ake_market::state::{HardwareProfile, NodeStatus};
use ake_sdk::ake_market;
use ake_sdk::instructions as ixs;
use ake_sdk::pda;
use ake_sdk::protocol::{associated_token, create_associated_token};
use clap::Subcommand;
use serde::Serialize;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signer::Signer;

use crate::amounts::{format, usd};
use crate::context::{load_keypair, GlobalArgs};
use crate::output::print;
use ake_sdk::earnings::{Applied, EpochEarning};
use ake_sdk::waiting::{IdleReason, NodeStanding};

#[derive(Subcommand)]
pub enum NodeCommand {
    /// Register nodes: --keypair is the owner (cold key), each --signer a
    /// hot key of ake-node (one per slot of a host: repeat --signer, or
    /// pass the keys `ake-node init --slots` wrote). A key already
    /// registered is left as it is, so the command can be run again.
    Register {
        #[arg(long, required = true, num_args = 1..)]
        signer: Vec<PathBuf>,
        #[arg(long, default_value_t = 0)]
        market: u16,
        #[arg(long)]
        gpus: u16,
        /// GPU model, e.g. "NVIDIA RTX 4090".
        #[arg(long)]
        model: String,
        #[arg(long)]
        vram_mib: u32,
        /// sha256 (hex) of the node's benchmark report.
        #[arg(long)]
        benchmark_hash: Option<String>,
    },
    /// A node's status, reputation and lifetime counters.
    Show { node: Pubkey },
    /// Let a node arm again: lift a suspension (after an expiry or a lost
    /// dispute, once the cooldown ends) or a hold. The owner, or its
    /// operator (at most 2 suspensions per node per week).
    Rearm { node: Pubkey },
    /// Take a node out of the queue and hold it out (a busy node finishes
    /// its job first) until `ake node rearm`: the owner or its operator,
    /// from anywhere, without the host's hot key.
    Hold { node: Pubkey },
    /// Name the key that operates the owner's nodes (hold and re-arm,
    /// never move stake or close), or `none` (owner only; takes effect at
    /// once, so a leaked operator key is revoked without waiting).
    Operator { key: String },
    /// Move an idle node to a new hot key, keeping its reputation and record
    /// (owner only). The node's address changes: point ake-node at the new key.
    RotateKey {
        node: Pubkey,
        /// Keypair file of the new hot key.
        #[arg(long)]
        new_signer: PathBuf,
    },
    /// Close an idle node with no unsettled job and get its rent back (owner only).
    Close { node: Pubkey },
    /// What nodes earned per epoch: jobs, GPU-seconds, burn credited, the
    /// reward and the bound that set it (pro rata, cap or floor), claimed
    /// or not, and its USD value at the epoch's price.
    Earnings {
        /// The nodes (or --owner for all of an owner's).
        nodes: Vec<Pubkey>,
        /// Every node this owner registered (read from its history).
        #[arg(long)]
        owner: Option<Pubkey>,
        /// The last N epochs, the current one included.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=256))]
        epochs: u64,
    },
    /// Claim the node's emission for closed epochs (all unclaimed of the last 64, or --epoch).
    Claim {
        node: Pubkey,
        #[arg(long)]
        epoch: Option<u64>,
    },
}

#[derive(Serialize)]
pub struct NodeView {
    pub node: String,
    pub owner: String,
    pub signer: String,
    pub market: String,
    pub gpus: u16,
    pub gpu_model: String,
    pub vram_mib: u32,
    pub status: String,
    pub suspended: bool,
    /// Held out of the queue by its owner or operator.
    pub held: bool,
    /// Unix time from which the node may be armed (or re-armed).
    pub armable_at: i64,
    pub current_job: Option<String>,
    pub reputation_bps: u16,
    /// Verified work and failed jobs' value behind the reputation, micro-USD.
    pub proven_micro_usd: u64,
    pub failed_micro_usd: u64,
    pub open_jobs: u16,
    pub jobs_completed: u64,
    pub jobs_expired: u64,
    pub jobs_disputed: u64,
    pub work_micro_usd: u64,
    /// Its place among the waiting nodes, or why it is idle.
    #[serde(flatten)]
    pub standing: NodeStanding,
}

/// A node as `ake node show` and the dashboard show it.
pub async fn node_view(p: &ake_sdk::protocol::Protocol, node: &Pubkey) -> anyhow::Result<NodeView> {
    let n = existing_node(p, node).await?;
    Ok(NodeView {
        node: node.to_string(),
        owner: n.owner.to_string(),
        signer: n.signer.to_string(),
        market: n.market.to_string(),
        gpus: n.gpus,
        gpu_model: n.profile.gpu_model.clone(),
        vram_mib: n.profile.vram_mib,
        status: match n.status {
            NodeStatus::Idle => "idle",
            NodeStatus::Queued => "waiting for a job",
            NodeStatus::Busy => "running a job",
        }
        .into(),
        suspended: n.suspended,
        held: n.held,
        armable_at: n.armable_at,
        current_job: (n.current_job != Pubkey::default()).then(|| n.current_job.to_string()),
        reputation_bps: n.reputation_bps,
        proven_micro_usd: n.proven_micro_usd,
        failed_micro_usd: n.failed_micro_usd,
        open_jobs: n.open_jobs,
        jobs_completed: n.jobs_completed,
        jobs_expired: n.jobs_expired,
        jobs_disputed: n.jobs_disputed,
        work_micro_usd: n.work_micro_usd,
        standing: p.node_standing(node, &n).await?,
    })
}

/// `ake node show`'s lines on the node's place in line or why it is idle.
fn standing_lines(s: &NodeStanding, node: &Pubkey, decimals: u8) -> String {
    if let Some(ahead) = s.ahead {
        return format!(
            "\n  place       {ahead} of {} waiting nodes ahead of it",
            s.waiting_nodes
        );
    }
    s.idle_because
        .iter()
        .map(|why| format!("\n  idle        {}", idle_reason(why, node, decimals)))
        .collect()
}

/// Why a node is idle, with what to do about it.
pub fn idle_reason(why: &IdleReason, node: &Pubkey, decimals: u8) -> String {
    match why {
        IdleReason::Paused => "the markets are paused: no node is armed until they resume".into(),
        IdleReason::Suspended => format!("suspended after an SLA breach: its owner or operator runs `ake node rearm {node}` once the cooldown ends"),
        IdleReason::Held => format!("held out of the queue by its owner or operator: `ake node rearm {node}` releases it"),
        IdleReason::CoolingDown { secs, until } => format!("cooling down for {secs} s more (until unix time {until})"),
        IdleReason::NoGpuForGpuMarket => "registered without VRAM in a market that requires GPUs: register a node with its GPUs".into(),
        IdleReason::StakeShort { free, lock } => format!(
            "its owner's free stake ({} AKE) cannot lock the {} AKE a waiting node locks: `ake stake deposit`",
            format(*free, decimals),
            format(*lock, decimals)
        ),
        IdleReason::NotArmed => "nothing on-chain keeps it out: its daemon has not armed it (is `ake-node run` running? `ake-node status` says why)".into(),
    }
}

pub async fn run(g: &GlobalArgs, c: NodeCommand) -> anyhow::Result<()> {
    let ctx = g.connect()?;
    let p = &ctx.protocol;
    match c {
        NodeCommand::Register {
            signer,
            market,
            gpus,
            model,
            vram_mib,
            benchmark_hash,
        } => {
            let owner = ctx.signer()?;
            let hots = signer
                .iter()
                .map(|path| load_keypair(path))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let benchmark_hash = match benchmark_hash {
                Some(h) => ake_sdk::job_spec::parse_sha256("--benchmark-hash", &h)?,
                None => [0; 32],
            };
            p.market(market).await?;
            let profile = HardwareProfile {
                gpu_model: model,
                vram_mib,
                benchmark_hash,
            };
            let mut nodes = Vec::new();
            let mut lines = Vec::new();
            for hot in &hots {
                let node = pda::node(&hot.pubkey());
                // One transaction per node (each names its own hot key and
                // model): a run cut short is finished by running it again.
                if p.node(&node).await?.is_some() {
                    lines.push(format!("node {node} was registered before: left as it is"));
                    nodes.push(serde_json::json!({"node": node.to_string(), "signature": null}));
                    continue;
                }
                let ix = ixs::register_node(
                    owner.pubkey(),
                    hot.pubkey(),
                    pda::market(market),
                    gpus,
                    profile.clone(),
                );
                let sig = ctx.send(&owner, &[hot], &[ix]).await?;
                lines.push(format!("registered node {node} on market {market} ({sig})"));
                nodes.push(
                    serde_json::json!({"node": node.to_string(), "signature": sig.to_string()}),
                );
            }
            print(ctx.json, &serde_json::json!({ "nodes": nodes }), |_| {
                format!(
                    "{}\n  stake the market's minimum per GPU of each node with `ake stake deposit`, then run `ake-node run`",
                    lines.join("\n")
                )
            });
        }
        NodeCommand::Show { node } => {
            let view = node_view(p, &node).await?;
            let mint = p.config().await?.mint;
            let d = ake_sdk::accounts::mint_decimals(ctx.chain(), &mint).await?;
            print(ctx.json, &view, |v| {
                format!(
                    "node {}\n  owner       {}\n  signer      {}\n  hardware    {} x {} ({} MiB)\n  status      {}{}\n  job         {}\n  reputation  {} bps ({} proven, {} failed)\n  armable at  {}\n  completed   {}   expired {}   disputed {}\n  work        {}",
                    v.node,
                    v.owner,
                    v.signer,
                    v.gpus,
                    v.gpu_model,
                    v.vram_mib,
                    v.status,
                    if v.suspended {
                        " (SUSPENDED: the owner or its operator runs `ake node rearm` once the cooldown ends)"
                    } else if v.held {
                        " (HELD out of the queue: `ake node rearm` releases it)"
                    } else {
                        ""
                    },
                    v.current_job.clone().unwrap_or_else(|| "-".into()),
                    v.reputation_bps,
                    usd(v.proven_micro_usd),
                    usd(v.failed_micro_usd),
                    v.armable_at,
                    v.jobs_completed,
                    v.jobs_expired,
                    v.jobs_disputed,
                    usd(v.work_micro_usd)
                ) + &standing_lines(&v.standing, &node, d)
            });
        }
        NodeCommand::Rearm { node } => {
            let by = ctx.signer()?;
            let n = existing_node(p, &node).await?;
            let ix = ixs::rearm_node(by.pubkey(), node, n.owner);
            let sig = ctx.send(&by, &[], &[ix]).await?;
            print(
                ctx.json,
                &serde_json::json!({"signature": sig.to_string()}),
                |_| format!("node {node} re-armed ({sig}): its daemon arms it"),
            );
        }
        NodeCommand::Hold { node } => {
            let by = ctx.signer()?;
            let n = existing_node(p, &node).await?;
            let ix = ixs::node_unready(by.pubkey(), n.signer, n.owner, n.market);
            let sig = ctx.send(&by, &[], &[ix]).await?;
            print(
                ctx.json,
                &serde_json::json!({"signature": sig.to_string()}),
                |_| {
                    format!("node {node} held out of the queue ({sig}); `ake node rearm {node}` releases it")
                },
            );
        }
        NodeCommand::Operator { key } => {
            let owner = ctx.signer()?;
            let operator = match key.as_str() {
                "none" => Pubkey::default(),
                key => key.parse().map_err(|_| {
                    anyhow::anyhow!("operator {key:?} is not a public key (or `none` to revoke)")
                })?,
            };
            p.stake(&owner.pubkey()).await?.ok_or_else(|| {
                anyhow::anyhow!(
                    "{} has no stake account: `ake stake deposit` first",
                    owner.pubkey()
                )
            })?;
            let ix = ixs::set_operator(owner.pubkey(), operator);
            let sig = ctx.send(&owner, &[], &[ix]).await?;
            print(
                ctx.json,
                &serde_json::json!({"operator": key, "signature": sig.to_string()}),
                |_| format!("operator of {}'s nodes: {key} ({sig})", owner.pubkey()),
            );
        }
        NodeCommand::RotateKey { node, new_signer } => {
            let owner = ctx.signer()?;
            let hot = load_keypair(&new_signer)?;
            let ix = ixs::rotate_node_key(owner.pubkey(), node, hot.pubkey());
            let sig = ctx.send(&owner, &[&hot], &[ix]).await?;
            let new_node = pda::node(&hot.pubkey());
            print(
                ctx.json,
                &serde_json::json!({"node": new_node.to_string(), "old_node": node.to_string(), "signature": sig.to_string()}),
                |_| {
                    format!("node {node} is now {new_node}, signed by {} ({sig})\n  set ake-node's signer keypair to the new key and restart it", hot.pubkey())
                },
            );
        }
        NodeCommand::Close { node } => {
            let owner = ctx.signer()?;
            let sig = ctx
                .send(&owner, &[], &[ixs::close_node(owner.pubkey(), node)])
                .await?;
            print(
                ctx.json,
                &serde_json::json!({"signature": sig.to_string()}),
                |_| format!("node {node} closed, rent returned ({sig})"),
            );
        }
        NodeCommand::Earnings {
            nodes,
            owner,
            epochs,
        } => {
            let report = earnings(p, nodes, owner, epochs).await?;
            let mint = p.config().await?.mint;
            let d = ake_sdk::accounts::mint_decimals(ctx.chain(), &mint).await?;
            print(ctx.json, &report, |r| earnings_lines(r, d));
        }
        NodeCommand::Claim { node, epoch } => {
            let caller = ctx.signer()?;
            let config = p.config().await?;
            let emissions = p.emissions().await?;
            let d = ake_sdk::accounts::mint_decimals(ctx.chain(), &config.mint).await?;
            let epochs: Vec<u64> = match epoch {
                Some(e) => vec![e],
                None => (emissions.next_epoch.saturating_sub(64)..emissions.next_epoch).collect(),
            };
            let n = existing_node(p, &node).await?;
            let owner_token = associated_token(&n.owner, &config.mint);
            let before = p.token_balance(&owner_token).await?;
            let mut claimed = Vec::new();
            for e in epochs {
                if let Some(ix) = p.claim(&node, e, caller.pubkey()).await? {
                    let create = create_associated_token(&caller.pubkey(), &n.owner, &config.mint);
                    ctx.send(&caller, &[], &[create, ix]).await?;
                    claimed.push(e);
                }
            }
            let amount = p.token_balance(&owner_token).await? - before;
            print(
                ctx.json,
                &serde_json::json!({"epochs": claimed, "amount": amount}),
                |_| {
                    if claimed.is_empty() {
                        "nothing to claim: no unclaimed work in closed epochs".into()
                    } else {
                        format!(
                            "claimed {} AKE for epochs {:?} to {owner_token}",
                            format(amount, d),
                            claimed
                        )
                    }
                },
            );
        }
    }
    Ok(())
}

/// The node at `node`, or an error that says what to pass.
async fn existing_node(
    p: &ake_sdk::protocol::Protocol,
    node: &Pubkey,
) -> anyhow::Result<ake_sdk::ake_market::state::Node> {
    p.node(node).await?.ok_or_else(|| {
        anyhow::anyhow!("no node at {node} (pass the node account, see `ake node register`)")
    })
}

/// `ake node earnings`: each node's epochs, and the sums.
#[derive(Serialize)]
pub struct EarningsReport {
    pub first_epoch: u64,
    pub last_epoch: u64,
    pub nodes: Vec<NodeEarnings>,
    /// Rewards claimed or claimable now, in all.
    pub reward: u64,
    pub reward_micro_usd: u64,
    pub unclaimed: u64,
    pub gpu_secs: u64,
    pub jobs: u64,
    /// With --owner: false when its history was too long to list every node.
    pub all_nodes_listed: bool,
}

#[derive(Serialize)]
pub struct NodeEarnings {
    pub node: String,
    pub epochs: Vec<EpochEarning>,
}

pub async fn earnings(
    p: &ake_sdk::protocol::Protocol,
    mut nodes: Vec<Pubkey>,
    owner: Option<Pubkey>,
    epochs: u64,
) -> anyhow::Result<EarningsReport> {
    let mut all_nodes_listed = true;
    if let Some(owner) = owner {
        let (owned, complete) = p.owner_nodes(&owner).await?;
        all_nodes_listed = complete;
        nodes.extend(owned);
    }
    // Each node once, in the order named.
    let mut seen = std::collections::HashSet::new();
    nodes.retain(|n| seen.insert(*n));
    if nodes.is_empty() {
        anyhow::bail!(
            "name the nodes (`ake node earnings NODE...`) or their owner (`--owner OWNER`)"
        );
    }
    let last_epoch = p.current_epoch(&p.emissions().await?).await?;
    let first_epoch = last_epoch.saturating_sub(epochs - 1);
    let mut report = EarningsReport {
        first_epoch,
        last_epoch,
        nodes: Vec::new(),
        reward: 0,
        reward_micro_usd: 0,
        unclaimed: 0,
        gpu_secs: 0,
        jobs: 0,
        all_nodes_listed,
    };
    for node in nodes {
        let epochs = p.node_earnings(&node, first_epoch, last_epoch).await?;
        for e in &epochs {
            report.reward += e.reward.unwrap_or(0);
            report.reward_micro_usd += e.reward_micro_usd.unwrap_or(0);
            report.unclaimed += if e.claimed { 0 } else { e.reward.unwrap_or(0) };
            report.gpu_secs += e.gpu_secs;
            report.jobs += u64::from(e.jobs);
        }
        report.nodes.push(NodeEarnings {
            node: node.to_string(),
            epochs,
        });
    }
    Ok(report)
}

fn earnings_lines(r: &EarningsReport, d: u8) -> String {
    let mut out = vec![format!(
        "epochs {}..={}: {} jobs, {} GPU-s, reward {} AKE ({}), {} AKE of it unclaimed",
        r.first_epoch,
        r.last_epoch,
        r.jobs,
        r.gpu_secs,
        format(r.reward, d),
        usd(r.reward_micro_usd),
        format(r.unclaimed, d)
    )];
    if !r.all_nodes_listed {
        out.push(
            "(the owner's history is longer than what was read: name older nodes by address)"
                .into(),
        );
    }
    for n in &r.nodes {
        out.push(format!("node {}", n.node));
        if n.epochs.is_empty() {
            out.push("  no work in these epochs".into());
        }
        for e in &n.epochs {
            out.push(format!("  {}", earning_line(e, d)));
        }
    }
    out.join("\n")
}

/// One epoch of a node, as people read it.
pub fn earning_line(e: &EpochEarning, d: u8) -> String {
    let reward = match (e.reward, e.claimed) {
        _ if e.details_unavailable => {
            "no record now, and no claim among its address's newest transactions here (a buried claim, or an address named by someone else)".to_string()
        }
        (None, _) => "open: paid once the epoch closes".to_string(),
        (Some(r), claimed) => format!(
            "reward {} AKE ({}, {}), {}",
            format(r, d),
            e.reward_micro_usd.map_or("no price".into(), usd),
            match e.applied {
                Some(Applied::Cap) => "capped at its burn x the multiplier",
                Some(Applied::Floor) => "floored at its burn x phi",
                _ => "its pro-rata share",
            },
            if claimed {
                "claimed"
            } else {
                "NOT claimed yet: `ake node claim`"
            }
        ),
    };
    format!(
        "epoch {:>5}: {} jobs, {} GPU-s, work {}, burn credited {} AKE; {reward}",
        e.epoch,
        e.jobs,
        e.gpu_secs,
        usd(e.work_micro_usd),
        format(e.burned_credited, d)
    )
}
