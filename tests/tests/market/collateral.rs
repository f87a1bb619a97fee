//! Per-job collateral, the bounded hand-back (`release_job`), the posting
//! fee and usage bounded by the chain's clock; and the attacks they close,
//! each played through and priced in AKE.
//!
//! Numbers used throughout (market 0, AKE at 0.499 USD after the haircut):
//! a 1-GPU 600 s job escrows 240,481 base units and pays a posting fee of
//! 20,041 (1 cent); its execution collateral is the 200 AKE per-GPU floor
//! (half the escrow is far less); the expiry slash is half of that, 100 AKE;
//! the deadline is 1,200 s after assignment and the free release window 60 s.

use ake_market::errors::MarketError;
use ake_market::state::{JobState, Node, ReleaseReason, Stake};
use ake_sdk::{instructions as ixs, pda};
use ake_tests::*;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signer;

const ESCROW: u64 = 240_481;
const COLLATERAL: u64 = 200 * AKE;
const EXPIRY_SLASH: u64 = 100 * AKE;
/// What an expiry costs an owner that expires its own job and takes the
/// 20% bounty: the most a release can cost.
const EXPIRY_NET: u64 = 80 * AKE;

/// A node with `stake`, armed, holding a freshly posted 1-GPU 600 s job.
async fn assigned(chain: &mut Chain, stake: u64) -> (TestNode, User, Pubkey) {
    let node = chain.node(1, stake).await;
    chain.node_ready(&node).await.unwrap();
    let creator = chain.user(1_000 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_eq!(chain.job(&job).await.unwrap().node, node.account);
    (node, creator, job)
}

async fn stake(chain: &mut Chain, node: &TestNode) -> Stake {
    chain.stake_of(&node.owner.pubkey()).await
}

async fn node_of(chain: &mut Chain, node: &TestNode) -> Node {
    chain.account(&node.account).await.unwrap()
}

#[tokio::test]
async fn assignment_locks_the_jobs_collateral_from_free_stake() {
    let mut chain = Chain::start().await;
    let (node, _creator, job) = assigned(&mut chain, 1_000 * AKE).await;
    let j = chain.job(&job).await.unwrap();
    assert_eq!(
        (j.collateral, j.terms.execution_collateral),
        (COLLATERAL, COLLATERAL)
    );
    assert_eq!((j.escrow, j.posting_fee), (ESCROW, POSTING_FEE));
    assert_eq!(j.terms.release_window_end, j.assigned_at + 60);
    assert_eq!(j.deadline, j.assigned_at + 1_200);
    let s = stake(&mut chain, &node).await;
    assert_eq!((s.amount, s.locked), (1_000 * AKE, COLLATERAL));
    // The escrow vault holds the escrow and the posting fee.
    assert_eq!(chain.escrow_balance().await, ESCROW + POSTING_FEE);
}

#[tokio::test]
async fn wrong_hash_job_released_inside_the_window_costs_the_node_nothing() {
    let mut chain = Chain::start().await;
    let (node, creator, job) = assigned(&mut chain, 1_000 * AKE).await;
    let supply = chain.supply().await;
    chain.advance(30).await;
    let events = {
        let j = chain.job(&job).await.unwrap();
        let ix = ixs::release_job(
            node.signer.pubkey(),
            job,
            &j,
            ixs::ReleaseKeys {
                mint: chain.mint,
                creator_token: creator.token,
                candidate_node: None,
            },
            ReleaseReason::InputHashMismatch,
        );
        chain
            .send_with_events(&[ix], &[&node.signer])
            .await
            .unwrap()
    };
    let released: ake_market::events::JobReleased =
        find_event(&events).expect("a JobReleased event");
    assert_eq!(
        (
            released.reason,
            released.slashed,
            released.over_budget,
            released.requeued
        ),
        (ReleaseReason::InputHashMismatch, 0, false, true)
    );

    let s = stake(&mut chain, &node).await;
    assert_eq!(
        (s.amount, s.locked),
        (1_000 * AKE, 0),
        "no slash, collateral unlocked"
    );
    assert_eq!(chain.supply().await, supply);
    let n = node_of(&mut chain, &node).await;
    assert!(!n.suspended);
    assert_eq!(
        (n.reputation_bps, n.failed_micro_usd, n.jobs_expired),
        (0, 0, 0)
    );
    let j = chain.job(&job).await.unwrap();
    assert_eq!((j.state, j.releases.total), (JobState::Queued, 1));
    assert_eq!(j.releases.by[0], node.owner.pubkey());
    assert_eq!(j.last_release, Some(ReleaseReason::InputHashMismatch));
}

#[tokio::test]
async fn release_after_the_window_slashes_in_proportion_to_time_held() {
    let mut chain = Chain::start().await;
    let (node, creator, job) = assigned(&mut chain, 1_000 * AKE).await;
    let supply = chain.supply().await;
    chain.advance(300).await;
    chain
        .release(&node, &job, creator.token, ReleaseReason::ImageUnavailable)
        .await
        .unwrap();
    // 300 of 1,200 s held: a quarter of the 80 AKE net expiry cost, all burned.
    let slash = EXPIRY_NET * 300 / 1_200;
    assert_eq!(slash, 20 * AKE);
    let s = stake(&mut chain, &node).await;
    assert_eq!((s.amount, s.locked), (1_000 * AKE - slash, 0));
    assert_eq!(chain.supply().await, supply - slash);
    assert_eq!(chain.market(0).await.tokens_burned, slash);
    assert!(!node_of(&mut chain, &node).await.suspended);
    chain.cancel(&creator, &job).await.unwrap();

    // Still always cheaper than expiry: one second before the deadline.
    let (late, late_creator, late_job) = assigned(&mut chain, 1_000 * AKE).await;
    chain.advance(1_199).await;
    chain
        .release(
            &late,
            &late_job,
            late_creator.token,
            ReleaseReason::OperatorShutdown,
        )
        .await
        .unwrap();
    let s = stake(&mut chain, &late).await;
    assert_eq!(s.amount, 1_000 * AKE - EXPIRY_NET * 1_199 / 1_200);
    assert!(s.amount > 1_000 * AKE - EXPIRY_NET);
    chain.cancel(&late_creator, &late_job).await.unwrap();
    // At the deadline the job is the crank's; a release is refused.
    let (last, last_creator, last_job) = assigned(&mut chain, 1_000 * AKE).await;
    chain.advance(1_201).await;
    assert_market_error(
        chain
            .release(
                &last,
                &last_job,
                last_creator.token,
                ReleaseReason::OperatorShutdown,
            )
            .await,
        MarketError::DeadlinePassed,
    );
}

#[tokio::test]
async fn a_job_released_by_three_owners_is_refunded_and_never_returns_to_them() {
    let mut chain = Chain::start().await;
    let a = chain.proven_node(1, 1_000 * AKE).await;
    let b = chain.proven_node(1, 1_000 * AKE).await;
    let c = chain.proven_node(1, 1_000 * AKE).await;
    let creator = chain.user(1_000 * AKE).await;
    let supply = chain.supply().await;
    // (The proven nodes' settlements left their burns in the escrow vault.)
    let escrow_before = chain.escrow_balance().await;
    chain.node_ready(&a).await.unwrap();
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_eq!(chain.job(&job).await.unwrap().node, a.account);
    chain
        .release(&a, &job, creator.token, ReleaseReason::InputUnavailable)
        .await
        .unwrap();

    // A re-arms: the job is the only one queued, yet it never goes back to A.
    chain.node_ready(&a).await.unwrap();
    let j = chain.job(&job).await.unwrap();
    assert_eq!(j.state, JobState::Queued);
    assert_eq!(
        node_of(&mut chain, &a).await.status,
        ake_market::state::NodeStatus::Queued
    );
    // B takes it; B hands it back: A waits first in line but is skipped.
    chain.node_ready(&b).await.unwrap();
    assert_eq!(chain.job(&job).await.unwrap().node, b.account);
    chain
        .release(&b, &job, creator.token, ReleaseReason::ImageNotAllowed)
        .await
        .unwrap();
    assert_eq!(chain.job(&job).await.unwrap().state, JobState::Queued);
    // C takes it and hands it back: the third release refunds the job.
    chain.node_ready(&c).await.unwrap();
    assert_eq!(chain.job(&job).await.unwrap().node, c.account);
    chain
        .release(&c, &job, creator.token, ReleaseReason::ResourcesMissing)
        .await
        .unwrap();
    assert!(chain.job(&job).await.is_none(), "settled and closed");
    assert_eq!(
        chain.balance(&creator.token).await,
        1_000 * AKE - POSTING_FEE,
        "the escrow back, the posting fee burned"
    );
    assert_eq!(chain.supply().await, supply - POSTING_FEE);
    assert_eq!(chain.escrow_balance().await, escrow_before);
    for n in [&a, &b, &c] {
        let s = stake(&mut chain, n).await;
        assert_eq!(s.amount, 1_000 * AKE, "nobody slashed");
        assert_eq!(s.releases_in_window, 0, "unrunnable: the budget comes back");
    }
    // The creator's next posts cost one posting fee more.
    let record: ake_market::state::Creator = chain
        .account(&pda::creator(&creator.pubkey()))
        .await
        .unwrap();
    assert_eq!(record.unrunnable_in_window, 1);
    let next = chain.post_job(&creator, 1, 600).await.unwrap();
    // Two cents at the haircut price 0.499, rounded up: ceil(20000e8 / 49.9e6).
    assert_eq!(chain.job(&next).await.unwrap().posting_fee, 40_081);
}

#[tokio::test]
async fn releases_past_the_budget_cool_the_node_down_in_the_window_and_cost_an_expiry_after_it() {
    let mut chain = Chain::start().await;
    chain.advance_to_budget_window().await;
    // One GPU registered: a budget of RELEASE_BUDGET a window.
    let node = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(1_000 * AKE).await;
    for _ in 0..RELEASE_BUDGET {
        chain.node_ready(&node).await.unwrap();
        let job = chain.post_job(&creator, 1, 600).await.unwrap();
        chain
            .release(&node, &job, creator.token, ReleaseReason::SpecUnsupported)
            .await
            .unwrap();
        chain.cancel(&creator, &job).await.unwrap();
    }
    assert_eq!(stake(&mut chain, &node).await.amount, 1_000 * AKE);
    let supply = chain.supply().await;
    chain.node_ready(&node).await.unwrap();
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    chain
        .release(&node, &job, creator.token, ReleaseReason::SpecUnsupported)
        .await
        .unwrap();
    // Past the budget, inside the free window: a cooldown at the back of
    // the queue, never a suspension, a failure or stake: whoever posted the
    // jobs cannot make the node pay.
    let s = stake(&mut chain, &node).await;
    assert_eq!((s.amount, s.locked), (1_000 * AKE, 0));
    assert_eq!(chain.supply().await, supply);
    let n = node_of(&mut chain, &node).await;
    assert!(!n.suspended);
    assert_eq!((n.jobs_expired, n.failed_micro_usd), (0, 0));
    assert_eq!(
        n.armable_at,
        chain.now().await + i64::from(OVER_BUDGET_COOLDOWN_SECS)
    );
    chain.cancel(&creator, &job).await.unwrap();
    assert_market_error(chain.node_ready(&node).await, MarketError::NodeCoolingDown);

    // Past the budget AND after the window: priced as an expiry the owner
    // cranked itself (the slash less the bounty), all burned, and recorded
    // as one (suspension): the node held the job past its free window.
    chain.advance(i64::from(OVER_BUDGET_COOLDOWN_SECS)).await;
    chain.node_ready(&node).await.unwrap();
    let late = chain.post_job(&creator, 1, 600).await.unwrap();
    chain.advance(61).await;
    let supply = chain.supply().await;
    chain
        .release(&node, &late, creator.token, ReleaseReason::SpecUnsupported)
        .await
        .unwrap();
    assert_eq!(
        stake(&mut chain, &node).await.amount,
        1_000 * AKE - EXPIRY_NET
    );
    assert_eq!(chain.supply().await, supply - EXPIRY_NET);
    assert!(node_of(&mut chain, &node).await.suspended);
    chain.cancel(&creator, &late).await.unwrap();

    // The budget comes back in the next window.
    chain.rearm(&node).await.unwrap();
    chain.advance(i64::from(RELEASE_BUDGET_WINDOW_SECS)).await;
    chain.node_ready(&node).await.unwrap();
    let next = chain.post_job(&creator, 1, 600).await.unwrap();
    chain
        .release(&node, &next, creator.token, ReleaseReason::SpecUnsupported)
        .await
        .unwrap();
    let n = node_of(&mut chain, &node).await;
    assert!(!n.suspended && n.armable_at <= chain.now().await);
    assert_eq!(
        stake(&mut chain, &node).await.amount,
        1_000 * AKE - EXPIRY_NET
    );
}

#[tokio::test]
async fn a_missed_deadline_slashes_only_that_jobs_collateral() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    // Part of the stake is on its way out; it is not the job's collateral.
    let ix = ixs::request_unstake(node.owner.pubkey(), 300 * AKE);
    chain.send_ok(&[ix], &[&node.owner.key]).await;
    chain.node_ready(&node).await.unwrap();
    let creator = chain.user(1_000 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    let supply = chain.supply().await;
    let bounty0 = chain.balance(&chain.payer_token.clone()).await;
    chain.advance(1_201).await;
    chain.expire(creator.token, &job).await.unwrap();

    // Half the job's 200 AKE collateral: 20 AKE bounty, 80 AKE burned.
    let s = stake(&mut chain, &node).await;
    assert_eq!(
        (s.amount, s.locked, s.unbonding),
        (700 * AKE - EXPIRY_SLASH, 0, 300 * AKE)
    );
    assert_eq!(
        chain.balance(&chain.payer_token.clone()).await,
        bounty0 + 20 * AKE
    );
    assert_eq!(chain.supply().await, supply - 80 * AKE);
    let n = node_of(&mut chain, &node).await;
    assert!(n.suspended);
    let j = chain.job(&job).await.unwrap();
    assert_eq!(
        (j.state, j.expiries, j.collateral),
        (JobState::Queued, 1, 0)
    );
}

#[tokio::test]
async fn collateral_is_freed_at_submit_and_the_result_collateral_at_finalize() {
    let mut chain = Chain::start().await;
    let (node, creator, job) = assigned(&mut chain, 1_000 * AKE).await;
    chain.advance(300).await;
    chain.submit(&node, &job, 300).await.unwrap();
    // 300 s charge 120,241; the result collateral is twice that.
    let kept = 2 * 120_241;
    let s = stake(&mut chain, &node).await;
    assert_eq!(s.locked, kept);
    assert_eq!(chain.job(&job).await.unwrap().collateral, kept);
    // Free for other work at once with the rest of its stake.
    assert_eq!(s.free(), 1_000 * AKE - kept);
    chain.advance(3_601).await;
    chain.finalize(creator.token, &job).await.unwrap();
    assert!(chain.sweep().await);
    let s = stake(&mut chain, &node).await;
    assert_eq!((s.amount, s.locked), (1_000 * AKE, 0));
    assert_eq!(
        chain.escrow_balance().await,
        0,
        "escrow settled, posting fee burned"
    );
}

#[tokio::test]
async fn a_parameter_change_does_not_touch_a_running_job() {
    let mut chain = Chain::start().await;
    let (node, creator, job) = assigned(&mut chain, 1_000 * AKE).await;
    let mut params = chain.params;
    params.sla.expiry_slash_bps = 10_000;
    params.sla.expiry_bounty_bps = 0;
    params.challenge_window_secs = 60;
    // Both timelocked: the job was assigned before either was even proposed.
    chain.set_params(params).await;
    let mut args = default_market();
    args.collateral.escrow_bps = 20_000;
    args.min_stake_per_gpu = 500 * AKE;
    chain
        .govern(ake_market::state::Change::Market { index: 0, args })
        .await;

    let bounty0 = chain.balance(&chain.payer_token.clone()).await;
    chain.advance(1_201).await;
    chain.expire(creator.token, &job).await.unwrap();
    // The terms of the assignment: half of 200 AKE, 20% bounty.
    assert_eq!(
        stake(&mut chain, &node).await.amount,
        1_000 * AKE - EXPIRY_SLASH
    );
    assert_eq!(
        chain.balance(&chain.payer_token.clone()).await,
        bounty0 + 20 * AKE
    );
}

#[tokio::test]
async fn the_posting_fee_is_burned_on_cancel() {
    let mut chain = Chain::start().await;
    let creator = chain.user(1_000 * AKE).await;
    let supply = chain.supply().await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_eq!(
        chain.balance(&creator.token).await,
        1_000 * AKE - ESCROW - POSTING_FEE
    );
    assert_eq!(chain.market(0).await.open_escrow, ESCROW + POSTING_FEE);
    chain.cancel(&creator, &job).await.unwrap();
    assert_eq!(
        chain.balance(&creator.token).await,
        1_000 * AKE - POSTING_FEE
    );
    assert_eq!(chain.supply().await, supply - POSTING_FEE);
    let m = chain.market(0).await;
    assert_eq!((m.open_escrow, m.tokens_burned), (0, POSTING_FEE));
    assert_eq!(chain.escrow_balance().await, 0);
}

#[tokio::test]
async fn usage_above_the_chains_clock_is_refused() {
    let mut chain = Chain::start().await;
    let (node, _creator, job) = assigned(&mut chain, 1_000 * AKE).await;
    chain.advance(100).await;
    assert_market_error(
        chain.submit(&node, &job, 101).await,
        MarketError::UsageExceedsClock,
    );
    assert_market_error(chain.submit(&node, &job, 0).await, MarketError::UsageZero);
    let mut result = ake_tests::result_of(100);
    result.usage.gpu_secs = 101;
    let due = chain.submit_pick(&job).await;
    let ix = ixs::submit_result(
        node.signer.pubkey(),
        node.owner.pubkey(),
        (job, pda::market(0), None),
        result,
        ixs::AfterSubmit::StayIdle,
        due,
    );
    assert_market_error(
        chain.send(&[ix], &[&node.signer]).await,
        MarketError::GpuSecondsExceedWall,
    );
    chain.submit(&node, &job, 100).await.unwrap();
}

// ----- attacks, priced in AKE -----

#[tokio::test]
async fn attack_unrunnable_job_and_a_second_wallets_crank_pays_nothing() {
    // The grief from the issue: a job whose input hash is wrong, and a
    // second wallet of the same creator waiting to expire it for the bounty.
    let mut chain = Chain::start().await;
    let (node, creator, job) = assigned(&mut chain, 1_000 * AKE).await;
    let accomplice = chain.user(0).await;
    let attacker_before = chain.balance(&creator.token).await + ESCROW + POSTING_FEE;
    let owner_before = stake(&mut chain, &node).await.amount;

    // The honest daemon hands the job back inside the window.
    chain.advance(20).await;
    chain
        .release(&node, &job, creator.token, ReleaseReason::InputHashMismatch)
        .await
        .unwrap();
    // Past the deadline there is nothing to expire: the job is queued.
    chain.advance(1_201).await;
    let j = chain.job(&job).await.unwrap();
    let keys = ixs::ExpireKeys {
        caller: accomplice.pubkey(),
        caller_token: accomplice.token,
        mint: chain.mint,
        creator_token: creator.token,
        candidate_node: None,
    };
    let ix = ixs::expire_job(job, &j, keys);
    // The job names no node now: there is no node account to slash.
    assert_code(
        chain.send(&[ix], &[&accomplice.key]).await,
        anchor_error(anchor_lang::error::ErrorCode::AccountOwnedByWrongProgram),
    );
    chain.cancel(&creator, &job).await.unwrap();

    let attacker_after =
        chain.balance(&creator.token).await + chain.balance(&accomplice.token).await;
    let payoff = attacker_after as i128 - attacker_before as i128;
    assert_eq!(
        payoff,
        -(POSTING_FEE as i128),
        "the attacker pays the posting fee"
    );
    assert!(payoff <= 0);
    assert_eq!(
        stake(&mut chain, &node).await.amount,
        owner_before,
        "the node loses nothing"
    );
    assert!(!node_of(&mut chain, &node).await.suspended);
}

#[tokio::test]
async fn attack_unrunnable_jobs_posted_to_several_nodes_cost_the_creator_only_fees() {
    let mut chain = Chain::start().await;
    let nodes = [
        chain.node(1, 1_000 * AKE).await,
        chain.node(1, 1_000 * AKE).await,
        chain.node(1, 1_000 * AKE).await,
    ];
    for n in &nodes {
        chain.node_ready(n).await.unwrap();
    }
    let creator = chain.user(1_000 * AKE).await;
    let before = chain.balance(&creator.token).await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(chain.post_job(&creator, 1, 600).await.unwrap());
    }
    for (n, job) in nodes.iter().zip(&jobs) {
        assert_eq!(chain.job(job).await.unwrap().node, n.account);
        chain
            .release(n, job, creator.token, ReleaseReason::InputUnavailable)
            .await
            .unwrap();
    }
    for job in &jobs {
        chain.cancel(&creator, job).await.unwrap();
    }
    let payoff = chain.balance(&creator.token).await as i128 - before as i128;
    assert_eq!(payoff, -3 * POSTING_FEE as i128);
    for n in &nodes {
        let s = stake(&mut chain, n).await;
        assert_eq!((s.amount, s.locked), (1_000 * AKE, 0));
    }
}

