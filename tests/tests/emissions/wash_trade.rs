//! Paying yourself never pays: a node's reward is capped by what its jobs
//! burned, the treasury share follows what nodes could earn, and the crank
//! tip never exceeds it. Every figure is in AKE base units.

use ake_emissions::math::{reward_cap, scaled_treasury, split};
use ake_sdk::pda;
use ake_tests::*;

/// The operator's AKE across its wallets: the creator wallet it pays from,
/// its owner wallet (rewards) and its stake.
async fn operator_wealth(chain: &mut Chain, wallet: &User, node: &TestNode) -> u64 {
    chain.balance(&wallet.token).await
        + chain.balance(&node.owner.token).await
        + chain.stake_of(&node.owner.pubkey()).await.amount
}

async fn summary(chain: &mut Chain, epoch: u64) -> ake_emissions::state::EpochSummary {
    chain
        .account_of(&pda::epoch_summary(epoch), &ake_emissions::ID)
        .await
        .expect("summary")
}

#[tokio::test]
async fn wash_trade_alone_in_an_epoch_never_pays_with_mainnet_parameters() {
    let mut chain = Chain::start_with(mainnet_emissions()).await;
    let node = chain.node(1, 1_000 * AKE).await;
    let own_wallet = chain.user(100 * AKE).await;
    let before = operator_wealth(&mut chain, &own_wallet, &node).await;

    // The operator posts a 10-minute job to its own node, accepts it, and
    // closes the epoch itself for the tip.
    chain.work(&node, &own_wallet, 600).await;
    chain.advance_to_epoch(1).await;
    chain.close_epoch(&own_wallet, 0).await.unwrap();
    chain.claim(&node, 0).await.unwrap();
    let after = operator_wealth(&mut chain, &own_wallet, &node).await;

    // 600 s charge 240,481: 228,456 burned, 12,025 to the treasury, plus the
    // 20,041 posting fee. The (daily) epoch's node share is 109,889 AKE; the reward
    // is capped at the 228,456 burned; the tip at 1% of the burn (2,284).
    let s = summary(&mut chain, 0).await;
    assert_eq!(s.node_share, 109_889_600_000);
    assert_eq!(s.burned_tokens, 228_456);
    assert_eq!(s.claimed, 228_456);
    let payoff = after as i128 - before as i128;
    assert_eq!(payoff, -(12_025 + POSTING_FEE as i128) + 2_284);
    assert!(
        payoff < 0,
        "the wash trader loses the fee and the posting fee, the tip included"
    );
    // Quiet epoch: the treasury share follows the burn; the tip fits in it.
    let treasury = scaled_treasury(27_472_400_000, 228_456, 109_889_600_000);
    assert_eq!((s.treasury_share, s.crank_tip), (treasury, 2_284));
    println!(
        "wash trade alone, mainnet parameters: paid {}, burned {}, reward {} (uncapped it would have been {}), payoff {payoff}",
        240_481 + POSTING_FEE,
        s.burned_tokens,
        s.claimed,
        s.node_share
    );
}

#[tokio::test]
async fn wash_trade_beside_honest_work_never_pays_and_honest_nodes_keep_their_share() {
    // A busy market ($1 per GPU-second): burns exceed the 800 AKE node share.
    let mut chain = Chain::start().await;
    chain.set_market_rate(1_000_000).await;
    let honest = chain.node(1, 10_000 * AKE).await;
    let creator = chain.user(20_000 * AKE).await;
    let operator = chain.node(1, 10_000 * AKE).await;
    let own_wallet = chain.user(20_000 * AKE).await;
    let closer = chain.user(0).await;
    let before = operator_wealth(&mut chain, &own_wallet, &operator).await;

    chain.work(&honest, &creator, 600).await;
    chain.work(&operator, &own_wallet, 1).await;
    chain.advance_to_epoch(1).await;
    chain.close_epoch(&closer, 0).await.unwrap();
    let s = summary(&mut chain, 0).await;
    let honest_work: ake_emissions::state::NodeWork = chain
        .account_of(&pda::node_work(0, &honest.account), &ake_emissions::ID)
        .await
        .unwrap();
    let honest0 = chain.balance(&honest.owner.token).await;
    chain.claim(&honest, 0).await.unwrap();
    chain.claim(&operator, 0).await.unwrap();

    // Honest: its share of the node emission in proportion to its burn, well
    // under what its job burned.
    assert!(s.burned_tokens > s.node_share, "a busy epoch");
    let share = u128::from(s.node_share) * u128::from(honest_work.burned_tokens)
        / u128::from(s.burned_tokens);
    let got = chain.balance(&honest.owner.token).await - honest0;
    assert_eq!(u128::from(got), share);
    assert!(got < reward_cap(honest_work.burned_tokens, 10_000));
    // The operator: a second of its own work, paid at most what it burned.
    let after = operator_wealth(&mut chain, &own_wallet, &operator).await;
    let payoff = after as i128 - before as i128;
    assert!(payoff < 0, "payoff {payoff}");
    println!("wash trade beside honest work: operator payoff {payoff}, honest reward {got}");
}

#[tokio::test]
async fn quiet_epochs_mint_little_and_the_tip_never_exceeds_the_treasury_share() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(100 * AKE).await;
    let crank = chain.user(0).await;
    chain.work(&node, &creator, 600).await; // epoch 0: 228,456 burned
    chain.advance_to_epoch(2).await; // epoch 1: nothing
    let supply0 = chain.supply().await;
    let treasury0 = chain.balance(&chain.treasury.clone()).await;
    chain.close_epoch(&crank, 0).await.unwrap();
    chain.close_epoch(&crank, 1).await.unwrap();
    chain.claim(&node, 0).await.unwrap();

    let (node_share, treasury_share) = split(FIRST_EMISSION, 8_000);
    let s0 = summary(&mut chain, 0).await;
    let scaled = scaled_treasury(treasury_share, 228_456, node_share);
    assert_eq!(scaled, 57_114);
    // The tip: at most 1% of the burn, out of the scaled treasury share.
    assert_eq!((s0.treasury_share, s0.crank_tip), (scaled, 2_284));
    assert_eq!(chain.balance(&crank.token).await, 2_284);
    assert_eq!(
        chain.balance(&chain.treasury.clone()).await,
        treasury0 + scaled - 2_284
    );
    let s1 = summary(&mut chain, 1).await;
    assert_eq!((s1.node_share, s1.treasury_share, s1.crank_tip), (0, 0, 0));
    // minted <= burned x (1 + treasury / node share) = 228,456 x 1.25.
    let minted = chain.supply().await - supply0;
    assert_eq!(minted, 228_456 + scaled);
    assert!(u128::from(minted) * 8_000 <= 228_456u128 * 10_000);
}
