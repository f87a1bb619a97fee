//! close_epoch costs the same with 1 node or 1,000 nodes.

use ake_sdk::{instructions as ixs, pda};
use ake_tests::*;
use solana_sdk::signature::{Keypair, Signer};

/// `count` nodes, all owned by one staker, each completing one job this epoch.
async fn nodes_work(chain: &mut Chain, count: usize) {
    let owner = chain.user(count as u64 * MIN_STAKE_PER_GPU).await;
    chain
        .deposit_stake(&owner, count as u64 * MIN_STAKE_PER_GPU)
        .await
        .unwrap();
    let creator = chain.user(count as u64 * AKE).await;
    // In rounds that fit the market's in-flight list: usage is bounded by
    // the chain's clock, so each round waits a second before submitting.
    let mut left = count;
    while left > 0 {
        let round = left.min(64);
        left -= round;
        node_round(chain, &owner, &creator, round).await;
    }
}

async fn node_round(chain: &mut Chain, owner: &User, creator: &User, count: usize) {
    let mut assigned = Vec::with_capacity(count);
    for _ in 0..count {
        let signer = Keypair::new();
        let node = pda::node(&signer.pubkey());
        // Register and arm in one transaction, then post (assigned to it), then submit + accept.
        let register = ixs::register_node(
            owner.pubkey(),
            signer.pubkey(),
            pda::market(0),
            1,
            profile(),
        );
        let ready = ixs::node_ready(signer.pubkey(), owner.pubkey(), pda::market(0), None);
        // The hot key pays for the due pages its submits open (0.0086 SOL
        // each, back when the page closes).
        let fund = anchor_lang::solana_program::system_instruction::transfer(
            &chain.payer().pubkey(),
            &signer.pubkey(),
            10_000_000,
        );
        chain
            .send_ok(&[fund, register, ready], &[&owner.key, &signer])
            .await;
        let nonce = chain.next_nonce(&creator.pubkey()).await;
        let mut args = chain.post_args(nonce, 1, 60);
        args.max_tokens = AKE;
        let post = ixs::post_job(
            ixs::PostJobAccounts {
                creator: creator.pubkey(),
                market: pda::market(0),
                mint: chain.mint,
                creator_token: creator.token,
                price_update: chain.price_update,
                creator_staked: false,
                candidate_node: Some(ixs::Candidate {
                    node,
                    owner: owner.pubkey(),
                }),
            },
            args,
        );
        chain.send_ok(&[post], &[&creator.key]).await;
        assigned.push((signer, pda::job(&creator.pubkey(), nonce)));
    }
    chain.advance(1).await;
    for (signer, job_key) in assigned {
        let due = chain.submit_pick(&job_key).await;
        let submit = ixs::submit_result(
            signer.pubkey(),
            owner.pubkey(),
            (job_key, pda::market(0), None),
            ake_tests::result_of(1),
            ixs::AfterSubmit::StayIdle,
            due,
        );
        let mut job = chain.job(&job_key).await.unwrap();
        job.state = ake_market::state::JobState::Submitted;
        // The page the submit lands in: the one named, or the next shard
        // when the named one is full.
        let named = chain.due_page(&pda::market(0), due.bucket, due.shard).await;
        let shard = due.shard + u16::from(named.is_some_and(|p| p.is_full()));
        job.due_page = pda::due_page(&pda::market(0), due.bucket, shard);
        let keys = chain.settle_keys(creator.token, creator.pubkey()).await;
        let accept = ixs::accept_result(job_key, &job, &keys);
        chain
            .send_ok(&[submit, accept], &[&signer, &creator.key])
            .await;
    }
}

#[tokio::test]
async fn close_epoch_cost_does_not_grow_with_nodes() {
    let mut chain = Chain::start().await;
    let crank = chain.user(0).await;

    nodes_work(&mut chain, 1).await;
    chain.advance_to_epoch(1).await;
    nodes_work(&mut chain, 1_000).await;
    chain.advance_to_epoch(2).await;

    let tallies = [chain.epoch_tally(0, 0).await, chain.epoch_tally(1, 0).await];
    let close = |epoch: u64| {
        ixs::emissions::close_epoch(crank.pubkey(), crank.token, epoch, &tallies[epoch as usize])
    };
    let (one, thousand) = (close(0), close(1));
    assert_eq!(one.accounts.len(), thousand.accounts.len());
    let loaded_one = chain
        .loaded_accounts(std::slice::from_ref(&one), &[&crank.key])
        .await;
    let loaded_thousand = chain
        .loaded_accounts(std::slice::from_ref(&thousand), &[&crank.key])
        .await;
    chain.send_ok(&[one], &[&crank.key]).await;
    chain.send_ok(&[thousand], &[&crank.key]).await;
    assert_eq!(
        loaded_one, loaded_thousand,
        "same accounts, same bytes loaded"
    );

    let s1: ake_emissions::state::EpochSummary = chain
        .account_of(&pda::epoch_summary(1), &ake_emissions::ID)
        .await
        .unwrap();
    assert_eq!((s1.nodes, s1.jobs), (1_000, 1_000));
}
