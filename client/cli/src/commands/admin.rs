use std::path::PathBuf;

use ake_sdk::ake_emissions::state::EmissionsChange;
use ake_sdk::ake_market::instructions::Capacity;
use ake_sdk::ake_market::state::Change;
use ake_sdk::bootstrap::{bootstrap, grow_market};
use ake_sdk::cluster_params::ClusterParams;
use ake_sdk::instructions as ixs;
use ake_sdk::lookup_tables;
use ake_sdk::pda;
use ake_sdk::protocol::Protocol;
use anyhow::Context;
use clap::Subcommand;
use serde::Serialize;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Keypair;
use solana_sdk::signer::Signer;

use crate::context::{Ctx, GlobalArgs};
use crate::output::print;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create the mint, both configs and the markets from migrations/<cluster>.toml.
    Bootstrap { params: PathBuf },
    /// Propose a parameter file's protocol, market and emissions settings
    /// (timelocked: applicable after the configured delay, see `pending`).
    Propose { params: PathBuf },
    /// Pending parameter changes and treasury spend, with the time each takes effect.
    Pending,
    /// Apply every pending change whose timelock has passed (anyone may).
    Apply,
    /// Propose paying AMOUNT AKE of the treasury (the market's fees) to
    /// TO's AKE token account (TO: a token account, or a wallet whose
    /// associated token account exists): authority only; after the
    /// timelock anyone's `apply` pays it.
    Spend { to: Pubkey, amount: String },
    /// Withdraw a pending change (authority).
    Cancel {
        #[command(flatten)]
        target: ChangeTarget,
    },
    /// Stop posting and assignment (ake-market), and epoch closing and
    /// re-mints at claim (ake-emissions), at once: guardian or authority.
    Pause,
    /// Resume both programs: authority only.
    Unpause,
    /// Name the guardian of both programs (authority; takes effect at once).
    SetGuardian { guardian: Pubkey },
    /// Step one of handing both programs' authority to NEW (any address, e.g. a multisig PDA).
    TransferAuthority { new: Pubkey },
    /// Step two, signed by the new authority: accept both programs' authority.
    AcceptAuthority,
    /// Check the programs' upgrade authority against the configured
    /// authority and print the commands that put it under the same key.
    UpgradeAuthority,
    /// Add the markets a parameter file lists beyond those on chain.
    CreateMarkets { params: PathBuf },
    /// Raise market INDEX's capacities (authority; they never shrink). The
    /// authority pays 72 bytes of rent per added slot; one transaction per
    /// 142 slots.
    GrowMarket {
        index: u16,
        /// Waiting jobs (a batch is one entry).
        #[arg(long)]
        jobs: u16,
        /// Waiting nodes.
        #[arg(long)]
        nodes: u16,
        /// Jobs assigned, submitted or disputed.
        #[arg(long)]
        in_flight: u16,
    },
    /// Create market INDEX's address lookup table and name it on the market
    /// (authority; bootstrap and create-markets do this for new markets).
    CreateLookupTable { index: u16 },
    /// As the arbiter, decide a dispute.
    ResolveDispute {
        job: Pubkey,
        #[arg(
            long,
            conflicts_with = "node_wins",
            required_unless_present = "node_wins"
        )]
        creator_wins: bool,
        #[arg(long)]
        node_wins: bool,
    },
    /// As the arbiter, decide a node's appeal of an audit it lost, having
    /// re-run the job's spec: --upheld when the node ran it as given and
    /// the spec is at fault (it reads the clock or the host; the spec is
    /// marked unauditable), --rejected when the verdict stands (its bond is
    /// burned with its collateral).
    ResolveAppeal {
        job: Pubkey,
        #[arg(
            long,
            conflicts_with = "rejected",
            required_unless_present = "rejected"
        )]
        upheld: bool,
        #[arg(long)]
        rejected: bool,
    },
}

/// Which pending change: exactly one of the flags.
#[derive(clap::Args)]
#[group(required = true, multiple = false)]
pub struct ChangeTarget {
    /// The protocol parameters and arbiter (ake-market's config).
    #[arg(long)]
    protocol: bool,
    /// Market INDEX.
    #[arg(long)]
    market: Option<u16>,
    /// The emission schedule, cap, rewards and breaker.
    #[arg(long)]
    emissions: bool,
    /// The treasury spend.
    #[arg(long)]
    spend: bool,
}

