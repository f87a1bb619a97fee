//! ake-localnet: a local Solana chain for AKE, for `ake localnet`,
//! `ake demo` and tests. `embedded` is the in-process bank; this module
//! serves it as a test validator.
//!
//! `ake localnet`: the embedded chain with AKE bootstrapped from
//! `migrations/localnet.toml`, a wall-clock clock, a local AKE/USD price, and
//! the Solana JSON-RPC methods the SDK, `ake`, `ake-node` and the `solana`
//! CLI use, in a real validator's wire format.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use solana_account_decoder::{encode_ui_account, UiAccountEncoding};
use solana_rpc_client_types::response::{
    RpcBlockhash, RpcResponseContext, RpcSimulateTransactionResult,
};
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signature, Signer};
use solana_sdk::transaction::{TransactionError, VersionedTransaction};
use solana_transaction_status_client_types::{TransactionConfirmationStatus, TransactionStatus};
use tokio::sync::Mutex;

use ake_sdk::bootstrap::{bootstrap, BootstrapError, Deployment};
use ake_sdk::chain::{Chain, ChainError};
use ake_sdk::cluster_params::Bootstrap;
use ake_sdk::oracle::{price_feed_address, price_update_account};
use ake_sdk::sender::Fees;

use crate::embedded::EmbeddedChain;

pub mod embedded;
pub mod faults;
pub mod history;
mod history_rpc;
mod lagging;

/// A running local network.
pub struct Localnet {
    pub chain: Arc<EmbeddedChain>,
    pub admin: Keypair,
    pub deployment: Deployment,
    pub feed_id: [u8; 32],
    /// Owner of the price account (the configured Pyth receiver).
    receiver: Pubkey,
    price: Mutex<(i64, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum LocalnetError {
    #[error("localnet parameters: the cluster must be 'localnet' with a local price (got '{0}')")]
    NotLocal(String),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("cannot serve JSON-RPC on {addr}: {source} (is another localnet running? pick another --port)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Localnet {
    /// Starts the bank, bootstraps AKE (as `admin`) and publishes the local price.
    pub async fn start(params: &Bootstrap, admin: Keypair) -> Result<Arc<Self>, LocalnetError> {
        let price = params
            .local_price
            .ok_or_else(|| LocalnetError::NotLocal(params.cluster.clone()))?;
        let chain = Arc::new(EmbeddedChain::start().await?);
        chain.tick().await?;
        chain
            .airdrop(&admin.pubkey(), 1_000 * 1_000_000_000)
            .await?;
        let feed_id = params.market_params.oracle.feed_id;
        let receiver = params.market_params.oracle.receiver_program;
        publish(&chain, feed_id, receiver, price).await?;
        let quiet = |_: &str| {};
        let deployment = bootstrap(chain.as_ref(), &admin, params, Fees::default(), &quiet).await?;
        // The markets' lookup tables serve from the slot after they were filled.
        chain.tick().await?;
        Ok(Arc::new(Localnet {
            chain,
            admin,
            deployment,
            feed_id,
            receiver,
            price: Mutex::new(price),
        }))
    }

    /// Republishes the current AKE/USD price, stamped now.
    async fn publish_price(&self) -> Result<(), ChainError> {
        let price = *self.price.lock().await;
        publish(&self.chain, self.feed_id, self.receiver, price).await
    }

    /// Sets AKE/USD (mantissa at expo -8 and confidence).
    pub async fn set_price(&self, price: i64, conf: u64) -> Result<(), ChainError> {
        *self.price.lock().await = (price, conf);
        self.publish_price().await
    }

    /// Hands out genesis AKE to `owner`'s associated token account (created if
    /// needed), and 1 SOL for fees to a wallet that has almost none.
    pub async fn faucet(
        &self,
        owner: &Pubkey,
        amount: u64,
    ) -> Result<Signature, ake_sdk::sender::SendError> {
        let mint: Pubkey = self
            .deployment
            .mint
            .parse()
            .expect("bootstrap wrote a valid mint");
        let genesis: Pubkey = self
            .deployment
            .genesis_account
            .parse()
            .expect("bootstrap wrote a valid account");
        let admin = self.admin.pubkey();
        // New local wallets also need SOL for fees.
        if self.chain.balance(owner).await? < 100_000_000 {
            self.chain.airdrop(owner, 1_000_000_000).await?;
        }
        let decimals = ake_sdk::accounts::mint_decimals(self.chain.as_ref(), &mint).await?;
        let ixs = [
            ake_sdk::protocol::create_associated_token(&admin, owner, &mint),
            anchor_spl::token::spl_token::instruction::transfer_checked(
                &anchor_spl::token::spl_token::ID,
                &genesis,
                &mint,
                &ake_sdk::protocol::associated_token(owner, &mint),
                &admin,
                &[],
                amount,
                decimals,
            )
            .expect("valid token instruction"),
        ];
        ake_sdk::sender::send_instructions(
            self.chain.as_ref(),
            &self.admin,
            &[],
            &ixs,
            Fees::default(),
        )
        .await
    }

    /// Starts the chain's clock (a slot about every 400 ms on wall time,
    /// ticked by the bank's owner itself) and republishes the price about
    /// every second.
    pub async fn run_clock(self: &Arc<Self>) -> Result<tokio::task::JoinHandle<()>, ChainError> {
        self.chain.start_clock(Duration::from_millis(400)).await?;
        let me = Arc::clone(self);
        Ok(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(1_200)).await;
                if let Err(e) = me.publish_price().await {
                    tracing::warn!("local price refresh failed: {e}");
                }
            }
        }))
    }

    /// Serves JSON-RPC on `addr` until the task is dropped.
    pub async fn serve(
        self: &Arc<Self>,
        addr: SocketAddr,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), LocalnetError> {
        self.serve_behind(addr, 0).await
    }

    /// Serves JSON-RPC on `addr` as an endpoint `lag` slots behind the
    /// chain would (see [`lagging`]); 0 serves the chain as it is.
    pub async fn serve_behind(
        self: &Arc<Self>,
        addr: SocketAddr,
        lag: u64,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), LocalnetError> {
        if lag > 0 {
            self.chain.history().keep_past(lag);
        }
        let app = Router::new()
            .route("/", post(rpc))
            .with_state((Arc::clone(self), lag));
        spawn_server(addr, app, "JSON-RPC").await
    }
}

