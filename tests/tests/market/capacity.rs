//! A market's capacity: the authority grows it in 10 KiB steps, and a grown
//! market holds 1,000 waiting jobs and 256 waiting nodes at once while
//! matching stays in line order.

use ake_market::errors::MarketError;
use ake_market::instructions::Capacity;
use ake_market::state::{
    Market, INITIAL_IN_FLIGHT_CAPACITY, INITIAL_JOB_CAPACITY, INITIAL_NODE_CAPACITY, MAX_GROW_SLOTS,
};
use ake_sdk::instructions as ixs;
use ake_sdk::pda;
use ake_tests::*;
use solana_sdk::signature::Signer;

const TARGET: Capacity = Capacity {
    jobs: 1_000,
    nodes: 256,
    in_flight: 1_024,
};

#[tokio::test]
async fn only_the_authority_grows_a_market_and_capacities_never_shrink() {
    let mut chain = Chain::start().await;
    let stranger = chain.user(0).await;
    let ix = ixs::grow_market(stranger.pubkey(), 0, TARGET);
    assert_market_error(
        chain.send(&[ix], &[&stranger.key]).await,
        MarketError::NotAuthority,
    );
    assert_eq!(chain.market(0).await.job_capacity, TEST_CAPACITY.jobs);

    let steps = chain.grow_market(TARGET).await;
    let slots = |c: Capacity| Market::slots_needed(c.jobs, c.nodes, c.in_flight);
    assert_eq!(
        steps,
        (slots(TARGET) - slots(TEST_CAPACITY)).div_ceil(MAX_GROW_SLOTS)
    );
    // The figures README's "Market capacity" section quotes: a new market
    // and what growing it to 1,000 / 256 / 1,024 takes.
    let initial = Market::slots_needed(
        INITIAL_JOB_CAPACITY,
        INITIAL_NODE_CAPACITY,
        INITIAL_IN_FLIGHT_CAPACITY,
    );
    let account = chain.raw_account(&pda::market(0)).await.unwrap();
    let figures = (
        Market::initial_space(),
        (slots(TARGET) - initial).div_ceil(MAX_GROW_SLOTS),
        account.data.len(),
        account.lamports,
    );
    println!("initial bytes, grow transactions, bytes, lamports: {figures:?}");
    assert_eq!(figures, (10_096, 18, 186_736, 1_300_573_440));

    let admin = chain.admin.insecure_clone();
    for smaller in [
        Capacity {
            jobs: 999,
            ..TARGET
        },
        Capacity {
            nodes: 255,
            ..TARGET
        },
        Capacity {
            in_flight: 1_023,
            ..TARGET
        },
        Capacity {
            jobs: 10_001,
            ..TARGET
        },
    ] {
        let ix = ixs::grow_market(admin.pubkey(), 0, smaller);
        assert_market_error(
            chain.send(&[ix], &[&admin]).await,
            MarketError::InvalidCapacity,
        );
    }
    assert_eq!(chain.market(0).await.job_capacity, TARGET.jobs);
}

