//! The production backend: Solana JSON-RPC through solana-client's
//! nonblocking client. Nothing here calls getProgramAccounts: AKE's
//! accounts are all reachable by address.

use async_trait::async_trait;
use solana_commitment_config::CommitmentConfig;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::client_error::{Error as ClientError, ErrorKind as ClientErrorKind};
use solana_rpc_client_api::config::{RpcSendTransactionConfig, RpcSimulateTransactionConfig};
use solana_sdk::account::Account;
use solana_sdk::hash::Hash;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;
use solana_sdk::transaction::Transaction;

use super::{Chain, ChainError, Simulation, TxStatus};

pub struct RpcChain {
    client: RpcClient,
    commitment: CommitmentConfig,
}

impl RpcChain {
    pub fn new(url: &str, commitment: CommitmentConfig) -> Self {
        RpcChain {
            client: RpcClient::new_with_commitment(url.to_string(), commitment),
            commitment,
        }
    }

    pub fn url(&self) -> String {
        self.client.url()
    }

    pub fn client(&self) -> &RpcClient {
        &self.client
    }

    /// Asks a faucet-enabled endpoint (localnet, devnet) for lamports.
    pub async fn request_airdrop(
        &self,
        to: &Pubkey,
        lamports: u64,
    ) -> Result<Signature, ChainError> {
        self.client
            .request_airdrop(to, lamports)
            .await
            .map_err(classify)
    }
}

/// Transport and server-side trouble is retryable; a refusal is not.
fn classify(e: ClientError) -> ChainError {
    match e.kind() {
        ClientErrorKind::Io(_) | ClientErrorKind::Reqwest(_) | ClientErrorKind::Middleware(_) => {
            ChainError::Unavailable(e.to_string())
        }
        ClientErrorKind::RpcError(solana_rpc_client_api::request::RpcError::RpcResponseError {
            code,
            ..
        }) if *code == -32005 || *code == -32004 || *code == -32007 => {
            ChainError::Unavailable(e.to_string())
        }
        _ => ChainError::Refused(e.to_string()),
    }
}

