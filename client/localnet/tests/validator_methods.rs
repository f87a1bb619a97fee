//! `ake localnet` as a test validator for any client: the transaction
//! history, account index, token and websocket methods, exercised with the
//! standard Solana Rust clients, reading an AKE event back from a
//! transaction's inner instructions.

mod support;

use std::time::Duration;

use ake_sdk::ake_market;
use ake_sdk::protocol::associated_token;
use anchor_lang::{AnchorDeserialize, Discriminator};
use futures_util::StreamExt;
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_client::rpc_config::{
    RpcAccountInfoConfig, RpcProgramAccountsConfig, RpcTransactionConfig, RpcTransactionLogsConfig,
    RpcTransactionLogsFilter,
};
use solana_client::rpc_filter::{Memcmp, RpcFilterType};
use solana_client::rpc_request::TokenAccountsFilter;
use solana_commitment_config::CommitmentConfig;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::transaction::Transaction;
use solana_transaction_status_client_types::{
    option_serializer::OptionSerializer, UiInstruction, UiTransactionEncoding,
};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn history_accounts_tokens_and_subscriptions_answer_like_a_validator() {
    let net = support::start().await;
    let (addr, _server) = net.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (ws, _ws_server) = net
        .serve_websocket("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let rpc =
        RpcClient::new_with_commitment(format!("http://{addr}"), CommitmentConfig::confirmed());
    let pubsub = PubsubClient::new(&format!("ws://{ws}")).await.unwrap();
    let mint: solana_sdk::pubkey::Pubkey = net.deployment.mint.parse().unwrap();

    let user = Keypair::new();
    let funded = net.faucet(&user.pubkey(), 50_000_000).await.unwrap();
    let token = associated_token(&user.pubkey(), &mint);
    let count = rpc.get_transaction_count().await.unwrap();
    assert!(count > 0, "bootstrap and the faucet are recorded");

    // Subscribe to ake-market's logs, then stake: an AKE instruction that
    // emits an event through a self-CPI.
    let (mut logs, _unsub_logs) = pubsub
        .logs_subscribe(
            RpcTransactionLogsFilter::Mentions(vec![ake_market::ID.to_string()]),
            RpcTransactionLogsConfig { commitment: None },
        )
        .await
        .unwrap();
    let deposit = ake_sdk::instructions::deposit_stake(user.pubkey(), mint, token, 20_000_000);
    let blockhash = rpc.get_latest_blockhash().await.unwrap();
    let tx =
        Transaction::new_signed_with_payer(&[deposit], Some(&user.pubkey()), &[&user], blockhash);
    let sig = tx.signatures[0];
    let (mut landed, _unsub_sig) = pubsub.signature_subscribe(&sig, None).await.unwrap();
    rpc.send_and_confirm_transaction(&tx).await.unwrap();
    let note = tokio::time::timeout(WAIT, landed.next())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        note.value,
        solana_client::rpc_response::RpcSignatureResult::ProcessedSignature(ref r) if r.err.is_none()
    ));
    let note = tokio::time::timeout(WAIT, logs.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(note.value.signature, sig.to_string());
    assert!(note
        .value
        .logs
        .iter()
        .any(|l| l.contains(&ake_market::ID.to_string())));
    // Subscribing to a signature already processed notifies at once (after
    // the subscription's reply, or the client would drop it).
    let (mut again, _unsub_again) = pubsub.signature_subscribe(&sig, None).await.unwrap();
    tokio::time::timeout(WAIT, again.next())
        .await
        .unwrap()
        .unwrap();

    // getTransaction: logs and inner instructions, in both encodings; the
    // StakeDeposited event is decoded from the self-CPI's data.
    for encoding in [UiTransactionEncoding::Base64, UiTransactionEncoding::Json] {
        let got = rpc
            .get_transaction_with_config(
                &sig,
                RpcTransactionConfig {
                    encoding: Some(encoding),
                    commitment: Some(CommitmentConfig::confirmed()),
                    max_supported_transaction_version: Some(0),
                },
            )
            .await
            .unwrap();
        let meta = got.transaction.meta.unwrap();
        assert!(meta.err.is_none());
        assert!(meta.fee > 0);
        let OptionSerializer::Some(log_messages) = meta.log_messages else {
            panic!("no logs")
        };
        assert!(
            log_messages.iter().any(|l| l.contains("invoke [2]")),
            "{log_messages:?}"
        );
        let OptionSerializer::Some(inner) = meta.inner_instructions else {
            panic!("no inner instructions")
        };
        let event = inner
            .iter()
            .flat_map(|i| &i.instructions)
            .find_map(|ix| match ix {
                UiInstruction::Compiled(c) => {
                    let data = bs58::decode(&c.data).into_vec().unwrap();
                    (data.len() > 16
                        && data[..8] == anchor_lang::event::EVENT_IX_TAG_LE[..]
                        && data[8..16] == *ake_market::events::StakeDeposited::DISCRIMINATOR)
                        .then(|| {
                            ake_market::events::StakeDeposited::deserialize(&mut &data[16..])
                                .unwrap()
                        })
                }
                _ => None,
            })
            .expect("the StakeDeposited event in the inner instructions");
        assert_eq!((event.owner, event.amount), (user.pubkey(), 20_000_000));
    }

    // History by address, and the count moved by exactly this transaction
    // (plus the faucet's, sent before `count` was read).
    let stake = ake_sdk::pda::stake(&user.pubkey());
    let history = rpc.get_signatures_for_address(&stake).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].signature, sig.to_string());
    assert_eq!(rpc.get_transaction_count().await.unwrap(), count + 1);
    // `until` stops at a signature (here the faucet's) without returning it.
    let newer = rpc
        .get_signatures_for_address_with_config(
            &token,
            solana_client::rpc_client::GetConfirmedSignaturesForAddress2Config {
                until: Some(funded),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let newer: Vec<&str> = newer.iter().map(|s| s.signature.as_str()).collect();
    assert_eq!(newer, [sig.to_string()]);

    // getProgramAccounts with dataSize and memcmp: exactly this owner's stake.
    let found = rpc
        .get_program_ui_accounts_with_config(
            &ake_market::ID,
            RpcProgramAccountsConfig {
                filters: Some(vec![
                    RpcFilterType::DataSize(ake_market::state::Stake::SPACE as u64),
                    RpcFilterType::Memcmp(Memcmp::new_base58_encoded(8, user.pubkey().as_ref())),
                ]),
                account_config: RpcAccountInfoConfig::default(),
                with_context: None,
                sort_results: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, stake);
    assert_eq!(found[0].1.owner, ake_market::ID.to_string());

    // Token queries.
    let balance = rpc.get_token_account_balance(&token).await.unwrap();
    assert_eq!(balance.amount, "30000000");
    let supply = rpc.get_token_supply(&mint).await.unwrap();
    assert_eq!(supply.amount, support::params().genesis_supply.to_string());
    let accounts = rpc
        .get_token_accounts_by_owner(&user.pubkey(), TokenAccountsFilter::Mint(mint))
        .await
        .unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].pubkey, token.to_string());
    assert!(!rpc
        .get_recent_prioritization_fees(&[])
        .await
        .unwrap()
        .is_empty());
}
