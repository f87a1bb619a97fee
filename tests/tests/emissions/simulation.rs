//! Twenty epochs of several nodes doing work: claims, dust, supply.

use ake_emissions::math::{capped, crank_tip, decay, reward_cap};
use ake_emissions::state::EpochSummary;
use ake_sdk::pda;
use ake_tests::*;

async fn summary(chain: &mut Chain, epoch: u64) -> EpochSummary {
    chain
        .account_of(&pda::epoch_summary(epoch), &ake_emissions::ID)
        .await
        .expect("summary")
}

/// supply == genesis + minted - burned, whatever happened (burned: by the
/// market directly, and by its sweeps).
async fn assert_book(chain: &mut Chain) {
    let minted = chain.emissions_config().await.minted_in_all();
    let burned = chain.market(0).await.tokens_burned + chain.ledger().await.tokens_burned;
    assert_eq!(chain.supply().await, chain.genesis_supply + minted - burned);
}

#[tokio::test]
async fn twenty_epochs_of_work_and_claims() {
    // 0.1 USD per GPU-second: some epochs burn less than the 1,000 AKE
    // emission (rewards capped by burns), some more (shared pro rata), some
    // more than 1,250 (the 0.8 floor holds: the rest is minted back).
    let mut chain = Chain::start().await;
    chain.set_market_rate(100_000).await;
    let creator = chain.user(1_000_000 * AKE).await;
    let crank = chain.user(0).await;
    let mut nodes = Vec::new();
    for gpus in [1u16, 1, 2, 4] {
        nodes.push(chain.node(gpus, 10_000 * AKE).await);
    }

    let (mut next, mut scheduled) = (FIRST_EMISSION, 0u64);
    let mut regimes = std::collections::BTreeSet::new();
    for epoch in 0..20u64 {
        assert_eq!(chain.epoch().await, epoch);
        // Node i works (i + epoch) % 5 jobs of varying length; some epochs some nodes idle.
        let mut work = [0u64; 4];
        for (i, node) in nodes.iter().enumerate() {
            for j in 0..(i as u64 + epoch) % 5 {
                work[i] += chain.work(node, &creator, 100 + 37 * j + 11 * epoch).await;
            }
        }
        assert_book(&mut chain).await;
        // Fees reach the treasury when the crank sweeps (every other epoch
        // here): the tip comes out of what it holds.
        if epoch % 2 == 1 {
            chain.sweep().await;
        }

        chain.advance_to_epoch(epoch + 1).await;
        let tip0 = chain.balance(&crank.token).await;
        let treasury0 = chain.balance(&chain.treasury.clone()).await;
        chain.close_epoch(&crank, epoch).await.unwrap();

        let s = summary(&mut chain, epoch).await;
        let emission = capped(next, scheduled, 200_000 * AKE);
        assert_eq!(s.emission, emission, "epoch {epoch} emits the schedule");
        scheduled += emission;
        next = decay(next, 48, 0);
        let total: u64 = work.iter().sum();
        assert_eq!(s.total_work_micro_usd, total);
        assert_eq!(s.node_share, if total == 0 { 0 } else { emission });
        let tip = crank_tip(CRANK_TIP, treasury0, s.burned_tokens);
        assert_eq!(s.crank_tip, tip);
        assert_eq!(chain.balance(&crank.token).await, tip0 + tip);
        assert_eq!(
            chain.balance(&chain.treasury.clone()).await,
            treasury0 - tip
        );
        let floored = u128::from(s.node_share) * 10_000 < u128::from(s.burned_tokens) * 8_000;

        // Claims, in reverse order for variety; each exactly its burn x
        // min(1, max(0.8, node share / all burns)), each part rounded down.
        let (mut paid, mut from_schedule) = (0, 0);
        let mut claimants = 0;
        for (i, node) in nodes.iter().enumerate().rev() {
            if work[i] == 0 {
                continue;
            }
            let record: ake_emissions::state::NodeWork = chain
                .account_of(&pda::node_work(epoch, &node.account), &ake_emissions::ID)
                .await
                .unwrap();
            let before = chain.balance(&node.owner.token).await;
            chain.claim(node, epoch).await.unwrap();
            let got = chain.balance(&node.owner.token).await - before;
            let pro_rata = (u128::from(s.node_share) * u128::from(record.burned_tokens)
                / u128::from(s.burned_tokens)) as u64;
            let scheduled_part = pro_rata.min(reward_cap(record.burned_tokens, 10_000));
            let floor = reward_cap(record.burned_tokens, 8_000);
            assert_eq!(got, scheduled_part.max(floor), "epoch {epoch} node {i}");
            assert!(got <= record.burned_tokens, "never more than its own burn");
            paid += got;
            from_schedule += scheduled_part;
            claimants += 1;
            assert_book(&mut chain).await;
        }
        let s = summary(&mut chain, epoch).await;
        assert_eq!(s.claimed, paid);
        assert!(paid <= s.payable && paid <= s.burned_tokens);
        assert_eq!(s.reminted, paid - from_schedule);
        if floored {
            assert_eq!(s.payable, reward_cap(s.burned_tokens, 8_000));
            assert!(s.reminted > 0 && from_schedule <= s.node_share);
            regimes.insert("floored");
        } else {
            assert_eq!(s.reminted, 0);
            if s.payable == s.node_share {
                assert!(
                    s.node_share - paid <= claimants,
                    "a busy epoch pays its whole node share, less under one base unit per claimant"
                );
                regimes.insert("shared");
            } else if total > 0 {
                regimes.insert("capped");
            }
        }
    }
    assert_eq!(regimes.len(), 3, "the run covers every regime: {regimes:?}");
    let config = chain.emissions_config().await;
    assert_eq!(config.next_epoch, 20);
    assert_eq!(config.scheduled_total, scheduled);
}

