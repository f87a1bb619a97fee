//! Soak: concurrent Solana clients (transfers, simulations, reads, an account
//! subscription) against `ake localnet`'s JSON-RPC and websocket servers
//! while its clock ticks. The local chain must keep its clock moving and
//! answer every request within a bound, however the requests interleave.
//!
//! The localnet runs on its own runtime and thread, as it would in its own
//! process, so a hung server cannot also stall the clients' timers.
//! `AKE_SOAK_SECS` lengthens the run (default 45 s; the deadlock this guards
//! against stopped the clock after 3 to 20 s here).

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anchor_lang::solana_program::system_instruction::transfer;
use futures_util::StreamExt;
use solana_client::nonblocking::rpc_client::RpcClient;
use solana_commitment_config::CommitmentConfig;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::transaction::Transaction;

/// Longest any one request may take, even under load on 2 cores.
const ANSWER_BOUND: Duration = Duration::from_secs(10);
/// Longest the slot may stand still (the clock ticks every 400 ms).
const STALL_BOUND: Duration = Duration::from_secs(5);
const CLIENTS: usize = 8;

fn soak_duration() -> Duration {
    let secs = std::env::var("AKE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(45);
    Duration::from_secs(secs)
}

/// Starts a localnet on a dedicated thread with a 2-worker runtime (this
/// machine's core count) and returns its RPC and websocket addresses.
fn start_localnet() -> (String, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let net = support::start().await;
            let _clock = net.run_clock().await.unwrap();
            let (rpc, _rpc_task) = net.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
            let (ws, _ws_task) = net
                .serve_websocket("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            tx.send((format!("http://{rpc}"), format!("ws://{ws}")))
                .unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the localnet started within 120 s")
}

/// When the soak's load started (for failure messages).
static SOAK_START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Runs one request, failing the soak if it is not answered in time.
async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    let asked = Instant::now();
    match tokio::time::timeout(ANSWER_BOUND, f).await {
        Ok(v) => v,
        Err(_) => panic!(
            "{what} was not answered within {ANSWER_BOUND:?} (asked {:.1} s into the soak)",
            SOAK_START
                .get()
                .map_or(0.0, |s| asked.duration_since(*s).as_secs_f64())
        ),
    }
}

/// One client: transfers to a counterpart (every one simulated first by the
/// RPC's preflight), explicit simulations and reads, in a loop.
async fn client(url: String, id: usize, until: Instant, done: Arc<AtomicU64>) {
    let rpc = RpcClient::new_with_commitment(url, CommitmentConfig::processed());
    let me = Keypair::new();
    let other = Pubkey::new_unique();
    bounded(
        "requestAirdrop",
        rpc.request_airdrop(&me.pubkey(), 10_000_000_000),
    )
    .await
    .expect("airdrop");
    let mut lamports = 1_000_000 + id as u64;
    while Instant::now() < until {
        let hash = bounded("getLatestBlockhash", rpc.get_latest_blockhash())
            .await
            .expect("blockhash");
        lamports += CLIENTS as u64; // a new signature every time
        let tx = Transaction::new_signed_with_payer(
            &[transfer(&me.pubkey(), &other, lamports)],
            Some(&me.pubkey()),
            &[&me],
            hash,
        );
        let sim = bounded("simulateTransaction", rpc.simulate_transaction(&tx))
            .await
            .expect("simulate");
        assert!(sim.value.err.is_none(), "{:?}", sim.value.err);
        bounded("sendTransaction", rpc.send_transaction(&tx))
            .await
            .expect("send");
        bounded("getAccountInfo", rpc.get_account(&me.pubkey()))
            .await
            .expect("read");
        bounded(
            "getMultipleAccounts",
            rpc.get_multiple_accounts(&[me.pubkey(), other]),
        )
        .await
        .expect("reads");
        bounded(
            "getSignatureStatuses",
            rpc.get_signature_statuses(&[tx.signatures[0]]),
        )
        .await
        .expect("status");
        done.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localnet_soak_concurrent_clients_keep_the_clock_moving() {
    let (url, ws) = start_localnet();
    let until = *SOAK_START.get_or_init(Instant::now) + soak_duration();
    let done = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(client(url.clone(), i, until, Arc::clone(&done))))
        .collect();

    // An account subscription on a wallet that receives a transfer each second.
    let pubsub = bounded("websocket connect", PubsubClient::new(&ws))
        .await
        .expect("websocket");
    let watched = Pubkey::new_unique();
    let (mut notes, _unsub) = bounded("accountSubscribe", pubsub.account_subscribe(&watched, None))
        .await
        .expect("subscribe");
    let rpc = RpcClient::new_with_commitment(url.clone(), CommitmentConfig::processed());
    let mut last_slot = bounded("getSlot", rpc.get_slot()).await.expect("slot");
    let first_slot = last_slot;
    let mut last_move = Instant::now();
    let mut notifications = 0u64;
    let started = Instant::now();
    while Instant::now() < until {
        bounded(
            "requestAirdrop to the watched account",
            rpc.request_airdrop(&watched, 1_000_000),
        )
        .await
        .expect("airdrop");
        // Drain what the subscription pushed; at least one per second overall.
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), notes.next()).await
        {
            notifications += 1;
        }
        let slot = bounded("getSlot", rpc.get_slot()).await.expect("slot");
        if slot > last_slot {
            last_slot = slot;
            last_move = Instant::now();
        }
        assert!(
            last_move.elapsed() < STALL_BOUND,
            "the clock stopped at slot {last_slot} after {:?} of soak",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for c in clients {
        bounded("a client finishing", c).await.expect("client ran");
    }
    let secs = started.elapsed().as_secs_f64();
    let rounds = done.load(Ordering::Relaxed);
    eprintln!(
        "soak: {secs:.0} s, {rounds} client rounds ({:.1}/s), slots {first_slot}..{last_slot}, {notifications} account notifications",
        rounds as f64 / secs
    );
    assert!(rounds > 0, "no client round completed");
    // 400 ms slots: allow for scheduling under load, but the clock must move.
    assert!(
        last_slot - first_slot >= (secs / 2.0) as u64,
        "the clock fell behind: {} slots in {secs:.0} s",
        last_slot - first_slot
    );
    assert!(
        notifications >= (secs / 4.0) as u64,
        "account notifications stopped: {notifications} in {secs:.0} s"
    );
}