#[tokio::test]
async fn attack_a_sybil_operator_releasing_everything_cannot_hold_a_job() {
    // A censor arms first and hands back every job it gets; an honest node
    // waits behind it. Each released job goes straight to the honest node,
    // and past its budget each release sends the censor to the back of the
    // queue after a cooldown.
    let mut chain = Chain::start().await;
    chain.advance_to_budget_window().await;
    let censor = chain.node(1, 10_000 * AKE).await;
    let honest = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(1_000 * AKE).await;
    let censor_before = stake(&mut chain, &censor).await.amount;
    for round in 0..=RELEASE_BUDGET {
        chain.node_ready(&censor).await.unwrap();
        chain.node_ready(&honest).await.unwrap();
        let job = chain.post_job(&creator, 1, 600).await.unwrap();
        assert_eq!(chain.job(&job).await.unwrap().node, censor.account);
        chain
            .release(
                &censor,
                &job,
                creator.token,
                ReleaseReason::ResourcesMissing,
            )
            .await
            .unwrap();
        assert_eq!(
            chain.job(&job).await.unwrap().node,
            honest.account,
            "round {round}: the released job went straight to the honest node"
        );
        chain.advance(60).await;
        chain.submit(&honest, &job, 60).await.unwrap();
        chain.accept(&creator, &job).await.unwrap();
    }
    // The censor held no job and gained nothing; past its budget it cools
    // down out of the queue, never suspended, and has no reputation.
    let payoff = stake(&mut chain, &censor).await.amount as i128 - censor_before as i128;
    assert_eq!(payoff, 0);
    let c = node_of(&mut chain, &censor).await;
    assert_eq!(
        (c.jobs_expired, c.jobs_completed, c.suspended),
        (0, 0, false)
    );
    assert_eq!((c.proven_micro_usd, c.reputation_bps), (0, 0));
    assert_market_error(
        chain.node_ready(&censor).await,
        MarketError::NodeCoolingDown,
    );
    assert_eq!(
        node_of(&mut chain, &honest).await.jobs_completed,
        u64::from(RELEASE_BUDGET) + 1
    );
}

