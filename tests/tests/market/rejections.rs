//! Every rejection asserts its exact error, and that nothing moved.

use ake_market::errors::MarketError;
use ake_market::price_update::VerificationLevel;
use ake_market::state::{Node, Stake};
use ake_sdk::{instructions as ixs, pda};
use ake_tests::*;
use solana_sdk::signature::{Keypair, Signer};

/// Posts with the current oracle account and checks the error and that the
/// creator kept every token.
async fn post_fails_with(chain: &mut Chain, e: MarketError) {
    let creator = chain.user(10 * AKE).await;
    assert_market_error(chain.post_job(&creator, 1, 600).await.map(|_| ()), e);
    assert_eq!(chain.balance(&creator.token).await, 10 * AKE);
    assert_eq!(chain.escrow_balance().await, 0);
}

#[tokio::test]
async fn oracle_faults() {
    let mut chain = Chain::start().await;
    let now = chain.now().await;

    chain
        .set_price(PRICE, CONF, now, VerificationLevel::Full, [8; 32])
        .await;
    post_fails_with(&mut chain, MarketError::OracleWrongFeed).await;

    chain
        .set_price(
            PRICE,
            CONF,
            now,
            VerificationLevel::Partial { num_signatures: 5 },
            FEED_ID,
        )
        .await;
    post_fails_with(&mut chain, MarketError::OracleNotFullyVerified).await;

    chain
        .set_price(PRICE, CONF, now - 61, VerificationLevel::Full, FEED_ID)
        .await;
    post_fails_with(&mut chain, MarketError::OracleStale).await;

    chain
        .set_price(0, 0, now, VerificationLevel::Full, FEED_ID)
        .await;
    post_fails_with(&mut chain, MarketError::OracleNonPositivePrice).await;
    chain
        .set_price(-5, 0, now, VerificationLevel::Full, FEED_ID)
        .await;
    post_fails_with(&mut chain, MarketError::OracleNonPositivePrice).await;

    // 2.01% confidence against a 2% limit.
    chain
        .set_price(
            PRICE,
            PRICE as u64 * 201 / 10_000,
            now,
            VerificationLevel::Full,
            FEED_ID,
        )
        .await;
    post_fails_with(&mut chain, MarketError::OracleConfidenceTooWide).await;

    // A lookalike account owned by another program.
    let mut fake = price_account(PRICE, CONF, now, VerificationLevel::Full, FEED_ID);
    fake.owner = Pubkey::new_unique();
    let key = chain.price_update;
    chain.set_raw_account(&key, fake);
    post_fails_with(&mut chain, MarketError::OracleWrongOwner).await;

    // Exactly at the age limit is still fresh.
    chain
        .set_price(PRICE, CONF, now - 60, VerificationLevel::Full, FEED_ID)
        .await;
    let creator = chain.user(10 * AKE).await;
    chain.post_job(&creator, 1, 600).await.unwrap();
}

use solana_sdk::pubkey::Pubkey;

#[tokio::test]
async fn slippage_guard() {
    let mut chain = Chain::start().await;
    let creator = chain.user(10 * AKE).await;
    let mut args = chain.post_args(0, 1, 600);
    args.max_tokens = 240_481 + POSTING_FEE - 1; // one base unit under escrow + posting fee
    assert_market_error(
        chain
            .post_job_with(&creator, args.clone())
            .await
            .map(|_| ()),
        MarketError::SlippageExceeded,
    );
    args.max_tokens = 240_481 + POSTING_FEE;
    chain.post_job_with(&creator, args).await.unwrap();
}

#[tokio::test]
async fn job_shape_and_nonce() {
    let mut chain = Chain::start().await;
    let creator = chain.user(10 * AKE).await;
    for (gpus, secs) in [(0, 600), (9, 600), (1, 0), (1, 3_601)] {
        let args = chain.post_args(0, gpus, secs);
        assert_market_error(
            chain.post_job_with(&creator, args).await.map(|_| ()),
            MarketError::InvalidJobShape,
        );
    }
    // A job shorter than the market's minimum could never be run in time
    // by a node that keeps its commit reserve: refused, nothing taken.
    let short = u32::from(ake_tests::MIN_DURATION_SECS) - 1;
    let args = chain.post_args(0, 1, short);
    assert_market_error(
        chain.post_job_with(&creator, args).await.map(|_| ()),
        MarketError::JobTooShort,
    );
    let mut batch = chain.batch_args(0, 1, 4);
    batch.max_duration_secs = short;
    assert_market_error(
        chain.post_batch_with(&creator, batch).await.map(|_| ()),
        MarketError::JobTooShort,
    );
    let args = chain.post_args(1, 1, 600);
    assert_market_error(
        chain.post_job_with(&creator, args).await.map(|_| ()),
        MarketError::NonceMismatch,
    );
    assert_eq!(chain.balance(&creator.token).await, 10 * AKE);
}

