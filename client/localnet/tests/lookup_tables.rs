//! The markets' address lookup tables on `ake localnet`: bootstrap creates
//! one per market, a v0 transaction compiled against it lands through
//! JSON-RPC and reads back as a validator returns it (version, the
//! addresses the table loaded, history by a loaded address, events).

mod support;

use std::sync::Arc;

use ake_sdk::accounts::decode_event;
use ake_sdk::ake_market;
use ake_sdk::ake_market::events::StakeDeposited;
use ake_sdk::chain::rpc::RpcChain;
use ake_sdk::chain::Chain;
use ake_sdk::protocol::{associated_token, Protocol};
use ake_sdk::sender::{prepare, send_with_tables, Fees};
use ake_sdk::{instructions as ixs, pda};
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_client::rpc_config::RpcTransactionConfig;
use solana_commitment_config::CommitmentConfig;
use solana_sdk::signature::{Keypair, Signer};
use solana_transaction_status_client_types::{
    option_serializer::OptionSerializer, UiTransactionEncoding,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_v0_transaction_through_a_market_table_lands_and_reads_back_like_on_a_validator() {
    let net = support::start().await;
    let (addr, _server) = net.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{addr}");
    let chain: Arc<dyn Chain> = Arc::new(RpcChain::new(&url, CommitmentConfig::confirmed()));
    let protocol = Protocol::new(Arc::clone(&chain));

    // One table per market, holding the market's shared addresses.
    let mut keys = Vec::new();
    for index in 0..net.deployment.markets.len() {
        keys.push(protocol.market(index as u16).await.unwrap().lookup_table);
    }
    let tables = protocol.lookup_tables(&keys).await.unwrap();
    assert_eq!(tables.len(), net.deployment.markets.len());
    let config = protocol.config().await.unwrap();
    for (index, table) in tables.iter().enumerate() {
        let shared =
            ake_sdk::lookup_tables::market_addresses(index as u16, &config.mint, &config.treasury);
        assert_eq!(table.addresses, shared);
        assert_eq!(
            protocol.market(index as u16).await.unwrap().lookup_table,
            table.key
        );
    }

    // A user stakes in a v0 transaction: shorter than the legacy one.
    let user = Keypair::new();
    net.faucet(&user.pubkey(), 50_000_000).await.unwrap();
    let token = associated_token(&user.pubkey(), &config.mint);
    let deposit = ixs::deposit_stake(user.pubkey(), config.mint, token, 20_000_000);
    let fees = Fees::default();
    let mut sizes = Vec::new();
    for with in [&[][..], &tables[..]] {
        let p = prepare(
            chain.as_ref(),
            &user,
            &[],
            std::slice::from_ref(&deposit),
            fees,
            with,
        )
        .await
        .unwrap();
        sizes.push(bincode::serialize(&p.transaction).unwrap().len());
    }
    let (legacy, v0) = (sizes[0], sizes[1]);
    // 341 against 491 bytes here: the shared accounts cost a byte each.
    assert!(v0 + 100 <= legacy, "v0 {v0} bytes, legacy {legacy}");
    let sig = send_with_tables(
        chain.as_ref(),
        &user,
        &[],
        std::slice::from_ref(&deposit),
        fees,
        &tables,
    )
    .await
    .unwrap();
    assert_eq!(
        protocol
            .stake(&user.pubkey())
            .await
            .unwrap()
            .unwrap()
            .amount,
        20_000_000
    );

    // Read back as from a validator: refused to a client that does not
    // say it reads v0, then with its version and the loaded addresses.
    let rpc = RpcClient::new_with_commitment(url, CommitmentConfig::confirmed());
    let config_for = |max| RpcTransactionConfig {
        encoding: Some(UiTransactionEncoding::Base64),
        commitment: Some(CommitmentConfig::confirmed()),
        max_supported_transaction_version: max,
    };
    let err = rpc
        .get_transaction_with_config(&sig, config_for(None))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("maxSupportedTransactionVersion"),
        "{err}"
    );
    let tx = rpc
        .get_transaction_with_config(&sig, config_for(Some(0)))
        .await
        .unwrap();
    let decoded = tx
        .transaction
        .transaction
        .decode()
        .expect("a base64 transaction");
    assert!(decoded
        .message
        .address_table_lookups()
        .is_some_and(|l| l.len() == 1));
    let meta = tx.transaction.meta.unwrap();
    let OptionSerializer::Some(loaded) = meta.loaded_addresses else {
        panic!("no loaded addresses");
    };
    assert!(loaded.writable.contains(&pda::stake_vault().to_string()));
    assert!(loaded.readonly.contains(&pda::config().to_string()));

    // History finds it by an address only the table named, and the SDK
    // reads its event from the inner instructions.
    let by_vault = rpc
        .get_signatures_for_address(&pda::stake_vault())
        .await
        .unwrap();
    assert!(by_vault.iter().any(|s| s.signature == sig.to_string()));
    let inner = chain
        .inner_instructions(&sig, &ake_market::ID)
        .await
        .unwrap()
        .unwrap();
    let event = inner
        .iter()
        .find_map(|data| decode_event::<StakeDeposited>(data))
        .expect("a StakeDeposited event");
    assert_eq!(event.amount, 20_000_000);
}