#[tokio::test]
async fn a_node_whose_owner_cannot_cover_a_job_goes_idle_and_nothing_reverts() {
    // A market rate high enough that half the escrow (601 AKE for a 1-GPU
    // 600 s job) exceeds the per-GPU floor and this owner's 400 AKE.
    let mut chain = Chain::start().await;
    chain.set_market_rate(1_000_000).await;
    let poor = chain.node(1, 400 * AKE).await;
    chain.node_ready(&poor).await.unwrap();
    let creator = chain.user(2_000 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    // The post lands; the node leaves the queue with its lock back; the job waits.
    let j = chain.job(&job).await.unwrap();
    assert_eq!(j.state, JobState::Queued);
    assert_eq!(
        node_of(&mut chain, &poor).await.status,
        ake_market::state::NodeStatus::Idle
    );
    let s = stake(&mut chain, &poor).await;
    assert_eq!((s.amount, s.locked), (400 * AKE, 0));
    // Arming again, the node skips the job it cannot cover and waits.
    chain.node_ready(&poor).await.unwrap();
    assert_eq!(chain.job(&job).await.unwrap().state, JobState::Queued);
    // An owner who can cover it takes it.
    let rich = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&rich).await.unwrap();
    let j = chain.job(&job).await.unwrap();
    assert_eq!(j.node, rich.account);
    assert!(
        j.collateral > 600 * AKE,
        "half the escrow: {}",
        j.collateral
    );
}

