//! SLA enforcement: expiry slashes, disputes with bonds, reputation.

use ake_market::errors::MarketError;
use ake_market::state::{JobState, Node, Stake};
use ake_sdk::{instructions as ixs, pda};
use ake_tests::*;

/// A node with `stake`, armed, holding a freshly posted 1-GPU job.
async fn assigned(chain: &mut Chain, stake: u64) -> (TestNode, User, solana_sdk::pubkey::Pubkey) {
    let node = chain.node(1, stake).await;
    chain.node_ready(&node).await.unwrap();
    let creator = chain.user(1_000 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    (node, creator, job)
}

async fn stake_of(chain: &mut Chain, node: &TestNode) -> Stake {
    chain
        .account(&pda::stake(&node.owner.pubkey()))
        .await
        .unwrap()
}

async fn node_of(chain: &mut Chain, node: &TestNode) -> Node {
    chain.account(&node.account).await.unwrap()
}

#[tokio::test]
async fn expiry_slashes_exactly_and_suspends() {
    let mut chain = Chain::start().await;
    let (node, creator, job) = assigned(&mut chain, 2_000 * AKE).await;
    let supply = chain.supply().await;
    let bounty0 = chain.balance(&chain.payer_token.clone()).await;
    chain.advance(1_201).await;
    chain.expire(creator.token, &job).await.unwrap();

    // Half the job's 200 AKE collateral = 100 AKE: 20 AKE bounty to the caller, 80 AKE burned.
    assert_eq!(stake_of(&mut chain, &node).await.amount, 1_900 * AKE);
    assert_eq!(
        chain.balance(&chain.payer_token.clone()).await,
        bounty0 + 20 * AKE
    );
    assert_eq!(chain.supply().await, supply - 80 * AKE);
    assert_eq!(chain.balance(&pda::stake_vault()).await, 1_900 * AKE);
    assert_eq!(chain.market(0).await.tokens_burned, 80 * AKE);
    let n = node_of(&mut chain, &node).await;
    assert!(n.suspended);
    // The failed job counts against it at its full value (600 s at 200 micro-USD).
    assert_eq!(
        (n.jobs_expired, n.failed_micro_usd, n.reputation_bps),
        (1, 600 * RATE, 0)
    );
    assert_eq!(chain.job(&job).await.unwrap().state, JobState::Queued);

    // Suspended until the OWNER re-arms it.
    assert_market_error(chain.node_ready(&node).await, MarketError::NodeSuspended);
    let ix = ixs::rearm_node(creator.pubkey(), node.account, node.owner.pubkey());
    assert_market_error(
        chain.send(&[ix], &[&creator.key]).await,
        MarketError::NotNodeOperator,
    );
    chain.rearm(&node).await.unwrap();
    assert_market_error(chain.rearm(&node).await, MarketError::NodeNotSuspended);
    chain.node_ready(&node).await.unwrap();
    assert_eq!(chain.job(&job).await.unwrap().node, node.account);
}

#[tokio::test]
async fn dispute_creator_wins() {
    let mut chain = Chain::start().await;
    let (node, creator, job) = assigned(&mut chain, 1_000 * AKE).await;
    let escrow = chain.job(&job).await.unwrap().escrow;
    chain.advance(300).await;
    chain.submit(&node, &job, 300).await.unwrap();
    chain.dispute(&creator, &job).await.unwrap();
    let j = chain.job(&job).await.unwrap();
    assert_eq!((j.state, j.bond), (JobState::Disputed, 100 * AKE));
    assert_eq!(
        chain.escrow_balance().await,
        escrow + POSTING_FEE + 100 * AKE
    );
    assert_eq!(
        chain.balance(&creator.token).await,
        1_000 * AKE - escrow - POSTING_FEE - 100 * AKE
    );
    // Frozen: no finalize, even after the window.
    chain.advance(3_601).await;
    assert_market_error(
        chain.finalize(creator.token, &job).await,
        MarketError::InvalidJobState,
    );
    // Only the arbiter decides.
    let stranger = chain.user(0).await;
    let j = chain.job(&job).await.unwrap();
    let keys = chain.settle_keys(creator.token, stranger.pubkey()).await;
    let ix = ixs::resolve_dispute(job, &j, &keys, true);
    assert_market_error(
        chain.send(&[ix], &[&stranger.key]).await,
        MarketError::NotArbiter,
    );

    let supply = chain.supply().await;
    chain.resolve(creator.token, &job, true).await.unwrap();
    assert!(chain.sweep().await, "the crank burns what settled");
    assert_eq!(
        chain.balance(&creator.token).await,
        1_000 * AKE - POSTING_FEE,
        "escrow and bond back in full; the posting fee burned"
    );
    assert_eq!(chain.escrow_balance().await, 0);
    // The whole result collateral (2 x the 120,241 charged), burned: nothing more.
    let result_collateral = 2 * 120_241;
    assert_eq!(
        stake_of(&mut chain, &node).await.amount,
        1_000 * AKE - result_collateral
    );
    assert_eq!(stake_of(&mut chain, &node).await.locked, 0);
    assert_eq!(
        chain.supply().await,
        supply - result_collateral - POSTING_FEE
    );
    let n = node_of(&mut chain, &node).await;
    assert!(n.suspended);
    assert_eq!(
        (n.jobs_disputed, n.jobs_completed, n.failed_micro_usd),
        (1, 0, 300 * RATE),
        "the failure weighs the 300 s the node held the job"
    );
    assert!(chain.job(&job).await.is_none());
    assert_eq!(chain.market(0).await.in_flight_count, 0);
}

#[tokio::test]
async fn dispute_node_wins() {
    let mut chain = Chain::start().await;
    let (node, creator, job) = assigned(&mut chain, 1_000 * AKE).await;
    chain.advance(300).await;
    chain.submit(&node, &job, 300).await.unwrap();
    chain.dispute(&creator, &job).await.unwrap();
    let supply = chain.supply().await;
    let treasury = chain.balance(&chain.treasury.clone()).await;
    chain.resolve(creator.token, &job, false).await.unwrap();
    assert!(chain.sweep().await, "the crank burns what settled");
    // Settled as usual (120,241 charged: 114,228 burned, 6,013 fee) and the bond burned.
    let charged = 120_241;
    let burned = charged * 9_500 / 10_000;
    assert_eq!(
        chain.balance(&creator.token).await,
        1_000 * AKE - charged - POSTING_FEE - 100 * AKE
    );
    assert_eq!(
        chain.supply().await,
        supply - burned - POSTING_FEE - 100 * AKE
    );
    assert_eq!(
        chain.balance(&chain.treasury.clone()).await,
        treasury + charged - burned
    );
    assert_eq!(chain.escrow_balance().await, 0);
    let n = node_of(&mut chain, &node).await;
    assert!(!n.suspended);
    assert_eq!(
        (
            n.jobs_completed,
            n.jobs_disputed,
            n.proven_micro_usd,
            n.reputation_bps
        ),
        (1, 1, 300 * RATE, 59)
    );
    let epoch = chain.epoch().await;
    let work: ake_emissions::state::NodeWork = chain
        .account_of(&pda::node_work(epoch, &node.account), &ake_emissions::ID)
        .await
        .expect("the node's work still counts");
    assert_eq!(work.work_micro_usd, 300 * RATE);
    assert_eq!(stake_of(&mut chain, &node).await.amount, 1_000 * AKE);
}

#[tokio::test]
async fn dispute_timeout_settles_as_accepted_and_burns_only_the_bond_fee() {
    let mut chain = Chain::start().await;
    let (node, creator, job) = assigned(&mut chain, 1_000 * AKE).await;
    chain.advance(300).await;
    chain.submit(&node, &job, 300).await.unwrap();
    let terms = chain.job(&job).await.unwrap().terms;
    // The bond scales with the escrow, with the configured floor.
    let escrow = chain.job(&job).await.unwrap().escrow;
    assert_eq!(terms.dispute_bond, (escrow / 10).max(100 * AKE));
    chain.dispute(&creator, &job).await.unwrap();
    let reputation = node_of(&mut chain, &node).await.reputation_bps;
    chain.advance(259_200).await;
    assert_market_error(
        chain.expire_dispute(creator.token, &job).await,
        MarketError::DisputeNotTimedOut,
    );
    chain.advance(1).await;
    let supply = chain.supply().await;
    chain.expire_dispute(creator.token, &job).await.unwrap();
    assert!(chain.sweep().await, "the crank burns what settled");
    // Settled as accepted (120,241 charged, 114,228 burned); 10% of the bond burned.
    let (charged, burned, fee) = (120_241, 120_241 * 9_500 / 10_000, 10 * AKE);
    assert_eq!(
        chain.balance(&creator.token).await,
        1_000 * AKE - charged - POSTING_FEE - fee
    );
    assert_eq!(chain.supply().await, supply - burned - POSTING_FEE - fee);
    assert_eq!(chain.escrow_balance().await, 0);
    // A silent arbiter punishes nobody: no slash, no suspension, no reputation change.
    let n = node_of(&mut chain, &node).await;
    assert!(!n.suspended);
    assert_eq!(
        (
            n.jobs_completed,
            n.work_micro_usd,
            n.proven_micro_usd,
            n.reputation_bps
        ),
        (1, 300 * RATE, 0, reputation)
    );
    let stake = stake_of(&mut chain, &node).await;
    assert_eq!((stake.amount, stake.locked), (1_000 * AKE, 0));
    assert!(chain.job(&job).await.is_none());

    // After the window a result can no longer be disputed.
    let (late_node, late_creator, late_job) = assigned(&mut chain, 1_000 * AKE).await;
    let _ = late_node;
    let late = chain.job(&late_job).await.unwrap();
    let holder = if late.node == node.account {
        &node
    } else {
        &late_node
    };
    chain.advance(10).await;
    chain.submit(holder, &late_job, 10).await.unwrap();
    chain.advance(3_601).await;
    assert_market_error(
        chain.dispute(&late_creator, &late_job).await,
        MarketError::ChallengeWindowClosed,
    );
}

#[tokio::test]
async fn disputing_everything_past_a_silent_arbiter_timeout_costs_the_creator_fees_never_the_node_stake(
) {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(1_000 * AKE).await;
    for round in 0..3u64 {
        chain.node_ready(&node).await.unwrap();
        let job = chain.post_job(&creator, 1, 600).await.unwrap();
        chain.advance(300).await;
        chain.submit(&node, &job, 300).await.unwrap();
        chain.dispute(&creator, &job).await.unwrap();
        chain.advance(259_201).await;
        chain.expire_dispute(creator.token, &job).await.unwrap();
        // Each round: the work is paid for, the posting fee and 10% of the bond burned.
        let spent = (round + 1) * (120_241 + POSTING_FEE + 10 * AKE);
        assert_eq!(chain.balance(&creator.token).await, 1_000 * AKE - spent);
        let stake = stake_of(&mut chain, &node).await;
        assert_eq!(
            (stake.amount, stake.locked),
            (1_000 * AKE, 0),
            "round {round}"
        );
        assert!(!node_of(&mut chain, &node).await.suspended);
    }
}

/// Suspends `node` through an expiry: it arms, takes the first queued
/// job (a fresh one of `creator`, or one an earlier expiry re-queued) and
/// lets it expire.
async fn suspend(chain: &mut Chain, node: &TestNode, creator: &User) {
    chain.post_job(creator, 1, 600).await.unwrap();
    chain.node_ready(node).await.unwrap();
    let job = node_of(chain, node).await.current_job;
    chain.advance(1_201).await;
    chain.expire(creator.token, &job).await.unwrap();
    assert!(node_of(chain, node).await.suspended);
}

/// Suspensions the operator lifted on `node` in the last 7 days.
async fn lifted(chain: &mut Chain, node: &TestNode) -> u8 {
    let now = chain.now().await;
    let n = node_of(chain, node).await;
    ake_market::instructions::rearm_node::operator_rearms_within(&n, now)
}

/// An owner names an operator key for its fleet: it holds a node out of
/// the queue and releases it, lifts two suspensions a week per node and
/// then only the owner can; it can never withdraw stake, close or re-key a
/// node; a stranger can do none of it; the owner revokes it at once.
#[tokio::test]
async fn an_operator_key_holds_and_rearms_within_its_cap_and_never_touches_stake() {
    use ake_market::constants::{OPERATOR_REARMS_PER_WINDOW, OPERATOR_REARM_WINDOW_SECS};
    use ake_market::state::NodeStatus;
    use solana_sdk::signer::Signer as _;
    let mut chain = Chain::start().await;
    let node = chain.node(1, 3_000 * AKE).await;
    let creator = chain.user(5_000 * AKE).await;
    let operator = chain.user(0).await;
    let stranger = chain.user(0).await;
    let owner = node.owner.pubkey();
    let set = ixs::set_operator(owner, operator.pubkey());
    // Only the owner names it (the stake account is the owner's PDA).
    assert_code(
        chain
            .send(
                &[ixs::set_operator(stranger.pubkey(), operator.pubkey())],
                &[&stranger.key],
            )
            .await,
        anchor_error(anchor_lang::error::ErrorCode::AccountNotInitialized),
    );
    chain.send_ok(&[set], &[&node.owner.key]).await;
    assert_eq!(
        stake_of(&mut chain, &node).await.operator,
        operator.pubkey()
    );

    // Hold: the queued node leaves and stays out until re-armed.
    chain.node_ready(&node).await.unwrap();
    let hold =
        |by: &User| ixs::node_unready(by.pubkey(), node.signer.pubkey(), owner, pda::market(0));
    assert_market_error(
        chain.send(&[hold(&stranger)], &[&stranger.key]).await,
        MarketError::NotNodeSigner,
    );
    chain.send_ok(&[hold(&operator)], &[&operator.key]).await;
    let held = node_of(&mut chain, &node).await;
    assert!(held.held && held.locked_stake == 0, "{held:?}");
    chain.advance(60).await;
    assert_market_error(chain.node_ready(&node).await, MarketError::NodeHeld);
    let rearm = |by: &User| ixs::rearm_node(by.pubkey(), node.account, owner);
    assert_market_error(
        chain.send(&[rearm(&stranger)], &[&stranger.key]).await,
        MarketError::NotNodeOperator,
    );
    chain.send_ok(&[rearm(&operator)], &[&operator.key]).await;
    assert_eq!(
        lifted(&mut chain, &node).await,
        0,
        "a hold is not a suspension"
    );

    // A busy node held finishes its job and does not re-arm with it.
    chain.node_ready(&node).await.unwrap();
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    chain.send_ok(&[hold(&operator)], &[&operator.key]).await;
    chain.advance(60).await;
    chain.submit_and_rearm(&node, &job, 60).await.unwrap();
    let n = node_of(&mut chain, &node).await;
    assert_eq!((n.status, n.held), (NodeStatus::Idle, true));
    chain.send_ok(&[rearm(&operator)], &[&operator.key]).await;

    // Suspensions: the operator lifts two in any 7 days, then only the owner.
    for count in 1..=OPERATOR_REARMS_PER_WINDOW {
        suspend(&mut chain, &node, &creator).await;
        chain.send_ok(&[rearm(&operator)], &[&operator.key]).await;
        assert_eq!(lifted(&mut chain, &node).await, count);
    }
    suspend(&mut chain, &node, &creator).await;
    assert_market_error(
        chain.send(&[rearm(&operator)], &[&operator.key]).await,
        MarketError::OperatorRearmCapReached,
    );
    chain.rearm(&node).await.unwrap();
    // The window rolls: a week after the first lift, one more.
    chain.advance(OPERATOR_REARM_WINDOW_SECS).await;
    suspend(&mut chain, &node, &creator).await;
    chain.send_ok(&[rearm(&operator)], &[&operator.key]).await;

    // Never stake, never the node's identity; nothing moved.
    let stake = stake_of(&mut chain, &node).await;
    assert_code(
        chain
            .send(
                &[ixs::request_unstake(operator.pubkey(), AKE)],
                &[&operator.key],
            )
            .await,
        anchor_error(anchor_lang::error::ErrorCode::AccountNotInitialized),
    );
    assert_market_error(
        chain
            .send(
                &[ixs::close_node(operator.pubkey(), node.account)],
                &[&operator.key],
            )
            .await,
        MarketError::NotNodeOwner,
    );
    let new_key = solana_sdk::signature::Keypair::new();
    let rotate = ixs::rotate_node_key(operator.pubkey(), node.account, new_key.pubkey());
    assert_market_error(
        chain.send(&[rotate], &[&operator.key, &new_key]).await,
        MarketError::NotNodeOwner,
    );
    let after = stake_of(&mut chain, &node).await;
    assert_eq!(
        (after.amount, after.unbonding),
        (stake.amount, stake.unbonding)
    );
    assert_eq!(
        chain.balance(&operator.token).await,
        0,
        "the operator gained nothing"
    );

    // Revoked at once.
    chain
        .send_ok(
            &[ixs::set_operator(owner, Default::default())],
            &[&node.owner.key],
        )
        .await;
    chain
        .send_ok(&[hold(&node.owner)], &[&node.owner.key])
        .await;
    assert_market_error(
        chain.send(&[rearm(&operator)], &[&operator.key]).await,
        MarketError::NotNodeOperator,
    );
}
