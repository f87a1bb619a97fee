//! Twenty epochs of several nodes doing work: claims, dust, supply.

use ake_emissions::math::{capped, crank_tip, decay, earnable, reward_cap, scaled_treasury, split};
use ake_emissions::state::EpochSummary;
use ake_sdk::pda;
use ake_tests::*;

async fn summary(chain: &mut Chain, epoch: u64) -> EpochSummary {
    chain
        .account_of(&pda::epoch_summary(epoch), &ake_emissions::ID)
        .await
        .expect("summary")
}

/// supply == genesis + minted - burned, whatever happened.
async fn assert_book(chain: &mut Chain) {
    let minted = chain.emissions_config().await.total_minted;
    let burned = chain.market(0).await.tokens_burned;
    assert_eq!(chain.supply().await, chain.genesis_supply + minted - burned);
}

#[tokio::test]
async fn twenty_epochs_of_work_and_claims() {
    // 0.1 USD per GPU-second: some epochs burn less than the 800 AKE node
    // share (rewards capped by burns), others more (shared pro rata).
    let mut chain = Chain::start().await;
    chain.set_market_rate(100_000).await;
    let creator = chain.user(1_000_000 * AKE).await;
    let crank = chain.user(0).await;
    let mut nodes = Vec::new();
    for gpus in [1u16, 1, 2, 4] {
        nodes.push(chain.node(gpus, 10_000 * AKE).await);
    }

    let (mut next, mut scheduled) = (FIRST_EMISSION, 0u64);
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

        chain.advance_to_epoch(epoch + 1).await;
        let tip0 = chain.balance(&crank.token).await;
        chain.close_epoch(&crank, epoch).await.unwrap();

        let s = summary(&mut chain, epoch).await;
        let emission = capped(next, scheduled, 200_000 * AKE);
        assert_eq!(s.emission, emission, "epoch {epoch} emits the schedule");
        scheduled += emission;
        next = decay(next, 48, 0);
        let total: u64 = work.iter().sum();
        assert_eq!(s.total_work_micro_usd, total);
        let (node_share, treasury_share) = split(emission, 8_000);
        assert_eq!(s.node_share, if total == 0 { 0 } else { node_share });
        // The treasury share follows what nodes can earn; the tip fits in it.
        let can_earn = earnable(s.node_share, s.burned_tokens, 10_000);
        let treasury = scaled_treasury(treasury_share, can_earn, s.node_share);
        assert_eq!(s.treasury_share, treasury);
        assert_eq!(s.crank_tip, crank_tip(CRANK_TIP, treasury, s.burned_tokens));
        assert_eq!(chain.balance(&crank.token).await, tip0 + s.crank_tip);

        // Claims, in reverse order for variety; each exactly its pro-rata
        // share, capped by what its own jobs burned.
        let mut paid = 0;
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
            // Split by burn, the unit of the cap.
            let pro_rata = u128::from(s.node_share) * u128::from(record.burned_tokens)
                / u128::from(s.burned_tokens);
            let cap = u128::from(reward_cap(record.burned_tokens, 10_000));
            assert_eq!(u128::from(got), pro_rata.min(cap), "epoch {epoch} node {i}");
            paid += got;
            claimants += 1;
            assert_book(&mut chain).await;
        }
        let s = summary(&mut chain, epoch).await;
        assert_eq!(s.claimed, paid);
        assert!(paid <= can_earn);
        if can_earn == s.node_share {
            assert!(
                s.node_share - paid <= claimants,
                "a busy epoch pays its whole node share, less under one base unit per claimant"
            );
        }
        // minted <= burned x (1 + treasury / node share)
        assert!(
            u128::from(paid + s.treasury_share) * u128::from(node_share)
                <= u128::from(s.burned_tokens) * u128::from(node_share + treasury_share)
        );
    }
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
    let treasury0 = chain.balance(&chain.treasury.clone()).await;
    for e in 0..3 {
        chain.close_epoch(&crank, e).await.unwrap();
    }
    let idle = summary(&mut chain, 1).await;
    assert_eq!(
        (
            idle.node_share,
            idle.total_work_micro_usd,
            idle.treasury_share
        ),
        (0, 0, 0),
        "an epoch without work mints nothing"
    );
    let minted_to_treasury = chain.balance(&chain.treasury.clone()).await - treasury0;
    let mut expected = 0;
    for e in [0u64, 2] {
        let s = summary(&mut chain, e).await;
        let emission = (0..e).fold(FIRST_EMISSION, |x, _| decay(x, 48, 0));
        let (node_share, treasury_share) = split(emission, 8_000);
        let scaled = scaled_treasury(
            treasury_share,
            earnable(node_share, s.burned_tokens, 10_000),
            node_share,
        );
        expected += scaled - crank_tip(CRANK_TIP, scaled, s.burned_tokens);
    }
    assert_eq!(minted_to_treasury, expected);

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
    let ix = ake_sdk::instructions::emissions::close_epoch(
        crank.pubkey(),
        crank.token,
        chain.mint,
        chain.treasury,
        0,
        &tally,
    );
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
    assert_eq!(closed.nodes_can_earn, closed.burned_tokens);
    assert!(closed.crank_tip <= CRANK_TIP);
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