#[tokio::test]
async fn attack_fleet_stall_an_owner_s_other_node_takes_the_backlog_behind_the_job_it_handed_back()
{
    // A creator posts a job at the front of the line that this owner's
    // first node hands back (it cannot run it), then a backlog job. Before,
    // every node of the owner named the handed-back job as its best work,
    // could not take it, and waited while the backlog waited too.
    let mut chain = Chain::start().await;
    let first = chain.node(1, 2_000 * AKE).await;
    let second = chain.node_of(&first.owner, 1).await;
    let attacker = chain.user(1_000 * AKE).await;
    let creator = chain.user(1_000 * AKE).await;
    let attacker_before = chain.balance(&attacker.token).await;
    chain.node_ready(&first).await.unwrap();
    let bait = chain.post_job(&attacker, 1, 600).await.unwrap();
    let backlog = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_eq!(chain.job(&bait).await.unwrap().node, first.account);
    chain
        .release(
            &first,
            &bait,
            attacker.token,
            ReleaseReason::ImageUnavailable,
        )
        .await
        .unwrap();
    // The bait waits at the front, marked as this owner's hand-back; the
    // owner's second node passes over it to the backlog job.
    chain.node_ready(&second).await.unwrap();
    assert_eq!(chain.job(&backlog).await.unwrap().node, second.account);
    // And the first node too finds nothing it would hand back again: it waits.
    chain.node_ready(&first).await.unwrap();
    assert_eq!(
        node_of(&mut chain, &first).await.status,
        ake_market::state::NodeStatus::Queued
    );
    assert_eq!(chain.job(&bait).await.unwrap().state, JobState::Queued);
    // Cost and payoff: the attacker's bait holds nothing up and costs it
    // its posting fee when it takes it back; the owner lost nothing.
    chain.cancel(&attacker, &bait).await.unwrap();
    assert_eq!(
        attacker_before - chain.balance(&attacker.token).await,
        POSTING_FEE
    );
    assert_eq!(stake(&mut chain, &first).await.amount, 2_000 * AKE);
    println!("fleet stall: costs {POSTING_FEE} base units (one posting fee), stalls nothing");
}

