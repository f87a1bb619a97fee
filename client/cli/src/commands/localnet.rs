use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ake_localnet::Localnet;
use ake_sdk::cluster_params::{Bootstrap, ClusterParams};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::context::{moniker, GlobalArgs};
use crate::output::print;

#[derive(Args)]
pub struct LocalnetArgs {
    #[command(subcommand)]
    pub command: Option<LocalnetCommand>,
    /// Address to serve JSON-RPC on.
    #[arg(long, default_value = "127.0.0.1:8899")]
    pub bind: SocketAddr,
    /// Bootstrap parameters; the localnet parameters built into `ake`
    /// (migrations/localnet.toml) by default.
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// The localnet's admin and arbiter key: loaded if the file exists,
    /// else created there (so `ake admin ...` works against the localnet).
    #[arg(long)]
    pub admin_keypair: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum LocalnetCommand {
    /// Set AKE/USD on a running localnet (refused anywhere else).
    SetPrice {
        /// e.g. 0.50
        usd: String,
        #[arg(long, default_value_t = 10)]
        conf_bps: u16,
    },
    /// Send genesis AKE to OWNER (default: your keypair) on a running localnet.
    Faucet {
        /// Whole AKE, e.g. 100.
        amount: String,
        #[arg(long)]
        to: Option<solana_sdk::pubkey::Pubkey>,
    },
}

pub async fn run(g: &GlobalArgs, a: LocalnetArgs) -> anyhow::Result<()> {
    match a.command {
        Some(LocalnetCommand::SetPrice { usd, conf_bps }) => set_price(g, &usd, conf_bps).await,
        Some(LocalnetCommand::Faucet { amount, to }) => faucet(g, &amount, to).await,
        None => serve(g, a).await,
    }
}

/// The parameters a local chain starts from: `path`, else the built-in
/// localnet parameters (so `ake localnet` and `ake demo` need no file).
pub fn params(path: Option<&Path>) -> anyhow::Result<Bootstrap> {
    let file = match path {
        Some(path) => ClusterParams::load(path)?,
        None => ClusterParams::localnet(),
    };
    Ok(file.validate()?)
}

async fn serve(g: &GlobalArgs, a: LocalnetArgs) -> anyhow::Result<()> {
    crate::output::keep_stdout_for_output()?;
    let params = params(a.params.as_deref())?;
    let admin = match &a.admin_keypair {
        Some(path) if path.exists() => crate::context::load_keypair(path)?,
        Some(path) => {
            let k = solana_sdk::signature::Keypair::new();
            solana_sdk::signature::write_keypair_file(&k, path).map_err(|e| {
                anyhow::anyhow!("cannot write the admin keypair to {}: {e}", path.display())
            })?;
            k
        }
        None => solana_sdk::signature::Keypair::new(),
    };
    let net = Localnet::start(&params, admin).await?;
    let _clock = net.run_clock().await?;
    let (addr, server) = net.serve(a.bind).await?;
    // Account subscriptions on the next port, where Solana clients look for them.
    let ws_bind = std::net::SocketAddr::new(addr.ip(), addr.port() + 1);
    let (ws_addr, _ws) = net.serve_websocket(ws_bind).await?;
    let info = json!({
        "rpc_url": format!("http://{addr}"),
        "websocket_url": format!("ws://{ws_addr}"),
        "mint": net.deployment.mint,
        "treasury": net.deployment.treasury,
        "markets": net.deployment.markets,
        "epoch_secs": params.schedule_without_genesis.epoch_secs,
    });
    print(g.json(), &info, |_| {
        format!(
            "AKE localnet on http://{addr}\n  mint      {}\n  treasury  {}\n  markets   {}\n  epochs of {} s; price {} USD; ctrl-c to stop\n  try: solana balance --url http://{addr} <address>",
            net.deployment.mint,
            net.deployment.treasury,
            net.deployment.markets.join(", "),
            params.schedule_without_genesis.epoch_secs,
            params.local_price.map_or(0.0, |(p, _)| p as f64 / 1e8)
        )
    });
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = server => {}
    }
    Ok(())
}

/// Calls one of the localnet's own methods; anywhere else they do not exist.
async fn localnet_call(
    g: &GlobalArgs,
    method: &str,
    params: serde_json::Value,
    what: &str,
) -> anyhow::Result<serde_json::Value> {
    let url = moniker(g.url.as_deref().unwrap_or("localnet"));
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let reply = post_json(&url, &body).await?;
    if let Some(err) = reply.get("error") {
        if err["code"] == json!(-32601) {
            anyhow::bail!("{url} is not an AKE localnet: only `ake localnet` can {what}");
        }
        anyhow::bail!("{url} refused: {}", err["message"]);
    }
    Ok(reply["result"].clone())
}

async fn set_price(g: &GlobalArgs, usd: &str, conf_bps: u16) -> anyhow::Result<()> {
    let result = localnet_call(g, "akeSetPrice", json!([usd, conf_bps]), "set the price").await?;
    print(g.json(), &result, |_| format!("AKE/USD is now {usd}"));
    Ok(())
}

async fn faucet(
    g: &GlobalArgs,
    amount: &str,
    to: Option<solana_sdk::pubkey::Pubkey>,
) -> anyhow::Result<()> {
    use solana_sdk::signer::Signer;
    let ctx = g.connect()?;
    let to = match to {
        Some(to) => to,
        None => ctx.signer()?.pubkey(),
    };
    let mint = ctx.protocol.config().await?.mint;
    let decimals = ake_sdk::accounts::mint_decimals(ctx.chain(), &mint).await?;
    let base = crate::amounts::parse(amount, decimals)?;
    let sig = localnet_call(
        g,
        "akeFaucet",
        json!([to.to_string(), base]),
        "hand out AKE",
    )
    .await?;
    print(
        g.json(),
        &json!({"to": to.to_string(), "amount": base, "signature": sig}),
        |_| format!("sent {amount} AKE to {to}"),
    );
    Ok(())
}

/// How long a localnet call may take (the faucet waits for its transfer).
const LOCALNET_CALL_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A minimal HTTP/1.1 JSON POST over loopback (the SDK's RPC client does
/// not carry custom methods).
async fn post_json(url: &str, body: &serde_json::Value) -> anyhow::Result<serde_json::Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("{url}: only http:// localnet URLs can set the price"))?
        .trim_end_matches('/');
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(host)
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {url}: {e} (is `ake localnet` running?)"))?;
        let payload = body.to_string();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        anyhow::Ok(response)
    };
    let response = tokio::time::timeout(LOCALNET_CALL_LIMIT, exchange)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{url} did not answer {} within {} s (is the localnet stuck?)",
                body["method"],
                LOCALNET_CALL_LIMIT.as_secs()
            )
        })??;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    Ok(serde_json::from_str(body)?)
}
