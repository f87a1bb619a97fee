//! Reputation, identity and queues an attacker cannot game: reputation
//! weighted by the value of the work, a fresh identity never better off
//! than a punished one, hot-key rotation keeping the record, suspended
//! nodes out of the queue at once, stale jobs refunded, rent returned.

use ake_market::errors::MarketError;
use ake_market::state::{JobState, Node, NodeStatus, Stake, MAX_REPUTATION_BPS};
use ake_sdk::{instructions as ixs, pda};
use ake_tests::*;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Keypair;
use solana_sdk::signer::Signer;

async fn node_at(chain: &mut Chain, key: &Pubkey) -> Node {
    chain.account(key).await.unwrap()
}

/// Sets the re-arm cooldown (which new nodes wait too) as the admin.
async fn set_cooldown(chain: &mut Chain, secs: u32) {
    let mut params = default_params();
    params.sla.rearm_cooldown_secs = secs;
    chain.set_params(params).await;
}

/// Registers another node of `owner` under a new hot key.
async fn register(chain: &mut Chain, owner: &User) -> TestNode {
    let signer = Keypair::new();
    chain.airdrop(&signer.pubkey(), 1_000_000_000).await;
    let ix = ixs::register_node(
        owner.pubkey(),
        signer.pubkey(),
        pda::market(0),
        1,
        profile(),
    );
    chain.send_ok(&[ix], &[&owner.key, &signer]).await;
    TestNode {
        account: pda::node(&signer.pubkey()),
        owner: User {
            key: owner.key.insecure_clone(),
            token: owner.token,
        },
        signer,
    }
}

/// A node that earned reputation with one 3,600 s job (720,000 micro-USD)
/// and then missed the deadline of a 600 s job (worth 120,000): suspended.
async fn punished_node(chain: &mut Chain, creator: &User) -> TestNode {
    let node = chain.node(1, 2_000 * AKE).await;
    let armable_at = node_at(chain, &node.account).await.armable_at;
    let wait = armable_at - chain.now().await;
    chain.advance(wait.max(0)).await;
    chain.work(&node, creator, 3_600).await;
    chain.node_ready(&node).await.unwrap();
    let job = chain.post_job(creator, 1, 600).await.unwrap();
    chain.advance(1_201).await;
    chain.expire(creator.token, &job).await.unwrap();
    // The expired job went back to the queue: take it out of the way.
    chain.cancel(creator, &job).await.unwrap();
    let n = node_at(chain, &node.account).await;
    assert!(n.suspended);
    assert_eq!(
        (n.proven_micro_usd, n.failed_micro_usd, n.reputation_bps),
        (3_600 * RATE, 600 * RATE, 664),
        "720,000 / (720,000 + 120,000 + the 10 USD prior)"
    );
    node
}

