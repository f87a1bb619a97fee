//! Batches: many frames under one spec, one escrow deposit, one posting fee
//! and one queue entry; frames handed out in order, their job accounts
//! created lazily from the batch's rent reserve; a submit that re-arms the
//! node in the same instruction and can never be failed by a stale read.

use ake_market::errors::MarketError;
use ake_market::state::{Batch, JobSpec, JobState, Node, NodeStatus, ReleaseReason};
use ake_sdk::{instructions as ixs, pda};
use ake_tests::*;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signer::Signer;
use solana_sdk::transaction::TransactionError;

async fn status(chain: &mut Chain, node: &TestNode) -> (NodeStatus, Pubkey) {
    let n: Node = chain.account(&node.account).await.unwrap();
    (n.status, n.current_job)
}

async fn batch(chain: &mut Chain, key: &Pubkey) -> Batch {
    chain.batch(key).await.expect("batch")
}

/// A node past its first-arm cooldown.
async fn ready_node(chain: &mut Chain) -> TestNode {
    chain.node(1, 1_000 * AKE).await
}

#[tokio::test]
async fn a_240_frame_batch_is_one_post_and_one_queue_entry_and_frames_go_out_in_order() {
    let mut chain = Chain::start().await;
    let creator = chain.user(100_000 * AKE).await;
    let supply = chain.supply().await;
    let sol_before = chain.lamports(&creator.pubkey()).await;
    let batch_key = chain.post_batch(&creator, 1, 240).await.unwrap();
    let b = batch(&mut chain, &batch_key).await;
    let fee = creator_paid(&mut chain, &creator).await - 240 * b.escrow_per_frame;
    // One fee for the whole batch, burned at posting; the escrow of every frame held.
    assert_eq!(chain.supply().await, supply - fee);
    assert!(fee > 0);
    assert_eq!(chain.escrow_balance().await, 240 * b.escrow_per_frame);
    let market = chain.market(0).await;
    assert_eq!(
        market.queued_jobs().len(),
        1,
        "one queue entry for 240 frames"
    );
    assert_eq!(market.open_escrow, 240 * b.escrow_per_frame);
    // The creator deposited the batch's rent and every frame's.
    let reserve = chain.lamports(&batch_key).await;
    let counter = chain.lamports(&pda::creator(&creator.pubkey())).await;
    assert_eq!(
        sol_before - chain.lamports(&creator.pubkey()).await,
        reserve + counter
    );
    assert_eq!(b.frames_waiting(), 240);

    // Two nodes arm: each takes the next frame, in order.
    let a = ready_node(&mut chain).await;
    let c = ready_node(&mut chain).await;
    chain.node_ready(&a).await.unwrap();
    chain.node_ready(&c).await.unwrap();
    let f1 = pda::frame_job(&batch_key, 1);
    let f2 = pda::frame_job(&batch_key, 2);
    assert_eq!(status(&mut chain, &a).await, (NodeStatus::Busy, f1));
    assert_eq!(status(&mut chain, &c).await, (NodeStatus::Busy, f2));
    let j1 = chain.job(&f1).await.unwrap();
    assert_eq!(
        j1.spec,
        JobSpec::Frame(ake_market::state::FrameRef {
            batch: batch_key,
            frame: 1
        })
    );
    assert_eq!(j1.spec_hash, b.spec_hash);
    assert_eq!(j1.escrow, b.escrow_per_frame);
    assert_eq!(j1.state, JobState::Assigned);
    assert_eq!(j1.posting_fee, 0);
    assert_eq!(
        chain.lamports(&batch_key).await,
        reserve - 2 * b.frame_rent,
        "each frame's rent came out of the batch's reserve"
    );
    assert_eq!(batch(&mut chain, &batch_key).await.frames_waiting(), 238);

    // A submits and, in the same instruction, takes frame 3.
    chain.advance(10).await;
    chain.submit_and_rearm(&a, &f1, 10).await.unwrap();
    let f3 = pda::frame_job(&batch_key, 3);
    assert_eq!(status(&mut chain, &a).await, (NodeStatus::Busy, f3));
    assert_eq!(chain.job(&f1).await.unwrap().state, JobState::Submitted);

    // Frame 1 settles after its window: its rent goes back to the batch's
    // reserve, for a later frame (the creator gets it when the batch closes).
    chain.advance(3_601).await;
    let held = chain.lamports(&batch_key).await;
    chain.finalize(creator.token, &f1).await.unwrap();
    assert!(chain.job(&f1).await.is_none());
    assert_eq!(chain.lamports(&batch_key).await, held + b.frame_rent);
}

/// What the creator's token account paid since it was funded with 100,000 AKE.
async fn creator_paid(chain: &mut Chain, creator: &User) -> u64 {
    100_000 * AKE - chain.balance(&creator.token).await
}