fn load(path: &std::path::Path) -> anyhow::Result<ake_sdk::cluster_params::Bootstrap> {
    let params = ClusterParams::load(path)?;
    Ok(params.validate()?)
}

pub async fn run(g: &GlobalArgs, c: AdminCommand) -> anyhow::Result<()> {
    let ctx = g.connect()?;
    let p = &ctx.protocol;
    match c {
        AdminCommand::Bootstrap { params } => {
            let b = load(&params)?;
            let admin = ctx.signer()?;
            let json = ctx.json;
            let progress = move |s: &str| {
                if !json {
                    eprintln!("  {s}");
                }
            };
            let d = bootstrap(ctx.chain(), &admin, &b, ctx.fees, &progress).await?;
            print(ctx.json, &d, |d| {
                format!(
                    "bootstrapped {}\n  mint      {}\n  treasury  {}\n  genesis   {}",
                    b.cluster, d.mint, d.treasury, d.genesis_account
                )
            });
        }
        AdminCommand::Propose { params } => {
            let b = load(&params)?;
            let admin = ctx.signer()?;
            let changes = changes_from(p, &b, admin.pubkey()).await?;
            let mut failures = Vec::new();
            for (what, ix) in changes {
                if let Err(e) = ctx.send(&admin, &[], &[ix]).await {
                    failures.push(format!("{what}: {e:#}"));
                }
            }
            let pending = pending_changes(p).await?;
            print(ctx.json, &pending, |v| pending_summary(v));
            anyhow::ensure!(
                failures.is_empty(),
                "not proposed (the rest is pending, see above):\n  {}",
                failures.join("\n  ")
            );
        }
        AdminCommand::Pending => {
            let pending = pending_changes(p).await?;
            print(ctx.json, &pending, |v| pending_summary(v));
        }
        AdminCommand::Apply => {
            let caller = ctx.signer()?;
            let now = p.chain.clock().await?.unix_timestamp;
            let mut applied = Vec::new();
            let mut failures = Vec::new();
            for change in pending_changes(p).await? {
                if change.eta > now {
                    continue;
                }
                let target: Pubkey = change.target.parse()?;
                let payer: Pubkey = change.payer.parse()?;
                let ixs = if let Some(to) = &change.spend_to {
                    vec![ixs::emissions::apply_spend(payer, to.parse()?)]
                } else if change.program == "ake-emissions" {
                    // An emissions change waits for every ended epoch to
                    // close: close them first, each in its own transaction
                    // (an epoch's tally over many markets takes several).
                    close_ended_epochs(&ctx, &caller).await?;
                    vec![ixs::emissions::apply_change(payer)]
                } else {
                    vec![ixs::apply_change(target, payer)]
                };
                match ctx.send(&caller, &[], &ixs).await {
                    Ok(_) => applied.push(change),
                    Err(e) => failures.push(format!("{} {}: {e:#}", change.program, change.target)),
                }
            }
            print(ctx.json, &applied, |a| {
                if a.is_empty() {
                    "nothing applied: see `ake admin pending` for the times".into()
                } else {
                    format!("applied {} change(s)\n{}", a.len(), pending_summary(a))
                }
            });
            anyhow::ensure!(
                failures.is_empty(),
                "not applied:\n  {}",
                failures.join("\n  ")
            );
        }
        AdminCommand::Cancel { target } => {
            let admin = ctx.signer()?;
            let (ix, what) = if target.spend {
                let pending = p
                    .pending_treasury_spend()
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no treasury spend is pending"))?;
                (
                    ixs::emissions::cancel_spend(admin.pubkey(), pending.payer),
                    "the treasury spend".to_string(),
                )
            } else if target.emissions {
                let pending = p
                    .pending_emissions_change()
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no emissions change is pending"))?;
                (
                    ixs::emissions::cancel_change(admin.pubkey(), pending.payer),
                    "emissions".to_string(),
                )
            } else {
                let key = match target.market {
                    Some(index) => pda::market(index),
                    None => pda::config(),
                };
                let pending = p
                    .pending_market_change(&key)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no change is pending for {key}"))?;
                (
                    ixs::cancel_change(admin.pubkey(), key, pending.payer),
                    key.to_string(),
                )
            };
            let sig = ctx.send(&admin, &[], &[ix]).await?;
            print(
                ctx.json,
                &serde_json::json!({"cancelled": what, "signature": sig.to_string()}),
                |_| format!("cancelled the pending change to {what} ({sig})"),
            );
        }
        AdminCommand::Spend { to, amount } => propose_spend(&ctx, to, &amount).await?,
        AdminCommand::Pause => set_paused(&ctx, true).await?,
        AdminCommand::Unpause => set_paused(&ctx, false).await?,
        AdminCommand::SetGuardian { guardian } => {
            let admin = ctx.signer()?;
            let ixs = [
                ixs::set_guardian(admin.pubkey(), guardian),
                ixs::emissions::set_guardian(admin.pubkey(), guardian),
            ];
            let sig = ctx.send(&admin, &[], &ixs).await?;
            print(
                ctx.json,
                &serde_json::json!({"guardian": guardian.to_string(), "signature": sig.to_string()}),
                |_| format!("guardian of both programs is now {guardian} ({sig})"),
            );
        }
        AdminCommand::TransferAuthority { new } => {
            let admin = ctx.signer()?;
            let ixs = [
                ixs::propose_authority(admin.pubkey(), new),
                ixs::emissions::propose_authority(admin.pubkey(), new),
            ];
            let sig = ctx.send(&admin, &[], &ixs).await?;
            print(
                ctx.json,
                &serde_json::json!({"proposed": new.to_string(), "signature": sig.to_string()}),
                |_| {
                    format!("proposed {new} as the authority of both programs; it accepts with `ake admin accept-authority` ({sig})")
                },
            );
        }
        AdminCommand::AcceptAuthority => {
            let new = ctx.signer()?;
            let ixs = [
                ixs::accept_authority(new.pubkey()),
                ixs::emissions::accept_authority(new.pubkey()),
            ];
            let sig = ctx.send(&new, &[], &ixs).await?;
            print(
                ctx.json,
                &serde_json::json!({"authority": new.pubkey().to_string(), "signature": sig.to_string()}),
                |_| {
                    format!(
                        "{} is now the authority of both programs ({sig})",
                        new.pubkey()
                    )
                },
            );
        }
        AdminCommand::UpgradeAuthority => {
            let report = upgrade_authority_report(p).await?;
            print(ctx.json, &report, |r| r.text());
        }
        AdminCommand::CreateMarkets { params } => {
            let b = load(&params)?;
            let admin = ctx.signer()?;
            let config = p.config().await?;
            let mut created = Vec::new();
            for (index, plan) in b
                .markets
                .iter()
                .enumerate()
                .skip(usize::from(config.market_count))
            {
                let index = index as u16;
                let ix = ixs::create_market(admin.pubkey(), config.mint, index, plan.args.clone());
                ctx.send(&admin, &[], &[ix]).await?;
                grow_market(ctx.chain(), &admin, index, plan.capacity, ctx.fees).await?;
                lookup_tables::create_for_market(ctx.chain(), &admin, index, ctx.fees).await?;
                created.push(pda::market(index).to_string());
            }
            print(ctx.json, &created, |c| {
                format!("created {} market(s)", c.len())
            });
        }
        AdminCommand::GrowMarket {
            index,
            jobs,
            nodes,
            in_flight,
        } => {
            let admin = ctx.signer()?;
            p.market(index).await?;
            let capacity = Capacity {
                jobs,
                nodes,
                in_flight,
            };
            let sent = grow_market(ctx.chain(), &admin, index, capacity, ctx.fees)
                .await
                .with_context(|| format!("growing market {index} on {}", ctx.url))?;
            let m = p.market(index).await?;
            print(
                ctx.json,
                &serde_json::json!({
                    "market": pda::market(index).to_string(),
                    "job_capacity": m.job_capacity,
                    "node_capacity": m.node_capacity,
                    "in_flight_capacity": m.in_flight_capacity,
                    "slots": m.slot_count,
                    "transactions": sent,
                }),
                |_| {
                    format!(
                        "market {index} holds {} waiting jobs, {} waiting nodes, {} in flight ({sent} transaction(s))",
                        m.job_capacity, m.node_capacity, m.in_flight_capacity
                    )
                },
            );
        }
        AdminCommand::CreateLookupTable { index } => {
            let admin = ctx.signer()?;
            p.market(index).await?;
            let table = lookup_tables::create_for_market(ctx.chain(), &admin, index, ctx.fees)
                .await
                .with_context(|| {
                    format!("creating market {index}'s lookup table on {}", ctx.url)
                })?;
            print(
                ctx.json,
                &serde_json::json!({"market": pda::market(index).to_string(), "lookup_table": table.to_string()}),
                |_| format!("market {index} uses lookup table {table}"),
            );
        }
        AdminCommand::ResolveAppeal { job, upheld, .. } => {
            let arbiter = ctx.signer()?;
            let ix = p.resolve_appeal(&job, arbiter.pubkey(), upheld).await?;
            let sig = ctx.send(&arbiter, &[], &[ix]).await?;
            print(
                ctx.json,
                &serde_json::json!({"signature": sig.to_string(), "upheld": upheld}),
                |_| {
                    format!(
                        "appeal on {job} {} ({sig})",
                        if upheld {
                            "upheld: its bond unlocked, the spec marked unauditable; the job settles as usual (a run is paid)"
                        } else {
                            "rejected: settling the verdict burns its collateral and bond"
                        }
                    )
                },
            );
        }
        AdminCommand::ResolveDispute {
            job, creator_wins, ..
        } => {
            let arbiter = ctx.signer()?;
            let ix = p
                .resolve_dispute(&job, arbiter.pubkey(), creator_wins)
                .await?;
            let sig = ctx.send(&arbiter, &[], &[ix]).await?;
            print(
                ctx.json,
                &serde_json::json!({"signature": sig.to_string(), "creator_won": creator_wins}),
                |_| {
                    format!(
                        "dispute on {job} resolved for the {} ({sig})",
                        if creator_wins { "creator" } else { "node" }
                    )
                },
            );
        }
    }
    Ok(())
}