#[tokio::test]
async fn reputation_follows_the_value_of_work_so_sixty_one_second_jobs_lose_to_one_long_job() {
    let mut chain = Chain::start().await;
    let farmer = chain.node(1, 1_000 * AKE).await;
    let worker = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(1_000 * AKE).await;
    let before = chain.balance(&creator.token).await;
    for _ in 0..60 {
        chain.work(&farmer, &creator, 1).await;
    }
    // Each one-second job cost its poster the posting fee and a 401-unit
    // charge (200 micro-USD at the 0.499 haircut price, rounded up).
    assert_eq!(
        before - chain.balance(&creator.token).await,
        60 * (POSTING_FEE + 401)
    );
    chain.work(&worker, &creator, 3_600).await;

    let f = node_at(&mut chain, &farmer.account).await;
    let w = node_at(&mut chain, &worker.account).await;
    // 60 x 200 = 12,000 micro-USD of work buys 11 bps; one hour (720,000) buys 671.
    assert_eq!(
        (f.jobs_completed, f.proven_micro_usd, f.reputation_bps),
        (60, 60 * RATE, 11)
    );
    assert_eq!(
        (w.jobs_completed, w.proven_micro_usd, w.reputation_bps),
        (1, 3_600 * RATE, 671)
    );

    // A job asking for 600 bps skips the farmer and waits for the worker.
    chain.node_ready(&farmer).await.unwrap();
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    let mut args = chain.post_args(nonce, 1, 600);
    args.min_reputation_bps = 600;
    let picky = chain.post_job_with(&creator, args).await.unwrap();
    assert_eq!(chain.job(&picky).await.unwrap().state, JobState::Queued);
    chain.node_ready(&worker).await.unwrap();
    assert_eq!(chain.job(&picky).await.unwrap().node, worker.account);
    let open = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_eq!(chain.job(&open).await.unwrap().node, farmer.account);

    // The highest minimum a job may ask for is reachable (99x the prior, no
    // failure); above it a job would only squat a slot, so it is refused
    // and nothing is taken.
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    let mut args = chain.post_args(nonce, 1, 600);
    args.min_reputation_bps = MAX_REPUTATION_BPS + 1;
    let balance = chain.balance(&creator.token).await;
    assert_market_error(
        chain.post_job_with(&creator, args).await.map(|_| ()),
        MarketError::InvalidJobShape,
    );
    assert_eq!(chain.balance(&creator.token).await, balance);
    let mut args = chain.post_args(nonce, 1, 600);
    args.min_reputation_bps = MAX_REPUTATION_BPS;
    chain.post_job_with(&creator, args).await.unwrap();
}

#[tokio::test]
async fn a_re_registered_node_is_never_better_off_than_the_punished_one() {
    let mut chain = Chain::start().await;
    set_cooldown(&mut chain, 600).await;
    let creator = chain.user(1_000 * AKE).await;
    let punished = punished_node(&mut chain, &creator).await;
    let p = node_at(&mut chain, &punished.account).await;

    // The same owner under a new hot key, and a stranger's new identity:
    // no reputation, and the same wait as the punished node.
    let same_owner = register(&mut chain, &punished.owner).await;
    let stranger = chain.node(1, 2_000 * AKE).await;
    for fresh in [&same_owner, &stranger] {
        let f = node_at(&mut chain, &fresh.account).await;
        assert_eq!((f.reputation_bps, f.proven_micro_usd), (0, 0));
        assert!(f.reputation_bps <= p.reputation_bps);
        assert!(f.armable_at >= p.armable_at);
        assert_market_error(chain.node_ready(fresh).await, MarketError::NodeCoolingDown);
    }
    assert_market_error(chain.rearm(&punished).await, MarketError::NodeCoolingDown);

    chain.advance(600).await;
    chain.rearm(&punished).await.unwrap();
    for node in [&same_owner, &stranger, &punished] {
        chain.node_ready(node).await.unwrap();
    }
    // A job asking for the punished node's standing still goes to it.
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    let mut args = chain.post_args(nonce, 1, 600);
    args.min_reputation_bps = 600;
    let job = chain.post_job_with(&creator, args).await.unwrap();
    assert_eq!(chain.job(&job).await.unwrap().node, punished.account);
}

#[tokio::test]
async fn a_node_that_loses_a_dispute_while_waiting_leaves_the_queue_at_once_and_is_never_assigned()
{
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    chain.advance(300).await;
    chain.submit(&node, &job, 300).await.unwrap();
    chain.dispute(&creator, &job).await.unwrap();
    // Waiting for its next job while the dispute runs.
    chain.node_ready(&node).await.unwrap();
    let result_collateral = chain.job(&job).await.unwrap().collateral;
    assert_eq!(
        chain.stake_of(&node.owner.pubkey()).await.locked,
        MIN_STAKE_PER_GPU + result_collateral
    );

    chain.resolve(creator.token, &job, true).await.unwrap();
    let n = node_at(&mut chain, &node.account).await;
    assert!(n.suspended);
    assert_eq!(
        (n.status, n.locked_stake, n.open_jobs),
        (NodeStatus::Idle, 0, 0)
    );
    assert_eq!(chain.market(0).await.node_count, 0);
    let stake = chain.stake_of(&node.owner.pubkey()).await;
    assert_eq!(
        (stake.amount, stake.locked),
        (1_000 * AKE - result_collateral, 0)
    );
    // The next job waits rather than going to the suspended node.
    let next = chain.post_job(&creator, 1, 600).await.unwrap();
    let j = chain.job(&next).await.unwrap();
    assert_eq!((j.state, j.node), (JobState::Queued, Pubkey::default()));
    assert_market_error(chain.node_ready(&node).await, MarketError::NodeSuspended);
}

