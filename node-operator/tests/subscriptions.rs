//! ake-node links rustls with two crypto providers (ring through reqwest
//! 0.12, aws-lc through object_store's reqwest 0.13); a wss:// account
//! subscription must still reach the TLS handshake instead of panicking
//! inside the watcher task (which would leave the node silently polling).

use std::sync::Arc;
use std::time::Duration;

use solana_commitment_config::CommitmentConfig;
use solana_sdk::pubkey::Pubkey;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn a_wss_subscription_starts_its_tls_handshake() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let watcher = ake_sdk::watch::watch_account(
        format!("wss://{addr}"),
        Pubkey::new_unique(),
        CommitmentConfig::confirmed(),
        Arc::new(tokio::sync::Notify::new()),
    );
    let (mut socket, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the watcher connects")
        .unwrap();
    let mut record = [0u8; 5];
    tokio::time::timeout(Duration::from_secs(10), socket.read_exact(&mut record))
        .await
        .expect("a TLS ClientHello")
        .unwrap();
    assert_eq!(record[0], 0x16, "a TLS handshake record");
    drop(socket);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !watcher.is_finished(),
        "the watcher is alive and will retry"
    );
    watcher.abort();
}
