//! Every emissions rejection asserts its exact error.

use ake_emissions::errors::EmissionsError;
use ake_emissions::instructions::WorkReport;
use ake_emissions::state::{BreakerParams, EmissionsChange, Rewards};
use ake_sdk::{instructions::emissions as eixs, pda};
use ake_tests::*;
use anchor_lang::{InstructionData, ToAccountMetas};
use anchor_spl::token::spl_token;
use solana_sdk::instruction::Instruction;
use solana_sdk::program_pack::Pack;
use solana_sdk::signature::{Keypair, Signer};
use solana_sdk::transaction::TransactionError;

/// A governance change of the emission parameters (the timelock unchanged).
fn change(
    decay_bps: u16,
    floor_emission: u64,
    emission_cap: u64,
    rewards: Rewards,
    breaker: BreakerParams,
) -> EmissionsChange {
    EmissionsChange {
        epoch_secs: ake_tests::EPOCH_SECS,
        decay_bps,
        floor_emission,
        emission_cap,
        rewards,
        breaker,
        timelock_secs: TIMELOCK_SECS,
    }
}

/// The authority proposes a change (checked at once, applied after the timelock).
fn propose(
    authority: solana_sdk::pubkey::Pubkey,
    decay: u16,
    floor: u64,
    cap: u64,
    rewards: Rewards,
    breaker: BreakerParams,
) -> Instruction {
    eixs::propose_change(
        authority,
        authority,
        change(decay, floor, cap, rewards, breaker),
    )
}

fn code(e: EmissionsError) -> u32 {
    anchor_lang::error::ERROR_CODE_OFFSET + e as u32
}

fn assert_emissions_error(r: Result<(), TransactionError>, e: EmissionsError) {
    assert_code(r, code(e));
}

#[tokio::test]
async fn only_the_emissions_program_can_mint() {
    let mut chain = Chain::start().await;
    let mint = chain.raw_account(&chain.mint.clone()).await.unwrap();
    let mint = spl_token::state::Mint::unpack(&mint.data).unwrap();
    assert_eq!(mint.mint_authority, Some(pda::mint_authority()).into());
}

#[tokio::test]
async fn closing_epochs() {
    let mut chain = Chain::start().await;
    let crank = chain.user(0).await;
    assert_emissions_error(
        chain.close_epoch(&crank, 0).await,
        EmissionsError::EpochNotEnded,
    );
    chain.advance_to_epoch(2).await;
    assert_emissions_error(
        chain.close_epoch(&crank, 1).await,
        EmissionsError::EpochOutOfOrder,
    );
    chain.close_epoch(&crank, 0).await.unwrap();
    assert_emissions_error(
        chain.close_epoch(&crank, 0).await,
        EmissionsError::EpochAlreadyClosed,
    );
    chain.close_epoch(&crank, 1).await.unwrap();
    assert_emissions_error(
        chain.close_epoch(&crank, 2).await,
        EmissionsError::EpochNotEnded,
    );
}

#[tokio::test]
async fn claims() {
    let mut chain = Chain::start().await;
    let creator = chain.user(1_000 * AKE).await;
    let crank = chain.user(0).await;
    let node = chain.node(1, 1_000 * AKE).await;
    let stranger = chain.user(0).await;
    chain.work(&node, &creator, 600).await;

    // The epoch is still open.
    assert_emissions_error(chain.claim(&node, 0).await, EmissionsError::EpochNotClosed);
    chain.advance_to_epoch(1).await;
    chain.close_epoch(&crank, 0).await.unwrap();

    // The reward goes to the owner's account only.
    let work: ake_emissions::state::NodeWork = chain
        .account_of(&pda::node_work(0, &node.account), &ake_emissions::ID)
        .await
        .unwrap();
    let payer = chain.payer().pubkey();
    let ix = eixs::claim(
        payer,
        0,
        &node.account,
        stranger.token,
        work.payer,
        chain.mint,
    );
    assert_emissions_error(
        chain.send(&[ix], &[]).await,
        EmissionsError::WrongRewardAccount,
    );

    chain.claim(&node, 0).await.unwrap();
    // Twice: the record is gone.
    assert_code(
        chain.claim(&node, 0).await,
        anchor_error(anchor_lang::error::ErrorCode::AccountNotInitialized),
    );
    // A node that did no work has nothing to claim.
    let idle = chain.node(1, 1_000 * AKE).await;
    assert_code(
        chain.claim(&idle, 0).await,
        anchor_error(anchor_lang::error::ErrorCode::AccountNotInitialized),
    );
}