/// A settlement never writes the market (issue 27), so a node already
/// waiting keeps the reputation its queue entry had when it joined; the
/// reputation it earned counts from its next arm (a settlement only ever
/// raises reputation: what lowers it, an expiry, a hand-back or a lost
/// dispute, takes the node out of the queue at once).
#[tokio::test]
async fn a_waiting_node_is_matched_on_its_new_reputation_from_its_next_arm() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let job = chain.post_job(&creator, 1, 3_600).await.unwrap();
    chain.advance(3_600).await;
    chain.submit(&node, &job, 3_600).await.unwrap();
    chain.node_ready(&node).await.unwrap();
    chain.accept(&creator, &job).await.unwrap();
    let reputation = node_at(&mut chain, &node.account).await.reputation_bps;
    assert_eq!(reputation, 671);
    let entry = chain.market(0).await.queued_nodes()[0];
    assert_eq!((entry.key, entry.reputation_bps), (node.account, 0));
    // A job asking for what it earned waits while the node's entry is old...
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    let mut args = chain.post_args(nonce, 1, 600);
    args.min_reputation_bps = 600;
    let picky = chain.post_job_with(&creator, args).await.unwrap();
    assert_eq!(chain.job(&picky).await.unwrap().state, JobState::Queued);
    // ...and goes to it when it arms again (its daemon's next arm).
    let unready = ixs::node_unready(
        node.signer.pubkey(),
        node.signer.pubkey(),
        node.owner.pubkey(),
        pda::market(0),
    );
    chain.send_ok(&[unready], &[&node.signer]).await;
    chain
        .advance(ake_market::constants::UNREADY_COOLDOWN_SECS)
        .await;
    chain.node_ready(&node).await.unwrap();
    assert_eq!(chain.job(&picky).await.unwrap().node, node.account);
}