#[tokio::test]
async fn a_grown_market_holds_1000_waiting_jobs_and_256_waiting_nodes_in_line_order() {
    let mut chain = Chain::start().await;
    chain.reuse_blockhash = true;
    chain.grow_market(TARGET).await;

    // 256 one-GPU nodes of one owner wait, and a 257th beyond the
    // pre-allocated capacity (the pool grows by a slot).
    let owner = chain.user(300 * MIN_STAKE_PER_GPU).await;
    chain
        .deposit_stake(&owner, 300 * MIN_STAKE_PER_GPU)
        .await
        .unwrap();
    let mut nodes = Vec::new();
    for _ in 0..=256 {
        let node = chain.node_of(&owner, 1).await;
        nodes.push(node);
    }
    for node in &nodes {
        chain.node_ready(node).await.unwrap();
    }

    // 1,000 jobs of 2 to 8 GPUs wait beside them (no waiting node can run
    // one), and a 1,001st.
    let creator = chain.user(1_000_000 * AKE).await;
    let mut jobs = Vec::new();
    for i in 0..1_000u16 {
        let job = chain.post_job(&creator, 2 + i % 7, 60).await.unwrap();
        jobs.push(job);
    }
    jobs.push(chain.post_job(&creator, 2, 60).await.unwrap());
    let m = chain.market(0).await;
    assert_eq!((m.job_count, m.node_count), (1_001, 257));

    // A one-GPU job goes to the node that has waited longest.
    let small = chain.post_job(&creator, 1, 60).await.unwrap();
    let job = chain.job(&small).await.unwrap();
    assert_eq!(job.node, nodes[0].account);

    // An 8-GPU node takes the job that has waited longest, and the
    // 4-GPU node after it the oldest job it can run.
    let big = chain.node_of(&owner, 8).await;
    chain.node_ready(&big).await.unwrap();
    assert_eq!(chain.job(&jobs[0]).await.unwrap().node, big.account);
    let four = chain.node_of(&owner, 4).await;
    chain.node_ready(&four).await.unwrap();
    // jobs[1] needs 3 GPUs, jobs[2] 4.
    assert_eq!(chain.job(&jobs[1]).await.unwrap().node, four.account);
    let m = chain.market(0).await;
    assert_eq!(
        (m.job_count, m.node_count, m.in_flight_count),
        (999, 256, 3)
    );
}

/// Filling the queue with jobs nobody can serve (asking more reputation
/// than any node has) blocks nobody: every post past the free slots grows
/// the pool by one slot at the poster's expense (rent not refunded, the
/// slot reused forever), batches still post, and an honest job still meets
/// a waiting node. When the crank refunds the squatters as stale, each
/// burns one more posting fee per day it waited.
#[tokio::test]
async fn a_queue_fill_grows_the_pool_at_the_attackers_cost_and_blocks_nobody() {
    let mut chain = Chain::start().await;
    chain.reuse_blockhash = true;
    let attacker = chain.user(100_000 * AKE).await;
    let start = chain.market(0).await;
    let free = start.slot_count - start.slots_used;
    let squatters = free + 20;
    let sol_before = chain.lamports(&attacker.pubkey()).await;
    let mut jobs = Vec::new();
    for nonce in 0..u64::from(squatters) {
        let mut args = chain.post_args(nonce, 1, 600);
        args.min_reputation_bps = 9_900;
        jobs.push(chain.post_job_with(&attacker, args).await.unwrap());
    }
    let m = chain.market(0).await;
    assert_eq!(u32::from(m.job_count), squatters);
    assert_eq!(m.slot_count, start.slot_count + 20, "grew one slot a post");
    // What each grown slot cost the attacker in rent, beyond the job
    // accounts' rent (which comes back with each job).
    let slot_rent = 80 * 6_960;
    let job_rents: u64 = {
        let mut sum = 0;
        for job in &jobs {
            sum += chain.lamports(job).await;
        }
        sum
    };
    let creator_counter = chain.lamports(&pda::creator(&attacker.pubkey())).await;
    // (The test context's payer pays the transaction fees.)
    assert_eq!(
        sol_before - chain.lamports(&attacker.pubkey()).await,
        job_rents + creator_counter + 20 * slot_rent
    );
    println!(
        "attacker's permanent cost per queue slot beyond the pool: {slot_rent} lamports of rent"
    );

    // A batch posts (its one entry grows the pool too), and an honest job
    // meets a waiting node at once.
    let honest = chain.user(100_000 * AKE).await;
    chain.post_batch(&honest, 1, 3).await.unwrap();
    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let frame = pda::frame_job(&pda::batch(&honest.pubkey(), 0), 1);
    assert_eq!(chain.job(&frame).await.unwrap().node, node.account);
    chain.advance(10).await;
    chain.submit_and_rearm(&node, &frame, 10).await.unwrap();
    let job = chain.post_job(&honest, 1, 600).await;
    assert!(job.is_ok());

    // Stale refunds: escrow back less one posting fee per day waited.
    chain.advance(i64::from(MAX_QUEUE_SECS) + 1).await;
    let squatter: ake_market::state::Job = chain.job(&jobs[0]).await.unwrap();
    // One posting fee per day waited, billed up to `max_queue_secs` (a day
    // here) however late the crank comes.
    let fee = (squatter.posting_fee * u64::from(MAX_QUEUE_SECS))
        .div_ceil(86_400)
        .min(squatter.escrow);
    let (balance, supply) = (chain.balance(&attacker.token).await, chain.supply().await);
    let refund = ixs::refund_stale_job(jobs[0], &squatter, chain.mint, attacker.token);
    let payer = chain.payer();
    chain.send(&[refund], &[&payer]).await.unwrap();
    assert_eq!(fee, squatter.posting_fee, "a day waited: one more fee");
    assert_eq!(
        chain.balance(&attacker.token).await - balance,
        squatter.escrow - fee
    );
    assert_eq!(supply - chain.supply().await, fee + squatter.posting_fee);
}