#[tokio::test]
async fn a_node_waiting_before_the_post_gets_a_frame_from_anyone_s_match_frame() {
    let mut chain = Chain::start().await;
    let creator = chain.user(100_000 * AKE).await;
    let stranger = chain.user(0).await;
    let first = ready_node(&mut chain).await;
    let second = ready_node(&mut chain).await;
    chain.node_ready(&first).await.unwrap();
    chain.node_ready(&second).await.unwrap();
    let batch_key = chain.post_batch(&creator, 10, 3).await.unwrap();
    // Posting never matches: both nodes still wait, the batch waits.
    assert_eq!(status(&mut chain, &first).await.0, NodeStatus::Queued);
    assert_eq!(chain.market(0).await.queued_jobs().len(), 1);

    // Naming a node that is not the best is refused.
    let b = batch(&mut chain, &batch_key).await;
    let wrong = ixs::match_frame(
        stranger.pubkey(),
        pda::market(0),
        batch_key,
        b.next_frame(),
        ixs::Candidate {
            node: second.account,
            owner: second.owner.pubkey(),
        },
    );
    assert_market_error(
        chain.send(&[wrong], &[&stranger.key]).await,
        MarketError::WrongMatchCandidate,
    );
    // Naming a frame that is not the next is refused.
    let skip = ixs::match_frame(
        stranger.pubkey(),
        pda::market(0),
        batch_key,
        b.next_frame() + 1,
        ixs::Candidate {
            node: first.account,
            owner: first.owner.pubkey(),
        },
    );
    assert_market_error(
        chain.send(&[skip], &[&stranger.key]).await,
        MarketError::FrameTaken,
    );

    let stranger_sol = chain.lamports(&stranger.pubkey()).await;
    let f10 = chain.match_frame(&stranger, &batch_key).await.unwrap();
    let f11 = chain.match_frame(&stranger, &batch_key).await.unwrap();
    assert_eq!(status(&mut chain, &first).await, (NodeStatus::Busy, f10));
    assert_eq!(status(&mut chain, &second).await, (NodeStatus::Busy, f11));
    assert_eq!(
        chain.lamports(&stranger.pubkey()).await,
        stranger_sol,
        "the matcher pays nothing (the batch's reserve funds the frames)"
    );
    // No node waits now: a match is refused with a reason.
    let none_waiting = ixs::match_frame(
        stranger.pubkey(),
        pda::market(0),
        batch_key,
        12,
        ixs::Candidate {
            node: first.account,
            owner: first.owner.pubkey(),
        },
    );
    assert_market_error(
        chain
            .send(std::slice::from_ref(&none_waiting), &[&stranger.key])
            .await,
        MarketError::NoNodeForBatch,
    );
    // The last frame goes with the batch's queue entry.
    let third = ready_node(&mut chain).await;
    chain.node_ready(&third).await.unwrap();
    let f12 = pda::frame_job(&batch_key, 12);
    assert_eq!(status(&mut chain, &third).await, (NodeStatus::Busy, f12));
    assert!(chain.market(0).await.queued_jobs().is_empty());
    assert_market_error(
        chain.send(&[none_waiting], &[&stranger.key]).await,
        MarketError::BatchHasNoFramesWaiting,
    );
}

#[tokio::test]
async fn a_stale_rearm_never_fails_the_submit() {
    let mut chain = Chain::start().await;
    let creator = chain.user(100_000 * AKE).await;
    let a = ready_node(&mut chain).await;
    let b = ready_node(&mut chain).await;
    let late = ready_node(&mut chain).await;
    let batch_key = chain.post_batch(&creator, 1, 3).await.unwrap();
    chain.node_ready(&a).await.unwrap();
    chain.node_ready(&b).await.unwrap();
    let f1 = pda::frame_job(&batch_key, 1);
    chain.advance(10).await;
    // A's daemon reads frame 3 as its next work and signs...
    let stale = chain.next_work_for(&a).await;
    assert_eq!(
        stale,
        Some(ixs::NextWork::Frame {
            batch: batch_key,
            frame_job: pda::frame_job(&batch_key, 3)
        })
    );
    // ...but another node takes frame 3 first, and a single job is posted.
    chain.node_ready(&late).await.unwrap();
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    chain
        .submit_then(&a, &f1, 10, ixs::AfterSubmit::Rearm(stale))
        .await
        .unwrap();
    // The submit landed; the stale pick put A in the node queue beside
    // the job, and anyone pairs the two with match_job.
    assert_eq!(chain.job(&f1).await.unwrap().state, JobState::Submitted);
    assert_eq!(status(&mut chain, &a).await.0, NodeStatus::Queued);
    assert_eq!(chain.job(&job).await.unwrap().state, JobState::Queued);
    chain.match_job(&job, &a).await.unwrap();
    assert_eq!(status(&mut chain, &a).await, (NodeStatus::Busy, job));

    // With nothing waiting, a submit puts the node back in the queue.
    let f2 = pda::frame_job(&batch_key, 2);
    chain.submit_and_rearm(&b, &f2, 10).await.unwrap();
    assert_eq!(status(&mut chain, &b).await.0, NodeStatus::Queued);
    // And a submit that names nothing while work waits queues it beside
    // that work, for match_job.
    let next = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_eq!(chain.job(&next).await.unwrap().state, JobState::Assigned);
    chain.advance(10).await;
    let f3 = pda::frame_job(&batch_key, 3);
    let waiting = chain.post_job(&creator, 1, 600).await.unwrap();
    chain
        .submit_then(&late, &f3, 10, ixs::AfterSubmit::Rearm(None))
        .await
        .unwrap();
    assert_eq!(status(&mut chain, &late).await.0, NodeStatus::Queued);
    assert_eq!(chain.job(&waiting).await.unwrap().state, JobState::Queued);
    chain.match_job(&waiting, &late).await.unwrap();
    assert_eq!(status(&mut chain, &late).await, (NodeStatus::Busy, waiting));
}

