//! Where `ake` talks to and who it signs as: flag > environment > the
//! Solana CLI config file (`~/.config/solana/cli/config.yml`).

use std::path::PathBuf;
use std::sync::Arc;

use ake_sdk::chain::rpc::RpcChain;
use ake_sdk::chain::Chain;
use ake_sdk::protocol::Protocol;
use ake_sdk::sender::{send_instructions, Fees};
use anyhow::{anyhow, Context as _};
use clap::{Args, ValueEnum};
use solana_commitment_config::CommitmentConfig;
use solana_sdk::instruction::Instruction;
use solana_sdk::signature::{read_keypair_file, Keypair, Signature};

#[derive(Args, Clone)]
pub struct GlobalArgs {
    /// RPC URL or moniker: localnet, devnet, testnet, mainnet-beta.
    #[arg(long, short = 'u', global = true, env = "AKE_URL")]
    pub url: Option<String>,
    /// Keypair file that signs and pays.
    #[arg(long, short = 'k', global = true, env = "AKE_KEYPAIR")]
    pub keypair: Option<PathBuf>,
    /// processed, confirmed or finalized.
    #[arg(long, global = true, env = "AKE_COMMITMENT")]
    pub commitment: Option<String>,
    /// Solana CLI config file.
    #[arg(long, short = 'C', global = true, env = "AKE_CONFIG")]
    pub config: Option<PathBuf>,
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Display)]
    pub output: OutputFormat,
    /// Priority fee in micro-lamports per compute unit, on every transaction sent.
    #[arg(long, global = true, default_value_t = 0)]
    pub with_compute_unit_price: u64,
    /// Log verbosity (also RUST_LOG).
    #[arg(long, global = true, default_value = "warn")]
    pub log: String,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Display,
    Json,
}

pub fn moniker(url: &str) -> String {
    match url {
        "localnet" | "l" => "http://127.0.0.1:8899".into(),
        "devnet" | "d" => "https://api.devnet.solana.com".into(),
        "testnet" | "t" => "https://api.testnet.solana.com".into(),
        "mainnet-beta" | "m" => "https://api.mainnet-beta.solana.com".into(),
        other => other.into(),
    }
}

/// Resolved settings and the connection.
pub struct Ctx {
    pub protocol: Protocol,
    pub url: String,
    pub keypair_path: PathBuf,
    pub fees: Fees,
    pub json: bool,
}

impl GlobalArgs {
    fn cli_config(&self) -> solana_cli_config::Config {
        let path = self
            .config
            .clone()
            .map(|p| p.display().to_string())
            .or_else(|| solana_cli_config::CONFIG_FILE.clone());
        path.and_then(|p| solana_cli_config::Config::load(&p).ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> bool {
        self.output == OutputFormat::Json
    }

    pub fn connect(&self) -> anyhow::Result<Ctx> {
        let file = self.cli_config();
        let url = moniker(self.url.as_deref().unwrap_or(&file.json_rpc_url));
        let commitment_name = self.commitment.clone().unwrap_or(file.commitment.clone());
        let commitment: CommitmentConfig = commitment_name.parse().map_err(|_| {
            anyhow!(
                "--commitment '{commitment_name}' is not one of processed, confirmed, finalized"
            )
        })?;
        let keypair_path = self
            .keypair
            .clone()
            .unwrap_or_else(|| PathBuf::from(&file.keypair_path));
        let chain: Arc<dyn Chain> = Arc::new(RpcChain::new(&url, commitment));
        Ok(Ctx {
            protocol: Protocol::new(chain),
            url,
            keypair_path,
            fees: Fees {
                compute_unit_price: self.with_compute_unit_price,
                ..Fees::default()
            },
            json: self.json(),
        })
    }
}

pub fn load_keypair(path: &std::path::Path) -> anyhow::Result<Keypair> {
    read_keypair_file(path).map_err(|e| {
        anyhow!(
            "cannot read keypair {}: {e}; create one with `solana-keygen new -o {}` or pass --keypair",
            path.display(),
            path.display()
        )
    })
}

impl Ctx {
    pub fn chain(&self) -> &dyn Chain {
        self.protocol.chain.as_ref()
    }

    pub fn signer(&self) -> anyhow::Result<Keypair> {
        load_keypair(&self.keypair_path)
    }

    /// Signs with `payer` (+ `others`), simulates, sends, waits.
    pub async fn send(
        &self,
        payer: &Keypair,
        others: &[&Keypair],
        ixs: &[Instruction],
    ) -> anyhow::Result<Signature> {
        send_instructions(self.chain(), payer, others, ixs, self.fees)
            .await
            .with_context(|| format!("sending to {}", self.url))
    }
}
