//! The job lifecycle end to end, every token balance and the supply checked.

use ake_market::state::{JobState, Node, NodeStatus, Stake};
use ake_sdk::pda;
use ake_tests::*;

/// 1 GPU x 600 s at 200 micro-USD/s = 120,000 micro-USD; at the haircut price
/// 0.50 - 2 x 0.0005 = 0.499 USD/AKE that is ceil(120000e8 / 49_900_000).
const ESCROW_1X600: u64 = 240_481;

#[tokio::test]
async fn post_assign_submit_accept() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let n: Node = chain.account(&node.account).await.unwrap();
    assert_eq!(n.status, NodeStatus::Queued);
    let stake: Stake = chain
        .account(&pda::stake(&node.owner.pubkey()))
        .await
        .unwrap();
    assert_eq!(stake.locked, MIN_STAKE_PER_GPU);

    let creator = chain.user(10 * AKE).await;
    let supply0 = chain.supply().await;
    let job_key = chain.post_job(&creator, 1, 600).await.unwrap();

    // Assigned at once to the waiting node.
    let job = chain.job(&job_key).await.unwrap();
    assert_eq!(job.state, JobState::Assigned);
    assert_eq!(job.node, node.account);
    assert_eq!(job.escrow, ESCROW_1X600);
    assert_eq!(job.price.mantissa, 49_900_000);
    assert_eq!(
        chain.balance(&creator.token).await,
        10 * AKE - ESCROW_1X600 - POSTING_FEE
    );
    assert_eq!(chain.escrow_balance().await, ESCROW_1X600 + POSTING_FEE);
    let n: Node = chain.account(&node.account).await.unwrap();
    assert_eq!((n.status, n.current_job), (NodeStatus::Busy, job_key));
    assert_eq!(chain.market(0).await.node_count, 0);

    chain.advance(300).await;
    chain.submit(&node, &job_key, 300).await.unwrap();
    let job = chain.job(&job_key).await.unwrap();
    assert_eq!(job.state, JobState::Submitted);
    let n: Node = chain.account(&node.account).await.unwrap();
    assert_eq!(
        n.status,
        NodeStatus::Idle,
        "a node is free once it has submitted"
    );

    let treasury0 = chain.balance(&chain.treasury.clone()).await;
    let keys = chain.settle_keys(creator.token, creator.pubkey()).await;
    let events = chain
        .send_with_events(
            &[ake_sdk::instructions::accept_result(job_key, &job, &keys)],
            &[&creator.key],
        )
        .await
        .unwrap();
    // 300 s x 200 = 60,000 micro-USD -> ceil(60000e8 / 49.9e6) = 120,241 base units.
    let charged = 120_241;
    let burned = charged * 9_500 / 10_000;
    let fee = charged - burned;
    assert_eq!(
        chain.balance(&creator.token).await,
        10 * AKE - charged - POSTING_FEE
    );
    // The burn and the fee wait in the escrow vault, counted in the
    // market's ledger: the settlement wrote neither the mint nor the
    // treasury. The crank's sweep burns and pays them in one go.
    let ledger = chain.ledger().await;
    assert_eq!(
        (ledger.pending_burn, ledger.pending_treasury),
        (burned + POSTING_FEE, fee)
    );
    assert_eq!(chain.escrow_balance().await, burned + POSTING_FEE + fee);
    assert_eq!(chain.supply().await, supply0);
    assert!(chain.sweep().await);
    assert!(!chain.sweep().await, "nothing left to sweep");
    assert_eq!(
        chain.balance(&chain.treasury.clone()).await,
        treasury0 + fee
    );
    assert_eq!(chain.escrow_balance().await, 0);
    assert_eq!(chain.supply().await, supply0 - burned - POSTING_FEE);
    assert!(
        chain.job(&job_key).await.is_none(),
        "a settled job's account is closed"
    );

    let settled = events
        .iter()
        .find(|e| e.starts_with(ake_market::events::JobSettled::DISCRIMINATOR))
        .expect("JobSettled event");
    let settled: ake_market::events::JobSettled =
        anchor_lang::AnchorDeserialize::deserialize(&mut &settled[8..]).unwrap();
    assert_eq!(
        (
            settled.charged,
            settled.burned,
            settled.treasury_fee,
            settled.posting_fee_burned
        ),
        (charged, burned, fee, POSTING_FEE)
    );
    assert_eq!(settled.work_micro_usd, 60_000);
    assert!(settled.accepted_by_creator);

    let n: Node = chain.account(&node.account).await.unwrap();
    assert_eq!((n.jobs_completed, n.work_micro_usd), (1, 60_000));
    let stake: Stake = chain
        .account(&pda::stake(&node.owner.pubkey()))
        .await
        .unwrap();
    assert_eq!(stake.locked, 0);
    let market = chain.market(0).await;
    let ledger = chain.ledger().await;
    assert_eq!(
        (
            market.open_escrow + ledger.escrow_in - ledger.escrow_out,
            ledger.tokens_burned,
            ledger.jobs_settled
        ),
        (0, burned + POSTING_FEE, 1)
    );
    assert_eq!(market.in_flight_count, 0);
}

use anchor_lang::Discriminator;