#[tokio::test]
async fn cancel_refunds_the_frames_not_handed_out_and_close_returns_every_lamport() {
    let mut chain = Chain::start().await;
    let creator = chain.user(100_000 * AKE).await;
    let stranger = chain.user(0).await;
    let sol_before = chain.lamports(&creator.pubkey()).await;
    let batch_key = chain.post_batch(&creator, 1, 5).await.unwrap();
    let b = batch(&mut chain, &batch_key).await;
    let paid = creator_paid(&mut chain, &creator).await;
    let fee = paid - 5 * b.escrow_per_frame;
    let node = ready_node(&mut chain).await;
    chain.node_ready(&node).await.unwrap();
    let f1 = pda::frame_job(&batch_key, 1);
    let keys = chain.batch_keys(&batch_key, &creator);

    // A stranger cannot cancel before the batch is stale; nor close it.
    assert_market_error(
        chain
            .send(
                &[ixs::cancel_batch(stranger.pubkey(), &keys)],
                &[&stranger.key],
            )
            .await,
        MarketError::BatchNotStale,
    );
    let close = ixs::close_batch(batch_key, creator.pubkey(), &[f1]);
    assert_market_error(
        chain.send(std::slice::from_ref(&close), &[]).await,
        MarketError::BatchNotFinished,
    );
    // The creator cancels: 4 frames' escrow and rent come back at once.
    chain
        .send_ok(
            &[ixs::cancel_batch(creator.pubkey(), &keys)],
            &[&creator.key],
        )
        .await;
    assert_eq!(
        creator_paid(&mut chain, &creator).await,
        fee + b.escrow_per_frame
    );
    assert!(chain.market(0).await.queued_jobs().is_empty());
    assert_market_error(
        chain
            .send(
                &[ixs::cancel_batch(creator.pubkey(), &keys)],
                &[&creator.key],
            )
            .await,
        MarketError::BatchHasNoFramesWaiting,
    );
    // Frame 1 still runs and reads the batch: it cannot close yet.
    assert_market_error(
        chain.send(std::slice::from_ref(&close), &[]).await,
        MarketError::BatchNotFinished,
    );
    chain.advance(10).await;
    chain.submit(&node, &f1, 10).await.unwrap();
    chain.advance(3_601).await;
    chain.finalize(creator.token, &f1).await.unwrap();
    // A forged frame list is refused; the right one closes the batch.
    let forged = ixs::close_batch(batch_key, creator.pubkey(), &[Pubkey::new_unique()]);
    assert_market_error(
        chain.send(&[forged], &[]).await,
        MarketError::AccountMismatch,
    );
    chain.send_ok(&[close], &[]).await;
    assert!(chain.raw_account(&batch_key).await.is_none());
    // Every lamport the creator deposited came back, but the nonce
    // counter's rent (that account stays, as for any creator).
    let counter = chain.lamports(&pda::creator(&creator.pubkey())).await;
    assert_eq!(
        chain.lamports(&creator.pubkey()).await,
        sol_before - counter
    );
    // Tokens: the fee and frame 1's charge (10 s), nothing else.
    let charge = creator_paid(&mut chain, &creator).await - fee;
    assert!(charge > 0 && charge < b.escrow_per_frame, "{charge}");
    assert!(chain.sweep().await);
    assert_eq!(chain.escrow_balance().await, 0);
    let ledger = chain.ledger().await;
    assert_eq!(
        chain.market(0).await.open_escrow + ledger.escrow_in - ledger.escrow_out,
        0
    );
}