/// A change waiting out its timelock, for people and `--output json`.
#[derive(Serialize)]
pub struct PendingView {
    pub program: &'static str,
    /// The account it changes.
    pub target: String,
    /// Applicable from this unix time on.
    pub eta: i64,
    pub proposed_at: i64,
    pub payer: String,
    /// What it sets.
    pub change: String,
    /// For a treasury spend: the token account it pays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend_to: Option<String>,
}

/// Every pending change of both programs: the config, each market,
/// emissions, the treasury spend.
async fn pending_changes(p: &Protocol) -> anyhow::Result<Vec<PendingView>> {
    let config = p.config().await?;
    let mut out = Vec::new();
    let targets = std::iter::once(pda::config()).chain((0..config.market_count).map(pda::market));
    for target in targets {
        if let Some(c) = p.pending_market_change(&target).await? {
            out.push(PendingView {
                program: "ake-market",
                target: target.to_string(),
                eta: c.eta,
                proposed_at: c.proposed_at,
                payer: c.payer.to_string(),
                change: format!("{:?}", c.change),
                spend_to: None,
            });
        }
    }
    if let Some(c) = p.pending_emissions_change().await? {
        out.push(PendingView {
            program: "ake-emissions",
            target: pda::emissions_config().to_string(),
            eta: c.eta,
            proposed_at: c.proposed_at,
            payer: c.payer.to_string(),
            change: format!("{:?}", c.change),
            spend_to: None,
        });
    }
    if let Some(s) = p.pending_treasury_spend().await? {
        let d = ake_sdk::accounts::mint_decimals(p.chain.as_ref(), &config.mint).await?;
        out.push(PendingView {
            program: "ake-emissions",
            target: pda::treasury().to_string(),
            eta: s.eta,
            proposed_at: s.proposed_at,
            payer: s.payer.to_string(),
            change: format!(
                "pay {} AKE of the treasury to {}",
                crate::amounts::format(s.amount, d),
                s.to
            ),
            spend_to: Some(s.to.to_string()),
        });
    }
    Ok(out)
}