/// A creator who never accepts cannot halt a market: submitted jobs wait
/// out their challenge window in due pages, not in the market's pool, so
/// 1,100 of them in flight at once (more than mainnet's old ceiling of
/// 1,024) leave the pool at its size while the market keeps assigning;
/// the crank's finalizes empty the pages and closing them returns their
/// rent to the node that opened them.
#[tokio::test]
async fn jobs_in_flight_past_the_old_ceiling_never_halt_the_market_and_their_due_pages_close() {
    const JOBS: usize = 1_100;
    let mut chain = Chain::start().await;
    chain.reuse_blockhash = true;
    let creator = chain.user(1_000_000 * AKE).await;
    // Rent for 1,100 open job accounts (the creator's 10 SOL covers ~800).
    chain.airdrop(&creator.pubkey(), 20_000_000_000).await;
    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let slots = chain.market(0).await.slot_count;
    let hot_before = chain.lamports(&node.signer.pubkey()).await;
    let mut jobs = Vec::with_capacity(JOBS);
    for _ in 0..JOBS {
        // Each post goes straight to the node waiting since its last submit.
        let job = chain.post_job(&creator, 1, 60).await.unwrap();
        chain.advance(1).await;
        chain.submit_and_rearm(&node, &job, 1).await.unwrap();
        jobs.push(job);
    }
    let market = chain.market(0).await;
    assert_eq!(
        (market.in_flight_count, market.node_count, market.slot_count),
        (0, 1, slots),
        "no submitted job holds a slot; the pool never grew"
    );
    // Every job waits out its window in a due page the node opened.
    let mut pages = std::collections::BTreeSet::new();
    for job in &jobs {
        let j: ake_market::state::Job = chain.job(job).await.unwrap();
        assert_eq!(j.state, ake_market::state::JobState::Submitted);
        pages.insert(j.due_page);
    }
    let page_rent = chain.lamports(pages.first().unwrap()).await;
    println!(
        "{JOBS} jobs in their window: {} due pages of {page_rent} lamports",
        pages.len()
    );
    assert!(pages.len() >= JOBS.div_ceil(ake_market::state::DUE_PAGE_JOBS));
    assert_eq!(
        hot_before - chain.lamports(&node.signer.pubkey()).await,
        page_rent * pages.len() as u64
    );

    // Past the windows (and the buckets' tolerance), the crank finalizes
    // every job and closes every page, each bucket's last shard first.
    chain
        .advance(3_600 + ake_market::state::DUE_TOLERANCE_SECS + 300)
        .await;
    for job in &jobs {
        chain.finalize(creator.token, job).await.unwrap();
    }
    let mut by_bucket: Vec<ake_market::state::DuePage> = Vec::new();
    for key in &pages {
        let raw = chain.raw_account(key).await.unwrap();
        by_bucket.push(ake_sdk::accounts::decode_due_page(&raw.data).unwrap());
    }
    by_bucket.sort_by_key(|p| (p.bucket, std::cmp::Reverse(p.shard)));
    let payer = chain.payer();
    // A shard whose next one still exists is refused.
    if let Some(first) = by_bucket.iter().find(|p| p.shard == 0 && p.is_full()) {
        assert_market_error(
            chain
                .send(&[ixs::close_due_page(payer.pubkey(), first)], &[&payer])
                .await,
            MarketError::DuePageInUse,
        );
    }
    // Lamports a stranger sends to the address of the shard after a
    // bucket's last page cannot keep that page open.
    let last = &by_bucket[0];
    let beyond = pda::due_page(&last.market, last.bucket, last.shard + 1);
    chain.airdrop(&beyond, 1_000_000).await;
    for page in &by_bucket {
        assert_eq!(page.open, 0);
        chain
            .send(&[ixs::close_due_page(payer.pubkey(), page)], &[&payer])
            .await
            .unwrap();
    }
    for key in &pages {
        assert!(chain.raw_account(key).await.is_none());
    }
    assert_eq!(chain.lamports(&node.signer.pubkey()).await, hot_before);
}

