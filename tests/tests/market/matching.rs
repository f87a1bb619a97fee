//! Matching never fails on a stale or missing pick: a post, an arm or a
//! submit's re-arm that names a counterpart which is not (or no longer) the
//! best queues instead, and anyone pairs a mutual best pair with `match_job`.

use ake_market::constants::UNREADY_COOLDOWN_SECS;
use ake_market::errors::MarketError;
use ake_market::state::{Job, JobState, Node, NodeStatus};
use ake_sdk::{instructions as ixs, pda};
use ake_tests::*;
use solana_sdk::instruction::Instruction;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signer::Signer;

fn post(chain: &Chain, creator: &User, nonce: u64, candidate: Option<&TestNode>) -> Instruction {
    ixs::post_job(
        ixs::PostJobAccounts {
            creator: creator.pubkey(),
            market: pda::market(0),
            mint: chain.mint,
            creator_token: creator.token,
            price_update: chain.price_update,
            creator_staked: false,
            candidate_node: candidate.map(as_candidate),
        },
        chain.post_args(nonce, 1, 600),
    )
}

fn as_candidate(node: &TestNode) -> ixs::Candidate {
    ixs::Candidate {
        node: node.account,
        owner: node.owner.pubkey(),
    }
}

fn match_job(payer: &User, job: Pubkey, node: &TestNode) -> Instruction {
    ixs::match_job(payer.pubkey(), pda::market(0), job, as_candidate(node))
}

async fn node_state(chain: &mut Chain, node: &TestNode) -> (NodeStatus, Pubkey) {
    let n: Node = chain.account(&node.account).await.unwrap();
    (n.status, n.current_job)
}

async fn job_state(chain: &mut Chain, job: &Pubkey) -> (JobState, Pubkey) {
    let j: Job = chain.job(job).await.unwrap();
    (j.state, j.node)
}

#[tokio::test]
async fn a_stale_candidate_queues_instead_of_failing_and_match_job_pairs_the_mutual_best() {
    let mut chain = Chain::start().await;
    let waiting = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&waiting).await.unwrap();
    let idle = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(10 * AKE).await;
    let stranger = chain.user(0).await;
    let (first, second) = (
        pda::job(&creator.pubkey(), 0),
        pda::job(&creator.pubkey(), 1),
    );

    // A post naming no node, and one naming a node that is not waiting:
    // both land, escrow their payment and queue beside the waiting node.
    let none = post(&chain, &creator, 0, None);
    let wrong = post(&chain, &creator, 1, Some(&idle));
    chain.send(&[none], &[&creator.key]).await.unwrap();
    chain.send(&[wrong], &[&creator.key]).await.unwrap();
    assert_eq!(job_state(&mut chain, &first).await.0, JobState::Queued);
    assert_eq!(job_state(&mut chain, &second).await.0, JobState::Queued);
    assert_eq!(node_state(&mut chain, &waiting).await.0, NodeStatus::Queued);
    assert_eq!(chain.market(0).await.job_count, 2);

    // match_job refuses a pair that is not mutual best (the second job is
    // not the node's best: the first is ahead of it), and moves nothing.
    let escrow = chain.escrow_balance().await;
    assert_market_error(
        chain
            .send(&[match_job(&stranger, second, &waiting)], &[&stranger.key])
            .await,
        MarketError::WrongMatchCandidate,
    );
    // Anyone pairs the mutual best, paying only the fee.
    chain
        .send(&[match_job(&stranger, first, &waiting)], &[&stranger.key])
        .await
        .unwrap();
    assert_eq!(
        job_state(&mut chain, &first).await,
        (JobState::Assigned, waiting.account)
    );
    assert_eq!(
        node_state(&mut chain, &waiting).await,
        (NodeStatus::Busy, first)
    );
    assert_eq!(chain.escrow_balance().await, escrow);
    assert_eq!(chain.balance(&stranger.token).await, 0);

    // An arm naming work that is gone (the first job, now assigned) joins
    // the node queue instead of failing; match_job then hands it the second.
    let stale = ixs::node_ready(
        idle.signer.pubkey(),
        idle.owner.pubkey(),
        pda::market(0),
        Some(ixs::NextWork::Job(first)),
    );
    chain.send(&[stale], &[&idle.signer]).await.unwrap();
    assert_eq!(node_state(&mut chain, &idle).await.0, NodeStatus::Queued);
    assert_eq!(job_state(&mut chain, &second).await.0, JobState::Queued);
    chain
        .send(&[match_job(&stranger, second, &idle)], &[&stranger.key])
        .await
        .unwrap();
    assert_eq!(
        job_state(&mut chain, &second).await,
        (JobState::Assigned, idle.account)
    );
    // A pair already matched cannot be matched again.
    assert_market_error(
        chain
            .send(&[match_job(&stranger, second, &idle)], &[&stranger.key])
            .await,
        MarketError::NotQueued,
    );
}

