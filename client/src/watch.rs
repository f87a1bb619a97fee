//! Account subscriptions where the endpoint offers them: a change to the
//! watched account wakes the caller at once; polling stays the fallback.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_sdk::pubkey::Pubkey;
use tokio::sync::Notify;

/// Subscribes to `key` on `ws_url` and calls `wake.notify_one()` on every
/// change, reconnecting after failures. Returns the task; drop or abort it
/// to stop.
pub fn watch_account(
    ws_url: String,
    key: Pubkey,
    wake: Arc<Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut said = false;
        loop {
            match PubsubClient::new(ws_url.as_str()).await {
                Ok(client) => match client.account_subscribe(&key, None).await {
                    Ok((mut updates, _unsubscribe)) => {
                        tracing::info!("subscribed to {key} on {ws_url}");
                        said = false;
                        while updates.next().await.is_some() {
                            wake.notify_one();
                        }
                    }
                    Err(e) => tracing::debug!("accountSubscribe on {ws_url} failed: {e}"),
                },
                Err(e) => {
                    if !said {
                        tracing::info!(
                            "no account subscriptions at {ws_url} ({e}); polling instead"
                        );
                        said = true;
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
}
