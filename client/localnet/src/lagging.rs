//! A lagging endpoint, for testing clients that must not trust one: the
//! same chain served as an RPC node `lag` slots behind it would serve it.
//! Reads see the chain as it was `lag` slots ago: the slot and block
//! height, accounts and balances, signature statuses, transactions and
//! address histories, each answer's context slot; `getHealth` admits the
//! lag as Solana does (-32005 "Node is behind by N slots"). Sends are
//! relayed at once, as a lagging node relays them to the leader. Not
//! rewound (a stand-in, stated): blockhashes, simulation and preflight,
//! program and token account scans, and accounts written outside a
//! transaction (the price feed). A history page is cut after its limit, so
//! it may come back short.

use serde_json::{json, Value};
use solana_account_decoder::encode_ui_account;
use solana_sdk::account::Account;
use solana_sdk::pubkey::Pubkey;

use ake_sdk::chain::Chain;

use crate::{config, encoding, internal, pubkey, pubkeys, Localnet, RpcFailure};

/// Solana's "node is unhealthy" code.
const NODE_UNHEALTHY: i64 = -32005;

pub(crate) async fn dispatch(
    net: &Localnet,
    lag: u64,
    method: &str,
    params: &[Value],
) -> Result<Value, RpcFailure> {
    let now = net.chain.slot().await.map_err(internal)?;
    let view = now.saturating_sub(lag);
    let past = |key: &Pubkey| net.chain.history().as_of(key, view);
    let mut answer = match method {
        "getHealth" => {
            return Err(RpcFailure {
                code: NODE_UNHEALTHY,
                message: format!("Node is behind by {lag} slots"),
                data: Some(json!({ "numSlotsBehind": lag })),
            })
        }
        "getSlot" => return Ok(json!(view)),
        "getBlockHeight" => {
            let height = net.chain.block_height().await.map_err(internal)?;
            return Ok(json!(height.saturating_sub(now - view)));
        }
        "getAccountInfo" => {
            let key = pubkey(params, 0)?;
            let mut answer = crate::dispatch(net, method, params).await?;
            if let Some(then) = past(&key) {
                answer["value"] = ui_account(&key, then, params)?;
            }
            answer
        }
        "getMultipleAccounts" => {
            let mut answer = crate::dispatch(net, method, params).await?;
            for (i, key) in pubkeys(params)?.iter().enumerate() {
                if let Some(then) = past(key) {
                    answer["value"][i] = ui_account(key, then, params)?;
                }
            }
            answer
        }
        "getBalance" => {
            let mut answer = crate::dispatch(net, method, params).await?;
            if let Some(then) = past(&pubkey(params, 0)?) {
                answer["value"] = json!(then.map_or(0, |a| a.lamports));
            }
            answer
        }
        _ => crate::dispatch(net, method, params).await?,
    };
    let later = |entry: &Value| entry["slot"].as_u64().is_some_and(|slot| slot > view);
    match method {
        "getSignatureStatuses" => {
            for status in answer["value"].as_array_mut().into_iter().flatten() {
                if later(status) {
                    *status = Value::Null;
                }
            }
        }
        "getTransaction" if later(&answer) => answer = Value::Null,
        "getSignaturesForAddress" => {
            if let Some(list) = answer.as_array_mut() {
                list.retain(|entry| !later(entry));
            }
        }
        _ => {}
    }
    if let Some(slot) = answer.pointer_mut("/context/slot") {
        *slot = json!(view);
    }
    Ok(answer)
}

fn ui_account(
    key: &Pubkey,
    account: Option<Account>,
    params: &[Value],
) -> Result<Value, RpcFailure> {
    let enc = encoding(&config(params, 1))?;
    Ok(json!(
        account.map(|a| encode_ui_account(key, &a, enc, None, None))
    ))
}