/// Writes the AKE/USD account at the push-oracle address, published now.
async fn publish(
    chain: &EmbeddedChain,
    feed_id: [u8; 32],
    receiver: Pubkey,
    (price, conf): (i64, u64),
) -> Result<(), ChainError> {
    let now = chain.clock().await?.unix_timestamp;
    let account = price_update_account(price, conf, now, feed_id, receiver);
    chain
        .set_account(&price_feed_address(&feed_id), account)
        .await
}

async fn spawn_server(
    addr: SocketAddr,
    app: Router,
    what: &'static str,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), LocalnetError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| LocalnetError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| LocalnetError::Bind { addr, source })?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("{what} server stopped: {e}");
        }
    });
    Ok((bound, task))
}

impl Localnet {
    /// Serves account subscriptions (`accountSubscribe`) over websocket on
    /// `addr`; by the Solana convention that is the RPC port + 1.
    pub async fn serve_websocket(
        self: &Arc<Self>,
        addr: SocketAddr,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), LocalnetError> {
        let app = Router::new()
            .route("/", axum::routing::get(websocket))
            .with_state(Arc::clone(self));
        spawn_server(addr, app, "websocket").await
    }
}

async fn websocket(
    ws: axum::extract::ws::WebSocketUpgrade,
    State(net): State<Arc<Localnet>>,
) -> axum::response::Response {
    ws.on_upgrade(move |socket| subscriptions(socket, net))
}