#[tokio::test]
async fn anyone_refunds_a_stale_batch_but_never_while_paused() {
    let mut chain = Chain::start().await;
    let creator = chain.user(100_000 * AKE).await;
    let stranger = chain.user(0).await;
    let batch_key = chain.post_batch(&creator, 1, 4).await.unwrap();
    let b = batch(&mut chain, &batch_key).await;
    let keys = chain.batch_keys(&batch_key, &creator);
    let cancel = ixs::cancel_batch(stranger.pubkey(), &keys);
    chain.advance(i64::from(MAX_QUEUE_SECS)).await;
    assert_market_error(
        chain
            .send(std::slice::from_ref(&cancel), &[&stranger.key])
            .await,
        MarketError::BatchNotStale,
    );
    chain.advance(1).await;
    let admin = chain.admin.insecure_clone();
    chain
        .send_ok(&[ixs::set_paused(admin.pubkey(), true)], &[&admin])
        .await;
    assert_market_error(
        chain
            .send(std::slice::from_ref(&cancel), &[&stranger.key])
            .await,
        MarketError::Paused,
    );
    chain
        .send_ok(&[ixs::set_paused(admin.pubkey(), false)], &[&admin])
        .await;
    // The wait counts again from the end of the pause.
    assert_market_error(
        chain
            .send(std::slice::from_ref(&cancel), &[&stranger.key])
            .await,
        MarketError::BatchNotStale,
    );
    chain.advance(i64::from(MAX_QUEUE_SECS) + 1).await;
    let held = chain.balance(&creator.token).await;
    chain.send_ok(&[cancel], &[&stranger.key]).await;
    assert_eq!(
        chain.balance(&creator.token).await,
        held + 4 * b.escrow_per_frame
    );
    assert_eq!(chain.balance(&stranger.token).await, 0, "no bounty");
    // Nothing was handed out: it closes at once with no frames to show.
    chain
        .send_ok(&[ixs::close_batch(batch_key, creator.pubkey(), &[])], &[])
        .await;
    assert!(chain.raw_account(&batch_key).await.is_none());
}

#[tokio::test]
async fn bad_batches_are_refused_before_anything_is_taken() {
    let mut chain = Chain::start().await;
    let creator = chain.user(100_000 * AKE).await;
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    for (first, count) in [(1, 0), (1, 10_001), (u32::MAX, 2)] {
        let args = chain.batch_args(nonce, first, count);
        assert_market_error(
            chain.post_batch_with(&creator, args).await.map(|_| ()),
            MarketError::InvalidFrameRange,
        );
    }
    let mut args = chain.batch_args(nonce, 1, 2);
    args.spec = JobSpec::Frame(ake_market::state::FrameRef {
        batch: Pubkey::new_unique(),
        frame: 1,
    });
    assert_market_error(
        chain.post_batch_with(&creator, args).await.map(|_| ()),
        MarketError::InvalidSpec,
    );
    // Nor can a job claim to be a frame of someone's batch.
    let mut job = chain.post_args(nonce, 1, 600);
    job.spec = JobSpec::Frame(ake_market::state::FrameRef {
        batch: Pubkey::new_unique(),
        frame: 1,
    });
    assert_market_error(
        chain.post_job_with(&creator, job).await.map(|_| ()),
        MarketError::InvalidSpec,
    );
    let mut args = chain.batch_args(nonce, 1, 3);
    args.max_tokens = 1;
    assert_market_error(
        chain.post_batch_with(&creator, args).await.map(|_| ()),
        MarketError::SlippageExceeded,
    );
    assert_eq!(chain.balance(&creator.token).await, 100_000 * AKE);
    assert_eq!(chain.next_nonce(&creator.pubkey()).await, nonce);
}

#[tokio::test]
async fn an_expired_frame_goes_back_in_line_and_another_node_finishes_it() {
    let mut chain = Chain::start().await;
    let creator = chain.user(100_000 * AKE).await;
    let batch_key = chain.post_batch(&creator, 1, 1).await.unwrap();
    let slow = ready_node(&mut chain).await;
    chain.node_ready(&slow).await.unwrap();
    let f1 = pda::frame_job(&batch_key, 1);
    chain.advance(600 + 600 + 1).await;
    chain.expire(creator.token, &f1).await.unwrap();
    let j = chain.job(&f1).await.unwrap();
    assert_eq!(j.state, JobState::Queued);
    assert_eq!(j.expiries, 1);
    let other = ready_node(&mut chain).await;
    chain.node_ready(&other).await.unwrap();
    assert_eq!(status(&mut chain, &other).await, (NodeStatus::Busy, f1));
    chain.advance(10).await;
    chain.submit(&other, &f1, 10).await.unwrap();
    chain.advance(3_601).await;
    chain.finalize(creator.token, &f1).await.unwrap();
    chain
        .send_ok(&[ixs::close_batch(batch_key, creator.pubkey(), &[f1])], &[])
        .await;
    assert!(chain.raw_account(&batch_key).await.is_none());
}