#[tokio::test]
async fn node_signers_and_results() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    let other = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let creator = chain.user(10 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();

    // Another node's signer cannot submit for this job.
    assert_market_error(
        chain.submit(&other, &job, 10).await,
        MarketError::NotAssignedNode,
    );
    // A stranger cannot act with the node's account: the PDA is the signer's.
    let stranger = Keypair::new();
    chain.airdrop(&stranger.pubkey(), 1_000_000_000).await;
    let due = chain.submit_pick(&job).await;
    let mut ix = ixs::submit_result(
        stranger.pubkey(),
        node.owner.pubkey(),
        (job, pda::market(0), None),
        ake_tests::result_of(1),
        ixs::AfterSubmit::StayIdle,
        due,
    );
    ix.accounts[2].pubkey = node.account;
    assert_code(
        chain.send(&[ix], &[&stranger]).await,
        anchor_error(anchor_lang::error::ErrorCode::ConstraintSeeds),
    );

    // Cancel after assignment is refused.
    assert_market_error(chain.cancel(&creator, &job).await, MarketError::NotQueued);
    // Only the creator accepts.
    chain.advance(10).await;
    chain.submit(&node, &job, 10).await.unwrap();
    assert_market_error(
        chain.submit(&node, &job, 10).await,
        MarketError::InvalidJobState,
    );
    let j = chain.job(&job).await.unwrap();
    let keys = chain.settle_keys(creator.token, other.owner.pubkey()).await;
    let mut forged = ixs::accept_result(job, &j, &keys);
    forged.accounts[0].pubkey = other.owner.pubkey();
    assert_market_error(
        chain.send(&[forged], &[&other.owner.key]).await,
        MarketError::NotCreator,
    );
    let long_uri = "x".repeat(201);
    let node2 = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node2).await.unwrap();
    let job2 = chain.post_job(&creator, 1, 600).await.unwrap();
    let mut result = ake_tests::result_of(1);
    result.output_uri = long_uri;
    let due = chain.submit_pick(&job2).await;
    let ix = ixs::submit_result(
        node2.signer.pubkey(),
        node2.owner.pubkey(),
        (job2, pda::market(0), None),
        result,
        ixs::AfterSubmit::StayIdle,
        due,
    );
    assert_market_error(
        chain.send(&[ix], &[&node2.signer]).await,
        MarketError::OutputUriTooLong,
    );
}

#[tokio::test]
async fn submit_after_deadline() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let creator = chain.user(10 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    chain.advance(1_200).await; // exactly at the deadline: still accepted? no: move past it
    chain.advance(1).await;
    assert_market_error(
        chain.submit(&node, &job, 600).await,
        MarketError::DeadlinePassed,
    );
}

#[tokio::test]
async fn unbonding_and_locked_stake() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    let owner = &node.owner;
    let stake_key = pda::stake(&owner.pubkey());

    // Nothing to withdraw yet.
    let withdraw = ixs::withdraw_stake(owner.pubkey(), chain.mint, owner.token);
    assert_market_error(
        chain
            .send(std::slice::from_ref(&withdraw), &[&owner.key])
            .await,
        MarketError::NothingUnbonding,
    );

    // A waiting node's stake is locked: it cannot be requested out.
    chain.node_ready(&node).await.unwrap();
    let creator = chain.user(10 * AKE).await;
    chain.post_job(&creator, 1, 600).await.unwrap(); // assigned: stake backs it
    let all = ixs::request_unstake(owner.pubkey(), 1_000 * AKE);
    assert_market_error(
        chain.send(&[all], &[&owner.key]).await,
        MarketError::StakeLocked,
    );
    let too_much = ixs::request_unstake(owner.pubkey(), 1_001 * AKE);
    assert_market_error(
        chain.send(&[too_much], &[&owner.key]).await,
        MarketError::InsufficientStakeBalance,
    );

    // The free part can leave, after the unbonding period.
    let free = ixs::request_unstake(owner.pubkey(), 800 * AKE);
    chain.send_ok(&[free], &[&owner.key]).await;
    let s: Stake = chain.account(&stake_key).await.unwrap();
    assert_eq!(
        (s.amount, s.locked, s.unbonding),
        (200 * AKE, 200 * AKE, 800 * AKE)
    );
    assert_market_error(
        chain
            .send(std::slice::from_ref(&withdraw), &[&owner.key])
            .await,
        MarketError::StillUnbonding,
    );
    chain.advance(1_209_600).await;
    chain.send_ok(&[withdraw], &[&owner.key]).await;
    assert_eq!(chain.balance(&owner.token).await, 800 * AKE);
    let s: Stake = chain.account(&stake_key).await.unwrap();
    assert_eq!((s.amount, s.unbonding), (200 * AKE, 0));
    // The locked 200 still cannot leave while the job is assigned.
    let rest = ixs::request_unstake(owner.pubkey(), 200 * AKE);
    assert_market_error(
        chain.send(&[rest], &[&owner.key]).await,
        MarketError::StakeLocked,
    );
}

