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
    assert_eq!(figures, (10_096, 16, 168_496, 1_173_623_040));

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

    // 256 one-GPU nodes of one owner wait; the 257th does not fit.
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
    for node in &nodes[..256] {
        chain.node_ready(node).await.unwrap();
    }
    assert_market_error(
        chain.node_ready(&nodes[256]).await,
        MarketError::NodeQueueFull,
    );

    // 1,000 jobs of 2 to 8 GPUs wait beside them (no waiting node can run
    // one); the 1,001st does not fit.
    let creator = chain.user(1_000_000 * AKE).await;
    let mut jobs = Vec::new();
    for i in 0..1_000u16 {
        let job = chain.post_job(&creator, 2 + i % 7, 60).await.unwrap();
        jobs.push(job);
    }
    assert_market_error(
        chain.post_job(&creator, 2, 60).await.map(|_| ()),
        MarketError::JobQueueFull,
    );
    let m = chain.market(0).await;
    assert_eq!((m.job_count, m.node_count), (1_000, 256));

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
        (998, 255, 3)
    );
}