#[tokio::test]
async fn only_the_market_reporter_reports_work() {
    let mut chain = Chain::start().await;
    let fake = Keypair::new();
    let payer = chain.payer().pubkey();
    let node = solana_sdk::pubkey::Pubkey::new_unique();
    let report = WorkReport {
        epoch: 0,
        market_index: 0,
        node,
        node_owner: fake.pubkey(),
        work_micro_usd: 1_000_000_000,
        burned_tokens: 0,
        burned_micro_usd: 0,
        gpu_secs: 1,
    };
    let ix = Instruction {
        program_id: ake_emissions::ID,
        accounts: ake_emissions::accounts::ReportWork {
            reporter: fake.pubkey(),
            payer,
            config: pda::emissions_config(),
            market_epoch: pda::market_epoch(0, 0),
            node_work: pda::node_work(0, &node),
            system_program: anchor_lang::system_program::ID,
            event_authority: pda::event_authority(&ake_emissions::ID),
            program: ake_emissions::ID,
        }
        .to_account_metas(None),
        data: ake_emissions::instruction::ReportWork { report }.data(),
    };
    assert_emissions_error(
        chain.send(&[ix], &[&fake]).await,
        EmissionsError::NotReporter,
    );
    assert!(chain.raw_account(&pda::market_epoch(0, 0)).await.is_none());
}

#[tokio::test]
async fn circuit_breaker_delays_but_never_voids_and_never_counts_what_is_minted_back() {
    let mut chain = Chain::start().await;
    chain.set_market_rate(1_000_000).await;
    let creator = chain.user(30_000 * AKE).await;
    let crank = chain.user(0).await;
    let node = chain.node(1, 10_000 * AKE).await;
    // The tightest limit the schedule passes: one day's emission plus one
    // epoch of catch-up in any day.
    let tight = BreakerParams {
        window_secs: 86_400,
        window_limit: 2 * FIRST_EMISSION,
    };
    chain
        .govern_emissions(change(48, 0, 200_000 * AKE, default_rewards(), tight))
        .await;

    // Demand far above the schedule: each epoch burns about 5,700 AKE for
    // 1,000 of emission, so each claim is 0.8 of that burn, of which only
    // the schedule's part counts against the breaker; the rest is minted
    // back from the burn the epoch recorded.
    for epoch in 0..3 {
        chain.work(&node, &creator, 3_000).await;
        chain.advance_to_epoch(epoch + 1).await;
    }
    for epoch in 0..3 {
        chain.close_epoch(&crank, epoch).await.unwrap();
    }
    // Three epochs caught up at once: two schedule parts fit the window,
    // the third waits (the 7,000-odd AKE minted back do not count).
    chain.claim(&node, 0).await.unwrap();
    chain.claim(&node, 1).await.unwrap();
    let supply = chain.supply().await;
    assert_emissions_error(
        chain.claim(&node, 2).await,
        EmissionsError::CircuitBreakerTripped,
    );
    assert_eq!(
        chain.supply().await,
        supply,
        "a tripped breaker mints nothing"
    );
    let mut reminted = 0;
    for epoch in 0..2 {
        let s: ake_emissions::state::EpochSummary = chain
            .account_of(&pda::epoch_summary(epoch), &ake_emissions::ID)
            .await
            .unwrap();
        assert_eq!(
            s.payable,
            ake_emissions::math::reward_cap(s.burned_tokens, 8_000)
        );
        assert!(s.payable > 4_500 * AKE);
        assert_eq!(
            (s.claimed, s.reminted),
            (s.payable, s.payable - s.node_share)
        );
        reminted += s.reminted;
    }
    let config = chain.emissions_config().await;
    assert_eq!(config.total_reminted, reminted);
    assert!(config.total_reminted > config.breaker.window_limit);
    // A day later the window has drained: the claim is paid in full.
    chain.advance(86_400).await;
    chain.claim(&node, 2).await.unwrap();
    let s: ake_emissions::state::EpochSummary = chain
        .account_of(&pda::epoch_summary(2), &ake_emissions::ID)
        .await
        .unwrap();
    assert_eq!(s.claimed, s.payable, "the delayed claim paid in full");
}