#[tokio::test]
async fn epochs_without_work_mint_nothing_to_nodes_and_claims_go_in_any_order() {
    let mut chain = Chain::start().await;
    let creator = chain.user(1_000 * AKE).await;
    let crank = chain.user(0).await;
    let node = chain.node(1, 1_000 * AKE).await;

    chain.work(&node, &creator, 600).await; // epoch 0
    chain.advance_to_epoch(2).await; // epoch 1: nobody works
    chain.work(&node, &creator, 300).await; // epoch 2
    chain.advance_to_epoch(3).await;
    let supply0 = chain.supply().await;
    for e in 0..3 {
        chain.close_epoch(&crank, e).await.unwrap();
    }
    let idle = summary(&mut chain, 1).await;
    assert_eq!(
        (idle.node_share, idle.total_work_micro_usd, idle.payable),
        (0, 0, 0),
        "an epoch without work pays nothing"
    );
    // Closing mints nothing (the treasury lives on fees; nothing was swept,
    // so it holds nothing and pays no tip).
    assert_eq!(chain.supply().await, supply0);
    assert_eq!(chain.balance(&crank.token).await, 0);

    // Later epoch first, then the earlier one: each pays what the node's
    // jobs burned (it did all the work, far less than the node share), and
    // the record's rent goes back to its payer.
    let rent_payer = creator.pubkey();
    let lamports0 = chain.lamports(&rent_payer).await;
    let work_rent = chain.lamports(&pda::node_work(2, &node.account)).await
        + chain.lamports(&pda::node_work(0, &node.account)).await;
    let before = chain.balance(&node.owner.token).await;
    chain.claim(&node, 2).await.unwrap();
    chain.claim(&node, 0).await.unwrap();
    let got = chain.balance(&node.owner.token).await - before;
    let s0 = summary(&mut chain, 0).await;
    let s2 = summary(&mut chain, 2).await;
    assert_eq!(got, s0.burned_tokens + s2.burned_tokens);
    assert!(chain
        .raw_account(&pda::node_work(2, &node.account))
        .await
        .is_none());
    assert_eq!(chain.lamports(&rent_payer).await, lamports0 + work_rent);
    assert_book(&mut chain).await;
}

#[tokio::test]
async fn every_close_and_mint_emits_an_event() {
    use anchor_lang::{AnchorDeserialize, Discriminator};
    let mut chain = Chain::start().await;
    let creator = chain.user(1_000 * AKE).await;
    let crank = chain.user(0).await;
    let node = chain.node(1, 1_000 * AKE).await;
    chain.work(&node, &creator, 600).await;
    chain.advance_to_epoch(1).await;
    let tally = chain.epoch_tally(0, 0).await;
    let ix = ake_sdk::instructions::emissions::close_epoch(crank.pubkey(), crank.token, 0, &tally);
    let events = chain
        .send_with_events_of(&[ix], &[&crank.key], ake_emissions::ID)
        .await
        .unwrap();
    let closed = events
        .iter()
        .find(|e| e.starts_with(ake_emissions::events::EpochClosed::DISCRIMINATOR))
        .expect("EpochClosed");
    let closed = ake_emissions::events::EpochClosed::deserialize(&mut &closed[8..]).unwrap();
    assert_eq!((closed.epoch, closed.jobs), (0, 1));
    assert_eq!(closed.payable, closed.burned_tokens);
    assert_eq!(closed.crank_tip, 0, "nothing swept to the treasury yet");
    assert_eq!(closed.total_work_micro_usd, 600 * RATE);

    let work: ake_emissions::state::NodeWork = chain
        .account_of(&pda::node_work(0, &node.account), &ake_emissions::ID)
        .await
        .unwrap();
    let payer = chain.payer().pubkey();
    let ix = ake_sdk::instructions::emissions::claim(
        payer,
        0,
        &node.account,
        node.owner.token,
        work.payer,
        chain.mint,
    );
    let events = chain
        .send_with_events_of(&[ix], &[], ake_emissions::ID)
        .await
        .unwrap();
    let claimed = events
        .iter()
        .find(|e| e.starts_with(ake_emissions::events::RewardClaimed::DISCRIMINATOR))
        .expect("RewardClaimed");
    let claimed = ake_emissions::events::RewardClaimed::deserialize(&mut &claimed[8..]).unwrap();
    assert_eq!(
        (claimed.epoch, claimed.node, claimed.owner),
        (0, node.account, node.owner.pubkey())
    );
    assert_eq!(claimed.pro_rata, closed.node_share);
    assert_eq!(claimed.cap, closed.burned_tokens);
    assert_eq!(claimed.amount, closed.burned_tokens, "capped by the burn");
}

use solana_sdk::signature::Signer;