#[tokio::test]
async fn post_queue_ready_submit_finalize() {
    let mut chain = Chain::start().await;
    let creator = chain.user(10 * AKE).await;
    let job_key = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_eq!(chain.job(&job_key).await.unwrap().state, JobState::Queued);
    assert_eq!(chain.market(0).await.job_count, 1);
    assert_eq!(chain.escrow_balance().await, ESCROW_1X600 + POSTING_FEE);

    let node = chain.node(2, 1_000 * AKE).await;
    let supply0 = chain.supply().await;
    chain.node_ready(&node).await.unwrap();
    let job = chain.job(&job_key).await.unwrap();
    assert_eq!((job.state, job.node), (JobState::Assigned, node.account));
    assert_eq!(chain.market(0).await.job_count, 0);
    let stake: Stake = chain
        .account(&pda::stake(&node.owner.pubkey()))
        .await
        .unwrap();
    assert_eq!(
        stake.locked, MIN_STAKE_PER_GPU,
        "the collateral follows the job's GPUs, not the node's"
    );

    // Reports the whole max duration: charged for the max.
    chain.advance(600).await;
    chain.submit(&node, &job_key, 600).await.unwrap();
    assert_market_error(
        chain.finalize(creator.token, &job_key).await,
        ake_market::errors::MarketError::ChallengeWindowOpen,
    );
    chain.advance(3_601).await;
    let creator_lamports = chain.lamports(&creator.pubkey()).await;
    let job_rent = chain.lamports(&job_key).await;
    chain.finalize(creator.token, &job_key).await.unwrap();

    let charged = ESCROW_1X600; // the full max charge
    let burned = charged * 9_500 / 10_000;
    assert_eq!(
        chain.balance(&creator.token).await,
        10 * AKE - charged - POSTING_FEE
    );
    assert!(chain.sweep().await);
    assert_eq!(chain.escrow_balance().await, 0);
    assert_eq!(chain.supply().await, supply0 - burned - POSTING_FEE);
    assert_eq!(
        chain.lamports(&creator.pubkey()).await,
        creator_lamports + job_rent,
        "rent returns to the creator"
    );
}

#[tokio::test]
async fn cancel_refunds_the_escrow_and_burns_the_posting_fee() {
    let mut chain = Chain::start().await;
    let creator = chain.user(10 * AKE).await;
    let job_key = chain.post_job(&creator, 1, 600).await.unwrap();
    chain.cancel(&creator, &job_key).await.unwrap();
    assert_eq!(chain.balance(&creator.token).await, 10 * AKE - POSTING_FEE);
    assert_eq!(chain.escrow_balance().await, 0);
    assert!(chain.job(&job_key).await.is_none());
    let market = chain.market(0).await;
    assert_eq!((market.job_count, market.open_escrow), (0, 0));
    // The nonce moves on: the next job gets a new address.
    assert_eq!(chain.next_nonce(&creator.pubkey()).await, 1);
}

#[tokio::test]
async fn expiry_requeues_at_the_front_then_refunds() {
    let mut chain = Chain::start().await;
    let creator = chain.user(10 * AKE).await;
    let other = chain.user(10 * AKE).await;
    let job_key = chain.post_job(&creator, 1, 600).await.unwrap();
    let later = chain.post_job(&other, 1, 600).await.unwrap();

    let slow = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&slow).await.unwrap();
    assert_eq!(chain.job(&job_key).await.unwrap().node, slow.account);

    // Deadline = assignment + max duration + grace.
    chain.advance(600 + 600).await;
    assert_market_error(
        chain.expire(creator.token, &job_key).await,
        ake_market::errors::MarketError::DeadlineNotReached,
    );
    chain.advance(1).await;
    chain.expire(creator.token, &job_key).await.unwrap();

    let job = chain.job(&job_key).await.unwrap();
    assert_eq!(
        (job.state, job.attempts, job.expiries),
        (JobState::Queued, 1, 1)
    );
    let n: Node = chain.account(&slow.account).await.unwrap();
    assert_eq!((n.status, n.jobs_expired), (NodeStatus::Idle, 1));
    let stake: Stake = chain
        .account(&pda::stake(&slow.owner.pubkey()))
        .await
        .unwrap();
    assert_eq!(stake.locked, 0);
    assert_eq!(
        stake.amount,
        900 * AKE,
        "half of the job's 200 AKE collateral slashed"
    );
    // Back at the FRONT: ahead of the job posted after it was.
    let order: Vec<_> = chain
        .market(0)
        .await
        .queued_jobs()
        .iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(order, vec![job_key, later]);

    // Two more missed deadlines use up the 3 attempts: the escrow refunded,
    // the posting fee burned.
    for attempt in 2..=3u8 {
        chain.rearm(&slow).await.unwrap(); // an expiry suspends the node
        chain.node_ready(&slow).await.unwrap();
        let job = chain.job(&job_key).await.unwrap();
        assert_eq!((job.state, job.attempts), (JobState::Assigned, attempt));
        chain.advance(1_201).await;
        chain.expire(creator.token, &job_key).await.unwrap();
    }
    assert!(chain.job(&job_key).await.is_none());
    assert_eq!(chain.balance(&creator.token).await, 10 * AKE - POSTING_FEE);
    assert_eq!(
        chain.escrow_balance().await,
        ESCROW_1X600 + POSTING_FEE,
        "only the other job's escrow and fee remain"
    );
    assert_eq!(chain.market(0).await.in_flight_count, 0);
}