#[tokio::test]
async fn a_rearm_naming_work_closed_since_signing_still_lands_the_submit() {
    let mut chain = Chain::start().await;
    let creator = chain.user(100_000 * AKE).await;
    let node = ready_node(&mut chain).await;
    let batch_key = chain.post_batch(&creator, 1, 1).await.unwrap();
    chain.node_ready(&node).await.unwrap();
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    let named = chain.next_work_for(&node).await;
    assert_eq!(named, Some(ixs::NextWork::Job(job)));
    // The named job is cancelled before the submit lands.
    chain.cancel(&creator, &job).await.unwrap();
    chain.advance(10).await;
    let f1 = pda::frame_job(&batch_key, 1);
    chain
        .submit_then(&node, &f1, 10, ixs::AfterSubmit::Rearm(named))
        .await
        .unwrap();
    assert_eq!(chain.job(&f1).await.unwrap().state, JobState::Submitted);
    // Nothing waits now: the node joined the queue.
    assert_eq!(status(&mut chain, &node).await.0, NodeStatus::Queued);
}

/// `stranger` asks to refund `creator`'s batch.
async fn stranger_cancels(
    chain: &mut Chain,
    stranger: &User,
    batch: &Pubkey,
    creator: &User,
) -> Result<(), TransactionError> {
    let keys = chain.batch_keys(batch, creator);
    chain
        .send(
            &[ixs::cancel_batch(stranger.pubkey(), &keys)],
            &[&stranger.key],
        )
        .await
}

/// `node` arms, takes the best work it can (a frame of a batch here) and
/// hands it back inside its free window; returns the frame job.
async fn take_and_release(chain: &mut Chain, node: &TestNode, creator: &User) -> Pubkey {
    chain.node_ready(node).await.unwrap();
    let (state, frame_job) = status(chain, node).await;
    assert_eq!(state, NodeStatus::Busy);
    chain
        .release(
            node,
            &frame_job,
            creator.token,
            ReleaseReason::ImageUnavailable,
        )
        .await
        .unwrap();
    frame_job
}

#[tokio::test]
async fn attack_sybil_halt_three_fresh_owners_cannot_stop_a_batch_others_are_completing() {
    let mut chain = Chain::start().await;
    let creator = chain.user(100_000 * AKE).await;
    let stranger = chain.user(0).await;
    let honest = chain.proven_node(1, 1_000 * AKE).await;
    // Three owners with verified work, who will hand frames back too.
    let mut proven = Vec::new();
    for _ in 0..3 {
        proven.push(chain.proven_node(1, 1_000 * AKE).await);
    }
    let batch_key = chain.post_batch(&creator, 1, 50).await.unwrap();
    let creator_after_post = chain.balance(&creator.token).await;
    // An honest node completes frame 1.
    chain.node_ready(&honest).await.unwrap();
    let (_, f1) = status(&mut chain, &honest).await;
    chain.advance(60).await;
    chain.submit(&honest, &f1, 60).await.unwrap();

    // Three fresh sybil owners (200 AKE staked each, no verified work) take
    // frames and hand them back for free.
    let supply = chain.supply().await;
    let mut sybils = Vec::new();
    let mut handed_back = Pubkey::default();
    for _ in 0..3 {
        let sybil = chain.node(1, 200 * AKE).await;
        handed_back = take_and_release(&mut chain, &sybil, &creator).await;
        sybils.push(sybil);
    }
    let after = batch(&mut chain, &batch_key).await;
    assert!(!after.halted && after.in_queue(), "the batch keeps going");
    assert_eq!(after.frames_submitted, 1);
    // They count for nothing and share one entry (the latest of them).
    assert_eq!((after.releases.recorded, after.releases.counted), (1, 0));
    // The frame they handed back (each took the one before it handed back)
    // is not refunded either: their releases count for nothing.
    let j = chain.job(&handed_back).await.unwrap();
    assert_eq!(
        (j.state, j.releases.total, j.releases.counted),
        (JobState::Queued, 3, 0)
    );
    // No stranger can refund the batch.
    assert_market_error(
        stranger_cancels(&mut chain, &stranger, &batch_key, &creator).await,
        MarketError::BatchNotStale,
    );
    // The honest node takes the handed-back frame next and completes it.
    chain.node_ready(&honest).await.unwrap();
    assert_eq!(status(&mut chain, &honest).await.1, handed_back);
    chain.advance(60).await;
    chain.submit(&honest, &handed_back, 60).await.unwrap();
    assert_eq!(batch(&mut chain, &batch_key).await.frames_submitted, 2);

    // Even three owners whose releases count cannot halt it now that frames
    // were submitted: someone showed it runs. (The one frame they all
    // handed back is refunded as unrunnable.)
    for node in &proven {
        take_and_release(&mut chain, node, &creator).await;
    }
    let after = batch(&mut chain, &batch_key).await;
    assert_eq!((after.releases.counted, after.frames_submitted), (3, 2));
    assert!(!after.halted && after.in_queue(), "the batch keeps going");
    let per_frame = after.escrow_per_frame;

    // Cost and payoff: the sybils burned and lost nothing (and gained
    // nothing); the creator lost nothing beyond its posting fee.
    for sybil in &sybils {
        assert_eq!(
            chain.stake_of(&sybil.owner.pubkey()).await.amount,
            200 * AKE
        );
    }
    assert_eq!(chain.supply().await, supply);
    assert_eq!(
        chain.balance(&creator.token).await,
        creator_after_post + per_frame
    );
    println!("sybil halt of a batch others complete: costs 0 AKE, pays 0 AKE, and fails");
}