/// Issue 27: no account is written by every settlement. Finalize, accept
/// and dispute name neither the market (posts and arms write it), nor the
/// mint, the treasury or the epoch's summary (every market's settlements
/// would write those): the burn and the fee accrue in the market's ledger,
/// the work in the market's epoch record, and the crank's `sweep_market`
/// burns and pays once per market. The books stay exact in between.
#[tokio::test]
async fn settlements_write_no_shared_account_and_the_crank_burns_per_market() {
    let mut chain = Chain::start().await;
    let creator = chain.user(1_000 * AKE).await;
    let node = chain.node(1, 1_000 * AKE).await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        chain.node_ready(&node).await.unwrap();
        let job = chain.post_job(&creator, 1, 600).await.unwrap();
        chain.advance(300).await;
        chain.submit(&node, &job, 300).await.unwrap();
        jobs.push(job);
    }
    let epoch = chain.epoch().await;
    let shared = [
        pda::market(0),
        pda::config(),
        chain.mint,
        chain.treasury,
        pda::epoch_summary(epoch),
        pda::emissions_config(),
    ];
    let keys = chain.settle_keys(creator.token, creator.pubkey()).await;
    let j = chain.job(&jobs[0]).await.unwrap();
    let due = chain.due_pick(&pda::market(0), 0).await;
    for (name, ix) in [
        ("finalize_job", ixs::finalize_job(jobs[0], &j, &keys)),
        ("accept_result", ixs::accept_result(jobs[0], &j, &keys)),
        (
            "dispute_job",
            ixs::dispute_job(jobs[0], &j, (chain.mint, creator.token), due),
        ),
    ] {
        let written: Vec<_> = ix.accounts.iter().filter(|m| m.is_writable).collect();
        for key in shared {
            assert!(
                written.iter().all(|m| m.pubkey != key),
                "{name} writes the shared account {key}"
            );
        }
    }

    // Two settle; the supply does not move until the sweep.
    let supply = chain.supply().await;
    let treasury = chain.balance(&chain.treasury.clone()).await;
    chain.accept(&creator, &jobs[0]).await.unwrap();
    chain.accept(&creator, &jobs[1]).await.unwrap();
    let ledger = chain.ledger().await;
    let charged = 120_241; // 300 s at the localnet rate and price
    let burned = charged * 9_500 / 10_000;
    assert_eq!(
        (
            ledger.pending_burn,
            ledger.pending_treasury,
            ledger.jobs_settled
        ),
        (2 * (burned + POSTING_FEE), 2 * (charged - burned), 2)
    );
    assert_eq!(chain.supply().await, supply);
    assert_eq!(chain.balance(&chain.treasury.clone()).await, treasury);
    // One sweep burns and pays both; another finds nothing.
    assert!(chain.sweep().await);
    assert_eq!(chain.supply().await, supply - ledger.pending_burn);
    assert_eq!(
        chain.balance(&chain.treasury.clone()).await,
        treasury + ledger.pending_treasury
    );
    let payer = chain.payer();
    let again = ixs::sweep_market(payer.pubkey(), pda::market(0), chain.mint, chain.treasury);
    assert_market_error(chain.send(&[again], &[]).await, MarketError::NothingToSweep);
    let ledger = chain.ledger().await;
    assert_eq!(
        (ledger.pending_burn, ledger.tokens_burned),
        (0, 2 * (burned + POSTING_FEE))
    );
    // The third job's escrow and fee are all the vault holds.
    let open = chain.job(&jobs[2]).await.unwrap();
    assert_eq!(chain.escrow_balance().await, open.escrow + open.posting_fee);
}