#[tokio::test]
async fn attack_release_budget_spray_never_suspends_an_honest_fleet() {
    // One hand-back per GPU a window, so a spray exhausts every budget with
    // two jobs. A hundred owners with one fresh node each (no verified
    // work: their hand-backs never refund the job, so none come back).
    const OWNERS: usize = 100;
    let mut chain = Chain::start().await;
    let mut params = default_params();
    params.release.budget_per_gpu = 1;
    chain.set_params(params).await;
    let mut nodes = Vec::with_capacity(OWNERS);
    for _ in 0..OWNERS {
        nodes.push(chain.node(1, 200 * AKE).await);
    }
    let attacker = chain.user(1_000 * AKE).await;
    let attacker_before = chain.balance(&attacker.token).await;
    let supply = chain.supply().await;
    let mut posts = 0u64;
    for round in 0..2 {
        for node in &nodes {
            chain.node_ready(node).await.unwrap();
        }
        // Jobs no node can run: each node hands the job to the next waiting
        // one; after MAX_HANDBACKS it is refunded and the attacker posts
        // another.
        let mut job = Pubkey::default();
        for node in &nodes {
            if chain.job(&job).await.is_none() {
                job = chain.post_job(&attacker, 1, 600).await.unwrap();
                posts += 1;
            }
            assert_eq!(chain.job(&job).await.unwrap().node, node.account);
            chain
                .release(node, &job, attacker.token, ReleaseReason::SpecUnsupported)
                .await
                .unwrap();
        }
        let cooling = node_of(&mut chain, &nodes[0]).await.armable_at > chain.now().await;
        assert_eq!(cooling, round == 1, "past the budget only in round 2");
        // The attacker takes the last one back: every job cost its posting fee.
        if chain.job(&job).await.is_some() {
            chain.cancel(&attacker, &job).await.unwrap();
        }
    }
    let per_round = (OWNERS as u64).div_ceil(u64::from(ake_market::constants::MAX_HANDBACKS));
    assert_eq!(posts, 2 * per_round);
    // Every budget is spent; no node is suspended, slashed or marked failed:
    // each waits its cooldown at the back of the queue and arms again.
    for node in &nodes {
        let n = node_of(&mut chain, node).await;
        assert!(!n.suspended);
        assert_eq!((n.jobs_expired, n.failed_micro_usd), (0, 0));
        assert_eq!(stake(&mut chain, node).await.amount, 200 * AKE);
    }
    assert_eq!(chain.supply().await, supply - posts * POSTING_FEE);
    chain.advance(i64::from(OVER_BUDGET_COOLDOWN_SECS)).await;
    for node in &nodes[..3] {
        chain.node_ready(node).await.unwrap();
    }
    let cost = attacker_before - chain.balance(&attacker.token).await;
    assert_eq!(cost, posts * POSTING_FEE);
    println!(
        "release budget spray of {OWNERS} owners: costs {cost} base units, suspends nobody, \
         slashes 0 AKE; each node waits {OVER_BUDGET_COOLDOWN_SECS} s"
    );
}

