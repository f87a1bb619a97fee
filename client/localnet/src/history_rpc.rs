//! The JSON-RPC methods answered from the local chain's history, in a
//! validator's wire format: `getTransaction`, `getSignaturesForAddress`,
//! `getTransactionCount`, `getProgramAccounts` (with `dataSize` and
//! `memcmp` filters), `getTokenAccountBalance`, `getTokenSupply`,
//! `getTokenAccountsByOwner`.

use anchor_spl::token::spl_token;
use base64::Engine;
use serde_json::{json, Value};
use solana_account_decoder::parse_account_data::{
    AccountAdditionalDataV3, SplTokenAdditionalDataV2,
};
use solana_account_decoder::{encode_ui_account, UiAccountEncoding};
use solana_sdk::account::Account;
use solana_sdk::message::VersionedMessage;
use solana_sdk::program_pack::Pack;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signature;

use crate::history::TxRecord;
use crate::{config, encoding, failure, internal, param, pubkey, with_context, Localnet};
use crate::{RpcFailure, INVALID_PARAMS, UNSUPPORTED_TRANSACTION_VERSION};
use ake_sdk::chain::Chain;

pub(crate) fn signature(params: &[Value], i: usize) -> Result<Signature, RpcFailure> {
    param(params, i, "signature")?
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| failure(INVALID_PARAMS, "Invalid params: invalid signature"))
}

fn status_json(record: &TxRecord) -> (Value, Value) {
    let err = json!(record.err);
    let status = match &record.err {
        None => json!({"Ok": null}),
        Some(e) => json!({ "Err": e }),
    };
    (err, status)
}

