//! The production backend: Solana JSON-RPC over HTTP, spoken directly (a
//! dozen methods; the Solana RPC client crates would bring about eighty
//! more crates into ake-node). Nothing here calls getProgramAccounts: AKE's
//! accounts are all reachable by address.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use solana_commitment_config::{CommitmentConfig, CommitmentLevel};
use solana_sdk::account::Account;
use solana_sdk::hash::Hash;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;
use solana_sdk::transaction::{TransactionError, VersionedTransaction};

use super::{Chain, ChainError, History, Simulation, TxStatus};

/// How long one request may take before the endpoint counts as unavailable
/// (the Solana CLI's default).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// JSON-RPC error codes that mean "this endpoint, now": node unhealthy,
/// block not available, slot skipped. Anything else the server says is a
/// refusal.
const TRANSIENT_CODES: [i64; 3] = [-32005, -32004, -32007];

/// getSignaturesForAddress's largest page, and how many pages of an
/// address's history `signatures_for` reads.
const HISTORY_PAGE: usize = 1_000;
const HISTORY_PAGES: usize = 2;

pub struct RpcChain {
    http: reqwest::Client,
    url: String,
    commitment: CommitmentConfig,
}

#[derive(Deserialize)]
struct Response {
    result: Option<Value>,
    error: Option<RpcError>,
}

#[derive(Deserialize)]
struct RpcError {
    code: i64,
    message: String,
}