#[tokio::test]
async fn node_needs_free_stake() {
    let mut chain = Chain::start().await;
    let poor = chain.node(2, 300 * AKE).await; // 2 GPUs need 400
    assert_market_error(
        chain.node_ready(&poor).await,
        MarketError::InsufficientStake,
    );
    let n: Node = chain.account(&poor.account).await.unwrap();
    assert_eq!(n.status, ake_market::state::NodeStatus::Idle);
    let ok = chain.node(1, 200 * AKE).await;
    chain.node_ready(&ok).await.unwrap();
    assert_market_error(chain.node_ready(&ok).await, MarketError::NodeNotIdle);
}

#[tokio::test]
async fn paused_stops_posting_and_arming_only() {
    let mut chain = Chain::start().await;
    let creator = chain.user(10 * AKE).await;
    let queued = chain.post_job(&creator, 1, 600).await.unwrap();
    let node = chain.node(8, 2_000 * AKE).await;
    let admin = chain.admin.insecure_clone();
    chain
        .send_ok(&[ixs::set_paused(admin.pubkey(), true)], &[&admin])
        .await;

    assert_market_error(
        chain.post_job(&creator, 1, 600).await.map(|_| ()),
        MarketError::Paused,
    );
    assert_market_error(chain.node_ready(&node).await, MarketError::Paused);
    // Cancels, unstaking and withdrawals still work.
    chain.cancel(&creator, &queued).await.unwrap();
    assert_eq!(chain.balance(&creator.token).await, 10 * AKE - POSTING_FEE);
    let unstake = ixs::request_unstake(node.owner.pubkey(), 100 * AKE);
    chain.send_ok(&[unstake], &[&node.owner.key]).await;

    chain
        .send_ok(&[ixs::set_paused(admin.pubkey(), false)], &[&admin])
        .await;
    chain.post_job(&creator, 1, 600).await.unwrap();
}

#[tokio::test]
async fn config_bounds_and_authority() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let base = default_params();
    type Change = Box<dyn Fn(&mut ake_market::state::Params)>;
    let cases: Vec<(Change, MarketError)> = vec![
        (
            Box::new(|p| p.burn_bps = 9_000),
            MarketError::InvalidFeeSplit,
        ),
        (
            // The treasury fee that makes wash trading a loss cannot be removed.
            Box::new(|p| {
                p.burn_bps = 9_901;
                p.treasury_bps = 99;
            }),
            MarketError::InvalidFeeSplit,
        ),
        (
            Box::new(|p| p.challenge_window_secs = 0),
            MarketError::InvalidWindows,
        ),
        (
            Box::new(|p| p.completion_grace_secs = 8 * 86_400),
            MarketError::InvalidWindows,
        ),
        (
            Box::new(|p| p.oracle.max_age_secs = 0),
            MarketError::InvalidOracleSettings,
        ),
        (
            Box::new(|p| p.oracle.max_conf_bps = 5_001),
            MarketError::InvalidOracleSettings,
        ),
        (
            Box::new(|p| p.oracle.haircut_bps = 50_001),
            MarketError::InvalidOracleSettings,
        ),
        (
            Box::new(|p| p.tier_thresholds = [10, 10, 20]),
            MarketError::InvalidTierThresholds,
        ),
        (
            Box::new(|p| p.unbonding_secs = 4_199),
            MarketError::InvalidUnbonding,
        ),
        (
            Box::new(|p| p.max_job_attempts = 0),
            MarketError::InvalidMaxAttempts,
        ),
    ];
    for (change, e) in cases {
        let mut p = base;
        change(&mut p);
        let change = ake_market::state::Change::Config {
            params: p,
            arbiter: admin.pubkey(),
        };
        let ix = ixs::propose_change(admin.pubkey(), admin.pubkey(), change);
        assert_market_error(chain.send(&[ix], &[&admin]).await, e);
    }

    // Only the authority; and authority moves in two steps.
    let stranger = chain.user(0).await;
    let change = ake_market::state::Change::Config {
        params: base,
        arbiter: stranger.pubkey(),
    };
    let ix = ixs::propose_change(stranger.pubkey(), stranger.pubkey(), change);
    assert_market_error(
        chain.send(&[ix], &[&stranger.key]).await,
        MarketError::NotAuthority,
    );
    let ix = ixs::accept_authority(stranger.pubkey());
    assert_market_error(
        chain.send(&[ix], &[&stranger.key]).await,
        MarketError::NotPendingAuthority,
    );
    chain
        .send_ok(
            &[ixs::propose_authority(admin.pubkey(), stranger.pubkey())],
            &[&admin],
        )
        .await;
    chain
        .send_ok(
            &[ixs::accept_authority(stranger.pubkey())],
            &[&stranger.key],
        )
        .await;
    let ix = ixs::set_paused(admin.pubkey(), true);
    assert_market_error(
        chain.send(&[ix], &[&admin]).await,
        MarketError::NotAuthority,
    );

    // Market settings are bounded too, and indexes are dense.
    let mut bad = default_market();
    bad.rate_micro_usd = 0;
    let ix = ixs::create_market(stranger.pubkey(), chain.mint, 1, bad);
    assert_market_error(
        chain.send(&[ix], &[&stranger.key]).await,
        MarketError::InvalidMarketSettings,
    );
    let ix = ixs::create_market(stranger.pubkey(), chain.mint, 2, default_market());
    assert_market_error(
        chain.send(&[ix], &[&stranger.key]).await,
        MarketError::WrongMarketIndex,
    );
    let ix = ixs::create_market(stranger.pubkey(), chain.mint, 1, default_market());
    chain.send_ok(&[ix], &[&stranger.key]).await;
}