#[tokio::test]
async fn a_stale_queued_job_is_refunded_by_anyone_after_max_queue_secs() {
    let mut chain = Chain::start().await;
    let creator = chain.user(10 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    let j = chain.job(&job).await.unwrap();
    // Sent by the test validator's payer: anyone may.
    let stranger = chain.user(0).await;
    let refund = |token| ixs::refund_stale_job(job, &j, chain.mint, token);
    let (early, wrong_account, on_time) = (
        refund(creator.token),
        refund(stranger.token),
        refund(creator.token),
    );
    assert_market_error(
        chain.send(std::slice::from_ref(&early), &[]).await,
        MarketError::JobNotStale,
    );
    chain.advance(i64::from(MAX_QUEUE_SECS)).await;
    assert_market_error(chain.send(&[early], &[]).await, MarketError::JobNotStale);
    chain.advance(1).await;
    assert_market_error(
        chain.send(&[wrong_account], &[]).await,
        MarketError::WrongTokenOwner,
    );
    // A pause (no assignment) never makes jobs stale: refunds wait for the
    // end of the pause and count the queue wait from then.
    let admin = chain.admin.insecure_clone();
    chain
        .send_ok(&[ixs::set_paused(admin.pubkey(), true)], &[&admin])
        .await;
    assert_market_error(
        chain.send(std::slice::from_ref(&on_time), &[]).await,
        MarketError::Paused,
    );
    chain
        .send_ok(&[ixs::set_paused(admin.pubkey(), false)], &[&admin])
        .await;
    assert_market_error(
        chain.send(std::slice::from_ref(&on_time), &[]).await,
        MarketError::JobNotStale,
    );
    chain.advance(i64::from(MAX_QUEUE_SECS) + 1).await;
    let supply = chain.supply().await;
    let rent = chain.lamports(&job).await;
    let lamports = chain.lamports(&creator.pubkey()).await;
    let config: ake_market::state::Config = chain.account(&pda::config()).await.unwrap();
    let waited = (chain.now().await - config.unpaused_at) as u64;
    chain.send(&[on_time], &[]).await.unwrap();

    // The escrow and the job's rent back to the creator; the posting fee
    // burned, and a waiting fee of one posting fee per day waited.
    // Billed up to the staleness threshold (a day here): one posting fee,
    // however late the refund comes.
    assert!(waited > u64::from(MAX_QUEUE_SECS));
    let waiting_fee = (POSTING_FEE * u64::from(MAX_QUEUE_SECS)).div_ceil(86_400);
    assert_eq!(waiting_fee, POSTING_FEE);
    assert_eq!(
        chain.balance(&creator.token).await,
        10 * AKE - POSTING_FEE - waiting_fee
    );
    assert_eq!(chain.lamports(&creator.pubkey()).await, lamports + rent);
    assert_eq!(chain.supply().await, supply - POSTING_FEE - waiting_fee);
    assert!(chain.job(&job).await.is_none());
    let market = chain.market(0).await;
    assert_eq!((market.job_count, market.open_escrow), (0, 0));
}

#[tokio::test]
async fn a_crowded_job_queue_never_blocks_an_expiry_and_the_job_goes_back_in_line() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let creator = chain.user(1_000 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    let escrow = chain.job(&job).await.unwrap().escrow;
    for _ in 0..TEST_CAPACITY.jobs {
        chain.post_job(&creator, 1, 600).await.unwrap();
    }
    chain.advance(1_201).await;
    let balance = chain.balance(&creator.token).await;
    let market = chain.market(0).await;
    // The job queue at its pre-allocated capacity (which used to refund
    // an expired job for want of room).
    assert_eq!(market.job_count, TEST_CAPACITY.jobs);
    chain.expire(creator.token, &job).await.unwrap();
    // The pool is never too full to take the job back: it heads its tier
    // again, its escrow still held.
    let requeued = chain.job(&job).await.unwrap();
    assert_eq!(
        (requeued.state, requeued.escrow),
        (JobState::Queued, escrow)
    );
    assert_eq!(chain.market(0).await.queued_jobs()[0].key, job);
    assert_eq!(chain.balance(&creator.token).await, balance);
    // Half the 200 AKE collateral slashed; nothing stays locked.
    let stake = chain.stake_of(&node.owner.pubkey()).await;
    assert_eq!((stake.amount, stake.locked), (900 * AKE, 0));
    assert_eq!(node_at(&mut chain, &node.account).await.open_jobs, 0);
}

#[tokio::test]
async fn rotating_the_hot_key_keeps_reputation_suspension_and_counters() {
    let mut chain = Chain::start().await;
    set_cooldown(&mut chain, 600).await;
    let creator = chain.user(1_000 * AKE).await;
    let node = punished_node(&mut chain, &creator).await;
    let before = node_at(&mut chain, &node.account).await;
    let owner = node.owner.pubkey();

    let new_signer = Keypair::new();
    chain.airdrop(&new_signer.pubkey(), 1_000_000_000).await;
    let rotate =
        |owner: Pubkey, node: Pubkey| ixs::rotate_node_key(owner, node, new_signer.pubkey());
    assert_market_error(
        chain
            .send(
                &[rotate(creator.pubkey(), node.account)],
                &[&creator.key, &new_signer],
            )
            .await,
        MarketError::NotNodeOwner,
    );
    let lamports = chain.lamports(&owner).await;
    chain
        .send(
            &[rotate(owner, node.account)],
            &[&node.owner.key, &new_signer],
        )
        .await
        .unwrap();
    assert!(chain.raw_account(&node.account).await.is_none());
    assert_eq!(
        chain.lamports(&owner).await,
        lamports,
        "old rent pays the new"
    );

    let rotated = TestNode {
        account: pda::node(&new_signer.pubkey()),
        owner: User {
            key: node.owner.key.insecure_clone(),
            token: node.owner.token,
        },
        signer: new_signer.insecure_clone(),
    };
    let after = node_at(&mut chain, &rotated.account).await;
    let record = |n: &Node| {
        (
            n.owner,
            n.reputation_bps,
            n.proven_micro_usd,
            n.failed_micro_usd,
            n.suspended,
            n.armable_at,
            (n.jobs_completed, n.jobs_expired, n.jobs_disputed),
            n.work_micro_usd,
            n.registered_at,
        )
    };
    assert_eq!(record(&after), record(&before));
    assert_eq!(after.signer, new_signer.pubkey());

    // The new key inherits the suspension and its cooldown.
    assert_market_error(chain.node_ready(&rotated).await, MarketError::NodeSuspended);
    assert_market_error(chain.rearm(&rotated).await, MarketError::NodeCoolingDown);
    chain.advance(600).await;
    chain.rearm(&rotated).await.unwrap();

    // Never while a job names the node: running it, or in its challenge window.
    chain.node_ready(&rotated).await.unwrap();
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    let third = Keypair::new();
    let again = |signer: &Keypair| ixs::rotate_node_key(owner, rotated.account, signer.pubkey());
    assert_market_error(
        chain
            .send(&[again(&third)], &[&node.owner.key, &third])
            .await,
        MarketError::NodeNotIdle,
    );
    chain.advance(60).await;
    chain.submit(&rotated, &job, 60).await.unwrap();
    assert_market_error(
        chain
            .send(&[again(&third)], &[&node.owner.key, &third])
            .await,
        MarketError::NodeHasOpenJobs,
    );
    chain.accept(&creator, &job).await.unwrap();
    chain
        .send(&[again(&third)], &[&node.owner.key, &third])
        .await
        .unwrap();
}

#[tokio::test]
async fn close_node_returns_the_rent_once_idle_with_no_unsettled_job() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(1_000 * AKE).await;
    let owner = node.owner.pubkey();
    let close = |who: Pubkey| ixs::close_node(who, node.account);

    chain.node_ready(&node).await.unwrap();
    assert_market_error(
        chain.send(&[close(owner)], &[&node.owner.key]).await,
        MarketError::NodeNotIdle,
    );
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_market_error(
        chain.send(&[close(owner)], &[&node.owner.key]).await,
        MarketError::NodeNotIdle,
    );
    chain.advance(60).await;
    chain.submit(&node, &job, 60).await.unwrap();
    assert_market_error(
        chain.send(&[close(owner)], &[&node.owner.key]).await,
        MarketError::NodeHasOpenJobs,
    );
    chain.accept(&creator, &job).await.unwrap();
    assert_market_error(
        chain
            .send(&[close(creator.pubkey())], &[&creator.key])
            .await,
        MarketError::NotNodeOwner,
    );

    let rent = chain.lamports(&node.account).await;
    let lamports = chain.lamports(&owner).await;
    chain
        .send(&[close(owner)], &[&node.owner.key])
        .await
        .unwrap();
    assert!(chain.raw_account(&node.account).await.is_none());
    assert_eq!(chain.lamports(&owner).await, lamports + rent);

    // The emission its work earned is still claimed to the owner.
    let epoch = chain.epoch().await;
    chain.advance_to_epoch(epoch + 1).await;
    chain.close_epoch(&creator, epoch).await.unwrap();
    let tokens = chain.balance(&node.owner.token).await;
    chain.claim(&node, epoch).await.unwrap();
    assert!(chain.balance(&node.owner.token).await > tokens);
}