/// The Solana CLI's rule for an RPC URL's websocket: same host, ws for
/// http and wss for https, the port plus one when a port is given.
pub fn websocket_url(http_url: &str) -> String {
    let (scheme, rest) = match http_url.split_once("://") {
        Some(("https", rest)) => ("wss", rest),
        Some((_, rest)) => ("ws", rest),
        None => ("ws", http_url),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // "[::1]" is an IPv6 host without a port.
    let port = match authority.rsplit_once(':') {
        Some((host, port)) if !authority.ends_with(']') => port
            .parse::<u16>()
            .ok()
            .map(|p| (host, p.saturating_add(1))),
        _ => None,
    };
    let authority = match port {
        Some((host, port)) => format!("{host}:{port}"),
        None => authority.to_string(),
    };
    format!("{scheme}://{authority}{path}")
}

#[async_trait]
impl Chain for RpcChain {
    fn websocket_url(&self) -> Option<String> {
        Some(websocket_url(&self.url()))
    }

    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
        let mut out = Vec::with_capacity(keys.len());
        // getMultipleAccounts takes at most 100 keys.
        for chunk in keys.chunks(100) {
            let res = self
                .client
                .get_multiple_accounts_with_commitment(chunk, self.commitment)
                .await
                .map_err(classify)?;
            out.extend(res.value);
        }
        Ok(out)
    }

    async fn latest_blockhash(&self) -> Result<(Hash, u64), ChainError> {
        self.client
            .get_latest_blockhash_with_commitment(self.commitment)
            .await
            .map_err(classify)
    }

    async fn block_height(&self) -> Result<u64, ChainError> {
        self.client
            .get_block_height_with_commitment(self.commitment)
            .await
            .map_err(classify)
    }

    async fn slot(&self) -> Result<u64, ChainError> {
        self.client
            .get_slot_with_commitment(self.commitment)
            .await
            .map_err(classify)
    }

    async fn send(&self, tx: &Transaction) -> Result<(), ChainError> {
        // Preflight is ours (see Sender); the endpoint only relays.
        let config = RpcSendTransactionConfig {
            skip_preflight: true,
            max_retries: Some(0),
            ..Default::default()
        };
        match self.client.send_transaction_with_config(tx, config).await {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("AlreadyProcessed") => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    async fn status(&self, signature: &Signature) -> Result<TxStatus, ChainError> {
        let res = self
            .client
            .get_signature_statuses(std::slice::from_ref(signature))
            .await
            .map_err(classify)?;
        Ok(match res.value.into_iter().next().flatten() {
            None => TxStatus::Unknown,
            Some(s) if !s.satisfies_commitment(self.commitment) => TxStatus::Unknown,
            Some(s) => match s.err {
                None => TxStatus::Landed,
                Some(err) => TxStatus::Failed(err),
            },
        })
    }

    async fn simulate(&self, tx: &Transaction) -> Result<Simulation, ChainError> {
        let config = RpcSimulateTransactionConfig {
            sig_verify: false,
            commitment: Some(self.commitment),
            ..Default::default()
        };
        let res = self
            .client
            .simulate_transaction_with_config(tx, config)
            .await
            .map_err(classify)?;
        Ok(Simulation {
            err: res.value.err.map(Into::into),
            logs: res.value.logs.unwrap_or_default(),
            units_consumed: res.value.units_consumed.unwrap_or(0),
        })
    }

    async fn balance(&self, key: &Pubkey) -> Result<u64, ChainError> {
        Ok(self
            .client
            .get_balance_with_commitment(key, self.commitment)
            .await
            .map_err(classify)?
            .value)
    }

    async fn minimum_balance(&self, data_len: usize) -> Result<u64, ChainError> {
        self.client
            .get_minimum_balance_for_rent_exemption(data_len)
            .await
            .map_err(classify)
    }

    async fn recent_prioritization_fees(
        &self,
        accounts: &[Pubkey],
    ) -> Result<Vec<u64>, ChainError> {
        Ok(self
            .client
            .get_recent_prioritization_fees(accounts)
            .await
            .map_err(classify)?
            .into_iter()
            .map(|f| f.prioritization_fee)
            .collect())
    }
}

/// Several RPC endpoints, tried in order: a read or send that finds one
/// endpoint unavailable moves on to the next (an operator's failover list).
pub struct FailoverChain {
    endpoints: Vec<RpcChain>,
}

impl FailoverChain {
    pub fn new(urls: &[String], commitment: CommitmentConfig) -> Self {
        assert!(!urls.is_empty(), "at least one RPC URL");
        FailoverChain {
            endpoints: urls.iter().map(|u| RpcChain::new(u, commitment)).collect(),
        }
    }
}

/// Tries each endpoint in order while they are unavailable.
macro_rules! failover {
    ($self:ident, |$c:ident| $call:expr) => {{
        let mut last = None;
        for $c in &$self.endpoints {
            match $call.await {
                Err(e) if e.is_transient() => {
                    tracing::warn!("RPC {} unavailable, trying the next: {e}", $c.url());
                    last = Some(e);
                }
                other => return other,
            }
        }
        Err(last.expect("at least one endpoint"))
    }};
}

#[async_trait]
impl Chain for FailoverChain {
    fn websocket_url(&self) -> Option<String> {
        self.endpoints[0].websocket_url()
    }

    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
        failover!(self, |c| c.accounts(keys))
    }
    async fn latest_blockhash(&self) -> Result<(Hash, u64), ChainError> {
        failover!(self, |c| c.latest_blockhash())
    }
    async fn block_height(&self) -> Result<u64, ChainError> {
        failover!(self, |c| c.block_height())
    }
    async fn slot(&self) -> Result<u64, ChainError> {
        failover!(self, |c| c.slot())
    }
    async fn send(&self, tx: &Transaction) -> Result<(), ChainError> {
        failover!(self, |c| c.send(tx))
    }
    async fn status(&self, signature: &Signature) -> Result<TxStatus, ChainError> {
        failover!(self, |c| c.status(signature))
    }
    async fn simulate(&self, tx: &Transaction) -> Result<Simulation, ChainError> {
        failover!(self, |c| c.simulate(tx))
    }
    async fn balance(&self, key: &Pubkey) -> Result<u64, ChainError> {
        failover!(self, |c| c.balance(key))
    }
    async fn minimum_balance(&self, data_len: usize) -> Result<u64, ChainError> {
        failover!(self, |c| c.minimum_balance(data_len))
    }
    async fn recent_prioritization_fees(
        &self,
        accounts: &[Pubkey],
    ) -> Result<Vec<u64>, ChainError> {
        failover!(self, |c| c.recent_prioritization_fees(accounts))
    }
}

#[cfg(test)]
mod tests {
    use super::websocket_url;

    #[test]
    fn websocket_url_follows_the_solana_cli() {
        assert_eq!(
            websocket_url("http://127.0.0.1:8899"),
            "ws://127.0.0.1:8900"
        );
        assert_eq!(
            websocket_url("https://api.devnet.solana.com"),
            "wss://api.devnet.solana.com"
        );
        assert_eq!(
            websocket_url("https://rpc.example/key/abc"),
            "wss://rpc.example/key/abc"
        );
        assert_eq!(websocket_url("http://[::1]:8899/"), "ws://[::1]:8900/");
    }
}