#[tokio::test]
async fn an_arm_naming_a_closed_job_queues_instead_of_failing() {
    let mut chain = Chain::start().await;
    let creator = chain.user(10 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    let node = chain.node(1, 1_000 * AKE).await;
    // The node's daemon read the queue; the creator cancels before it lands.
    let arm = ixs::node_ready(
        node.signer.pubkey(),
        node.owner.pubkey(),
        pda::market(0),
        Some(ixs::NextWork::Job(job)),
    );
    let cancel = ixs::cancel_job(
        creator.pubkey(),
        job,
        creator.pubkey(),
        pda::market(0),
        chain.mint,
        creator.token,
    );
    chain.send(&[cancel], &[&creator.key]).await.unwrap();
    assert!(chain.job(&job).await.is_none());
    chain.send(&[arm], &[&node.signer]).await.unwrap();
    assert_eq!(node_state(&mut chain, &node).await.0, NodeStatus::Queued);
}

#[tokio::test]
async fn leaving_the_queue_costs_a_cooldown_so_toggling_cannot_dodge_posts() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let unready = ixs::node_unready(
        node.signer.pubkey(),
        node.signer.pubkey(),
        node.owner.pubkey(),
        pda::market(0),
    );
    chain.send(&[unready], &[&node.signer]).await.unwrap();
    assert_market_error(chain.node_ready(&node).await, MarketError::NodeCoolingDown);
    chain.advance(UNREADY_COOLDOWN_SECS).await;
    chain.node_ready(&node).await.unwrap();
    assert_eq!(node_state(&mut chain, &node).await.0, NodeStatus::Queued);
}

/// A hand-back and an expiry that name a node which is no longer the best
/// (it armed, or took other work, after the daemon or crank read the
/// queue) put the job back in line instead of failing: the node loses
/// nothing for a stale read, and match_job pairs the job afterwards.
#[tokio::test]
async fn a_release_or_expiry_naming_a_stale_node_requeues_and_match_job_pairs() {
    let mut chain = Chain::start().await;
    let creator = chain.user(100 * AKE).await;
    let worker = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&worker).await.unwrap();
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_eq!(job_state(&mut chain, &job).await.1, worker.account);
    let waiting = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&waiting).await.unwrap();
    let stale = chain.node(1, 1_000 * AKE).await; // registered, never armed

    // The worker hands the job back naming the idle node, not the waiting one.
    let stake_before = chain.stake_of(&worker.owner.pubkey()).await.amount;
    let j: Job = chain.job(&job).await.unwrap();
    let release = ixs::release_job(
        worker.signer.pubkey(),
        job,
        &j,
        ixs::ReleaseKeys {
            mint: chain.mint,
            creator_token: creator.token,
            candidate_node: Some(as_candidate(&stale)),
        },
        ake_market::state::ReleaseReason::ImageUnavailable,
    );
    chain.send(&[release], &[&worker.signer]).await.unwrap();
    assert_eq!(job_state(&mut chain, &job).await.0, JobState::Queued);
    assert_eq!(node_state(&mut chain, &waiting).await.0, NodeStatus::Queued);
    let stake = chain.stake_of(&worker.owner.pubkey()).await;
    assert_eq!(
        (stake.amount, stake.locked),
        (stake_before, 0),
        "released free"
    );
    let stranger = chain.user(0).await;
    chain
        .send(&[match_job(&stranger, job, &waiting)], &[&stranger.key])
        .await
        .unwrap();
    assert_eq!(
        job_state(&mut chain, &job).await,
        (JobState::Assigned, waiting.account)
    );

    // The waiting node misses its deadline; the crank's expiry names the
    // never-armed node while another waits: the job goes back in line.
    let other = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&other).await.unwrap();
    chain.advance(600 + 600 + 1).await;
    let j: Job = chain.job(&job).await.unwrap();
    let payer = chain.payer();
    let expire = ixs::expire_job(
        job,
        &j,
        ixs::ExpireKeys {
            caller: payer.pubkey(),
            caller_token: chain.payer_token,
            mint: chain.mint,
            creator_token: creator.token,
            candidate_node: Some(as_candidate(&stale)),
        },
    );
    chain.send(&[expire], &[&payer]).await.unwrap();
    assert_eq!(job_state(&mut chain, &job).await.0, JobState::Queued);
    chain
        .send(&[match_job(&stranger, job, &other)], &[&stranger.key])
        .await
        .unwrap();
    assert_eq!(
        job_state(&mut chain, &job).await,
        (JobState::Assigned, other.account)
    );
}
