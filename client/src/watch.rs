//! Account subscriptions where the endpoint offers them: a change to the
//! watched account wakes the caller at once; polling stays the fallback.
//! Solana's websocket protocol is spoken directly (one subscribe request,
//! then notifications), as the JSON-RPC in `chain::rpc` is.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use solana_commitment_config::CommitmentConfig;
use solana_sdk::pubkey::Pubkey;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::chain::rpc::commitment_name;

/// A ping this often keeps NATs and providers from dropping an idle
/// subscription (what Solana's pubsub client does).
const PING_EVERY: Duration = Duration::from_secs(10);
/// Nothing heard for this long (not even a pong): the connection is dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(60);
const RECONNECT_AFTER: Duration = Duration::from_secs(5);

/// Subscribes to `key` on `ws_url` at `commitment` and calls
/// `wake.notify_one()` on every change, reconnecting after failures.
/// Returns the task; drop or abort it to stop.
pub fn watch_account(
    ws_url: String,
    key: Pubkey,
    commitment: CommitmentConfig,
    wake: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    // A process that links rustls with both ring and aws-lc (ake-node does,
    // through two reqwest versions) must pick one before a wss:// handshake,
    // or rustls panics. Err means one is already chosen: keep it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::spawn(async move {
        let mut said = false;
        loop {
            match subscribe(&ws_url, &key, commitment, &wake).await {
                Ok(()) => said = false,
                Err(e) if !said => {
                    tracing::info!("no account subscriptions at {ws_url} ({e}); polling instead");
                    said = true;
                }
                Err(e) => tracing::debug!("accountSubscribe on {ws_url} failed: {e}"),
            }
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
    })
}

/// One connection: subscribe, then wake on every notification until it
/// ends. Ok once a subscription was live (its end is logged at debug).
async fn subscribe(
    ws_url: &str,
    key: &Pubkey,
    commitment: CommitmentConfig,
    wake: &Notify,
) -> Result<(), String> {
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .map_err(|e| e.to_string())?;
    let request = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "accountSubscribe",
        "params": [key.to_string(), { "encoding": "base64", "commitment": commitment_name(commitment.commitment) }],
    });
    socket
        .send(Message::text(request.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    let mut subscribed = false;
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut last_heard = Instant::now();
    let end = loop {
        tokio::select! {
            _ = ping.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    break format!("nothing heard for {} s", SILENCE_LIMIT.as_secs());
                }
                if let Err(e) = socket.send(Message::Ping(Default::default())).await {
                    break e.to_string();
                }
            }
            message = socket.next() => {
                last_heard = Instant::now();
                let text = match message {
                    None | Some(Ok(Message::Close(_))) => break "closed by the server".into(),
                    Some(Err(e)) => break e.to_string(),
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                };
                match handle(&text, wake) {
                    Ok(true) if !subscribed => {
                        subscribed = true;
                        tracing::info!("subscribed to {key} on {ws_url}");
                    }
                    Ok(_) => {}
                    Err(e) => break e,
                }
            }
        }
    };
    if subscribed {
        tracing::debug!("subscription to {key} on {ws_url} ended ({end}); reconnecting");
        Ok(())
    } else {
        Err(end)
    }
}

/// One server message: wakes on a notification; Ok(true) for the answer to
/// the subscribe request.
fn handle(text: &str, wake: &Notify) -> Result<bool, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if let Some(error) = value.get("error") {
        return Err(format!("the server refused the subscription: {error}"));
    }
    if value.get("method").and_then(|m| m.as_str()) == Some("accountNotification") {
        wake.notify_one();
    }
    Ok(value.get("result").is_some())
}