/// Proposes a treasury spend to `to` (a token account of the mint, or a
/// wallet whose associated token account exists).
async fn propose_spend(ctx: &Ctx, to: Pubkey, amount: &str) -> anyhow::Result<()> {
    let p = &ctx.protocol;
    let admin = ctx.signer()?;
    let mint = p.config().await?.mint;
    let d = ake_sdk::accounts::mint_decimals(ctx.chain(), &mint).await?;
    let amount = crate::amounts::parse(amount, d)?;
    let is_token_account = p
        .chain
        .account(&to)
        .await?
        .is_some_and(|a| a.owner == anchor_spl::token::ID);
    let account = if is_token_account {
        to
    } else {
        let ata = ake_sdk::protocol::associated_token(&to, &mint);
        anyhow::ensure!(
            p.chain.account(&ata).await?.is_some(),
            "{to} has no AKE token account: create it first (`spl-token create-account {mint} --owner {to}`) or name a token account"
        );
        ata
    };
    let held = p.token_balance(&pda::treasury()).await?;
    anyhow::ensure!(
        amount <= held,
        "the treasury holds {} AKE, less than {}: propose a smaller amount",
        crate::amounts::format(held, d),
        crate::amounts::format(amount, d)
    );
    let ix = ixs::emissions::propose_spend(admin.pubkey(), admin.pubkey(), account, amount);
    ctx.send(&admin, &[], &[ix]).await?;
    let pending = pending_changes(p).await?;
    print(ctx.json, &pending, |v| pending_summary(v));
    Ok(())
}