#[tokio::test]
async fn config_bounds() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let split = default_rewards();
    // `split`: the rewards, named as the other parameters' cases.
    let breaker = default_breaker();
    let cases = [
        (
            5_001,
            0,
            200_000 * AKE,
            split,
            breaker,
            EmissionsError::InvalidSchedule,
        ),
        (
            48,
            FIRST_EMISSION + 1,
            200_000 * AKE,
            split,
            breaker,
            EmissionsError::InvalidSchedule,
        ),
        (
            48,
            0,
            FIRST_EMISSION - 1,
            split,
            breaker,
            EmissionsError::InvalidSchedule,
        ),
        (
            48,
            0,
            200_000 * AKE,
            Rewards {
                reward_floor_bps: 10_000,
                max_reward_per_burn_bps: 9_999,
                ..split
            },
            breaker,
            EmissionsError::InvalidRewards,
        ),
        (
            48,
            0,
            200_000 * AKE,
            split,
            BreakerParams {
                window_secs: 3_600,
                ..breaker
            },
            EmissionsError::InvalidBreaker,
        ),
        (
            48,
            0,
            200_000 * AKE,
            split,
            BreakerParams {
                // 7 days of 1-day epochs plus one of catch-up: 8,000 AKE.
                window_limit: 8 * FIRST_EMISSION - 1,
                ..breaker
            },
            EmissionsError::InvalidBreaker,
        ),
        (
            48,
            0,
            200_000 * AKE,
            Rewards {
                max_reward_per_burn_bps: 10_001,
                ..split
            },
            breaker,
            EmissionsError::InvalidRewards,
        ),
        (
            48,
            0,
            200_000 * AKE,
            Rewards {
                max_reward_per_burn_bps: 0,
                ..split
            },
            breaker,
            EmissionsError::InvalidRewards,
        ),
    ];
    for (decay, floor, cap, split, breaker, e) in cases {
        let ix = propose(admin.pubkey(), decay, floor, cap, split, breaker);
        assert_emissions_error(chain.send(&[ix], &[&admin]).await, e);
    }
    // Exactly the floor passes.
    let floor = BreakerParams {
        window_limit: 8 * FIRST_EMISSION,
        ..breaker
    };
    let ix = propose(admin.pubkey(), 48, 0, 200_000 * AKE, split, floor);
    chain.send_ok(&[ix], &[&admin]).await;
    let stranger = chain.user(0).await;
    let ix = propose(stranger.pubkey(), 48, 0, 200_000 * AKE, split, breaker);
    assert_emissions_error(
        chain.send(&[ix], &[&stranger.key]).await,
        EmissionsError::NotAuthority,
    );

    // The cap cannot drop below what closed epochs already scheduled.
    let crank = chain.user(0).await;
    chain.advance_to_epoch(2).await;
    chain.close_epoch(&crank, 0).await.unwrap();
    chain.close_epoch(&crank, 1).await.unwrap();
    let ix = propose(admin.pubkey(), 48, 0, FIRST_EMISSION + 1, split, breaker);
    assert_emissions_error(
        chain.send(&[ix], &[&admin]).await,
        EmissionsError::CapBelowScheduled,
    );
}

#[tokio::test]
async fn a_pause_holds_back_what_would_be_minted_back_and_loses_nothing() {
    // A busy epoch (about 5,700 AKE burned for 1,000 of emission): the claim
    // mints most of its 0.8 x burn back. The guardian pauses (say a market
    // bug reported the burn): that claim waits; unpaused, it pays in full.
    let mut chain = Chain::start().await;
    chain.set_market_rate(1_000_000).await;
    let creator = chain.user(30_000 * AKE).await;
    let crank = chain.user(0).await;
    let node = chain.node(1, 10_000 * AKE).await;
    chain.work(&node, &creator, 3_000).await;
    chain.advance_to_epoch(1).await;
    chain.close_epoch(&crank, 0).await.unwrap();
    let admin = chain.admin.insecure_clone();
    chain
        .send_ok(&[eixs::set_paused(admin.pubkey(), true)], &[&admin])
        .await;
    let supply = chain.supply().await;
    assert_emissions_error(chain.claim(&node, 0).await, EmissionsError::RemintPaused);
    assert_eq!(chain.supply().await, supply);
    chain
        .send_ok(&[eixs::set_paused(admin.pubkey(), false)], &[&admin])
        .await;
    chain.claim(&node, 0).await.unwrap();
    let s: ake_emissions::state::EpochSummary = chain
        .account_of(&pda::epoch_summary(0), &ake_emissions::ID)
        .await
        .unwrap();
    assert!(s.reminted > 0);
    assert_eq!(s.claimed, s.payable);
    assert_eq!(chain.supply().await, supply + s.payable);
}