/// One websocket connection: each accountSubscribe polls its account on the
/// bank and pushes a notification whenever it changes.
async fn subscriptions(socket: axum::extract::ws::WebSocket, net: Arc<Localnet>) {
    use axum::extract::ws::Message;
    use futures_util::{SinkExt, StreamExt};
    let (mut sink, mut stream) = socket.split();
    let (out, mut outgoing) = tokio::sync::mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(text) = outgoing.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    let mut watchers: std::collections::HashMap<u64, tokio::task::JoinHandle<()>> =
        Default::default();
    let mut next_id = 1u64;
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let request: Value = match serde_json::from_str(text.as_str()) {
            Ok(v) => v,
            Err(e) => {
                let _ = out.send(
                    reply(
                        Value::Null,
                        Err(failure(PARSE_ERROR, format!("Parse error: {e}"))),
                    )
                    .to_string(),
                );
                continue;
            }
        };
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let params = request
            .get("params")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        // A subscription's first notification must never overtake the
        // reply that names it (clients drop notifications for unknown ids).
        let mut after_reply: Option<tokio::sync::oneshot::Sender<()>> = None;
        let answer = match request.get("method").and_then(Value::as_str) {
            Some("accountSubscribe") => match pubkey(&params, 0) {
                Ok(key) => {
                    let sub = next_id;
                    next_id += 1;
                    let enc = encoding(&config(&params, 1)).unwrap_or(UiAccountEncoding::Base64);
                    watchers.insert(
                        sub,
                        tokio::spawn(watch(Arc::clone(&net), key, enc, sub, out.clone())),
                    );
                    Ok(json!(sub))
                }
                Err(e) => Err(e),
            },
            Some("signatureSubscribe") => match history_rpc::signature(&params, 0) {
                Ok(sig) => {
                    let sub = next_id;
                    next_id += 1;
                    // Listening starts now; notifying waits for the reply.
                    let processed = net.chain.history().subscribe();
                    let (go, replied) = tokio::sync::oneshot::channel();
                    after_reply = Some(go);
                    let task = notify_signature(
                        Arc::clone(&net),
                        sig,
                        processed,
                        replied,
                        sub,
                        out.clone(),
                    );
                    watchers.insert(sub, tokio::spawn(task));
                    Ok(json!(sub))
                }
                Err(e) => Err(e),
            },
            Some("logsSubscribe") => match logs_filter(&params) {
                Ok(mentions) => {
                    let sub = next_id;
                    next_id += 1;
                    let processed = net.chain.history().subscribe();
                    let (go, replied) = tokio::sync::oneshot::channel();
                    after_reply = Some(go);
                    let task = notify_logs(mentions, processed, replied, sub, out.clone());
                    watchers.insert(sub, tokio::spawn(task));
                    Ok(json!(sub))
                }
                Err(e) => Err(e),
            },
            Some("accountUnsubscribe" | "signatureUnsubscribe" | "logsUnsubscribe") => {
                let sub = params.first().and_then(Value::as_u64).unwrap_or(0);
                Ok(json!(watchers.remove(&sub).map(|w| w.abort()).is_some()))
            }
            Some(other) => Err(failure(
                METHOD_NOT_FOUND,
                format!("Method not found: {other}"),
            )),
            None => Err(failure(INVALID_REQUEST, "Invalid request")),
        };
        let _ = out.send(reply(id, answer).to_string());
        if let Some(go) = after_reply {
            let _ = go.send(());
        }
    }
    for (_, w) in watchers {
        w.abort();
    }
    writer.abort();
}

/// `logsSubscribe`'s filter: None for "all", else the one mentioned address.
fn logs_filter(params: &[Value]) -> Result<Option<Pubkey>, RpcFailure> {
    match params.first() {
        Some(Value::String(s)) if s == "all" || s == "allWithVotes" => Ok(None),
        Some(filter) => filter
            .get("mentions")
            .and_then(Value::as_array)
            .filter(|m| m.len() == 1)
            .and_then(|m| m[0].as_str())
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| {
                failure(
                    INVALID_PARAMS,
                    "Invalid params: \"all\" or {\"mentions\": [<one pubkey>]}",
                )
            }),
        None => Err(failure(INVALID_PARAMS, "Invalid params: missing filter")),
    }
}

fn notification(method: &str, sub: u64, slot: u64, value: Value) -> String {
    json!({
        "jsonrpc": "2.0",
        "method": method,
        "params": {"result": {"context": {"slot": slot}, "value": value}, "subscription": sub}
    })
    .to_string()
}

/// `signatureSubscribe`: one notification when the transaction is processed
/// (at once if it already was), then the subscription ends.
async fn notify_signature(
    net: Arc<Localnet>,
    signature: Signature,
    mut processed: tokio::sync::broadcast::Receiver<Arc<history::TxRecord>>,
    replied: tokio::sync::oneshot::Receiver<()>,
    sub: u64,
    out: tokio::sync::mpsc::UnboundedSender<String>,
) {
    if replied.await.is_err() {
        return;
    }
    let history = net.chain.history();
    let mut record = history.transaction(&signature);
    while record.is_none() {
        match processed.recv().await {
            Ok(r) if r.signature == signature => record = Some(r),
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                record = history.transaction(&signature);
            }
            Err(_) => return,
        }
    }
    if let Some(r) = record {
        let _ = out.send(notification(
            "signatureNotification",
            sub,
            r.slot,
            json!({ "err": r.err }),
        ));
    }
}

