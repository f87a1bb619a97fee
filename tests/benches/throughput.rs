//! Throughput of full job lifecycles on the embedded chain (the programs
//! natively in a real Solana bank beside the real SPL Token program).
//!
//! `RUST_LOG=error cargo bench -p ake-tests --bench throughput [-- N K B]`
//! (default: N = 100 and 1,000 frames with K = 8 nodes, then 1,000 frames
//! behind a backlog of B = 999 waiting jobs, so the batch fills the queue,
//! then 5,000 frames, all waiting out mainnet's 3,600 s challenge window at
//! once (the clock warped: 8 submits a simulated second), past the 1,024
//! in flight a market once held; RUST_LOG keeps the bank's
//! per-instruction debug log off). The market is grown to 1,000 waiting
//! jobs, 256 waiting nodes and 1,024 in flight, as bootstrap does. The
//! backlog's jobs ask 2,000 bps of reputation, inside the bench nodes' own
//! band but more than they ever have: every search a node makes walks past
//! them (the worst case a queue's length can cause) for the whole run. One lifecycle: a frame of a batch is
//! handed out, run, submitted (the submit re-arms the node onto the next
//! frame), finalized by a crank that packs several finalizes per v0
//! transaction through the market's address lookup table, and its account
//! closed; then the batch closes, the epoch closes and every node claims. Prints lifecycles per second,
//! transactions per lifecycle (every transaction counted: post, arm,
//! submits, packed finalizes, due-page closes, batch close, epoch close,
//! claims), net lamports per lifecycle (fees, and any rent left behind),
//! the most jobs in their challenge window at once, and the settlements
//! per simulated second the market sustained.

use std::time::Instant;

use ake_market::instructions::Capacity;
use ake_market::state::{DUE_BUCKET_SECS, DUE_TOLERANCE_SECS};
use ake_sdk::protocol::CLOSE_BATCH_FRAMES_PER_TX;
use ake_sdk::sender::pack;
use ake_sdk::{instructions as ixs, pda};
use ake_tests::{Chain, TestNode, AKE};
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signer::Signer;

/// The bank's fee per signature (no priority fee is set).
const LAMPORTS_PER_SIGNATURE: u64 = 5_000;

/// Finalizes packed per transaction, as `ake crank` does.
const FINALIZES_PER_TX: usize = 6;

struct Run {
    lifecycles: u32,
    nodes: usize,
    backlog: u32,
    secs: f64,
    transactions: u64,
    signatures: u64,
    net_lamports: i64,
    /// Most jobs submitted and waiting out the challenge window at once.
    in_flight_peak: usize,
    /// Simulated seconds from the first hand-out to the last submit.
    submit_secs: i64,
}

async fn lamports_of(chain: &mut Chain, keys: &[Pubkey]) -> i64 {
    let mut total = 0i64;
    for k in keys {
        total += chain.lamports(k).await as i64;
    }
    total
}

/// Jobs no bench node can take, in the bucket its searches walk.
async fn post_backlog(chain: &mut Chain, jobs: u32) {
    let poster = chain.user(1_000_000 * AKE).await;
    for _ in 0..jobs {
        let nonce = chain.next_nonce(&poster.pubkey()).await;
        let mut args = chain.post_args(nonce, 1, 60);
        args.min_reputation_bps = 2_000;
        chain.post_job_with(&poster, args).await.unwrap();
    }
}

