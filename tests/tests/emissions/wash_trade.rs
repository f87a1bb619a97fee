//! Paying yourself never pays: a node's reward is capped by what its jobs
//! burned, the treasury lives on the market's fee alone (no mint grows with
//! rewards), and the crank tip, paid out of the treasury, never makes up
//! the fee. Neither an outsider nor whoever holds the treasury gains, at
//! any fee the market allows. Every figure is in AKE base units.

use ake_emissions::math::{claim_amounts, close_amounts, reward_cap, ScheduleState};
use ake_market::math::split_payment;
use ake_market::state::MIN_TREASURY_BPS;
use ake_sdk::pda;
use ake_tests::*;
use solana_sdk::signature::Signer;

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
    chain.sweep().await;
    chain.advance_to_epoch(1).await;
    chain.close_epoch(&own_wallet, 0).await.unwrap();
    chain.claim(&node, 0).await.unwrap();
    let after = operator_wealth(&mut chain, &own_wallet, &node).await;

    // 600 s charge 240,481: 228,456 burned, 12,025 to the treasury, plus the
    // 20,041 posting fee. The (daily) epoch's node share is its whole
    // 137,362 AKE; the reward is capped at the 228,456 burned; the tip, out
    // of the treasury's 12,025, at 1% of the burn (2,284).
    let s = summary(&mut chain, 0).await;
    assert_eq!(s.node_share, 137_362 * AKE);
    assert_eq!(s.burned_tokens, 228_456);
    assert_eq!(s.claimed, 228_456);
    let payoff = after as i128 - before as i128;
    assert_eq!(payoff, -(12_025 + POSTING_FEE as i128) + 2_284);
    assert!(
        payoff < 0,
        "the wash trader loses the fee and the posting fee, the tip included"
    );
    assert_eq!((s.payable, s.crank_tip), (228_456, 2_284));
    assert_eq!(chain.balance(&chain.treasury.clone()).await, 12_025 - 2_284);
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
    // A busy market ($1 per GPU-second): burns exceed the 1,000 AKE
    // emission (not by enough for the 0.8 floor: shared pro rata).
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
    assert!(s.node_share * 10 >= s.burned_tokens * 8, "above the floor");
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
async fn quiet_epochs_mint_only_what_was_burned_and_the_tip_comes_out_of_the_fees() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(100 * AKE).await;
    let crank = chain.user(0).await;
    chain.work(&node, &creator, 600).await; // epoch 0: 228,456 burned
    chain.sweep().await; // 12,025 of fees to the treasury
    chain.advance_to_epoch(2).await; // epoch 1: nothing
    let supply0 = chain.supply().await;
    let treasury0 = chain.balance(&chain.treasury.clone()).await;
    assert_eq!(treasury0, 12_025);
    chain.close_epoch(&crank, 0).await.unwrap();
    chain.close_epoch(&crank, 1).await.unwrap();
    chain.claim(&node, 0).await.unwrap();

    // The tip: at most 1% of the burn, out of the treasury; nothing minted
    // but the node's reward, which is its burn.
    let s0 = summary(&mut chain, 0).await;
    assert_eq!((s0.payable, s0.crank_tip), (228_456, 2_284));
    assert_eq!(chain.balance(&crank.token).await, 2_284);
    assert_eq!(
        chain.balance(&chain.treasury.clone()).await,
        treasury0 - 2_284
    );
    let s1 = summary(&mut chain, 1).await;
    assert_eq!((s1.node_share, s1.payable, s1.crank_tip), (0, 0, 0));
    assert_eq!(chain.supply().await - supply0, 228_456);
}

/// One wash trade in its own epoch: `trader` pays a `secs` job to its own
/// node, beside an honest 3,000 s job when `honest` is given; a third party
/// closes the epoch. Returns the trader's payoff as an outsider, and as
/// whoever holds the treasury (which also gets that job's fee back).
async fn wash_epoch(
    chain: &mut Chain,
    (wallet, node): (&User, &TestNode),
    honest: Option<(&User, &TestNode)>,
    crank: &User,
) -> (i128, i128) {
    let epoch = chain.epoch().await;
    let before = operator_wealth(chain, wallet, node).await as i128;
    if let Some((creator, node)) = honest {
        chain.work(node, creator, 3_000).await;
    }
    let fees0 = chain.ledger().await.pending_treasury;
    chain.work(node, wallet, 10).await;
    let own_fee = i128::from(chain.ledger().await.pending_treasury - fees0);
    chain.sweep().await;
    chain.advance_to_epoch(epoch + 1).await;
    chain.close_epoch(crank, epoch).await.unwrap();
    chain.claim(node, epoch).await.unwrap();
    if let Some((_, node)) = honest {
        chain.claim(node, epoch).await.unwrap();
    }
    let outsider = operator_wealth(chain, wallet, node).await as i128 - before;
    (outsider, outsider + own_fee)
}