#[tokio::test]
async fn attack_sybil_halt_a_batch_no_one_can_run_halts_and_only_its_creator_or_the_stale_refund_ends_it(
) {
    let mut chain = Chain::start().await;
    // Three owners with verified work: their hand-backs count.
    let mut owners = Vec::new();
    for _ in 0..3 {
        owners.push(chain.proven_node(1, 1_000 * AKE).await);
    }
    let creator = chain.user(100_000 * AKE).await;
    let stranger = chain.user(0).await;
    let x = chain.post_batch(&creator, 1, 50).await.unwrap();
    let y = chain.post_batch(&creator, 1, 50).await.unwrap();
    let per_frame = batch(&mut chain, &x).await.escrow_per_frame;
    // Each owner takes X's first frame (back at the front after each
    // hand-back) and hands it back; then the same for Y: nobody submits.
    for key in [x, y] {
        for (i, node) in owners.iter().enumerate() {
            let frame = take_and_release(&mut chain, node, &creator).await;
            assert_eq!(frame, pda::frame_job(&key, 1));
            let b = batch(&mut chain, &key).await;
            assert_eq!(b.halted, i == 2);
        }
        // The frame job was handed back by three counted owners: refunded.
        assert!(chain.job(&pda::frame_job(&key, 1)).await.is_none());
        let halted = batch(&mut chain, &key).await;
        assert!(!halted.in_queue());
        assert!(!chain
            .market(0)
            .await
            .queued_jobs()
            .iter()
            .any(|e| e.key == key));
    }
    // A halt alone never lets a stranger refund a batch.
    for key in [x, y] {
        assert_market_error(
            stranger_cancels(&mut chain, &stranger, &key, &creator).await,
            MarketError::BatchNotStale,
        );
    }
    // Only its creator resumes one: Y is back in the queue, and a node of
    // an owner that never handed it back takes its next frame.
    let resume = ixs::resume_batch(stranger.pubkey(), pda::market(0), y);
    assert_market_error(
        chain.send(&[resume], &[&stranger.key]).await,
        MarketError::NotCreator,
    );
    let resume = ixs::resume_batch(creator.pubkey(), pda::market(0), y);
    chain.send_ok(&[resume], &[&creator.key]).await;
    let resumed = batch(&mut chain, &y).await;
    assert!(resumed.in_queue() && resumed.resumed);
    let fresh = ready_node(&mut chain).await;
    chain.node_ready(&fresh).await.unwrap();
    assert_eq!(status(&mut chain, &fresh).await.1, pda::frame_job(&y, 2));
    // The owners that handed Y back pass over it (and X is halted): they wait.
    for node in &owners {
        chain.node_ready(node).await.unwrap();
        assert_eq!(status(&mut chain, node).await.0, NodeStatus::Queued);
    }

    // The owners lost nothing, and the two unrunnable frame jobs gave them
    // back the budget their hand-backs used.
    for node in &owners {
        let s = chain.stake_of(&node.owner.pubkey()).await;
        assert_eq!((s.amount, s.releases_in_window), (1_000 * AKE, 0));
    }
    // The creator pays once per batch, when one is refunded halted (not
    // for each frame job refunded as unrunnable).
    let strikes = |c: ake_market::state::Creator| c.unrunnable_in_window;
    let record = pda::creator(&creator.pubkey());
    assert_eq!(strikes(chain.account(&record).await.unwrap()), 0);

    // X stays halted until it has waited the market's max_queue_secs: then
    // anyone refunds its frames.
    chain.advance(i64::from(MAX_QUEUE_SECS) + 1).await;
    let held = chain.balance(&creator.token).await;
    stranger_cancels(&mut chain, &stranger, &x, &creator)
        .await
        .unwrap();
    assert_eq!(chain.balance(&creator.token).await, held + 49 * per_frame);

    // The halted batch refunded is one step of the creator's posting fee.
    assert_eq!(strikes(chain.account(&record).await.unwrap()), 1);
}