async fn run(lifecycles: u32, nodes: usize, backlog: u32) -> Run {
    let mut chain = Chain::start().await;
    chain.reuse_blockhash = true;
    chain
        .grow_market(Capacity {
            jobs: 1_000,
            nodes: 256,
            in_flight: 1_024,
        })
        .await;
    post_backlog(&mut chain, backlog).await;
    // The crank settles in v0 transactions through the market's table.
    let tables = [chain.market_lookup_table().await];
    let creator = chain.user(1_000_000 * AKE).await;
    chain
        .airdrop(&creator.pubkey(), u64::from(lifecycles) * 10_000_000)
        .await;
    let mut fleet: Vec<TestNode> = Vec::new();
    for _ in 0..nodes {
        let node = chain.node(1, 10_000 * AKE).await;
        // The due pages a node opens (0.0086 SOL each, back when they
        // close): in lock-step waves one node opens most of them.
        chain.airdrop(&node.signer.pubkey(), 3_000_000_000).await;
        fleet.push(node);
    }
    let cranker = chain.user(0).await;
    let epoch = chain.epoch().await;
    let payer = chain.payer().pubkey();
    let mut wallets = vec![payer, creator.pubkey()];
    for n in &fleet {
        wallets.push(n.signer.pubkey());
        wallets.push(n.owner.pubkey());
    }
    let lamports_before = lamports_of(&mut chain, &wallets).await;
    chain.transactions = 0;
    chain.signatures = 0;
    let started = Instant::now();

    let batch = chain.post_batch(&creator, 1, lifecycles).await.unwrap();
    let mut finalized = 0;
    let mut in_flight_peak = 0;
    let mut submit_secs = 0;
    let mut due_pages = std::collections::BTreeSet::new();
    while finalized < lifecycles {
        // Idle nodes arm (the daemon's node_ready); the submit re-arms the
        // rest, until the market's in-flight list is full or frames run out.
        for node in &fleet {
            let n: ake_market::state::Node = chain.account(&node.account).await.unwrap();
            if n.status == ake_market::state::NodeStatus::Idle {
                chain.node_ready(node).await.unwrap();
            }
        }
        let mut submitted = Vec::new();
        let wave_start = chain.now().await;
        loop {
            chain.advance(1).await;
            let mut busy = false;
            for node in &fleet {
                let n: ake_market::state::Node = chain.account(&node.account).await.unwrap();
                if n.current_job == Pubkey::default() {
                    continue;
                }
                busy = true;
                chain
                    .submit_and_rearm(node, &n.current_job, 1)
                    .await
                    .unwrap();
                submitted.push(n.current_job);
            }
            if !busy {
                break;
            }
        }
        submit_secs += chain.now().await - wave_start - 1;
        in_flight_peak = in_flight_peak.max(submitted.len());
        // The crank, once the challenge window (mainnet's 3,600 s) has
        // passed and the due buckets are final.
        chain
            .advance(3_600 + DUE_BUCKET_SECS + DUE_TOLERANCE_SECS + 1)
            .await;
        let keys = chain.settle_keys(creator.token, payer).await;
        let mut finalizes = Vec::new();
        for job_key in &submitted {
            let job = chain.job(job_key).await.unwrap();
            due_pages.insert(job.due_page);
            finalizes.push(ixs::finalize_job(*job_key, &job, &keys));
        }
        for group in pack(&payer, finalizes, FINALIZES_PER_TX, &tables) {
            chain.send_v0(&group, &[], &tables).await.unwrap();
        }
        // Then one sweep burns and pays what the pass settled.
        assert!(chain.sweep().await);
        finalized += submitted.len() as u32;
    }
    // The crank closes the emptied due pages, each bucket's last shard
    // first: their rent goes back to the nodes that opened them.
    let mut pages = Vec::new();
    for key in &due_pages {
        let raw = chain.raw_account(key).await.unwrap();
        pages.push(ake_sdk::accounts::decode_due_page(&raw.data).unwrap());
    }
    pages.sort_by_key(|p| (p.bucket, std::cmp::Reverse(p.shard)));
    for page in &pages {
        chain
            .send_ok(&[ixs::close_due_page(payer, page)], &[])
            .await;
    }
    let frames: Vec<Pubkey> = (1..=lifecycles)
        .map(|f| pda::frame_job(&batch, f))
        .collect();
    for chunk in frames.chunks(CLOSE_BATCH_FRAMES_PER_TX) {
        let ix = ixs::close_batch(batch, creator.pubkey(), chunk);
        chain.send_ok(&[ix], &[]).await;
    }
    assert!(chain.raw_account(&batch).await.is_none(), "batch closed");
    chain.advance_to_epoch(epoch + 1).await;
    chain.close_epoch(&cranker, epoch).await.unwrap();
    for node in &fleet {
        chain.claim(node, epoch).await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let transactions = chain.transactions;
    let lamports_after = lamports_of(&mut chain, &wallets).await;
    Run {
        lifecycles,
        nodes,
        backlog,
        secs,
        transactions,
        signatures: chain.signatures,
        net_lamports: lamports_before - lamports_after,
        in_flight_peak,
        submit_secs,
    }
}

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let runs = match args.as_slice() {
        [n, k, b, ..] => vec![(*n, *k as usize, *b)],
        [n, k] => vec![(*n, *k as usize, 0)],
        [n] => vec![(*n, 8, 0)],
        _ => vec![(100, 8, 0), (1_000, 8, 0), (1_000, 8, 999), (5_000, 8, 0)],
    };
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    println!(
        "lifecycles  nodes  backlog  seconds  lifecycles/s  tx/lifecycle  net lamports/lifecycle  of which fees  rent left/lifecycle  in flight peak  sustained settlements/s (simulated, 3,600 s window)"
    );
    for (n, nodes, backlog) in runs {
        let r = rt.block_on(run(n, nodes, backlog));
        let per = |x: f64| x / f64::from(r.lifecycles);
        let fees = (r.signatures * LAMPORTS_PER_SIGNATURE) as f64;
        println!(
            "{:>10}  {:>5}  {:>7}  {:>7.2}  {:>12.1}  {:>12.3}  {:>22.0}  {:>13.0}  {:>19.0}  {:>14}  {:>10.2}",
            r.lifecycles,
            r.nodes,
            r.backlog,
            r.secs,
            per(f64::from(r.lifecycles) * f64::from(r.lifecycles)) / r.secs,
            per(r.transactions as f64),
            per(r.net_lamports as f64),
            per(fees),
            per(r.net_lamports as f64 - fees),
            r.in_flight_peak,
            f64::from(r.lifecycles) / r.submit_secs.max(1) as f64
        );
    }
}