#[tokio::test]
async fn close_stake_returns_the_rent_only_once_everything_is_withdrawn() {
    let mut chain = Chain::start().await;
    let owner = chain.user(1_000 * AKE).await;
    chain.deposit_stake(&owner, 1_000 * AKE).await.unwrap();
    let stake_key = pda::stake(&owner.pubkey());
    let close = ixs::close_stake(owner.pubkey());

    assert_market_error(
        chain
            .send(std::slice::from_ref(&close), &[&owner.key])
            .await,
        MarketError::StakeNotEmpty,
    );
    let unstake = ixs::request_unstake(owner.pubkey(), 1_000 * AKE);
    chain.send_ok(&[unstake], &[&owner.key]).await;
    assert_market_error(
        chain
            .send(std::slice::from_ref(&close), &[&owner.key])
            .await,
        MarketError::StakeNotEmpty,
    );
    // Someone else cannot close it: the account is derived from the signer.
    let stranger = chain.user(0).await;
    let theirs = ixs::close_stake(stranger.pubkey());
    let mut forged = theirs.clone();
    forged.accounts[1].pubkey = stake_key;
    assert_code(
        chain.send(&[forged], &[&stranger.key]).await,
        anchor_error(anchor_lang::error::ErrorCode::ConstraintSeeds),
    );

    chain
        .advance(i64::from(default_params().unbonding_secs))
        .await;
    let withdraw = ixs::withdraw_stake(owner.pubkey(), chain.mint, owner.token);
    chain.send_ok(&[withdraw], &[&owner.key]).await;
    let rent = chain.lamports(&stake_key).await;
    let lamports = chain.lamports(&owner.pubkey()).await;
    chain.send(&[close], &[&owner.key]).await.unwrap();
    assert!(chain.account::<Stake>(&stake_key).await.is_none());
    assert_eq!(chain.lamports(&owner.pubkey()).await, lamports + rent);
    assert_eq!(chain.balance(&owner.token).await, 1_000 * AKE);
}

