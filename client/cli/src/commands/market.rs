use clap::Subcommand;
use serde::Serialize;

use crate::amounts::{format, usd};
use crate::context::GlobalArgs;
use crate::output::print;

#[derive(Subcommand)]
pub enum MarketCommand {
    /// Every market: rate, limits, queue depths.
    List,
    /// One market's queues, best first.
    Show {
        #[arg(default_value_t = 0)]
        index: u16,
    },
}

#[derive(Serialize)]
pub struct MarketView {
    pub index: u16,
    pub address: String,
    pub name: String,
    /// A GPU market (nodes need registered GPUs) or a CPU market.
    pub gpu_required: bool,
    pub rate_micro_usd: u64,
    pub min_stake_per_gpu: u64,
    pub max_gpus_per_job: u16,
    pub max_duration_secs: u32,
    /// The shortest max duration a job may ask (what a node can start and
    /// commit before the deadline).
    pub min_duration_secs: u16,
    /// NVIDIA driver capabilities the jobs' containers get.
    pub driver_capabilities: Vec<&'static str>,
    /// What a client needs beside its own keys to build this market's
    /// instructions: the programs' config, mint, treasury, escrow vault,
    /// AKE/USD price account and event authority.
    pub program: String,
    pub config: String,
    pub mint: String,
    pub treasury: String,
    pub escrow_vault: String,
    pub price_account: String,
    pub event_authority: String,
    pub queued_jobs: Vec<String>,
    pub waiting_nodes: Vec<String>,
    pub in_flight: u16,
    /// What the market holds (the authority raises it: `ake admin grow-market`).
    pub job_capacity: u16,
    pub node_capacity: u16,
    pub in_flight_capacity: u16,
    /// The address lookup table the crank's v0 transactions use (null: none).
    pub lookup_table: Option<String>,
    pub open_escrow: u64,
    /// Burned or settled to burn (the crank's sweep burns what settled).
    pub tokens_burned: u64,
    /// Settled burns and treasury fees waiting in the escrow vault for the sweep.
    pub pending_burn: u64,
    pub pending_treasury: u64,
    pub jobs_settled: u64,
}

pub async fn run(g: &GlobalArgs, c: MarketCommand) -> anyhow::Result<()> {
    let ctx = g.connect()?;
    let p = &ctx.protocol;
    let config = p.config().await?;
    let d = ake_sdk::accounts::mint_decimals(ctx.chain(), &config.mint).await?;
    let indexes: Vec<u16> = match c {
        MarketCommand::List => (0..config.market_count).collect(),
        MarketCommand::Show { index } => vec![index],
    };
    let mut views = Vec::new();
    for index in indexes {
        views.push(market_view(p, &config, index).await?);
    }
    print(ctx.json, &views, |views| {
        views
            .iter()
            .map(|v| {
                format!(
                    "market {} {} ({}, {}): {} per GPU-second, up to {} GPUs x {}..={} s, {} AKE stake per GPU, driver capabilities {}\n  price account {}  escrow vault {}\n  queued jobs {}/{}  waiting nodes {}/{}  in flight {}/{}  escrow {} AKE  burned {} AKE ({} AKE of it and {} AKE of fees wait for the crank's sweep)",
                    v.index,
                    v.name,
                    if v.gpu_required { "GPU" } else { "CPU" },
                    v.address,
                    usd(v.rate_micro_usd),
                    v.max_gpus_per_job,
                    v.min_duration_secs,
                    v.max_duration_secs,
                    format(v.min_stake_per_gpu, d),
                    v.driver_capabilities.join(","),
                    v.price_account,
                    v.escrow_vault,
                    v.queued_jobs.len(),
                    v.job_capacity,
                    v.waiting_nodes.len(),
                    v.node_capacity,
                    v.in_flight,
                    v.in_flight_capacity,
                    format(v.open_escrow, d),
                    format(v.tokens_burned, d),
                    format(v.pending_burn, d),
                    format(v.pending_treasury, d)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

/// A market as `ake market show` and the dashboard show it.
pub async fn market_view(
    p: &ake_sdk::protocol::Protocol,
    config: &ake_sdk::ake_market::state::Config,
    index: u16,
) -> anyhow::Result<MarketView> {
    let price_account = ake_sdk::oracle::price_feed_address(&config.params.oracle.feed_id);
    let m = p.market(index).await?;
    let books = p.market_books(index).await?;
    let address = ake_sdk::pda::market(index);
    Ok(MarketView {
        index,
        address: address.to_string(),
        min_duration_secs: m.min_duration_secs,
        driver_capabilities: m.driver_capability_names(),
        program: ake_sdk::pda::MARKET_PROGRAM_ID.to_string(),
        config: ake_sdk::pda::config().to_string(),
        mint: config.mint.to_string(),
        treasury: config.treasury.to_string(),
        escrow_vault: ake_sdk::pda::escrow_vault(&address).to_string(),
        price_account: price_account.to_string(),
        event_authority: ake_sdk::pda::event_authority(&ake_sdk::pda::MARKET_PROGRAM_ID)
            .to_string(),
        name: m.name_str().to_string(),
        gpu_required: m.gpu_required != 0,
        rate_micro_usd: m.rate_micro_usd,
        min_stake_per_gpu: m.min_stake_per_gpu,
        max_gpus_per_job: m.max_gpus_per_job,
        max_duration_secs: m.max_duration_secs,
        queued_jobs: m.queued_jobs().iter().map(|e| e.key.to_string()).collect(),
        waiting_nodes: m.queued_nodes().iter().map(|e| e.key.to_string()).collect(),
        in_flight: m.in_flight_count,
        job_capacity: m.job_capacity,
        node_capacity: m.node_capacity,
        in_flight_capacity: m.in_flight_capacity,
        lookup_table: (m.lookup_table != Default::default()).then(|| m.lookup_table.to_string()),
        open_escrow: books.open_escrow,
        tokens_burned: books.burned,
        pending_burn: books.pending_burn,
        pending_treasury: books.pending_treasury,
        jobs_settled: books.jobs_settled,
    })
}