#[tokio::test]
async fn a_job_passed_between_owners_it_no_longer_remembers_is_refunded_after_max_handbacks() {
    // Four fresh owners (no verified work: nothing counts). The job
    // remembers three; the fourth and the one it forgot could pass it back
    // and forth forever (its assignment count would overflow and jam every
    // search that names it). After MAX_HANDBACKS hand-backs it is refunded.
    let mut chain = Chain::start().await;
    let creator = chain.user(1_000 * AKE).await;
    let mut nodes = Vec::new();
    for _ in 0..4 {
        let node = chain.node(1, 1_000 * AKE).await;
        chain.node_ready(&node).await.unwrap();
        nodes.push(node);
    }
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    let handbacks = ake_market::constants::MAX_HANDBACKS;
    for n in 1..=handbacks {
        let holder = chain.job(&job).await.unwrap().node;
        let node = nodes.iter().find(|x| x.account == holder).unwrap();
        chain
            .release(node, &job, creator.token, ReleaseReason::ResourcesMissing)
            .await
            .unwrap();
        if n < handbacks {
            // Still live: straight to another waiting owner.
            let j = chain.job(&job).await.unwrap();
            assert_eq!(
                (j.state, j.releases.total, j.releases.counted),
                (JobState::Assigned, n, 0)
            );
            chain.node_ready(node).await.unwrap();
        }
    }
    assert!(chain.job(&job).await.is_none(), "refunded and closed");
    assert_eq!(
        chain.balance(&creator.token).await,
        1_000 * AKE - POSTING_FEE,
        "the escrow back, the posting fee burned"
    );
    for node in &nodes {
        assert_eq!(stake(&mut chain, node).await.amount, 1_000 * AKE);
    }
}
