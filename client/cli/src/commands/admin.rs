use std::path::PathBuf;

use ake_sdk::bootstrap::bootstrap;
use ake_sdk::cluster_params::ClusterParams;
use ake_sdk::instructions as ixs;
use ake_sdk::pda;
use clap::Subcommand;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signer::Signer;

use crate::context::GlobalArgs;
use crate::output::print;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create the mint, both configs and the markets from migrations/<cluster>.toml.
    Bootstrap { params: PathBuf },
    /// Apply a parameter file's market, SLA and emissions settings to a bootstrapped cluster.
    SetParams { params: PathBuf },
    /// Add the markets a parameter file lists beyond those on chain.
    CreateMarkets { params: PathBuf },
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
        AdminCommand::SetParams { params } => {
            let b = load(&params)?;
            let admin = ctx.signer()?;
            let config = p.config().await?;
            let market = ixs::update_config(admin.pubkey(), b.market_params, config.arbiter);
            let e = &b.schedule_without_genesis;
            let emissions = ixs::emissions::update_config(
                admin.pubkey(),
                e.decay_bps,
                e.floor_emission,
                e.emission_cap,
                b.split,
                b.breaker,
            );
            let sig = ctx.send(&admin, &[], &[market, emissions]).await?;
            print(
                ctx.json,
                &serde_json::json!({"signature": sig.to_string()}),
                |_| format!("parameters updated ({sig})"),
            );
        }
        AdminCommand::CreateMarkets { params } => {
            let b = load(&params)?;
            let admin = ctx.signer()?;
            let config = p.config().await?;
            let mut created = Vec::new();
            for (index, args) in b
                .markets
                .iter()
                .enumerate()
                .skip(usize::from(config.market_count))
            {
                let ix =
                    ixs::create_market(admin.pubkey(), config.mint, index as u16, args.clone());
                ctx.send(&admin, &[], &[ix]).await?;
                created.push(pda::market(index as u16).to_string());
            }
            print(ctx.json, &created, |c| {
                format!("created {} market(s)", c.len())
            });
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