fn pending_summary(pending: &[PendingView]) -> String {
    if pending.is_empty() {
        return "no change is pending".into();
    }
    pending
        .iter()
        .map(|c| {
            format!(
                "{} {}: applicable from unix time {} (proposed {})\n  {}",
                c.program, c.target, c.eta, c.proposed_at, c.change
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Who can upgrade each program, against who governs it.
#[derive(Serialize)]
pub struct UpgradeAuthorityReport {
    pub programs: Vec<ProgramAuthority>,
}

#[derive(Serialize)]
pub struct ProgramAuthority {
    pub program: &'static str,
    pub program_id: String,
    /// The configured (governing) authority.
    pub authority: String,
    /// None: not an upgradeable deployment here (the local chain runs the
    /// programs natively) or made immutable.
    pub upgrade_authority: Option<String>,
    pub matches: bool,
    /// What puts the upgrade authority under the governing authority.
    pub command: String,
}

impl UpgradeAuthorityReport {
    fn text(&self) -> String {
        self.programs
            .iter()
            .map(|p| {
                let state = match (&p.upgrade_authority, p.matches) {
                    (_, true) => "matches the configured authority".to_string(),
                    (Some(u), false) => format!("is {u}, NOT the configured authority"),
                    (None, false) => {
                        "none here (native programs on a local chain, or immutable)".to_string()
                    }
                };
                format!(
                    "{} ({}): upgrade authority {state}\n  configured authority {}\n  {}",
                    p.program, p.program_id, p.authority, p.command
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

async fn upgrade_authority_report(p: &Protocol) -> anyhow::Result<UpgradeAuthorityReport> {
    let market_authority = p.config().await?.authority;
    let emissions_authority = p.emissions().await?.authority;
    let mut programs = Vec::new();
    for (program, id, authority) in [
        ("ake-market", ake_sdk::ake_market::ID, market_authority),
        (
            "ake-emissions",
            ake_sdk::ake_emissions::ID,
            emissions_authority,
        ),
    ] {
        let upgrade_authority = ake_sdk::accounts::upgrade_authority(p.chain.as_ref(), &id).await?;
        programs.push(ProgramAuthority {
            program,
            program_id: id.to_string(),
            authority: authority.to_string(),
            matches: upgrade_authority == Some(authority),
            upgrade_authority: upgrade_authority.map(|a| a.to_string()),
            command: format!(
                "solana program set-upgrade-authority {id} --new-upgrade-authority {authority} --skip-new-upgrade-authority-signer-check"
            ),
        });
    }
    Ok(UpgradeAuthorityReport { programs })
}

/// Pauses (guardian or authority) or unpauses (authority) both programs.
async fn set_paused(ctx: &Ctx, paused: bool) -> anyhow::Result<()> {
    let caller = ctx.signer()?;
    let ixs = [
        ixs::set_paused(caller.pubkey(), paused),
        ixs::emissions::set_paused(caller.pubkey(), paused),
    ];
    let sig = ctx.send(&caller, &[], &ixs).await?;
    print(
        ctx.json,
        &serde_json::json!({"paused": paused, "signature": sig.to_string()}),
        |_| {
            if paused {
                format!("paused posting, assignment and epoch closing ({sig})")
            } else {
                format!("unpaused ({sig})")
            }
        },
    );
    Ok(())
}

/// The proposals that move the cluster to the parameter file: only what
/// differs from what is on chain (an unchanged market is left alone, so
/// its pending slot stays free).
async fn changes_from(
    p: &Protocol,
    b: &ake_sdk::cluster_params::Bootstrap,
    authority: Pubkey,
) -> anyhow::Result<Vec<(String, solana_sdk::instruction::Instruction)>> {
    let config = p.config().await?;
    let mut out = Vec::new();
    if config.params != b.market_params {
        let change = Change::Config {
            params: b.market_params,
            arbiter: config.arbiter,
        };
        out.push((
            "protocol parameters".to_string(),
            ixs::propose_change(authority, authority, change),
        ));
    }
    for (index, plan) in b.markets.iter().enumerate() {
        let (index, args) = (index as u16, &plan.args);
        if index >= config.market_count {
            break;
        }
        if ake_sdk::accounts::market_args(&*p.market(index).await?) != *args {
            let change = Change::Market {
                index,
                args: args.clone(),
            };
            out.push((
                format!("market {index}"),
                ixs::propose_change(authority, authority, change),
            ));
        }
    }
    let e = &b.schedule_without_genesis;
    let wanted = EmissionsChange {
        epoch_secs: e.epoch_secs,
        decay_bps: e.decay_bps,
        floor_emission: e.floor_emission,
        emission_cap: e.emission_cap,
        rewards: b.rewards,
        breaker: b.breaker,
        timelock_secs: b.timelock_secs,
    };
    let now = p.emissions().await?;
    let current = EmissionsChange {
        epoch_secs: now.schedule.epoch_secs,
        decay_bps: now.schedule.decay_bps,
        floor_emission: now.schedule.floor_emission,
        emission_cap: now.schedule.emission_cap,
        rewards: now.rewards,
        breaker: now.breaker,
        timelock_secs: now.timelock_secs,
    };
    if wanted != current {
        out.push((
            "emissions".to_string(),
            ixs::emissions::propose_change(authority, authority, wanted),
        ));
    }
    Ok(out)
}

/// Closes every ended epoch, in order, one `close_epoch` per transaction
/// (the caller gets the tips), until the next epoch has not ended.
async fn close_ended_epochs(ctx: &Ctx, caller: &Keypair) -> anyhow::Result<()> {
    let p = &ctx.protocol;
    let mint = p.config().await?.mint;
    let tip_account =
        ake_sdk::protocol::create_associated_token(&caller.pubkey(), &caller.pubkey(), &mint);
    // Bounded: each step closes an epoch or sums more markets.
    for _ in 0..10_000 {
        let emissions = p.emissions().await?;
        let s = &emissions.schedule;
        let now = p.chain.clock().await?.unix_timestamp;
        let ended = s
            .epoch_end(emissions.next_epoch)
            .is_some_and(|end| end <= now);
        if !ended {
            return Ok(());
        }
        let close = p.close_epoch(emissions.next_epoch, caller.pubkey()).await?;
        ctx.send(caller, &[], &[tip_account.clone(), close]).await?;
    }
    anyhow::bail!(
        "ended epochs are still open after 10,000 close_epoch transactions: run `ake crank`"
    )
}