#[tokio::test]
async fn a_creator_cranks_its_own_jobs() {
    // The crank is anyone, the creator included: its token account may be
    // both the bounty's and the refund's (Anchor error 2040 before), and its
    // wallet both the payer and the rent receiver.
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(1_000 * AKE).await;
    chain.airdrop(&creator.pubkey(), 1_000_000_000).await;
    chain.node_ready(&node).await.unwrap();
    let expired = chain.post_job(&creator, 1, 600).await.unwrap();
    chain.advance(1_201).await;
    let job = chain.job(&expired).await.unwrap();
    let keys = ixs::ExpireKeys {
        caller: creator.pubkey(),
        caller_token: creator.token,
        mint: chain.mint,
        creator_token: creator.token,
        candidate_node: None,
    };
    let ix = ixs::expire_job(expired, &job, keys);
    chain.send(&[ix], &[&creator.key]).await.unwrap();
    assert_eq!(chain.job(&expired).await.unwrap().state, JobState::Queued);
    chain.cancel(&creator, &expired).await.unwrap();

    chain.rearm(&node).await.unwrap();
    chain.node_ready(&node).await.unwrap();
    let done = chain.post_job(&creator, 1, 600).await.unwrap();
    chain.advance(60).await;
    chain.submit(&node, &done, 60).await.unwrap();
    chain.advance(3_601).await;
    let job = chain.job(&done).await.unwrap();
    let keys = chain.settle_keys(creator.token, creator.pubkey()).await;
    let ix = ixs::finalize_job(done, &job, &keys);
    chain.send(&[ix], &[&creator.key]).await.unwrap();
    assert!(chain.job(&done).await.is_none());
}