#[tokio::test]
async fn match_frame_keeps_the_queue_s_priority_and_never_idles_a_node() {
    let mut chain = Chain::start().await;
    let low = chain.user(100_000 * AKE).await;
    let stranger = chain.user(0).await;
    let node = ready_node(&mut chain).await;
    chain.node_ready(&node).await.unwrap();
    // Two batches wait; the node is best for both, the first is its best.
    let first = chain.post_batch(&low, 1, 2).await.unwrap();
    let second = chain.post_batch(&low, 1, 2).await.unwrap();
    let b = batch(&mut chain, &second).await;
    let jump = ixs::match_frame(
        stranger.pubkey(),
        pda::market(0),
        second,
        b.next_frame(),
        ixs::Candidate {
            node: node.account,
            owner: node.owner.pubkey(),
        },
    );
    assert_market_error(
        chain.send(&[jump], &[&stranger.key]).await,
        MarketError::WrongMatchCandidate,
    );
    chain.match_frame(&stranger, &first).await.unwrap();
    assert_eq!(status(&mut chain, &node).await.1, pda::frame_job(&first, 1));
}

/// Issue 27: a batch's rent follows how many frames it keeps out at once,
/// not its length. A 10-frame batch run 2 at a time deposits two frames'
/// rent; with both out it parks (no search can find a batch that cannot
/// create its next frame, so a node arming meanwhile just waits); a frame
/// that settles gives its rent back to the batch; anyone puts it back in
/// line, and the creator gets every lamport back when it closes.
#[tokio::test]
async fn a_batch_holds_rent_for_its_parallelism_not_its_length() {
    let mut chain = Chain::start().await;
    let creator = chain.user(100_000 * AKE).await;
    let stranger = chain.user(0).await;
    let sol_before = chain.lamports(&creator.pubkey()).await;
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    let bad = ake_market::instructions::PostBatchArgs {
        parallelism: 0,
        ..chain.batch_args(nonce, 1, 10)
    };
    assert_market_error(
        chain.post_batch_with(&creator, bad).await.map(|_| ()),
        MarketError::InvalidParallelism,
    );
    let args = ake_market::instructions::PostBatchArgs {
        parallelism: 2,
        ..chain.batch_args(nonce, 1, 10)
    };
    let batch_key = chain.post_batch_with(&creator, args).await.unwrap();
    let b = batch(&mut chain, &batch_key).await;
    let own_rent = {
        let len = chain.raw_account(&batch_key).await.unwrap().data.len();
        solana_sdk::rent::Rent::default().minimum_balance(len)
    };
    let counter = chain.lamports(&pda::creator(&creator.pubkey())).await;
    let deposited = sol_before - chain.lamports(&creator.pubkey()).await - counter;
    assert_eq!(deposited, own_rent + 2 * b.frame_rent, "two frames' rent");
    println!(
        "rent held: 10 frames 2 at a time {deposited} lamports, all at once {}",
        own_rent + 10 * b.frame_rent
    );

    // Two nodes take frames 1 and 2; the batch parks; a third node waits.
    let a = ready_node(&mut chain).await;
    let c = ready_node(&mut chain).await;
    let d = ready_node(&mut chain).await;
    let stranger_sol = chain.lamports(&stranger.pubkey()).await;
    chain.node_ready(&a).await.unwrap();
    chain.node_ready(&c).await.unwrap();
    let market = chain.market(0).await;
    assert!(
        market.queued_jobs().is_empty(),
        "parked: out of the searches"
    );
    assert_eq!(market.parked_batches(), vec![batch_key]);
    assert!(batch(&mut chain, &batch_key).await.parked);
    assert_eq!(chain.lamports(&batch_key).await, own_rent);
    chain.node_ready(&d).await.unwrap();
    assert_eq!(status(&mut chain, &d).await.0, NodeStatus::Queued);
    // Nothing came back yet: requeueing is refused.
    let requeue = ixs::requeue_batch(stranger.pubkey(), pda::market(0), batch_key);
    assert_market_error(
        chain
            .send(std::slice::from_ref(&requeue), &[&stranger.key])
            .await,
        MarketError::BatchReserveInUse,
    );

    // Frame 1 is accepted: its rent goes back to the batch, and a stranger
    // (the crank) puts the batch back in line; d takes frame 3 and it parks again.
    let f1 = pda::frame_job(&batch_key, 1);
    chain.advance(10).await;
    chain.submit(&a, &f1, 10).await.unwrap();
    let sol = chain.lamports(&creator.pubkey()).await;
    chain.accept(&creator, &f1).await.unwrap();
    // The accepter pays the epoch's work records (refunded at claim).
    let records = sol - chain.lamports(&creator.pubkey()).await;
    assert_eq!(chain.lamports(&batch_key).await, own_rent + b.frame_rent);
    chain
        .send_ok(std::slice::from_ref(&requeue), &[&stranger.key])
        .await;
    assert_market_error(
        chain.send(&[requeue], &[&stranger.key]).await,
        MarketError::BatchNotParked,
    );
    assert_eq!(chain.market(0).await.queued_jobs().len(), 1);
    assert_eq!(
        chain.match_frame(&stranger, &batch_key).await.unwrap(),
        pda::frame_job(&batch_key, 3)
    );
    assert_eq!(status(&mut chain, &d).await.0, NodeStatus::Busy);
    assert_eq!(chain.market(0).await.parked_batches(), vec![batch_key]);
    assert_eq!(chain.balance(&stranger.token).await, 0);
    assert_eq!(
        chain.lamports(&stranger.pubkey()).await,
        stranger_sol,
        "the stranger paid no rent (the context payer pays fees)"
    );

    // Frames 2 and 3 are submitted; however long the batch then waits
    // parked, a stranger cannot refund it as stale (it waits on its own
    // frames, not on nodes). The creator cancels the rest: 7 frames'
    // escrow back (the spare reserve is empty). Frames 2 and 3 settle,
    // their rent returns to the batch, and closing it returns every lamport.
    chain.advance(10).await;
    for (node, frame) in [(&c, 2), (&d, 3)] {
        chain
            .submit(node, &pda::frame_job(&batch_key, frame), 10)
            .await
            .unwrap();
    }
    chain.advance(i64::from(MAX_QUEUE_SECS) + 1).await;
    let keys = chain.batch_keys(&batch_key, &creator);
    let stale = ixs::cancel_batch(stranger.pubkey(), &keys);
    assert_market_error(
        chain.send(&[stale], &[&stranger.key]).await,
        MarketError::BatchNotStale,
    );
    let held = chain.balance(&creator.token).await;
    chain
        .send_ok(
            &[ixs::cancel_batch(creator.pubkey(), &keys)],
            &[&creator.key],
        )
        .await;
    assert_eq!(
        chain.balance(&creator.token).await,
        held + 7 * b.escrow_per_frame
    );
    let market = chain.market(0).await;
    assert!(market.parked_batches().is_empty() && market.queued_jobs().is_empty());
    for frame in [2, 3] {
        let f = pda::frame_job(&batch_key, frame);
        chain.finalize(creator.token, &f).await.unwrap();
    }
    let frames: Vec<Pubkey> = (1..=3).map(|f| pda::frame_job(&batch_key, f)).collect();
    chain
        .send_ok(
            &[ixs::close_batch(batch_key, creator.pubkey(), &frames)],
            &[],
        )
        .await;
    assert_eq!(
        chain.lamports(&creator.pubkey()).await,
        sol_before - counter - records
    );
}