/// `logsSubscribe`: every transaction processed from the subscription on
/// (mentioning the address).
async fn notify_logs(
    mentions: Option<Pubkey>,
    mut processed: tokio::sync::broadcast::Receiver<Arc<history::TxRecord>>,
    replied: tokio::sync::oneshot::Receiver<()>,
    sub: u64,
    out: tokio::sync::mpsc::UnboundedSender<String>,
) {
    if replied.await.is_err() {
        return;
    }
    loop {
        let r = match processed.recv().await {
            Ok(r) => r,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        if mentions.is_some_and(|m| !r.account_keys().any(|k| *k == m)) {
            continue;
        }
        let value = json!({"signature": r.signature.to_string(), "err": r.err, "logs": r.logs});
        if out
            .send(notification("logsNotification", sub, r.slot, value))
            .is_err()
        {
            return;
        }
    }
}

async fn watch(
    net: Arc<Localnet>,
    key: Pubkey,
    enc: UiAccountEncoding,
    sub: u64,
    out: tokio::sync::mpsc::UnboundedSender<String>,
) {
    let mut last: Option<(u64, Vec<u8>, Pubkey)> = None;
    loop {
        if let Ok(account) = net.chain.account(&key).await {
            let account = account.unwrap_or_default();
            let now = Some((account.lamports, account.data.clone(), account.owner));
            if last.is_some() && now != last {
                let slot = net.chain.slot().await.unwrap_or(0);
                let value = encode_ui_account(&key, &account, enc, None, None);
                let note = json!({
                    "jsonrpc": "2.0",
                    "method": "accountNotification",
                    "params": {"result": {"context": {"slot": slot}, "value": value}, "subscription": sub}
                });
                if out.send(note.to_string()).is_err() {
                    return;
                }
            }
            last = now;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;
const PREFLIGHT_FAILURE: i64 = -32002;
/// A v0 transaction asked for without `maxSupportedTransactionVersion`.
const UNSUPPORTED_TRANSACTION_VERSION: i64 = -32015;

struct RpcFailure {
    code: i64,
    message: String,
    data: Option<Value>,
}

fn failure(code: i64, message: impl Into<String>) -> RpcFailure {
    RpcFailure {
        code,
        message: message.into(),
        data: None,
    }
}

fn reply(id: Value, result: Result<Value, RpcFailure>) -> Value {
    match result {
        Ok(result) => json!({"jsonrpc": "2.0", "result": result, "id": id}),
        Err(f) => {
            let mut error = json!({"code": f.code, "message": f.message});
            if let Some(data) = f.data {
                error["data"] = data;
            }
            json!({"jsonrpc": "2.0", "error": error, "id": id})
        }
    }
}

async fn rpc(State((net, lag)): State<(Arc<Localnet>, u64)>, body: Bytes) -> axum::Json<Value> {
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return axum::Json(reply(
                Value::Null,
                Err(failure(PARSE_ERROR, format!("Parse error: {e}"))),
            ))
        }
    };
    match parsed {
        Value::Array(batch) if !batch.is_empty() => {
            let mut out = Vec::with_capacity(batch.len());
            for request in batch {
                out.push(handle(&net, lag, request).await);
            }
            axum::Json(Value::Array(out))
        }
        Value::Array(_) => axum::Json(reply(
            Value::Null,
            Err(failure(INVALID_REQUEST, "Invalid request: empty batch")),
        )),
        request => axum::Json(handle(&net, lag, request).await),
    }
}

async fn handle(net: &Localnet, lag: u64, request: Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let (Some(method), true) = (
        request.get("method").and_then(Value::as_str),
        request.get("jsonrpc") == Some(&json!("2.0")),
    ) else {
        return reply(id, Err(failure(INVALID_REQUEST, "Invalid request")));
    };
    let params = request.get("params").cloned().unwrap_or(json!([]));
    let params = match params {
        Value::Array(p) => p,
        // Solana clients send `"params": null` for methods without any.
        Value::Null => Vec::new(),
        _ => {
            return reply(
                id,
                Err(failure(INVALID_PARAMS, "Invalid params: expected an array")),
            )
        }
    };
    let answer = match lag {
        0 => dispatch(net, method, &params).await,
        lag => lagging::dispatch(net, lag, method, &params).await,
    };
    reply(id, answer)
}

fn param<'a>(params: &'a [Value], i: usize, what: &str) -> Result<&'a Value, RpcFailure> {
    params
        .get(i)
        .ok_or_else(|| failure(INVALID_PARAMS, format!("Invalid params: missing {what}")))
}