/// `getTransaction`: the transaction (json, base64 or base58) with its
/// status meta: fee, balances, log messages, inner instructions.
pub async fn get_transaction(net: &Localnet, params: &[Value]) -> Result<Value, RpcFailure> {
    let sig = signature(params, 0)?;
    let cfg = config(params, 1);
    // The second parameter may also be the encoding itself (older clients).
    let enc = cfg
        .as_str()
        .or_else(|| cfg.get("encoding").and_then(Value::as_str))
        .unwrap_or("json");
    let max_version = cfg
        .get("maxSupportedTransactionVersion")
        .and_then(Value::as_u64);
    let Some(record) = net.chain.history().transaction(&sig) else {
        return Ok(Value::Null);
    };
    let tx = &record.transaction;
    let v0 = matches!(tx.message, VersionedMessage::V0(_));
    // As a validator: a v0 transaction only for a client that says it reads them.
    if v0 && max_version.is_none() {
        return Err(failure(
            UNSUPPORTED_TRANSACTION_VERSION,
            "Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: \"maxSupportedTransactionVersion\": 0",
        ));
    }
    let transaction = match enc {
        "json" => {
            let message = &tx.message;
            let header = message.header();
            let mut body = json!({
                "header": {
                    "numRequiredSignatures": header.num_required_signatures,
                    "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
                    "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
                },
                "accountKeys": message.static_account_keys().iter().map(|k| k.to_string()).collect::<Vec<_>>(),
                "recentBlockhash": message.recent_blockhash().to_string(),
                "instructions": message.instructions().iter().map(|ix| json!({
                    "programIdIndex": ix.program_id_index,
                    "accounts": ix.accounts,
                    "data": bs58::encode(&ix.data).into_string(),
                    "stackHeight": 1,
                })).collect::<Vec<_>>(),
            });
            if let Some(lookups) = message.address_table_lookups() {
                body["addressTableLookups"] = json!(lookups
                    .iter()
                    .map(|l| json!({
                        "accountKey": l.account_key.to_string(),
                        "writableIndexes": l.writable_indexes,
                        "readonlyIndexes": l.readonly_indexes,
                    }))
                    .collect::<Vec<_>>());
            }
            json!({
                "signatures": tx.signatures.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "message": body,
            })
        }
        "base64" | "base58" => {
            let bytes = bincode::serialize(tx).map_err(internal)?;
            let text = if enc == "base64" {
                base64::engine::general_purpose::STANDARD.encode(bytes)
            } else {
                bs58::encode(bytes).into_string()
            };
            json!([text, enc])
        }
        other => {
            return Err(failure(
                INVALID_PARAMS,
                format!("Invalid params: unsupported encoding {other} (json, base64, base58)"),
            ))
        }
    };
    let inner: Vec<Value> = record
        .inner_instructions
        .iter()
        .enumerate()
        .filter(|(_, list)| !list.is_empty())
        .map(|(index, list)| {
            json!({
                "index": index,
                "instructions": list.iter().map(|inner| json!({
                    "programIdIndex": inner.instruction.program_id_index,
                    "accounts": inner.instruction.accounts,
                    "data": bs58::encode(&inner.instruction.data).into_string(),
                    "stackHeight": inner.stack_height,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let (err, status) = status_json(&record);
    let keys = |list: &[Pubkey]| list.iter().map(Pubkey::to_string).collect::<Vec<_>>();
    let mut answer = json!({
        "slot": record.slot,
        "blockTime": record.block_time,
        "transaction": transaction,
        "meta": {
            "err": err,
            "status": status,
            "fee": record.fee,
            "preBalances": record.pre_balances,
            "postBalances": record.post_balances,
            "innerInstructions": inner,
            "logMessages": record.logs,
            "rewards": [],
            "loadedAddresses": {
                "writable": keys(&record.loaded.writable),
                "readonly": keys(&record.loaded.readonly),
            },
            "computeUnitsConsumed": record.units_consumed,
        },
    });
    if max_version.is_some() {
        answer["version"] = if v0 { json!(0) } else { json!("legacy") };
    }
    Ok(answer)
}

/// `getSignaturesForAddress`: newest first, `limit` (at most 1,000) and `before`.
pub fn get_signatures_for_address(net: &Localnet, params: &[Value]) -> Result<Value, RpcFailure> {
    let address = pubkey(params, 0)?;
    let cfg = config(params, 1);
    let limit = cfg.get("limit").and_then(Value::as_u64).unwrap_or(1_000);
    if !(1..=1_000).contains(&limit) {
        return Err(failure(INVALID_PARAMS, "Invalid limit; max 1000"));
    }
    let bound = |name: &str| -> Result<Option<Signature>, RpcFailure> {
        match cfg.get(name).and_then(Value::as_str) {
            Some(s) => s.parse().map(Some).map_err(|_| {
                failure(
                    INVALID_PARAMS,
                    format!("Invalid params: invalid {name} signature"),
                )
            }),
            None => Ok(None),
        }
    };
    let (before, until) = (bound("before")?, bound("until")?);
    let list = net
        .chain
        .history()
        .signatures_for(&address, before, until, limit as usize)
        .ok_or_else(|| {
            failure(
                INVALID_PARAMS,
                "Invalid params: before/until is not a transaction this chain processed",
            )
        })?;
    Ok(json!(list
        .iter()
        .map(|r| json!({
            "signature": r.signature.to_string(),
            "slot": r.slot,
            "err": r.err,
            "memo": null,
            "blockTime": r.block_time,
            "confirmationStatus": "finalized",
        }))
        .collect::<Vec<_>>()))
}

/// Whether `account` passes getProgramAccounts' filters.
fn passes(account: &Account, filters: &[Value]) -> Result<bool, RpcFailure> {
    for filter in filters {
        if let Some(size) = filter.get("dataSize") {
            let size = size.as_u64().ok_or_else(|| {
                failure(INVALID_PARAMS, "Invalid params: dataSize must be a number")
            })?;
            if account.data.len() as u64 != size {
                return Ok(false);
            }
        } else if let Some(memcmp) = filter.get("memcmp") {
            let offset = memcmp.get("offset").and_then(Value::as_u64).unwrap_or(0);
            let offset = usize::try_from(offset).unwrap_or(usize::MAX);
            let text = memcmp
                .get("bytes")
                .and_then(Value::as_str)
                .ok_or_else(|| failure(INVALID_PARAMS, "Invalid params: memcmp needs bytes"))?;
            let bytes = match memcmp
                .get("encoding")
                .and_then(Value::as_str)
                .unwrap_or("base58")
            {
                "base58" => bs58::decode(text).into_vec().ok(),
                "base64" => base64::engine::general_purpose::STANDARD.decode(text).ok(),
                _ => None,
            }
            .ok_or_else(|| failure(INVALID_PARAMS, "Invalid params: memcmp bytes do not decode"))?;
            let end = offset.saturating_add(bytes.len());
            if account.data.get(offset..end) != Some(&bytes[..]) {
                return Ok(false);
            }
        } else {
            return Err(failure(
                INVALID_PARAMS,
                "Invalid params: filters are dataSize or memcmp",
            ));
        }
    }
    Ok(true)
}

/// Every known account owned by `owner` that passes `filters`.
async fn owned_by(
    net: &Localnet,
    owner: &Pubkey,
    filters: &[Value],
) -> Result<Vec<(Pubkey, Account)>, RpcFailure> {
    let keys = net.chain.history().addresses();
    let mut out = Vec::new();
    for chunk in keys.chunks(100) {
        let accounts = net.chain.accounts(chunk).await.map_err(internal)?;
        for (key, account) in chunk.iter().zip(accounts) {
            if let Some(account) = account.filter(|a| a.owner == *owner) {
                if passes(&account, filters)? {
                    out.push((*key, account));
                }
            }
        }
    }
    Ok(out)
}

/// `{pubkey, account}` entries in the requested encoding.
fn keyed(list: Vec<(Pubkey, Account)>, cfg: &Value) -> Result<Vec<Value>, RpcFailure> {
    let enc = encoding(cfg)?;
    Ok(list
        .iter()
        .map(|(k, a)| json!({"pubkey": k.to_string(), "account": encode_ui_account(k, a, enc, None, None)}))
        .collect())
}

/// Token accounts, `jsonParsed` (what the standard client asks for them,
/// each with its mint's decimals) or in a binary encoding.
async fn token_entries(
    net: &Localnet,
    list: Vec<(Pubkey, Account)>,
    cfg: &Value,
) -> Result<Vec<Value>, RpcFailure> {
    if cfg.get("encoding").and_then(Value::as_str) != Some("jsonParsed") {
        return keyed(list, cfg);
    }
    let mut out = Vec::with_capacity(list.len());
    for (key, account) in &list {
        let token = spl_token::state::Account::unpack(&account.data).map_err(internal)?;
        let decimals = mint(net, &token.mint).await?.decimals;
        let extra = AccountAdditionalDataV3 {
            spl_token_additional_data: Some(SplTokenAdditionalDataV2::with_decimals(decimals)),
        };
        let ui = encode_ui_account(
            key,
            account,
            UiAccountEncoding::JsonParsed,
            Some(extra),
            None,
        );
        out.push(json!({"pubkey": key.to_string(), "account": ui}));
    }
    Ok(out)
}

/// `getProgramAccounts` with `dataSize`/`memcmp` filters and `withContext`.
pub async fn get_program_accounts(net: &Localnet, params: &[Value]) -> Result<Value, RpcFailure> {
    let program = pubkey(params, 0)?;
    let cfg = config(params, 1);
    let filters = cfg
        .get("filters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let list = keyed(owned_by(net, &program, &filters).await?, &cfg)?;
    if cfg.get("withContext").and_then(Value::as_bool) == Some(true) {
        with_context(net, json!(list)).await
    } else {
        Ok(json!(list))
    }
}

fn token_amount(amount: u64, decimals: u8) -> Value {
    let ui = amount as f64 / 10f64.powi(i32::from(decimals));
    // The decimal string from the digits: any number of decimals, no overflow.
    let digits = format!("{amount:0>width$}", width = usize::from(decimals) + 1);
    let (whole, fraction) = digits.split_at(digits.len() - usize::from(decimals));
    let fraction = fraction.trim_end_matches('0');
    let text = if fraction.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{fraction}")
    };
    json!({"amount": amount.to_string(), "decimals": decimals, "uiAmount": ui, "uiAmountString": text})
}

async fn mint(net: &Localnet, key: &Pubkey) -> Result<spl_token::state::Mint, RpcFailure> {
    let account = net
        .chain
        .account(key)
        .await
        .map_err(internal)?
        .filter(|a| a.owner == spl_token::ID)
        .ok_or_else(|| {
            failure(
                INVALID_PARAMS,
                format!("Invalid param: {key} is not a mint"),
            )
        })?;
    spl_token::state::Mint::unpack(&account.data).map_err(|_| {
        failure(
            INVALID_PARAMS,
            format!("Invalid param: {key} is not a mint"),
        )
    })
}

/// `getTokenAccountBalance`.
pub async fn get_token_account_balance(
    net: &Localnet,
    params: &[Value],
) -> Result<Value, RpcFailure> {
    let key = pubkey(params, 0)?;
    let account = net
        .chain
        .account(&key)
        .await
        .map_err(internal)?
        .filter(|a| a.owner == spl_token::ID)
        .and_then(|a| spl_token::state::Account::unpack(&a.data).ok())
        .ok_or_else(|| failure(INVALID_PARAMS, "Invalid param: not a Token account"))?;
    let decimals = mint(net, &account.mint).await?.decimals;
    with_context(net, token_amount(account.amount, decimals)).await
}

/// `getTokenSupply`.
pub async fn get_token_supply(net: &Localnet, params: &[Value]) -> Result<Value, RpcFailure> {
    let m = mint(net, &pubkey(params, 0)?).await?;
    with_context(net, token_amount(m.supply, m.decimals)).await
}

/// `getTokenAccountsByOwner` with a `mint` or `programId` filter.
pub async fn get_token_accounts_by_owner(
    net: &Localnet,
    params: &[Value],
) -> Result<Value, RpcFailure> {
    let owner = pubkey(params, 0)?;
    let filter = param(params, 1, "mint or programId filter")?;
    let mut filters = vec![json!({"memcmp": {"offset": 32, "bytes": owner.to_string()}})];
    if let Some(mint) = filter.get("mint").and_then(Value::as_str) {
        filters.push(json!({"memcmp": {"offset": 0, "bytes": mint}}));
    } else if filter.get("programId").and_then(Value::as_str) != Some(&spl_token::ID.to_string()) {
        return Err(failure(
            INVALID_PARAMS,
            "Invalid params: give {\"mint\": ...} or {\"programId\": <SPL Token>}",
        ));
    }
    filters.push(json!({"dataSize": spl_token::state::Account::LEN}));
    let found = owned_by(net, &spl_token::ID, &filters).await?;
    let list = token_entries(net, found, &config(params, 2)).await?;
    with_context(net, json!(list)).await
}
