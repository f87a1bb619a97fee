use ake_emissions::state::EpochSummary;
use ake_sdk::ake_emissions;
use clap::Subcommand;
use serde::Serialize;

use crate::amounts::{format, usd};
use crate::context::GlobalArgs;
use crate::output::print;

#[derive(Subcommand)]
pub enum EpochCommand {
    /// One epoch: work, burn, mint.
    Show { epoch: Option<u64> },
    /// The last N epochs, oldest first.
    History {
        #[arg(long, default_value_t = 10)]
        last: u64,
    },
}

#[derive(Serialize)]
pub struct EpochView {
    pub epoch: u64,
    pub closed: bool,
    pub jobs: u64,
    pub work_micro_usd: u64,
    pub burned: u64,
    pub burned_micro_usd: u64,
    /// Minted so far for this epoch: the node claims (the treasury lives
    /// on fees; the crank tip came out of it).
    pub minted: u64,
    pub emission: u64,
    pub node_share: u64,
    /// What nodes may claim in all; above the node share it is minted back
    /// from the burn (the reward floor).
    pub payable: u64,
    pub claimed: u64,
    /// The part of the claims minted back above the schedule.
    pub reminted: u64,
    /// burned / minted, when anything was minted.
    pub burn_mint_ratio: Option<f64>,
}

pub fn view(epoch: u64, s: Option<&EpochSummary>) -> EpochView {
    let minted = s.map_or(0, |s| s.claimed);
    let burned = s.map_or(0, |s| s.burned_tokens);
    EpochView {
        epoch,
        closed: s.is_some_and(|s| s.closed),
        jobs: s.map_or(0, |s| s.jobs),
        work_micro_usd: s.map_or(0, |s| s.total_work_micro_usd),
        burned,
        burned_micro_usd: s.map_or(0, |s| s.burned_micro_usd),
        minted,
        emission: s.map_or(0, |s| s.emission),
        node_share: s.map_or(0, |s| s.node_share),
        payable: s.map_or(0, |s| s.payable),
        claimed: s.map_or(0, |s| s.claimed),
        reminted: s.map_or(0, |s| s.reminted),
        burn_mint_ratio: (minted > 0).then(|| burned as f64 / minted as f64),
    }
}

fn line(v: &EpochView, d: u8) -> String {
    format!(
        "epoch {:>5} {:<6} jobs {:>4}  work {:>14}  burned {:>14} AKE  minted {:>14} AKE (of it minted back {:>14})  burn/mint {}",
        v.epoch,
        if v.closed { "closed" } else { "open" },
        v.jobs,
        usd(v.work_micro_usd),
        format(v.burned, d),
        format(v.minted, d),
        format(v.reminted, d),
        v.burn_mint_ratio.map_or("-".into(), |r| format!("{r:.4}"))
    )
}

pub async fn run(g: &GlobalArgs, c: EpochCommand) -> anyhow::Result<()> {
    let ctx = g.connect()?;
    let p = &ctx.protocol;
    let config = p.config().await?;
    let emissions = p.emissions().await?;
    let d = ake_sdk::accounts::mint_decimals(ctx.chain(), &config.mint).await?;
    let current = p.current_epoch(&emissions).await?;
    match c {
        EpochCommand::Show { epoch } => {
            let e = epoch.unwrap_or(current);
            let v = view(e, p.epoch_summary(e).await?.as_ref());
            print(ctx.json, &v, |v| line(v, d));
        }
        EpochCommand::History { last } => {
            let first = current.saturating_sub(last.saturating_sub(1));
            let mut rows = Vec::new();
            for e in first..=current {
                rows.push(view(e, p.epoch_summary(e).await?.as_ref()));
            }
            let _ = ake_emissions::ID;
            print(ctx.json, &rows, |rows| {
                rows.iter()
                    .map(|v| line(v, d))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
