//! The local chain's JSON-RPC speaks a validator's wire format: the standard
//! Solana client reads it, errors are JSON-RPC errors, nothing crashes it.

mod support;

use std::sync::Arc;

use ake_sdk::chain::rpc::RpcChain;
use ake_sdk::chain::Chain;
use serde_json::{json, Value};
use solana_commitment_config::CommitmentConfig;
use solana_sdk::signature::{Keypair, Signer};

async fn post(addr: &str, body: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    serde_json::from_str(resp.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn wire_format_and_errors() {
    let net = support::start().await;
    let (addr, _server) = net.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = addr.to_string();

    // AKE's own JSON-RPC backend, then the standard Solana nonblocking
    // client, as devnet users use it.
    let rpc = RpcChain::new(&format!("http://{addr}"), CommitmentConfig::confirmed());
    let who = Keypair::new();
    let sig = rpc
        .request_airdrop(&who.pubkey(), 5_000_000_000)
        .await
        .unwrap();
    assert_eq!(rpc.balance(&who.pubkey()).await.unwrap(), 5_000_000_000);
    assert_eq!(
        rpc.status(&sig).await.unwrap(),
        ake_sdk::chain::TxStatus::Landed
    );
    let client = solana_client::nonblocking::rpc_client::RpcClient::new_with_commitment(
        format!("http://{addr}"),
        CommitmentConfig::confirmed(),
    );
    assert!(client.get_health().await.is_ok());
    assert!(client
        .get_version()
        .await
        .unwrap()
        .solana_core
        .starts_with('3'));
    let (hash, last_valid) = rpc.latest_blockhash().await.unwrap();
    assert!(last_valid >= rpc.block_height().await.unwrap());
    assert!(client
        .is_blockhash_valid(&hash, CommitmentConfig::confirmed())
        .await
        .unwrap());
    assert!(
        client
            .get_minimum_balance_for_rent_exemption(165)
            .await
            .unwrap()
            > 0
    );
    assert!(client.get_epoch_info().await.unwrap().absolute_slot > 0);
    let mint: solana_sdk::pubkey::Pubkey = net.deployment.mint.parse().unwrap();
    let acc = client.get_account(&mint).await.unwrap();
    assert_eq!(acc.owner, anchor_spl::token::spl_token::ID);
    let msg = solana_sdk::message::Message::new_with_blockhash(
        &[anchor_lang::solana_program::system_instruction::transfer(
            &who.pubkey(),
            &mint,
            1,
        )],
        Some(&who.pubkey()),
        &hash,
    );
    assert_eq!(client.get_fee_for_message(&msg).await.unwrap(), 5_000);
    let missing = client
        .get_multiple_accounts(&[mint, Keypair::new().pubkey()])
        .await
        .unwrap();
    assert!(missing[0].is_some() && missing[1].is_none());

    // A failing transaction: preflight error -32002 with the simulation in data.
    let tx = solana_sdk::transaction::Transaction::new_signed_with_payer(
        &[anchor_lang::solana_program::system_instruction::transfer(
            &who.pubkey(),
            &mint,
            50_000_000_000,
        )],
        Some(&who.pubkey()),
        &[&who],
        hash,
    );
    let err = client.send_transaction(&tx).await.unwrap_err();
    assert!(err.to_string().contains("simulation failed"), "{err}");

    // The same through AKE's backend: simulation and status carry the
    // transaction error, decoded; a malformed request is a refusal.
    use solana_sdk::instruction::InstructionError;
    use solana_sdk::transaction::TransactionError;
    let expected = TransactionError::InstructionError(0, InstructionError::Custom(1));
    let versioned = tx.clone().into();
    let sim = rpc.simulate(&versioned).await.unwrap();
    assert_eq!(sim.err, Some(expected.clone()));
    assert!(sim.units_consumed > 0 && !sim.logs.is_empty(), "{sim:?}");
    rpc.send(&versioned).await.unwrap();
    let mut status = ake_sdk::chain::TxStatus::Unknown;
    for _ in 0..50 {
        status = rpc.status(&tx.signatures[0]).await.unwrap();
        if status != ake_sdk::chain::TxStatus::Unknown {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, ake_sdk::chain::TxStatus::Failed(expected));
    let refused = rpc
        .request_airdrop(&who.pubkey(), u64::MAX)
        .await
        .unwrap_err();
    assert!(!refused.is_transient(), "{refused}");
    let accounts = rpc
        .accounts(&[mint, Keypair::new().pubkey()])
        .await
        .unwrap();
    assert_eq!(
        accounts[0].as_ref().unwrap().owner,
        anchor_spl::token::spl_token::ID
    );
    assert!(accounts[1].is_none());
    assert_eq!(
        rpc.minimum_balance(165).await.unwrap(),
        client
            .get_minimum_balance_for_rent_exemption(165)
            .await
            .unwrap()
    );

    // JSON-RPC errors, batches; the server survives all of it.
    let r = post(
        &addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"getNothing","params":[]}"#,
    )
    .await;
    assert_eq!(r["error"]["code"], -32601);
    let r = post(&addr, "{not json").await;
    assert_eq!(r["error"]["code"], -32700);
    let r = post(&addr, r#"{"id":1,"method":"getSlot"}"#).await;
    assert_eq!(r["error"]["code"], -32600);
    let r = post(
        &addr,
        r#"{"jsonrpc":"2.0","id":2,"method":"getBalance","params":["not-a-key"]}"#,
    )
    .await;
    assert_eq!(r["error"]["code"], -32602);
    let r = post(&addr, r#"[{"jsonrpc":"2.0","id":1,"method":"getSlot"},{"jsonrpc":"2.0","id":2,"method":"getHealth"}]"#).await;
    assert_eq!(
        (r[0]["id"].clone(), r[1]["result"].clone()),
        (json!(1), json!("ok"))
    );
    let r = post(&addr, "[]").await;
    assert_eq!(r["error"]["code"], -32600);
    let r = post(&addr, &format!(r#"{{"jsonrpc":"2.0","id":3,"method":"getAccountInfo","params":["{mint}",{{"encoding":"base64"}}]}}"#)).await;
    assert_eq!(
        r["result"]["value"]["owner"],
        anchor_spl::token::spl_token::ID.to_string()
    );
    assert!(r["result"]["context"]["slot"].as_u64().is_some());
    assert!(
        client.get_slot().await.is_ok(),
        "still serving after the bad requests"
    );

    // Failover: a dead first endpoint hands over to the next.
    let failover = ake_sdk::chain::rpc::FailoverChain::new(
        &["http://127.0.0.1:9".to_string(), format!("http://{addr}")],
        CommitmentConfig::confirmed(),
    );
    assert_eq!(
        failover.balance(&who.pubkey()).await.unwrap(),
        5_000_000_000 - 5_000,
        "the airdrop less the failed transfer's fee"
    );

    // Account subscriptions: a change to the account is pushed at once.
    let (ws, _ws_server) = net
        .serve_websocket("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let wake = Arc::new(tokio::sync::Notify::new());
    let watched = Keypair::new().pubkey();
    let _watch = ake_sdk::watch::watch_account(
        format!("ws://{ws}"),
        watched,
        CommitmentConfig::confirmed(),
        Arc::clone(&wake),
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    rpc.request_airdrop(&watched, 1_000_000).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), wake.notified())
        .await
        .expect("an accountNotification within 5 s");
    let _ = Arc::strong_count(&net);
}

/// `akeDeployment` names every address a client needs beside its own keys,
/// the AKE/USD price account included, and each is there on the chain.
#[tokio::test(flavor = "multi_thread")]
async fn ake_deployment_names_every_address_a_client_needs() {
    let net = support::start().await;
    let (addr, _server) = net.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let answer = post(
        &addr.to_string(),
        r#"{"jsonrpc":"2.0","id":1,"method":"akeDeployment"}"#,
    )
    .await;
    let d = &answer["result"];
    let key = |name: &str| -> solana_sdk::pubkey::Pubkey {
        d[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} missing: {d}"))
            .parse()
            .unwrap()
    };
    let chain = net.chain.as_ref();
    let price = chain
        .account(&key("price_account"))
        .await
        .unwrap()
        .expect("the price account exists");
    assert!(ake_sdk::ake_market::price_update::PriceUpdateV2::decode(&price.data).is_some());
    let protocol = ake_sdk::protocol::Protocol::new(net.chain.clone());
    let config = protocol.config().await.unwrap();
    assert_eq!(
        protocol.price(&config).await.unwrap().0,
        key("price_account")
    );
    assert_eq!(key("config"), ake_sdk::pda::config());
    assert_eq!(key("market_program"), ake_sdk::pda::MARKET_PROGRAM_ID);
    assert_eq!(
        key("market_event_authority"),
        ake_sdk::pda::event_authority(&ake_sdk::pda::MARKET_PROGRAM_ID)
    );
    for name in [
        "config",
        "stake_vault",
        "emissions_config",
        "mint",
        "treasury",
    ] {
        assert!(
            chain.account(&key(name)).await.unwrap().is_some(),
            "{name} exists"
        );
    }
    let vaults = d["escrow_vaults"].as_array().unwrap();
    assert_eq!(vaults.len(), d["markets"].as_array().unwrap().len());
    for vault in vaults {
        let vault = vault.as_str().unwrap().parse().unwrap();
        assert!(chain.account(&vault).await.unwrap().is_some());
    }
}

/// An endpoint 100 slots behind serves the chain as it was 100 slots ago
/// and admits it in getHealth; a failover list with it first reads from
/// the current endpoint, and catches up as the lagging one does.
#[tokio::test(flavor = "multi_thread")]
async fn a_lagging_endpoint_shows_the_past_and_a_failover_list_reads_past_it() {
    use ake_sdk::chain::rpc::{websocket_url, FailoverChain};
    use ake_sdk::chain::TxStatus;
    let net = support::start().await;
    let (current, _current) = net.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (behind, _behind) = net
        .serve_behind("127.0.0.1:0".parse().unwrap(), 100)
        .await
        .unwrap();
    let (current_url, behind_url) = (format!("http://{current}"), format!("http://{behind}"));
    let confirmed = CommitmentConfig::confirmed();
    let (up_to_date, lagging) = (
        RpcChain::new(&current_url, confirmed),
        RpcChain::new(&behind_url, confirmed),
    );
    let who = Keypair::new();
    let airdrop = net.chain.airdrop(&who.pubkey(), 1_000_000).await.unwrap();

    assert_eq!(up_to_date.balance(&who.pubkey()).await.unwrap(), 1_000_000);
    assert_eq!(up_to_date.status(&airdrop).await.unwrap(), TxStatus::Landed);
    assert_eq!(lagging.balance(&who.pubkey()).await.unwrap(), 0);
    assert_eq!(lagging.account(&who.pubkey()).await.unwrap(), None);
    assert_eq!(lagging.status(&airdrop).await.unwrap(), TxStatus::Unknown);
    let slot = up_to_date.slot().await.unwrap();
    assert_eq!(lagging.slot().await.unwrap(), slot.saturating_sub(100));
    let health = post(
        &behind.to_string(),
        r#"{"jsonrpc":"2.0","id":1,"method":"getHealth"}"#,
    )
    .await;
    assert_eq!(
        (
            health["error"]["code"].clone(),
            health["error"]["message"].clone()
        ),
        (json!(-32005), json!("Node is behind by 100 slots"))
    );

    // Listed first, it is measured, found behind, and read last.
    let failover = FailoverChain::new(&[behind_url, current_url.clone()], confirmed);
    assert_eq!(failover.balance(&who.pubkey()).await.unwrap(), 1_000_000);
    assert_eq!(failover.status(&airdrop).await.unwrap(), TxStatus::Landed);
    assert_eq!(failover.websocket_url(), Some(websocket_url(&current_url)));
    let measured = failover.health().await;
    assert_eq!(measured[0].behind, 100);
    assert!(!measured[0].is_current() && measured[1].is_current());
    assert!(
        measured[0].problem().unwrap().contains("100 slots behind"),
        "{measured:?}"
    );

    // 100 slots on, the lagging endpoint has seen the airdrop.
    for _ in 0..100 {
        net.chain.tick().await.unwrap();
    }
    assert_eq!(lagging.balance(&who.pubkey()).await.unwrap(), 1_000_000);
    assert_eq!(lagging.status(&airdrop).await.unwrap(), TxStatus::Landed);
}