#[tokio::test]
async fn a_node_without_gpus_cannot_serve_a_gpu_market() {
    // The harness market is a GPU market; a node registered as CPU-only
    // (no VRAM) can never take its jobs, and nothing moves.
    let mut chain = Chain::start().await;
    let owner = chain.user(1_000 * AKE).await;
    chain.deposit_stake(&owner, 1_000 * AKE).await.unwrap();
    let signer = Keypair::new();
    chain.airdrop(&signer.pubkey(), 1_000_000_000).await;
    let cpu = ake_market::state::HardwareProfile {
        gpu_model: "CPU".into(),
        vram_mib: 0,
        benchmark_hash: [0; 32],
    };
    let register = ixs::register_node(owner.pubkey(), signer.pubkey(), pda::market(0), 1, cpu);
    chain.send_ok(&[register], &[&owner.key, &signer]).await;
    let node = TestNode {
        account: pda::node(&signer.pubkey()),
        owner,
        signer,
    };
    let stake_before = chain.stake_of(&node.owner.pubkey()).await;
    assert_market_error(
        chain.node_ready(&node).await,
        MarketError::GpuMarketNeedsGpus,
    );
    let n: Node = chain.account(&node.account).await.unwrap();
    assert_eq!(n.status, ake_market::state::NodeStatus::Idle);
    let stake: Stake = chain.stake_of(&node.owner.pubkey()).await;
    assert_eq!(stake.locked, stake_before.locked, "nothing locked");
}

/// Only the node running a job announces its live logs, only while it
/// runs, and the URI is bounded; the announcement moves no token.
#[tokio::test]
async fn live_logs_are_announced_by_the_running_node_only() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    let other = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let creator = chain.user(10 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    let uri = |s: &str| format!("s3://logs/jobs/{job}-1/{s}");
    let announce = |signer: &Keypair, uri: String| ixs::announce_logs(signer.pubkey(), job, uri);

    let supply = chain.supply().await;
    let events = chain
        .send_with_events(&[announce(&node.signer, uri("live"))], &[&node.signer])
        .await
        .unwrap();
    let said: ake_market::events::LiveLogsAnnounced = find_event(&events).unwrap();
    assert_eq!(
        (said.job, said.node, said.attempt, said.uri.as_str()),
        (job, node.account, 1, uri("live").as_str())
    );
    assert_eq!(chain.supply().await, supply);

    assert_market_error(
        chain
            .send(&[announce(&other.signer, uri("live"))], &[&other.signer])
            .await,
        MarketError::NotAssignedNode,
    );
    assert_market_error(
        chain
            .send(&[announce(&node.signer, "x".repeat(201))], &[&node.signer])
            .await,
        MarketError::InvalidLogsUri,
    );
    assert_market_error(
        chain
            .send(&[announce(&node.signer, String::new())], &[&node.signer])
            .await,
        MarketError::InvalidLogsUri,
    );
    // Once the result is in, the live logs are over.
    chain.advance(10).await;
    chain.submit(&node, &job, 10).await.unwrap();
    assert_market_error(
        chain
            .send(&[announce(&node.signer, uri("live"))], &[&node.signer])
            .await,
        MarketError::InvalidJobState,
    );
}
