//! `ake`: the AKE command line. Reads the Solana CLI config and keypair like
//! `solana` does; flag > environment > config file.

mod amounts;
mod commands;
mod context;
mod output;

use clap::{Parser, Subcommand};

use commands::{admin, crank, dashboard, demo, epoch, job, localnet, market, node, quote, stake};
use context::GlobalArgs;

#[derive(Parser)]
#[command(
    name = "ake",
    version,
    about = "AKE: USD-priced GPU compute on Solana, paid in AKE",
    propagate_version = true
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// What a job costs now: USD, and AKE at the oracle price after the haircut.
    Quote(quote::QuoteArgs),
    /// Markets (GPU classes): rates, limits and queues.
    #[command(subcommand)]
    Market(market::MarketCommand),
    /// Post, watch, accept, dispute and fetch jobs.
    #[command(subcommand)]
    Job(job::JobCommand),
    /// Stake for priority (creators) and collateral (node owners).
    #[command(subcommand)]
    Stake(stake::StakeCommand),
    /// Register, inspect, re-arm and claim for GPU nodes.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Close ended epochs, finalize, expire and end timed-out disputes.
    Crank(crank::CrankArgs),
    /// Burn vs mint per epoch.
    #[command(subcommand)]
    Epoch(epoch::EpochCommand),
    /// Bootstrap a cluster, change parameters, create markets, resolve disputes.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// A local web UI of the network, markets, nodes, jobs and epochs.
    Dashboard(dashboard::DashboardArgs),
    /// Run the whole network on this machine (embedded chain + JSON-RPC).
    Localnet(localnet::LocalnetArgs),
    /// One command: chain, creator, node, crank; a real render job end to end.
    Demo(demo::DemoArgs),
    /// Render a frame with AKE's path tracer (what the demo's job image runs).
    #[command(hide = true)]
    Render(demo::RenderArgs),
    /// Build the demo's render image FROM scratch and print its pinned reference.
    #[command(hide = true)]
    BuildRenderImage,
}

fn main() -> std::process::ExitCode {
    // Inside the demo's job image this binary is `/ake-render`.
    let argv0 = std::env::args().next().unwrap_or_default();
    if argv0.rsplit('/').next() == Some("ake-render") {
        return demo::render_main();
    }
    let cli = Cli::parse();
    output::init_logging(&cli.global);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Quote(a) => quote::run(&cli.global, a).await,
            Command::Market(c) => market::run(&cli.global, c).await,
            Command::Job(c) => job::run(&cli.global, c).await,
            Command::Stake(c) => stake::run(&cli.global, c).await,
            Command::Node(c) => node::run(&cli.global, c).await,
            Command::Crank(a) => crank::run(&cli.global, a).await,
            Command::Epoch(c) => epoch::run(&cli.global, c).await,
            Command::Admin(c) => admin::run(&cli.global, c).await,
            Command::Dashboard(a) => dashboard::run(&cli.global, a).await,
            Command::Localnet(a) => localnet::run(&cli.global, a).await,
            Command::Demo(a) => demo::run(&cli.global, a).await,
            Command::Render(a) => demo::render(&a),
            Command::BuildRenderImage => demo::build_image_command().await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            output::error(&cli.global, &e);
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    /// Every subcommand's flags are consistent with the global ones: a
    /// clash of names (say a subcommand flag called like the global
    /// `--config`) only shows when that subcommand is parsed, as a panic.
    #[test]
    fn command_line_definition_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
        for line in [
            "ake admin cancel --market 0",
            "ake admin cancel --protocol",
            "ake admin cancel --emissions",
            "ake admin pending",
            "ake admin pause",
            "ake node close 11111111111111111111111111111111",
            "ake stake close",
        ] {
            let parsed = super::Cli::try_parse_from(line.split(' '));
            assert!(parsed.is_ok(), "{line}: {:?}", parsed.err());
        }
    }
}