/// `{ "context": {...}, "value": ... }`, the shape of most reads.
#[derive(Deserialize)]
struct WithContext<T> {
    value: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UiAccount {
    lamports: u64,
    owner: String,
    data: (String, String),
    executable: bool,
    rent_epoch: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UiBlockhash {
    blockhash: String,
    last_valid_block_height: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UiSignatureStatus {
    err: Option<Value>,
    confirmation_status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UiSimulation {
    err: Option<Value>,
    logs: Option<Vec<String>>,
    units_consumed: Option<u64>,
}

#[derive(Deserialize)]
struct UiSignature {
    signature: String,
    err: Option<Value>,
}

/// The parts of a `getTransaction` answer (encoding json) events need.
#[derive(Deserialize)]
struct UiTransaction {
    transaction: UiTransactionBody,
    meta: Option<UiMeta>,
}

#[derive(Deserialize)]
struct UiTransactionBody {
    message: UiMessage,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UiMessage {
    account_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UiMeta {
    err: Option<Value>,
    inner_instructions: Option<Vec<UiInnerInstructions>>,
    loaded_addresses: Option<UiLoadedAddresses>,
}

#[derive(Deserialize)]
struct UiInnerInstructions {
    instructions: Vec<UiCompiledInstruction>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UiCompiledInstruction {
    program_id_index: usize,
    data: String,
}

#[derive(Deserialize)]
struct UiLoadedAddresses {
    writable: Vec<String>,
    readonly: Vec<String>,
}

impl UiTransaction {
    /// Inner instructions of `program`, in order; None for a transaction
    /// that failed (or has no meta): a failed transaction's inner
    /// instructions may carry anything, since a program can fake an event's
    /// bytes in a CPI that then fails. Account indexes count the message's
    /// keys, then a v0 transaction's loaded writable and readonly addresses.
    fn inner_instructions_of(self, program: &Pubkey) -> Result<Option<Vec<Vec<u8>>>, ChainError> {
        let program = program.to_string();
        let mut keys = self.transaction.message.account_keys;
        let Some(meta) = self.meta.filter(|m| m.err.is_none()) else {
            return Ok(None);
        };
        if let Some(loaded) = meta.loaded_addresses {
            keys.extend(loaded.writable);
            keys.extend(loaded.readonly);
        }
        let mut out = Vec::new();
        for ix in meta
            .inner_instructions
            .into_iter()
            .flatten()
            .flat_map(|i| i.instructions)
        {
            if keys.get(ix.program_id_index) == Some(&program) {
                out.push(bs58::decode(&ix.data).into_vec().map_err(|e| {
                    ChainError::Refused(format!("an inner instruction's data is not base58: {e}"))
                })?);
            }
        }
        Ok(Some(out))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UiPrioritizationFee {
    prioritization_fee: u64,
}

impl RpcChain {
    pub fn new(url: &str, commitment: CommitmentConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("an HTTP client with rustls and a timeout always builds");
        RpcChain {
            http,
            url: url.to_string(),
            commitment,
        }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Asks a faucet-enabled endpoint (localnet, devnet) for lamports.
    pub async fn request_airdrop(
        &self,
        to: &Pubkey,
        lamports: u64,
    ) -> Result<Signature, ChainError> {
        let sig: String = self
            .call("requestAirdrop", json!([to.to_string(), lamports]))
            .await?;
        parse(&sig, "signature")
    }

    async fn signature_status(
        &self,
        signature: &Signature,
        search_history: bool,
    ) -> Result<TxStatus, ChainError> {
        let config = json!({ "searchTransactionHistory": search_history });
        let res: WithContext<Vec<Option<UiSignatureStatus>>> = self
            .call(
                "getSignatureStatuses",
                json!([[signature.to_string()], config]),
            )
            .await?;
        Ok(match res.value.into_iter().next().flatten() {
            None => TxStatus::Unknown,
            Some(s) if !meets(s.confirmation_status.as_deref(), self.commitment.commitment) => {
                TxStatus::Unknown
            }
            Some(s) => match s.err {
                None => TxStatus::Landed,
                Some(err) => TxStatus::Failed(decode_tx_error(err)?),
            },
        })
    }

    fn commitment(&self) -> Value {
        json!({ "commitment": commitment_name(self.commitment.commitment) })
    }

    /// History reads take confirmed or finalized only.
    fn history_commitment(&self) -> Value {
        let level = match self.commitment.commitment {
            CommitmentLevel::Processed => CommitmentLevel::Confirmed,
            level => level,
        };
        json!({ "commitment": commitment_name(level) })
    }

    /// One JSON-RPC call. Only a well-formed JSON-RPC error with a code
    /// that is not transient is a refusal; transport trouble, an HTTP
    /// status without a JSON-RPC error (an expired API key, a proxy's error
    /// page, a cut-off body) and the transient codes are Unavailable, so
    /// the sender retries and a failover list moves to the next endpoint.
    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, ChainError> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let unavailable = |e: &dyn std::fmt::Display| {
            ChainError::Unavailable(format!("{method} at {}: {e}", self.url))
        };
        let reply = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let status = reply.status();
        let bytes = reply.bytes().await.map_err(|e| unavailable(&e))?;
        let response = match serde_json::from_slice::<Response>(&bytes) {
            Ok(r) if status.is_success() || r.error.is_some() => r,
            Ok(_) => return Err(unavailable(&format!("HTTP {status}"))),
            Err(e) => {
                return Err(unavailable(&format!(
                    "not a JSON-RPC answer (HTTP {status}, {e})"
                )))
            }
        };
        if let Some(e) = response.error {
            let text = format!("{method}: {} (code {})", e.message, e.code);
            return Err(if TRANSIENT_CODES.contains(&e.code) {
                ChainError::Unavailable(text)
            } else {
                ChainError::Refused(text)
            });
        }
        serde_json::from_value(response.result.unwrap_or(Value::Null)).map_err(|e| {
            ChainError::Refused(format!("{method} at {}: unexpected answer ({e})", self.url))
        })
    }
}

pub(crate) fn commitment_name(level: CommitmentLevel) -> &'static str {
    match level {
        CommitmentLevel::Processed => "processed",
        CommitmentLevel::Confirmed => "confirmed",
        CommitmentLevel::Finalized => "finalized",
    }
}

/// Whether a status's confirmation meets `wanted` (a missing status is the
/// old servers' way of saying finalized).
fn meets(status: Option<&str>, wanted: CommitmentLevel) -> bool {
    let rank = |s: &str| match s {
        "finalized" => 2,
        "confirmed" => 1,
        _ => 0,
    };
    let have = status.map_or(2, rank);
    have >= rank(commitment_name(wanted))
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, ChainError> {
    text.parse().map_err(|_| {
        ChainError::Refused(format!("the endpoint returned an invalid {what}: {text}"))
    })
}

fn decode_account(ui: UiAccount) -> Result<Account, ChainError> {
    let data = base64::engine::general_purpose::STANDARD
        .decode(&ui.data.0)
        .map_err(|e| ChainError::Refused(format!("account data is not base64: {e}")))?;
    Ok(Account {
        lamports: ui.lamports,
        data,
        owner: parse(&ui.owner, "owner")?,
        executable: ui.executable,
        rent_epoch: ui.rent_epoch,
    })
}

/// A transaction error as servers write it. Agave 2.x servers write
/// `BorshIoError` with a message (`{"BorshIoError": "..."}`) where the 3.x
/// type has none; it is the same error (what `UiTransactionError` does).
fn decode_tx_error(mut err: Value) -> Result<TransactionError, ChainError> {
    fn drop_borsh_message(v: &mut Value) {
        match v {
            Value::Object(map) if map.len() == 1 && map.contains_key("BorshIoError") => {
                *v = json!("BorshIoError");
            }
            Value::Object(map) => map.values_mut().for_each(drop_borsh_message),
            Value::Array(items) => items.iter_mut().for_each(drop_borsh_message),
            _ => {}
        }
    }
    drop_borsh_message(&mut err);
    serde_json::from_value(err.clone())
        .map_err(|e| ChainError::Refused(format!("an unknown transaction error {err} ({e})")))
}

fn wire(tx: &VersionedTransaction) -> Result<String, ChainError> {
    let bytes = bincode::serialize(tx)
        .map_err(|e| ChainError::Refused(format!("cannot serialize the transaction: {e}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
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
        Some(websocket_url(&self.url))
    }

    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
        let mut out = Vec::with_capacity(keys.len());
        // getMultipleAccounts takes at most 100 keys.
        for chunk in keys.chunks(100) {
            let keys: Vec<String> = chunk.iter().map(Pubkey::to_string).collect();
            let mut config = self.commitment();
            config["encoding"] = json!("base64");
            let res: WithContext<Vec<Option<UiAccount>>> = self
                .call("getMultipleAccounts", json!([keys, config]))
                .await?;
            for account in res.value {
                out.push(account.map(decode_account).transpose()?);
            }
        }
        Ok(out)
    }

    async fn latest_blockhash(&self) -> Result<(Hash, u64), ChainError> {
        let res: WithContext<UiBlockhash> = self
            .call("getLatestBlockhash", json!([self.commitment()]))
            .await?;
        Ok((
            parse(&res.value.blockhash, "blockhash")?,
            res.value.last_valid_block_height,
        ))
    }

    async fn block_height(&self) -> Result<u64, ChainError> {
        self.call("getBlockHeight", json!([self.commitment()]))
            .await
    }

    async fn slot(&self) -> Result<u64, ChainError> {
        self.call("getSlot", json!([self.commitment()])).await
    }

    async fn send(&self, tx: &VersionedTransaction) -> Result<(), ChainError> {
        // Preflight is ours (see Sender); the endpoint only relays.
        let config = json!({ "encoding": "base64", "skipPreflight": true, "maxRetries": 0 });
        self.call::<String>("sendTransaction", json!([wire(tx)?, config]))
            .await
            .map(drop)
    }

    async fn status(&self, signature: &Signature) -> Result<TxStatus, ChainError> {
        self.signature_status(signature, false).await
    }

    async fn status_in_history(&self, signature: &Signature) -> Result<TxStatus, ChainError> {
        match self.signature_status(signature, true).await {
            // -32011: this node keeps no transaction history; its status
            // cache is all it can say.
            Err(ChainError::Refused(e)) if e.contains("(code -32011)") => {
                self.signature_status(signature, false).await
            }
            other => other,
        }
    }

    async fn simulate(&self, tx: &VersionedTransaction) -> Result<Simulation, ChainError> {
        let mut config = self.commitment();
        config["encoding"] = json!("base64");
        config["sigVerify"] = json!(false);
        let res: WithContext<UiSimulation> = self
            .call("simulateTransaction", json!([wire(tx)?, config]))
            .await?;
        Ok(Simulation {
            err: res.value.err.map(decode_tx_error).transpose()?,
            logs: res.value.logs.unwrap_or_default(),
            units_consumed: res.value.units_consumed.unwrap_or(0),
        })
    }

    async fn balance(&self, key: &Pubkey) -> Result<u64, ChainError> {
        let res: WithContext<u64> = self
            .call("getBalance", json!([key.to_string(), self.commitment()]))
            .await?;
        Ok(res.value)
    }

    async fn minimum_balance(&self, data_len: usize) -> Result<u64, ChainError> {
        self.call("getMinimumBalanceForRentExemption", json!([data_len]))
            .await
    }

    async fn signatures_for(&self, key: &Pubkey) -> Result<History, ChainError> {
        // Pages of 1,000, newest first, up to a bound: failed transactions
        // naming the address cost an attacker 5,000 lamports each and must
        // not make a lookup endless.
        let mut history = History::default();
        let mut before: Option<String> = None;
        for _ in 0..HISTORY_PAGES {
            let mut config = self.history_commitment();
            config["limit"] = json!(HISTORY_PAGE);
            if let Some(before) = &before {
                config["before"] = json!(before);
            }
            let page: Vec<UiSignature> = self
                .call("getSignaturesForAddress", json!([key.to_string(), config]))
                .await?;
            for s in page.iter().filter(|s| s.err.is_none()) {
                history.signatures.push(parse(&s.signature, "signature")?);
            }
            match page.last() {
                Some(last) if page.len() == HISTORY_PAGE => before = Some(last.signature.clone()),
                _ => {
                    history.complete = true;
                    return Ok(history);
                }
            }
        }
        Ok(history)
    }

    async fn inner_instructions(
        &self,
        signature: &Signature,
        program: &Pubkey,
    ) -> Result<Option<Vec<Vec<u8>>>, ChainError> {
        let mut config = self.history_commitment();
        config["encoding"] = json!("json");
        config["maxSupportedTransactionVersion"] = json!(0);
        let tx: Option<UiTransaction> = self
            .call("getTransaction", json!([signature.to_string(), config]))
            .await?;
        Ok(tx
            .map(|tx| tx.inner_instructions_of(program))
            .transpose()?
            .flatten())
    }

    async fn recent_prioritization_fees(
        &self,
        accounts: &[Pubkey],
    ) -> Result<Vec<u64>, ChainError> {
        let keys: Vec<String> = accounts.iter().map(Pubkey::to_string).collect();
        let fees: Vec<UiPrioritizationFee> = self
            .call("getRecentPrioritizationFees", json!([keys]))
            .await?;
        Ok(fees.into_iter().map(|f| f.prioritization_fee).collect())
    }
}

/// How often a failover list is measured again while it serves reads.
const RESCORE_EVERY: Duration = Duration::from_secs(10);

/// How long a measurement waits for an endpoint (longer: not answering).
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Slots an endpoint may trail the most advanced one (or the cluster, by
/// its own health check) and still be read from first: about 8 s, more
/// than endpoints in step ever differ, far less than a job's windows.
pub const CURRENT_WITHIN_SLOTS: u64 = 20;

/// Latencies within this of each other count as equal, so the operator's
/// order decides between endpoints that are about as quick.
const LATENCY_BUCKET_MS: u64 = 50;

/// One endpoint as last measured.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EndpointHealth {
    pub url: String,
    /// Its slot at the commitment read; None when it did not answer.
    pub slot: Option<u64>,
    /// Slots behind the most advanced endpoint, or behind the cluster by
    /// its own `getHealth`, whichever is more.
    pub behind: u64,
    /// How long its `getSlot` took.
    pub latency_ms: u64,
    /// Why it is not read from: no answer, another cluster, a slot far
    /// ahead of the others.
    pub error: Option<String>,
}

impl EndpointHealth {
    /// Answers and keeps up: reads go to it before any endpoint that does not.
    pub fn is_current(&self) -> bool {
        self.error.is_none() && self.behind <= CURRENT_WITHIN_SLOTS
    }

    /// What is wrong with it, for an operator; None when it is current.
    pub fn problem(&self) -> Option<String> {
        match &self.error {
            Some(e) => Some(format!(
                "RPC {}: {e}; fix or remove it in rpc_urls",
                self.url
            )),
            None if !self.is_current() => Some(format!(
                "RPC {} is {} slots behind (more than {CURRENT_WITHIN_SLOTS}): reads go to the others; replace it in rpc_urls",
                self.url, self.behind
            )),
            None => None,
        }
    }
}

/// The slots behind the cluster an endpoint's `getHealth` admits to. Only
/// Solana's "unhealthy" answer (-32005) counts: "Node is behind by N
/// slots", or, without a count, just past current. Anything else (a
/// provider without getHealth, a rate limit, a timeout) says nothing: the
/// endpoint's slot decides.
fn admitted_lag(health: &Result<Value, ChainError>) -> u64 {
    match health {
        Err(ChainError::Unavailable(e)) if e.contains("(code -32005)") => e
            .split_once("behind by ")
            .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(CURRENT_WITHIN_SLOTS + 1),
        _ => 0,
    }
}

/// One endpoint's answers to a measurement.
struct Probe {
    slot: Result<u64, String>,
    admitted: u64,
    latency: Duration,
    /// Its cluster's genesis hash, if it said.
    genesis: Option<String>,
}

impl RpcChain {
    /// Its slot (and how long that took), the lag it admits to and its
    /// cluster, at once.
    async fn probe(&self) -> Probe {
        let timed_slot = async {
            let started = std::time::Instant::now();
            let slot = tokio::time::timeout(PROBE_TIMEOUT, self.slot()).await;
            (slot, started.elapsed())
        };
        let health =
            tokio::time::timeout(PROBE_TIMEOUT, self.call::<Value>("getHealth", json!([])));
        let genesis = tokio::time::timeout(
            PROBE_TIMEOUT,
            self.call::<String>("getGenesisHash", json!([])),
        );
        let ((slot, latency), health, genesis) = tokio::join!(timed_slot, health, genesis);
        Probe {
            slot: match slot {
                Ok(answer) => answer.map_err(|e| e.to_string()),
                Err(_) => Err(format!("no answer in {PROBE_TIMEOUT:?}")),
            },
            admitted: health.map_or(0, |h| admitted_lag(&h)),
            latency,
            genesis: genesis.ok().and_then(Result::ok),
        }
    }
}

/// The genesis most answering endpoints share (the operator's order breaks
/// a tie): a URL of another cluster in the list is not read from.
fn cluster_of(probes: &[Probe]) -> Option<&str> {
    let said: Vec<&str> = probes
        .iter()
        .filter(|p| p.slot.is_ok())
        .filter_map(|p| p.genesis.as_deref())
        .collect();
    let count = |g: &str| said.iter().filter(|s| **s == g).count();
    let most = said.iter().map(|g| count(g)).max()?;
    said.iter().copied().find(|g| count(g) == most)
}

/// The slot endpoints are measured against: the highest that another
/// endpoint comes within [`CURRENT_WITHIN_SLOTS`] of, so that one endpoint
/// answering a slot far ahead (a false answer) does not make the rest look
/// behind; with no two endpoints in step, the highest.
fn reference_slot(slots: &[u64]) -> u64 {
    let confirmed = slots.iter().enumerate().filter(|(i, s)| {
        slots
            .iter()
            .enumerate()
            .any(|(j, t)| j != *i && t.abs_diff(**s) <= CURRENT_WITHIN_SLOTS)
    });
    confirmed
        .map(|(_, s)| *s)
        .max()
        .or_else(|| slots.iter().max().copied())
        .unwrap_or(0)
}

/// Measures every endpoint at once (one after another, the first would
/// look behind the rest).
async fn measure(endpoints: &[RpcChain]) -> Vec<EndpointHealth> {
    let probes = futures_util::future::join_all(endpoints.iter().map(RpcChain::probe)).await;
    let cluster = cluster_of(&probes);
    let of_cluster =
        |p: &Probe| cluster.is_none() || p.genesis.is_none() || p.genesis.as_deref() == cluster;
    let slots: Vec<u64> = probes
        .iter()
        .filter(|p| of_cluster(p))
        .filter_map(|p| p.slot.as_ref().ok().copied())
        .collect();
    let reference = reference_slot(&slots);
    endpoints
        .iter()
        .zip(&probes)
        .map(|(endpoint, p)| {
            let error = match (&p.slot, of_cluster(p)) {
                (Err(e), _) => Some(e.clone()),
                (Ok(_), false) => Some(format!(
                    "it serves another cluster (genesis {}, the others {})",
                    p.genesis.as_deref().unwrap_or("?"),
                    cluster.unwrap_or("?")
                )),
                (Ok(slot), true) if *slot > reference + CURRENT_WITHIN_SLOTS => Some(format!(
                    "it answers slot {slot}, {} ahead of the others: a false answer",
                    slot - reference
                )),
                (Ok(_), true) => None,
            };
            EndpointHealth {
                url: endpoint.url(),
                slot: p.slot.as_ref().ok().copied(),
                behind: p
                    .slot
                    .as_ref()
                    .map_or(0, |s| reference.saturating_sub(*s).max(p.admitted)),
                latency_ms: u64::try_from(p.latency.as_millis()).unwrap_or(u64::MAX),
                error,
            }
        })
        .collect()
}

/// The order reads try endpoints in: current ones, quickest first (the
/// operator's order among about equally quick ones), then those that lag,
/// least behind first, then those that do not answer.
fn read_order(health: &[EndpointHealth]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..health.len()).collect();
    order.sort_by_key(|&i| {
        let h = &health[i];
        match (&h.error, h.is_current()) {
            (None, true) => (0, h.latency_ms / LATENCY_BUCKET_MS),
            (None, false) => (1, h.behind),
            (Some(_), _) => (2, 0),
        }
    });
    order
}

#[derive(Default)]
struct Ranking {
    order: Vec<usize>,
    health: Vec<EndpointHealth>,
    measured_at: Option<std::time::Instant>,
    /// Since when a measurement runs (one whose reader was dropped counts
    /// as over after twice the probe timeout).
    measuring: Option<std::time::Instant>,
}

/// Several RPC endpoints, measured for slot lag and latency every
/// [`RESCORE_EVERY`] while they serve: a read tries them best first,
/// moving on from one that is unavailable; a send goes to all.
pub struct FailoverChain {
    endpoints: std::sync::Arc<Vec<RpcChain>>,
    ranking: std::sync::Arc<std::sync::Mutex<Ranking>>,
    /// Told of each request an endpoint could not serve (its URL, the
    /// method): the node's metrics count them.
    on_unavailable: std::sync::OnceLock<UnavailableHook>,
}

/// Called with an endpoint's URL and the method it could not serve.
pub type UnavailableHook = Box<dyn Fn(&str, &'static str) + Send + Sync>;

fn locked(ranking: &std::sync::Mutex<Ranking>) -> std::sync::MutexGuard<'_, Ranking> {
    ranking.lock().unwrap_or_else(|e| e.into_inner())
}

impl FailoverChain {
    pub fn new(urls: &[String], commitment: CommitmentConfig) -> Self {
        assert!(!urls.is_empty(), "at least one RPC URL");
        FailoverChain {
            endpoints: std::sync::Arc::new(
                urls.iter().map(|u| RpcChain::new(u, commitment)).collect(),
            ),
            ranking: std::sync::Arc::new(std::sync::Mutex::new(Ranking {
                order: (0..urls.len()).collect(),
                ..Ranking::default()
            })),
            on_unavailable: std::sync::OnceLock::new(),
        }
    }

    /// The configured endpoints' URLs, in order.
    pub fn urls(&self) -> Vec<String> {
        self.endpoints.iter().map(RpcChain::url).collect()
    }

    /// Calls `hook` with the endpoint and method of every request an
    /// endpoint could not serve (set once; later calls are ignored).
    pub fn on_unavailable(&self, hook: UnavailableHook) {
        let _ = self.on_unavailable.set(hook);
    }

    fn unavailable(&self, endpoint: &RpcChain, method: &'static str, e: &ChainError) {
        tracing::warn!(
            "RPC {} unavailable for {method}, trying the next: {e}",
            endpoint.url()
        );
        if let Some(hook) = self.on_unavailable.get() {
            hook(&endpoint.url(), method);
        }
    }

    /// Measures every endpoint now, reorders reads by what it found, and
    /// says what it found (in the configured order).
    pub async fn health(&self) -> Vec<EndpointHealth> {
        let health = measure(&self.endpoints).await;
        record(&self.ranking, health.clone());
        health
    }

    /// The order to read in. The first read of a list waits for its first
    /// measurement (a lagging first endpoint must not show a starting node
    /// a past state); later ones measure again in the background.
    async fn read_order(&self) -> Vec<usize> {
        if self.endpoints.len() == 1 {
            return vec![0];
        }
        let first = {
            let mut ranking = locked(&self.ranking);
            let stale = ranking
                .measured_at
                .is_none_or(|at| at.elapsed() >= RESCORE_EVERY);
            let measuring = ranking
                .measuring
                .is_some_and(|since| since.elapsed() < PROBE_TIMEOUT * 2);
            if !stale || measuring {
                return ranking.order.clone();
            }
            ranking.measuring = Some(std::time::Instant::now());
            ranking.measured_at.is_none()
        };
        if first {
            self.health().await;
        } else {
            let (endpoints, ranking) = (
                std::sync::Arc::clone(&self.endpoints),
                std::sync::Arc::clone(&self.ranking),
            );
            tokio::spawn(async move { record(&ranking, measure(&endpoints).await) });
        }
        locked(&self.ranking).order.clone()
    }
}

fn record(ranking: &std::sync::Mutex<Ranking>, health: Vec<EndpointHealth>) {
    let mut ranking = locked(ranking);
    ranking.order = read_order(&health);
    ranking.health = health;
    ranking.measured_at = Some(std::time::Instant::now());
    ranking.measuring = None;
}

/// Tries each endpoint, best first, while they are unavailable.
macro_rules! failover {
    ($self:ident, $method:literal, |$c:ident| $call:expr) => {{
        let mut last = None;
        for i in $self.read_order().await {
            let $c = &$self.endpoints[i];
            match $call.await {
                Err(e) if e.is_transient() => {
                    $self.unavailable($c, $method, &e);
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
    /// The best endpoint's, as last measured.
    fn websocket_url(&self) -> Option<String> {
        let best = locked(&self.ranking).order[0];
        self.endpoints[best].websocket_url()
    }

    async fn accounts(&self, keys: &[Pubkey]) -> Result<Vec<Option<Account>>, ChainError> {
        failover!(self, "accounts", |c| c.accounts(keys))
    }
    async fn latest_blockhash(&self) -> Result<(Hash, u64), ChainError> {
        failover!(self, "latest_blockhash", |c| c.latest_blockhash())
    }
    async fn block_height(&self) -> Result<u64, ChainError> {
        failover!(self, "block_height", |c| c.block_height())
    }
    async fn slot(&self) -> Result<u64, ChainError> {
        failover!(self, "slot", |c| c.slot())
    }
    /// To every endpoint at once: one that lags or is cut off from the
    /// leaders cannot hold a transaction back. Done as soon as one endpoint
    /// takes it (a slow one is not waited for); when none does, a refusal
    /// says why before an outage does.
    async fn send(&self, tx: &VersionedTransaction) -> Result<(), ChainError> {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let mut sends: FuturesUnordered<_> = self
            .endpoints
            .iter()
            .map(|c| async move { (c, c.send(tx).await) })
            .collect();
        let mut errors = Vec::new();
        while let Some((endpoint, sent)) = sends.next().await {
            match sent {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if e.is_transient() {
                        self.unavailable(endpoint, "send", &e);
                    }
                    errors.push(e)
                }
            }
        }
        let refusal = errors.iter().position(|e| !e.is_transient());
        Err(errors.swap_remove(refusal.unwrap_or(errors.len() - 1)))
    }
    async fn status(&self, signature: &Signature) -> Result<TxStatus, ChainError> {
        failover!(self, "status", |c| c.status(signature))
    }
    async fn status_in_history(&self, signature: &Signature) -> Result<TxStatus, ChainError> {
        failover!(self, "status_in_history", |c| c
            .status_in_history(signature))
    }
    async fn simulate(&self, tx: &VersionedTransaction) -> Result<Simulation, ChainError> {
        failover!(self, "simulate", |c| c.simulate(tx))
    }
    async fn balance(&self, key: &Pubkey) -> Result<u64, ChainError> {
        failover!(self, "balance", |c| c.balance(key))
    }
    async fn minimum_balance(&self, data_len: usize) -> Result<u64, ChainError> {
        failover!(self, "minimum_balance", |c| c.minimum_balance(data_len))
    }
    async fn recent_prioritization_fees(
        &self,
        accounts: &[Pubkey],
    ) -> Result<Vec<u64>, ChainError> {
        failover!(self, "recent_prioritization_fees", |c| c
            .recent_prioritization_fees(accounts))
    }
    async fn signatures_for(&self, key: &Pubkey) -> Result<History, ChainError> {
        failover!(self, "signatures_for", |c| c.signatures_for(key))
    }
    async fn inner_instructions(
        &self,
        signature: &Signature,
        program: &Pubkey,
    ) -> Result<Option<Vec<Vec<u8>>>, ChainError> {
        failover!(self, "inner_instructions", |c| c
            .inner_instructions(signature, program))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use solana_sdk::instruction::InstructionError;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An endpoint that answers every request with `status` and `body`.
    async fn endpoint(status: &'static str, body: &'static str) -> RpcChain {
        recording_endpoint(status, body).await.0
    }

    /// The same, keeping the last request's body.
    async fn recording_endpoint(
        status: &'static str,
        body: &'static str,
    ) -> (RpcChain, std::sync::Arc<std::sync::Mutex<String>>) {
        serve(status, vec![(String::new(), body.to_string())]).await
    }

    /// An endpoint answering each JSON-RPC method with its own body.
    async fn routed_endpoint(routes: Vec<(&str, String)>) -> RpcChain {
        let routes = routes
            .into_iter()
            .map(|(method, body)| (format!("\"method\":\"{method}\""), body))
            .collect();
        serve("200 OK", routes).await.0
    }

    /// Answers with the body of the first route whose key the request
    /// contains (an empty key matches all), keeping the last request.
    async fn serve(
        status: &'static str,
        routes: Vec<(String, String)>,
    ) -> (RpcChain, std::sync::Arc<std::sync::Mutex<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let last = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let seen = std::sync::Arc::clone(&last);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let request = read_request_body(&mut socket).await;
                let body = routes
                    .iter()
                    .find(|(key, _)| request.contains(key.as_str()))
                    .map_or("", |(_, body)| body.as_str());
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                *seen.lock().unwrap() = request;
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        (RpcChain::new(&url, CommitmentConfig::confirmed()), last)
    }

    /// One HTTP request's body: headers up to the blank line, then
    /// content-length bytes, however the client split its writes.
    async fn read_request_body(socket: &mut tokio::net::TcpStream) -> String {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    return body.to_string();
                }
            }
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return text,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// A getTransaction answer whose inner instructions run the market
    /// program with each of `data`; `err` is the transaction's error (JSON).
    fn transaction_with_events(data: &[&[u8]], err: &str) -> String {
        let instructions: Vec<String> = data
            .iter()
            .map(|d| {
                format!(
                    r#"{{"programIdIndex":1,"accounts":[],"data":"{}"}}"#,
                    bs58::encode(d).into_string()
                )
            })
            .collect();
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"result":{{"slot":9,"transaction":{{"signatures":[],"message":{{"accountKeys":["11111111111111111111111111111111","{}"]}}}},"meta":{{"err":{err},"innerInstructions":[{{"index":0,"instructions":[{}]}}]}}}}}}"#,
            ake_market::ID,
            instructions.join(",")
        )
    }

    /// An event as `emit_cpi!` writes it into an inner instruction.
    fn event_data<E: anchor_lang::Discriminator + anchor_lang::AnchorSerialize>(
        event: &E,
    ) -> Vec<u8> {
        let mut data = anchor_lang::event::EVENT_IX_TAG_LE.to_vec();
        data.extend_from_slice(E::DISCRIMINATOR);
        event.serialize(&mut data).unwrap();
        data
    }

    #[tokio::test]
    async fn a_settled_job_s_result_is_read_only_from_transactions_that_succeeded() {
        let job = Pubkey::new_unique();
        let event = ake_market::events::ResultSubmitted {
            job,
            node: Pubkey::new_unique(),
            commitment: [9; 32],
            output_uri: "s3://outputs/job".into(),
            usage: ake_market::state::UsageReceipt {
                wall_secs: 5,
                gpu_secs: 5,
                energy_mj: 0,
            },
            collateral_released: 1,
            result_collateral: 2,
            due_page: Pubkey::new_unique(),
            sealed_digest: [0; 32],
            sealed_salt: [0; ake_market::state::SEALED_SALT_LEN],
        };
        let data = event_data(&event);
        let sig = Signature::from([1; 64]);
        let signatures = |err: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"result":[{{"signature":"{sig}","slot":9,"err":{err}}}]}}"#
            )
        };
        let failed = r#"{"InstructionError":[0,{"Custom":1}]}"#;
        let protocol = |routes| async move {
            crate::protocol::Protocol::new(std::sync::Arc::new(routed_endpoint(routes).await))
        };
        // An attacker's failed transaction can carry a market "event" its
        // program faked in a CPI that then failed: never read.
        let listed_as_failed = protocol(vec![
            ("getSignaturesForAddress", signatures(failed)),
            ("getTransaction", transaction_with_events(&[&data], "null")),
        ])
        .await;
        assert!(listed_as_failed
            .submitted_result(&job)
            .await
            .unwrap()
            .is_none());
        let failed_on_reading = protocol(vec![
            ("getSignaturesForAddress", signatures("null")),
            ("getTransaction", transaction_with_events(&[&data], failed)),
        ])
        .await;
        assert!(failed_on_reading
            .submitted_result(&job)
            .await
            .unwrap()
            .is_none());
        let succeeded = protocol(vec![
            ("getSignaturesForAddress", signatures("null")),
            ("getTransaction", transaction_with_events(&[&data], "null")),
        ])
        .await;
        let found = succeeded.submitted_result(&job).await.unwrap().unwrap();
        assert!(!found.disputed_away);
        assert_eq!(
            (found.result.commitment, found.result.output_uri),
            ([9; 32], "s3://outputs/job".to_string())
        );
        // The creator won a dispute over it: found, and marked as such.
        let ruling = event_data(&ake_market::events::DisputeResolved {
            node_left_queue: false,
            job,
            node: event.node,
            creator_won: true,
            timed_out: false,
            refund: 10,
            bond_burned: 0,
            slashed: 5,
            posting_fee_burned: 1,
        });
        let disputed = protocol(vec![
            ("getSignaturesForAddress", signatures("null")),
            (
                "getTransaction",
                transaction_with_events(&[&data, &ruling], "null"),
            ),
        ])
        .await;
        assert!(
            disputed
                .submitted_result(&job)
                .await
                .unwrap()
                .unwrap()
                .disputed_away
        );
    }

    #[tokio::test]
    async fn the_last_look_falls_back_to_the_status_cache_on_a_node_without_history() {
        let (chain, _) = serve(
            "200 OK",
            vec![
                (
                    r#""searchTransactionHistory":true"#.into(),
                    r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32011,"message":"Transaction history is not available from this node"}}"#.into(),
                ),
                (
                    String::new(),
                    r#"{"jsonrpc":"2.0","id":1,"result":{"context":{"slot":5},"value":[{"slot":4,"confirmations":null,"err":null,"confirmationStatus":"finalized"}]}}"#.into(),
                ),
            ],
        )
        .await;
        assert_eq!(
            chain
                .status_in_history(&Signature::default())
                .await
                .unwrap(),
            TxStatus::Landed
        );
    }

    #[tokio::test]
    async fn the_last_look_before_expiry_searches_the_ledger_s_history() {
        let (chain, last) = recording_endpoint(
            "200 OK",
            r#"{"jsonrpc":"2.0","id":1,"result":{"context":{"slot":5},"value":[null]}}"#,
        )
        .await;
        let sig = Signature::default();
        assert_eq!(chain.status(&sig).await.unwrap(), TxStatus::Unknown);
        let polled: Value = serde_json::from_str(&last.lock().unwrap()).unwrap();
        assert_eq!(polled["params"][1]["searchTransactionHistory"], false);
        chain.status_in_history(&sig).await.unwrap();
        let last_look: Value = serde_json::from_str(&last.lock().unwrap()).unwrap();
        assert_eq!(last_look["method"], "getSignatureStatuses");
        assert_eq!(last_look["params"][1]["searchTransactionHistory"], true);
    }

    /// An endpoint that accepts connections and never answers.
    async fn hanging_endpoint() -> String {
        let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", hanging.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = hanging.accept().await {
                held.push(socket);
            }
        });
        url
    }

    fn measured(url: &str, behind: u64, latency_ms: u64, error: Option<&str>) -> EndpointHealth {
        EndpointHealth {
            url: url.into(),
            slot: error.is_none().then_some(1_000 - behind),
            behind,
            latency_ms,
            error: error.map(Into::into),
        }
    }

    #[test]
    fn reads_go_to_current_endpoints_quickest_first_then_lagging_then_silent() {
        let health = [
            measured("dead", 0, 5_000, Some("connection refused")),
            measured("far-behind", 300, 10, None),
            measured("slow", 0, 400, None),
            measured("behind", 21, 10, None),
            // Within one latency bucket: the operator's order decides.
            measured("primary", 20, 40, None),
            measured("quick", 0, 10, None),
        ];
        let order: Vec<&str> = read_order(&health)
            .into_iter()
            .map(|i| health[i].url.as_str())
            .collect();
        assert_eq!(
            order,
            ["primary", "quick", "slow", "behind", "far-behind", "dead"]
        );
        assert_eq!(health[4].problem(), None);
        assert!(health[3].problem().unwrap().contains("21 slots behind"));
    }

    #[test]
    fn an_endpoint_s_own_health_check_says_how_far_behind_it_is() {
        let said = |text: &str| admitted_lag(&Err(ChainError::Unavailable(text.into())));
        assert_eq!(
            said("getHealth: Node is behind by 42 slots (code -32005)"),
            42
        );
        assert_eq!(
            said("getHealth: Node is unhealthy (code -32005)"),
            CURRENT_WITHIN_SLOTS + 1
        );
        assert_eq!(admitted_lag(&Ok(json!("ok"))), 0);
        // A rate limit, or a provider without getHealth, says nothing.
        assert_eq!(said("getHealth at http://x: HTTP 429 Too Many Requests"), 0);
        let unknown = ChainError::Refused("getHealth: Method not found (code -32601)".into());
        assert_eq!(admitted_lag(&Err(unknown)), 0);
    }

    #[test]
    fn one_endpoint_far_ahead_of_the_others_does_not_make_them_look_behind() {
        // Two in step and one answering a slot far ahead: the two are the reference.
        assert_eq!(reference_slot(&[1_000, 1_005, 9_999_999]), 1_005);
        // None in step (a lagging one and a current one): the highest.
        assert_eq!(reference_slot(&[900, 1_000]), 1_000);
        assert_eq!(reference_slot(&[]), 0);
        let probe = |slot: u64, genesis: &str| Probe {
            slot: Ok(slot),
            admitted: 0,
            latency: Duration::ZERO,
            genesis: Some(genesis.into()),
        };
        // Most endpoints' cluster wins; the operator's order breaks a tie.
        let probes = [probe(5, "devnet"), probe(9, "mainnet"), probe(6, "devnet")];
        assert_eq!(cluster_of(&probes), Some("devnet"));
        assert_eq!(cluster_of(&probes[..2]), Some("devnet"));
    }

    #[tokio::test]
    async fn a_list_s_first_read_waits_for_one_measurement_not_for_a_silent_endpoint() {
        let hanging_url = hanging_endpoint().await;
        let good = routed_endpoint(vec![
            ("getSlot", r#"{"jsonrpc":"2.0","id":1,"result":77}"#.into()),
            (
                "getHealth",
                r#"{"jsonrpc":"2.0","id":1,"result":"ok"}"#.into(),
            ),
        ])
        .await;
        let chain = FailoverChain::new(&[hanging_url, good.url()], CommitmentConfig::confirmed());
        let started = std::time::Instant::now();
        assert_eq!(chain.slot().await.unwrap(), 77);
        assert!(started.elapsed() < PROBE_TIMEOUT + Duration::from_secs(2));
        let health = chain.health().await;
        assert!(health[0].error.as_deref().unwrap().contains("no answer"));
        assert!(health[1].is_current());
    }

    #[tokio::test]
    async fn a_send_goes_to_every_endpoint_and_one_taking_it_is_enough() {
        // First in the list: an endpoint that accepts and never answers
        // (tried in order, it would hold the send for the 30 s timeout).
        let hanging_url = hanging_endpoint().await;
        let took = r#"{"jsonrpc":"2.0","id":1,"result":"sig"}"#;
        let (good, good_saw) = recording_endpoint("200 OK", took).await;
        let chain = FailoverChain::new(&[hanging_url, good.url()], CommitmentConfig::confirmed());
        let sent = tokio::time::timeout(
            Duration::from_secs(5),
            chain.send(&VersionedTransaction::default()),
        )
        .await
        .expect("not held by the endpoint that never answers");
        sent.unwrap();
        assert!(good_saw.lock().unwrap().contains("sendTransaction"));
        // None taking it: the outage is reported.
        let (down, _) = recording_endpoint("503 Service Unavailable", "").await;
        let chain = FailoverChain::new(&[down.url()], CommitmentConfig::confirmed());
        let err = chain
            .send(&VersionedTransaction::default())
            .await
            .unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[tokio::test]
    async fn only_a_json_rpc_refusal_is_final() {
        let refused = endpoint(
            "200 OK",
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params"}}"#,
        )
        .await;
        let e = refused.slot().await.unwrap_err();
        assert!(!e.is_transient(), "{e}");
        assert!(
            e.to_string().contains("Invalid params (code -32602)"),
            "{e}"
        );
        for (status, body) in [
            ("403 Forbidden", "<html>expired API key</html>"),
            ("404 Not Found", ""),
            ("200 OK", "<html>a proxy's error page</html>"),
            (
                "429 Too Many Requests",
                r#"{"jsonrpc":"2.0","id":1,"result":5}"#,
            ),
            (
                "200 OK",
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"Node is behind"}}"#,
            ),
        ] {
            let e = endpoint(status, body).await.slot().await.unwrap_err();
            assert!(e.is_transient(), "{status} {body}: {e}");
        }
        let dead = RpcChain::new("http://127.0.0.1:9", CommitmentConfig::confirmed());
        assert!(dead.slot().await.unwrap_err().is_transient());
        let ok = endpoint("200 OK", r#"{"jsonrpc":"2.0","id":1,"result":42}"#).await;
        assert_eq!(ok.slot().await.unwrap(), 42);
    }

    #[tokio::test]
    async fn inner_instructions_count_a_v0_transaction_s_loaded_addresses() {
        // Keys: 0 payer, 1 program A (static), 2 program B (loaded, readonly).
        let tx = endpoint(
            "200 OK",
            r#"{"jsonrpc":"2.0","id":1,"result":{"slot":9,"transaction":{"signatures":[],"message":{"accountKeys":["11111111111111111111111111111111","SysvarC1ock11111111111111111111111111111111"]}},"meta":{"err":null,"innerInstructions":[{"index":0,"instructions":[{"programIdIndex":2,"accounts":[],"data":"3yZe7d","stackHeight":2},{"programIdIndex":1,"accounts":[],"data":"2","stackHeight":2}]}],"loadedAddresses":{"writable":[],"readonly":["SysvarRent111111111111111111111111111111111"]}}}}"#,
        )
        .await;
        let rent: Pubkey = "SysvarRent111111111111111111111111111111111"
            .parse()
            .unwrap();
        let data = tx
            .inner_instructions(&Signature::default(), &rent)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(data, vec![bs58::decode("3yZe7d").into_vec().unwrap()]);
        let unknown = endpoint("200 OK", r#"{"jsonrpc":"2.0","id":1,"result":null}"#).await;
        assert_eq!(
            unknown
                .inner_instructions(&Signature::default(), &rent)
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_failed_transaction_s_error_is_decoded_from_either_server_generation() {
        let old_server = endpoint(
            "200 OK",
            r#"{"jsonrpc":"2.0","id":1,"result":{"context":{"slot":5},"value":[{"slot":4,"confirmations":null,"err":{"InstructionError":[1,{"BorshIoError":"Unknown"}]},"confirmationStatus":"finalized"}]}}"#,
        )
        .await;
        assert_eq!(
            old_server.status(&Signature::default()).await.unwrap(),
            TxStatus::Failed(TransactionError::InstructionError(
                1,
                InstructionError::BorshIoError
            ))
        );
        let custom = endpoint(
            "200 OK",
            r#"{"jsonrpc":"2.0","id":1,"result":{"context":{"slot":5},"value":[{"slot":4,"confirmations":0,"err":{"InstructionError":[0,{"Custom":6012}]},"confirmationStatus":"confirmed"}]}}"#,
        )
        .await;
        assert_eq!(
            custom.status(&Signature::default()).await.unwrap(),
            TxStatus::Failed(TransactionError::InstructionError(
                0,
                InstructionError::Custom(6012)
            ))
        );
        let processed_only = endpoint(
            "200 OK",
            r#"{"jsonrpc":"2.0","id":1,"result":{"context":{"slot":5},"value":[{"slot":4,"confirmations":0,"err":null,"confirmationStatus":"processed"}]}}"#,
        )
        .await;
        assert_eq!(
            processed_only.status(&Signature::default()).await.unwrap(),
            TxStatus::Unknown,
            "processed is not yet confirmed"
        );
    }

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