#[tokio::test]
async fn attack_fleet_stall_a_frame_handed_back_while_its_batch_is_parked_still_marks_the_batch() {
    // A batch that runs one frame at a time parks while its frame is out.
    // The owner's node hands that frame back: the batch's (parked) entry
    // must learn the owner, or once requeued it would be every node of the
    // owner's best work, one it can never take, while other work waits.
    let mut chain = Chain::start().await;
    let first = chain.node(1, 2_000 * AKE).await;
    let second = chain.node_of(&first.owner, 1).await;
    let other = ready_node(&mut chain).await;
    let creator = chain.user(100_000 * AKE).await;
    let stranger = chain.user(0).await;
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    let mut args = chain.batch_args(nonce, 1, 5);
    args.parallelism = 1;
    let batch_key = chain.post_batch_with(&creator, args).await.unwrap();
    let f1 = take_and_release(&mut chain, &first, &creator).await;
    assert!(batch(&mut chain, &batch_key).await.parked);
    // Another owner runs the handed-back frame; it settles, its rent comes
    // back, and a stranger (the crank) puts the batch back in line.
    chain.node_ready(&other).await.unwrap();
    assert_eq!(status(&mut chain, &other).await.1, f1);
    chain.advance(10).await;
    chain.submit(&other, &f1, 10).await.unwrap();
    chain.accept(&creator, &f1).await.unwrap();
    let requeue = ixs::requeue_batch(stranger.pubkey(), pda::market(0), batch_key);
    chain.send_ok(&[requeue], &[&stranger.key]).await;
    assert!(batch(&mut chain, &batch_key).await.in_queue());
    // A job waits behind the batch: the owner's second node takes it.
    let backlog = chain.post_job(&creator, 1, 600).await.unwrap();
    chain.node_ready(&second).await.unwrap();
    assert_eq!(status(&mut chain, &second).await.1, backlog);
}