fn pubkey(params: &[Value], i: usize) -> Result<Pubkey, RpcFailure> {
    param(params, i, "pubkey")?
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| failure(INVALID_PARAMS, "Invalid params: invalid pubkey"))
}

/// getMultipleAccounts' list: at most 100 addresses.
fn pubkeys(params: &[Value]) -> Result<Vec<Pubkey>, RpcFailure> {
    let keys: Vec<Pubkey> = param(params, 0, "pubkeys")?
        .as_array()
        .ok_or_else(|| failure(INVALID_PARAMS, "Invalid params: pubkeys must be an array"))?
        .iter()
        .map(|v| v.as_str().and_then(|s| s.parse().ok()))
        .collect::<Option<_>>()
        .ok_or_else(|| failure(INVALID_PARAMS, "Invalid params: invalid pubkey"))?;
    if keys.len() > 100 {
        return Err(failure(INVALID_PARAMS, "Too many inputs provided; max 100"));
    }
    Ok(keys)
}

fn config(params: &[Value], i: usize) -> Value {
    params.get(i).cloned().unwrap_or(json!({}))
}

fn encoding(cfg: &Value) -> Result<UiAccountEncoding, RpcFailure> {
    match cfg
        .get("encoding")
        .and_then(Value::as_str)
        .unwrap_or("base64")
    {
        "base64" => Ok(UiAccountEncoding::Base64),
        "base64+zstd" => Ok(UiAccountEncoding::Base64Zstd),
        "base58" => Ok(UiAccountEncoding::Base58),
        other => Err(failure(
            INVALID_PARAMS,
            format!("Invalid params: unsupported encoding {other} (base64, base64+zstd, base58)"),
        )),
    }
}

fn decode_transaction(params: &[Value]) -> Result<VersionedTransaction, RpcFailure> {
    let text = param(params, 0, "transaction")?.as_str().ok_or_else(|| {
        failure(
            INVALID_PARAMS,
            "Invalid params: transaction must be a string",
        )
    })?;
    let bytes = match config(params, 1)
        .get("encoding")
        .and_then(Value::as_str)
        .unwrap_or("base58")
    {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| {
                failure(
                    INVALID_PARAMS,
                    format!("Invalid params: invalid base64: {e}"),
                )
            })?,
        "base58" => bs58::decode(text).into_vec().map_err(|e| {
            failure(
                INVALID_PARAMS,
                format!("Invalid params: invalid base58: {e}"),
            )
        })?,
        other => {
            return Err(failure(
                INVALID_PARAMS,
                format!("Invalid params: unsupported encoding {other}"),
            ))
        }
    };
    bincode::deserialize(&bytes).map_err(|e| {
        failure(
            INVALID_PARAMS,
            format!("Invalid params: cannot decode transaction: {e}"),
        )
    })
}

fn internal(e: impl std::fmt::Display) -> RpcFailure {
    failure(INTERNAL_ERROR, format!("Internal error: {e}"))
}

async fn context(net: &Localnet) -> Result<RpcResponseContext, RpcFailure> {
    Ok(RpcResponseContext {
        slot: net.chain.slot().await.map_err(internal)?,
        api_version: None,
    })
}

async fn with_context(net: &Localnet, value: Value) -> Result<Value, RpcFailure> {
    Ok(json!({"context": context(net).await?, "value": value}))
}

fn simulation_json(err: Option<TransactionError>, logs: Vec<String>, units: u64) -> Value {
    let result = RpcSimulateTransactionResult {
        err: err.map(Into::into),
        logs: Some(logs),
        accounts: None,
        units_consumed: Some(units),
        loaded_accounts_data_size: None,
        return_data: None,
        inner_instructions: None,
        replacement_blockhash: None,
        fee: None,
        pre_balances: None,
        post_balances: None,
        pre_token_balances: None,
        post_token_balances: None,
        loaded_addresses: None,
    };
    serde_json::to_value(result).expect("serializable simulation")
}