#[tokio::test]
async fn wash_trades_lose_for_an_outsider_and_for_the_treasury_holder_at_every_fee() {
    // $1 per GPU-second. Quiet epochs: a 10 s job burns ~19 AKE of a 1,000
    // AKE emission (the reward capped at the burn). Busy epochs: an honest
    // 3,000 s job burns ~5,700 AKE (rewards floored at 0.8 of the burn,
    // most of it minted back).
    let mut chain = Chain::start().await;
    chain.set_market_rate(1_000_000).await;
    let trader = chain.user(20_000 * AKE).await;
    let own_node = chain.node(1, 10_000 * AKE).await;
    let honest_creator = chain.user(100_000 * AKE).await;
    let honest = chain.node(1, 10_000 * AKE).await;
    let crank = chain.user(0).await;
    for fee_bps in [MIN_TREASURY_BPS, 500, 5_000, 9_999] {
        let mut params = chain.params;
        (params.burn_bps, params.treasury_bps) = (10_000 - fee_bps, fee_bps);
        chain.set_params(params).await;
        let next = chain.epoch().await + 1;
        chain.advance_to_epoch(next).await;
        for e in chain.emissions_config().await.next_epoch..next {
            chain.close_epoch(&crank, e).await.unwrap();
        }
        for honest_work in [None, Some((&honest_creator, &honest))] {
            let (outsider, insider) =
                wash_epoch(&mut chain, (&trader, &own_node), honest_work, &crank).await;
            let label = if honest_work.is_some() {
                "busy"
            } else {
                "quiet"
            };
            println!("fee {fee_bps} bps, {label}: outsider {outsider}, treasury holder {insider}");
            assert!(
                outsider < 0,
                "fee {fee_bps}, {label}: the outsider gained {outsider}"
            );
            assert!(
                insider < 0,
                "fee {fee_bps}, {label}: the treasury holder gained {insider}"
            );
            // Quiet: the reward is exactly the burn, so the treasury's holder
            // loses the posting fee. Busy: also 0.2 of the burn (at a 99.99%
            // fee even the honest job burns too little to be busy).
            let floored = {
                let epoch = chain.epoch().await - 1;
                let s = summary(&mut chain, epoch).await;
                s.payable > s.node_share
            };
            assert_eq!(floored, honest_work.is_some() && fee_bps <= 5_000);
            if floored {
                assert!(insider < -(POSTING_FEE as i128), "fee {fee_bps}");
            } else {
                assert_eq!(insider, -(POSTING_FEE as i128), "fee {fee_bps}");
            }
        }
    }

    // The treasury's holder reaches the fees only through a timelocked,
    // public spend.
    let held = chain.balance(&chain.treasury.clone()).await;
    let admin = chain.admin.insecure_clone();
    let before = chain.balance(&trader.token).await;
    chain
        .send_ok(
            &[ake_sdk::instructions::emissions::propose_spend(
                admin.pubkey(),
                admin.pubkey(),
                trader.token,
                held,
            )],
            &[&admin],
        )
        .await;
    chain.advance(i64::from(TIMELOCK_SECS)).await;
    chain
        .send_ok(
            &[ake_sdk::instructions::emissions::apply_spend(
                admin.pubkey(),
                trader.token,
            )],
            &[],
        )
        .await;
    assert_eq!(chain.balance(&chain.treasury.clone()).await, 0);
    assert_eq!(chain.balance(&trader.token).await, before + held);
}

/// The same trade through the programs' arithmetic at every fee the market
/// allows (100..=10,000 bps), in a quiet, a shared and a floored epoch:
/// an outsider gets back its reward, the treasury's holder also the fee;
/// both end below what they paid (the posting fee, burned, left out).
#[test]
fn wash_trades_lose_at_every_allowed_fee_through_the_program_math() {
    let rewards = default_rewards();
    let schedule = ScheduleState {
        next_emission: FIRST_EMISSION,
        scheduled_total: 0,
        emission_cap: 200_000 * AKE,
    };
    // The tip a self-dealer may collect by closing the epoch is bounded by
    // the smallest fee it can have paid.
    assert_eq!(
        ake_emissions::math::TIP_BPS_OF_BURN,
        u64::from(MIN_TREASURY_BPS)
    );
    let paid = 100 * AKE;
    for fee_bps in MIN_TREASURY_BPS..=10_000 {
        let (burn, fee) = split_payment(paid, 10_000 - fee_bps).unwrap();
        for others in [0, FIRST_EMISSION, 100 * FIRST_EMISSION] {
            let burned = others + burn;
            let close = close_amounts(schedule, &rewards, burned);
            let reward = claim_amounts(
                close.node_share,
                burn,
                burned,
                rewards.max_reward_per_burn_bps,
                close.floor_bps,
            )
            .unwrap()
            .amount();
            assert!(reward <= reward_cap(burn, 10_000));
            assert!(reward < paid, "outsider, fee {fee_bps}, others {others}");
            // The treasury's holder: reward + fee <= burn + fee == paid; it
            // also burns the posting fee, so it strictly loses.
            assert!(
                reward + fee <= paid,
                "insider, fee {fee_bps}, others {others}"
            );
        }
    }
}