async fn dispatch(net: &Localnet, method: &str, params: &[Value]) -> Result<Value, RpcFailure> {
    let chain = net.chain.as_ref();
    match method {
        "getHealth" => Ok(json!("ok")),
        "getVersion" => Ok(json!({"solana-core": "3.1.12", "feature-set": 0})),
        "getSlot" => Ok(json!(chain.slot().await.map_err(internal)?)),
        "getBlockHeight" => Ok(json!(chain.block_height().await.map_err(internal)?)),
        "getEpochInfo" => {
            let clock = chain.clock().await.map_err(internal)?;
            let height = chain.block_height().await.map_err(internal)?;
            let slots_in_epoch = 432_000u64;
            Ok(json!({
                "absoluteSlot": clock.slot,
                "blockHeight": height,
                "epoch": clock.epoch,
                "slotIndex": clock.slot % slots_in_epoch,
                "slotsInEpoch": slots_in_epoch,
                "transactionCount": null
            }))
        }
        "getLatestBlockhash" => {
            let (hash, last_valid) = chain.latest_blockhash().await.map_err(internal)?;
            let value = RpcBlockhash {
                blockhash: hash.to_string(),
                last_valid_block_height: last_valid,
            };
            with_context(net, serde_json::to_value(value).expect("serializable")).await
        }
        "isBlockhashValid" => {
            let hash: solana_sdk::hash::Hash = param(params, 0, "blockhash")?
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| failure(INVALID_PARAMS, "Invalid params: invalid blockhash"))?;
            let probe = solana_sdk::message::Message::new_with_blockhash(
                &[],
                Some(&net.admin.pubkey()),
                &hash,
            );
            let valid = chain
                .fee_for_message(probe)
                .await
                .map_err(internal)?
                .is_some();
            with_context(net, json!(valid)).await
        }
        "getFeeForMessage" => {
            let text = param(params, 0, "message")?
                .as_str()
                .ok_or_else(|| failure(INVALID_PARAMS, "Invalid params: message must be base64"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| {
                    failure(
                        INVALID_PARAMS,
                        format!("Invalid params: invalid base64: {e}"),
                    )
                })?;
            let message: solana_sdk::message::VersionedMessage = bincode::deserialize(&bytes)
                .map_err(|e| {
                    failure(
                        INVALID_PARAMS,
                        format!("Invalid params: cannot decode message: {e}"),
                    )
                })?;
            let fee = chain
                .fee_for_message(embedded::fee_probe(&message))
                .await
                .map_err(internal)?;
            with_context(net, json!(fee)).await
        }
        "getAccountInfo" => {
            let key = pubkey(params, 0)?;
            let enc = encoding(&config(params, 1))?;
            let acc = chain.account(&key).await.map_err(internal)?;
            let value = acc.map(|a| {
                serde_json::to_value(encode_ui_account(&key, &a, enc, None, None))
                    .expect("serializable")
            });
            with_context(net, json!(value)).await
        }
        "getMultipleAccounts" => {
            let keys = pubkeys(params)?;
            let enc = encoding(&config(params, 1))?;
            let accounts = chain.accounts(&keys).await.map_err(internal)?;
            let value: Vec<Value> = keys
                .iter()
                .zip(accounts)
                .map(|(k, a)| json!(a.map(|a| encode_ui_account(k, &a, enc, None, None))))
                .collect();
            with_context(net, json!(value)).await
        }
        // One bank, no fee market: every recent slot paid no priority fee.
        "getRecentPrioritizationFees" => {
            let slot = chain.slot().await.map_err(internal)?;
            Ok(json!([{ "slot": slot, "prioritizationFee": 0 }]))
        }
        "getTransaction" => history_rpc::get_transaction(net, params).await,
        "getSignaturesForAddress" => history_rpc::get_signatures_for_address(net, params),
        "getTransactionCount" => Ok(json!(chain.history().transaction_count())),
        "getProgramAccounts" => history_rpc::get_program_accounts(net, params).await,
        "getTokenAccountBalance" => history_rpc::get_token_account_balance(net, params).await,
        "getTokenSupply" => history_rpc::get_token_supply(net, params).await,
        "getTokenAccountsByOwner" => history_rpc::get_token_accounts_by_owner(net, params).await,
        "getBalance" => {
            let key = pubkey(params, 0)?;
            with_context(net, json!(chain.balance(&key).await.map_err(internal)?)).await
        }
        "getMinimumBalanceForRentExemption" => {
            let len = param(params, 0, "data length")?.as_u64().ok_or_else(|| {
                failure(
                    INVALID_PARAMS,
                    "Invalid params: data length must be a number",
                )
            })?;
            Ok(json!(chain
                .minimum_balance(len as usize)
                .await
                .map_err(internal)?))
        }
        "requestAirdrop" => {
            let key = pubkey(params, 0)?;
            let lamports = param(params, 1, "lamports")?.as_u64().ok_or_else(|| {
                failure(INVALID_PARAMS, "Invalid params: lamports must be a number")
            })?;
            let sig = net.chain.airdrop(&key, lamports).await.map_err(internal)?;
            Ok(json!(sig.to_string()))
        }
        "simulateTransaction" => {
            let tx = decode_transaction(params)?;
            let sim = chain.simulate(&tx).await.map_err(internal)?;
            with_context(net, simulation_json(sim.err, sim.logs, sim.units_consumed)).await
        }
        "sendTransaction" => {
            let tx = decode_transaction(params)?;
            let skip = config(params, 1)
                .get("skipPreflight")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !skip {
                let sim = chain.simulate(&tx).await.map_err(internal)?;
                if let Some(err) = sim.err {
                    let message = format!("Transaction simulation failed: {err}");
                    return Err(RpcFailure {
                        code: PREFLIGHT_FAILURE,
                        message,
                        data: Some(simulation_json(Some(err), sim.logs, sim.units_consumed)),
                    });
                }
            }
            chain.send(&tx).await.map_err(internal)?;
            Ok(json!(tx.signatures.first().map(|s| s.to_string())))
        }
        "getSignatureStatuses" => {
            let sigs: Vec<Signature> = param(params, 0, "signatures")?
                .as_array()
                .ok_or_else(|| {
                    failure(
                        INVALID_PARAMS,
                        "Invalid params: signatures must be an array",
                    )
                })?
                .iter()
                .map(|v| v.as_str().and_then(|s| s.parse().ok()))
                .collect::<Option<_>>()
                .ok_or_else(|| failure(INVALID_PARAMS, "Invalid params: invalid signature"))?;
            let mut value = Vec::with_capacity(sigs.len());
            for sig in sigs {
                let status = net.chain.transaction_status(&sig).await.map_err(internal)?;
                // One node, no forks: what landed is final.
                value.push(status.map(|s| TransactionStatus {
                    slot: s.slot,
                    confirmations: None,
                    status: s.err.clone().map_or(Ok(()), Err),
                    err: s.err,
                    confirmation_status: Some(TransactionConfirmationStatus::Finalized),
                }));
            }
            with_context(net, serde_json::to_value(value).expect("serializable")).await
        }
        "akeSetPrice" => {
            let usd = param(params, 0, "price in USD")?.as_str().ok_or_else(|| {
                failure(
                    INVALID_PARAMS,
                    "Invalid params: the price is a decimal string, e.g. \"0.50\"",
                )
            })?;
            let conf_bps = params.get(1).and_then(Value::as_u64).unwrap_or(10) as u16;
            let (price, conf) = ake_sdk::cluster_params::parse_local_price(usd, conf_bps)
                .map_err(|e| failure(INVALID_PARAMS, format!("Invalid params: {e}")))?;
            net.set_price(price, conf).await.map_err(internal)?;
            Ok(json!({"price": price, "conf": conf, "expo": -8}))
        }
        "akeFaucet" => {
            let owner = pubkey(params, 0)?;
            let amount = param(params, 1, "amount in base units")?
                .as_u64()
                .ok_or_else(|| {
                    failure(
                        INVALID_PARAMS,
                        "Invalid params: amount must be a number of base units",
                    )
                })?;
            let sig = net.faucet(&owner, amount).await.map_err(internal)?;
            Ok(json!(sig.to_string()))
        }
        "akeDeployment" => Ok(serde_json::to_value(&net.deployment).expect("serializable")),
        _ => Err(failure(
            METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        )),
    }
}
