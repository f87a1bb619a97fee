//! Governance a DAO or multisig can hold: two-step authority transfer and a
//! PDA authority on both programs, timelocked parameter changes, a guardian
//! that can only pause, and what keeps working while paused.

use ake_emissions::errors::EmissionsError;
use ake_emissions::state::EmissionsChange;
use ake_market::errors::MarketError;
use ake_market::state::{Change, Config, PendingChange};
use ake_sdk::{instructions as ixs, pda};
use ake_tests::multisig;
use ake_tests::*;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signer::Signer;
use solana_sdk::transaction::TransactionError;

fn emissions_code(e: EmissionsError) -> u32 {
    anchor_lang::error::ERROR_CODE_OFFSET + e as u32
}

fn assert_emissions_error(r: Result<(), TransactionError>, e: EmissionsError) {
    assert_code(r, emissions_code(e));
}

async fn config(chain: &mut Chain) -> Config {
    chain.account(&pda::config()).await.unwrap()
}

/// The emission parameters in force, as a change (the timelock too).
/// `admin` proposes an emissions change.
async fn propose_emissions(
    chain: &mut Chain,
    admin: &solana_sdk::signature::Keypair,
    change: EmissionsChange,
) -> Result<(), TransactionError> {
    chain
        .send(
            &[ixs::emissions::propose_change(
                admin.pubkey(),
                admin.pubkey(),
                change,
            )],
            &[admin],
        )
        .await
}

async fn current_emissions(chain: &mut Chain) -> EmissionsChange {
    let c = chain.emissions_config().await;
    EmissionsChange {
        epoch_secs: c.schedule.epoch_secs,
        decay_bps: c.schedule.decay_bps,
        floor_emission: c.schedule.floor_emission,
        emission_cap: c.schedule.emission_cap,
        rewards: c.rewards,
        breaker: c.breaker,
        timelock_secs: c.timelock_secs,
    }
}

#[tokio::test]
async fn emissions_authority_moves_in_two_steps_like_the_markets() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let next = chain.user(0).await;
    chain.airdrop(&next.pubkey(), 1_000_000_000).await;
    let accept = ixs::emissions::accept_authority(next.pubkey());
    assert_emissions_error(
        chain
            .send(std::slice::from_ref(&accept), &[&next.key])
            .await,
        EmissionsError::NotPendingAuthority,
    );
    let steal = ixs::emissions::propose_authority(next.pubkey(), next.pubkey());
    assert_emissions_error(
        chain.send(&[steal], &[&next.key]).await,
        EmissionsError::NotAuthority,
    );
    let propose = ixs::emissions::propose_authority(admin.pubkey(), next.pubkey());
    chain.send_ok(&[propose], &[&admin]).await;
    chain.send_ok(&[accept], &[&next.key]).await;
    let c = chain.emissions_config().await;
    assert_eq!(
        (c.authority, c.pending_authority),
        (next.pubkey(), Pubkey::default())
    );
    assert_eq!(
        c.guardian,
        next.pubkey(),
        "the default guardian moves with it"
    );
    // The old key governs nothing any more.
    let change = current_emissions(&mut chain).await;
    assert_emissions_error(
        propose_emissions(&mut chain, &admin, change).await,
        EmissionsError::NotAuthority,
    );
    assert_emissions_error(
        chain
            .send(
                &[ixs::emissions::set_paused(admin.pubkey(), true)],
                &[&admin],
            )
            .await,
        EmissionsError::NotAuthority,
    );
    chain
        .send_ok(
            &[ixs::emissions::propose_change(
                next.pubkey(),
                next.pubkey(),
                change,
            )],
            &[&next.key],
        )
        .await;
}

#[tokio::test]
async fn a_pda_authority_governs_both_programs_through_the_timelock() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let pda_authority = multisig::authority();
    // Rent for the pending changes comes from a separate payer: a
    // governance account owned by its program could not pay it.
    let payer = chain.payer().pubkey();
    chain
        .send_ok(
            &[
                ixs::propose_authority(admin.pubkey(), pda_authority),
                ixs::emissions::propose_authority(admin.pubkey(), pda_authority),
            ],
            &[&admin],
        )
        .await;
    // No key signs for the PDA: only the multisig program, by invoke_signed.
    chain
        .send_ok(
            &[
                multisig::execute(ixs::accept_authority(pda_authority)),
                multisig::execute(ixs::emissions::accept_authority(pda_authority)),
            ],
            &[],
        )
        .await;
    assert_eq!(config(&mut chain).await.authority, pda_authority);
    assert_eq!(chain.emissions_config().await.authority, pda_authority);

    // PDA-signed proposals on both programs; anyone applies them after the delay.
    let mut params = chain.params;
    params.burn_bps = 9_000;
    params.treasury_bps = 1_000;
    let change = Change::Config {
        params,
        arbiter: admin.pubkey(),
    };
    let mut emissions = current_emissions(&mut chain).await;
    emissions.rewards.max_reward_per_burn_bps = 5_000;
    emissions.rewards.reward_floor_bps = 4_000;
    chain
        .send_ok(
            &[
                multisig::execute(ixs::propose_change(pda_authority, payer, change)),
                multisig::execute(ixs::emissions::propose_change(
                    pda_authority,
                    payer,
                    emissions,
                )),
            ],
            &[],
        )
        .await;
    chain.advance(i64::from(TIMELOCK_SECS)).await;
    chain
        .send_ok(
            &[
                ixs::apply_change(pda::config(), payer),
                ixs::emissions::apply_change(payer),
            ],
            &[],
        )
        .await;
    assert_eq!(config(&mut chain).await.params.burn_bps, 9_000);
    assert_eq!(
        chain
            .emissions_config()
            .await
            .rewards
            .max_reward_per_burn_bps,
        5_000
    );
    // And the PDA pauses and unpauses both.
    for paused in [true, false] {
        chain
            .send_ok(
                &[
                    multisig::execute(ixs::set_paused(pda_authority, paused)),
                    multisig::execute(ixs::emissions::set_paused(pda_authority, paused)),
                ],
                &[],
            )
            .await;
        assert_eq!(config(&mut chain).await.paused, paused);
        assert_eq!(chain.emissions_config().await.paused, paused);
    }
}

/// Proposes `change`, shows it waiting with its eta, refuses it a second
/// early, applies it on time.
async fn through_the_timelock(chain: &mut Chain, change: Change) {
    let admin = chain.admin.insecure_clone();
    let target = ixs::change_target(&change);
    let delay = config(chain).await.params.timelock_secs;
    let proposed_at = chain.now().await;
    chain
        .send_ok(
            &[ixs::propose_change(
                admin.pubkey(),
                admin.pubkey(),
                change.clone(),
            )],
            &[&admin],
        )
        .await;
    let pending: PendingChange = chain
        .account(&pda::market_pending_change(&target))
        .await
        .expect("visible on-chain");
    assert_eq!(
        (pending.change, pending.eta),
        (change, proposed_at + i64::from(delay))
    );
    chain.advance(i64::from(delay) - 1).await;
    assert_market_error(
        chain
            .send(&[ixs::apply_change(target, admin.pubkey())], &[])
            .await,
        MarketError::TimelockNotElapsed,
    );
    chain.advance(1).await;
    chain
        .send_ok(&[ixs::apply_change(target, admin.pubkey())], &[])
        .await;
    assert!(chain
        .raw_account(&pda::market_pending_change(&target))
        .await
        .is_none());
}

#[tokio::test]
async fn market_changes_wait_out_the_timelock_group_by_group() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let base = chain.params;
    let arbiter = admin.pubkey();
    let new_arbiter = Pubkey::new_unique();

    let mut fees = base;
    fees.burn_bps = 9_000;
    fees.treasury_bps = 1_000;
    let mut sla = fees;
    sla.sla.expiry_slash_bps = 2_500;
    sla.sla.dispute_bond = 50 * AKE;
    sla.challenge_window_secs = 7_200;
    sla.completion_grace_secs = 300;
    let mut slower = sla;
    slower.timelock_secs = 120;
    let mut oracle = slower;
    oracle.oracle.receiver_program = Pubkey::new_unique();
    oracle.oracle.max_age_secs = 30;
    oracle.oracle.max_conf_bps = 100;
    oracle.oracle.feed_id = [9; 32];
    let groups = [
        (fees, arbiter),
        (sla, arbiter),
        (sla, new_arbiter),
        (slower, new_arbiter),
        (oracle, new_arbiter),
    ];
    for (params, arbiter) in groups {
        through_the_timelock(&mut chain, Change::Config { params, arbiter }).await;
        let c = config(&mut chain).await;
        assert_eq!((c.params, c.arbiter), (params, arbiter));
    }

    // A market's collateral, release and queue rules, same way (now 120 s).
    let mut args = default_market();
    args.collateral.escrow_bps = 10_000;
    args.release.window_min_secs = 120;
    args.max_queue_secs = 3_600;
    through_the_timelock(&mut chain, Change::Market { index: 0, args }).await;
    let m = chain.market(0).await;
    assert_eq!(
        (
            m.collateral_escrow_bps,
            m.release_window_min_secs,
            m.max_queue_secs
        ),
        (10_000, 120, 3_600)
    );

    // One pending change per account; a stranger cannot propose or cancel;
    // the authority cancels and gets the rent back.
    let change = Change::Config {
        params: base,
        arbiter,
    };
    let propose = ixs::propose_change(admin.pubkey(), admin.pubkey(), change.clone());
    chain
        .send_ok(std::slice::from_ref(&propose), &[&admin])
        .await;
    assert_market_error(
        chain.send(&[propose], &[&admin]).await,
        MarketError::ChangeAlreadyPending,
    );
    let stranger = chain.user(0).await;
    chain.airdrop(&stranger.pubkey(), 1_000_000_000).await;
    assert_market_error(
        chain
            .send(
                &[ixs::propose_change(
                    stranger.pubkey(),
                    stranger.pubkey(),
                    change,
                )],
                &[&stranger.key],
            )
            .await,
        MarketError::NotAuthority,
    );
    let cancel = |who: Pubkey| ixs::cancel_change(who, pda::config(), admin.pubkey());
    assert_market_error(
        chain
            .send(&[cancel(stranger.pubkey())], &[&stranger.key])
            .await,
        MarketError::NotAuthority,
    );
    let pending = pda::market_pending_change(&pda::config());
    let rent = chain.lamports(&pending).await;
    let lamports = chain.lamports(&admin.pubkey()).await;
    chain.send_ok(&[cancel(admin.pubkey())], &[&admin]).await;
    assert!(chain.raw_account(&pending).await.is_none());
    assert_eq!(chain.lamports(&admin.pubkey()).await, lamports + rent);
    chain.advance(120).await;
    assert_code(
        chain
            .send(&[ixs::apply_change(pda::config(), admin.pubkey())], &[])
            .await,
        anchor_error(anchor_lang::error::ErrorCode::AccountNotInitialized),
    );
    assert_eq!(config(&mut chain).await.params, oracle);
}

#[tokio::test]
async fn emission_changes_wait_out_the_timelock_and_cap_raises_are_bounded() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let base = current_emissions(&mut chain).await;
    let cap = base.emission_cap;

    let mut too_much = base;
    too_much.emission_cap = cap + cap / 10 + 1;
    assert_emissions_error(
        propose_emissions(&mut chain, &admin, too_much).await,
        EmissionsError::CapRaiseTooLarge,
    );
    let mut raise = base;
    raise.emission_cap = cap + cap / 10;
    raise.rewards.max_reward_per_burn_bps = 8_000;
    raise.decay_bps = 100;
    propose_emissions(&mut chain, &admin, raise).await.unwrap();
    let pending: ake_emissions::state::PendingEmissionsChange = chain
        .account_of(&pda::emissions_pending_change(), &ake_emissions::ID)
        .await
        .expect("visible on-chain");
    assert_eq!(pending.change, raise);
    chain.advance(i64::from(TIMELOCK_SECS) - 1).await;
    let apply = ixs::emissions::apply_change(admin.pubkey());
    assert_emissions_error(
        chain.send(std::slice::from_ref(&apply), &[]).await,
        EmissionsError::TimelockNotElapsed,
    );
    chain.advance(1).await;
    chain.send_ok(&[apply], &[]).await;
    assert_eq!(current_emissions(&mut chain).await, raise);

    // Ten more percent at most per change, each waiting the timelock;
    // a proposal can be withdrawn.
    let mut again = raise;
    again.emission_cap = raise.emission_cap + raise.emission_cap / 10;
    propose_emissions(&mut chain, &admin, again).await.unwrap();
    chain
        .send_ok(
            &[ixs::emissions::cancel_change(
                admin.pubkey(),
                admin.pubkey(),
            )],
            &[&admin],
        )
        .await;
    chain.advance(i64::from(TIMELOCK_SECS)).await;
    assert!(chain
        .send(&[ixs::emissions::apply_change(admin.pubkey())], &[])
        .await
        .is_err());
    assert_eq!(current_emissions(&mut chain).await, raise);
}

/// A new epoch length (here daily to weekly) starts at the end of the
/// epoch the change lands in: no epoch moves, the one open keeps its end,
/// and the next ones emit at the same yearly rate.
#[tokio::test]
async fn an_epoch_length_change_starts_at_the_next_boundary_and_moves_no_epoch() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let caller = chain.user(0).await;
    let daily = chain.emissions_config().await.schedule;
    let mut weekly = current_emissions(&mut chain).await;
    // More than 7x at once is refused: lengths change in steps.
    weekly.epoch_secs = 8 * 86_400;
    assert_emissions_error(
        propose_emissions(&mut chain, &admin, weekly).await,
        EmissionsError::EpochLengthChangeTooLarge,
    );
    weekly.epoch_secs = 7 * 86_400;
    propose_emissions(&mut chain, &admin, weekly).await.unwrap();
    chain.advance(i64::from(TIMELOCK_SECS)).await;
    chain
        .send_ok(&[ixs::emissions::apply_change(admin.pubkey())], &[])
        .await;

    let schedule = chain.emissions_config().await.schedule;
    let boundary = daily.genesis_ts + 86_400;
    assert_eq!(
        (
            schedule.segment_first_epoch,
            schedule.segment_start_ts,
            schedule.previous_epoch_secs,
            schedule.epoch_secs
        ),
        (1, boundary, 86_400, 7 * 86_400)
    );
    assert_eq!(
        schedule.epoch_end(0),
        daily.epoch_end(0),
        "epoch 0 keeps its end"
    );
    assert_eq!(schedule.epoch_at(boundary - 1), Some(0));
    assert_eq!(schedule.epoch_at(boundary), Some(1));
    assert_eq!(schedule.epoch_end(1), Some(boundary + 7 * 86_400));
    assert_eq!(chain.epoch().await, 0);

    // Epoch 0 closes at its old end; the next emission is restated per week.
    chain.advance_to_epoch(1).await;
    chain.close_epoch(&caller, 0).await.unwrap();
    let daily_next = ake_emissions::math::decay(FIRST_EMISSION, daily.decay_bps, 0);
    assert_eq!(chain.emissions_config().await.next_emission, daily_next * 7);
    // Epoch 1 lasts a week.
    chain.advance(6 * 86_400).await;
    assert_emissions_error(
        chain.close_epoch(&caller, 1).await,
        EmissionsError::EpochNotEnded,
    );
    chain.advance_to_epoch(2).await;
    chain.close_epoch(&caller, 1).await.unwrap();
    let weekly_summary: ake_emissions::state::EpochSummary = chain
        .account_of(&pda::epoch_summary(1), &ake_emissions::ID)
        .await
        .expect("closed");
    assert_eq!(weekly_summary.emission, daily_next * 7);
}

#[tokio::test]
async fn the_guardian_pauses_at_once_and_only_the_authority_unpauses() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let guardian = chain.user(0).await;
    let stranger = chain.user(0).await;
    for who in [&guardian, &stranger] {
        chain.airdrop(&who.pubkey(), 1_000_000_000).await;
    }
    assert_market_error(
        chain
            .send(
                &[ixs::set_guardian(stranger.pubkey(), stranger.pubkey())],
                &[&stranger.key],
            )
            .await,
        MarketError::NotAuthority,
    );
    chain
        .send_ok(
            &[
                ixs::set_guardian(admin.pubkey(), guardian.pubkey()),
                ixs::emissions::set_guardian(admin.pubkey(), guardian.pubkey()),
            ],
            &[&admin],
        )
        .await;
    assert_market_error(
        chain
            .send(
                &[ixs::set_paused(stranger.pubkey(), true)],
                &[&stranger.key],
            )
            .await,
        MarketError::NotAuthority,
    );
    chain
        .send_ok(
            &[
                ixs::set_paused(guardian.pubkey(), true),
                ixs::emissions::set_paused(guardian.pubkey(), true),
            ],
            &[&guardian.key],
        )
        .await;
    // At once: nothing posts, nothing arms, no epoch closes.
    let creator = chain.user(100 * AKE).await;
    assert_market_error(
        chain.post_job(&creator, 1, 600).await.map(|_| ()),
        MarketError::Paused,
    );
    let node = chain.node(1, 1_000 * AKE).await;
    assert_market_error(chain.node_ready(&node).await, MarketError::Paused);
    chain.advance_to_epoch(1).await;
    assert_emissions_error(chain.close_epoch(&creator, 0).await, EmissionsError::Paused);
    // The guardian cannot unpause; the authority can.
    assert_market_error(
        chain
            .send(
                &[ixs::set_paused(guardian.pubkey(), false)],
                &[&guardian.key],
            )
            .await,
        MarketError::OnlyAuthorityUnpauses,
    );
    assert_emissions_error(
        chain
            .send(
                &[ixs::emissions::set_paused(guardian.pubkey(), false)],
                &[&guardian.key],
            )
            .await,
        EmissionsError::OnlyAuthorityUnpauses,
    );
    chain
        .send_ok(
            &[
                ixs::set_paused(admin.pubkey(), false),
                ixs::emissions::set_paused(admin.pubkey(), false),
            ],
            &[&admin],
        )
        .await;
    chain.post_job(&creator, 1, 600).await.unwrap();
    chain.close_epoch(&creator, 0).await.unwrap();
}

#[tokio::test]
async fn while_the_guardian_pauses_earned_refunds_withdrawals_and_claims_still_work() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let node = chain.node(1, 1_000 * AKE).await;
    let creator = chain.user(1_000 * AKE).await;
    let staker = chain.user(100 * AKE).await;
    chain.deposit_stake(&staker, 100 * AKE).await.unwrap();
    let unstake = ixs::request_unstake(staker.pubkey(), 100 * AKE);
    chain.send_ok(&[unstake], &[&staker.key]).await;
    chain.work(&node, &creator, 600).await;
    let queued = chain.post_job(&creator, 1, 600).await.unwrap();
    let escrow = chain.job(&queued).await.unwrap().escrow;
    chain.advance_to_epoch(1).await;
    chain.close_epoch(&creator, 0).await.unwrap();
    chain.advance(i64::from(chain.params.unbonding_secs)).await;

    chain
        .send_ok(
            &[
                ixs::set_paused(admin.pubkey(), true),
                ixs::emissions::set_paused(admin.pubkey(), true),
            ],
            &[&admin],
        )
        .await;
    let before = chain.balance(&creator.token).await;
    chain.cancel(&creator, &queued).await.unwrap();
    assert_eq!(chain.balance(&creator.token).await, before + escrow);
    let withdraw = ixs::withdraw_stake(staker.pubkey(), chain.mint, staker.token);
    chain.send_ok(&[withdraw], &[&staker.key]).await;
    assert_eq!(chain.balance(&staker.token).await, 100 * AKE);
    let earned = chain.balance(&node.owner.token).await;
    chain.claim(&node, 0).await.unwrap();
    assert!(chain.balance(&node.owner.token).await > earned);
    // An epoch that ended before the pause is earned: it still closes.
    chain.close_epoch(&creator, 1).await.unwrap();
}

#[tokio::test]
async fn a_running_job_keeps_its_fee_split_and_arbiter_across_a_timelocked_change() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let creator = chain.user(1_000 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    let other = chain.post_job(&creator, 1, 600).await.unwrap();

    // While both jobs wait or run: a new fee split and a new arbiter.
    let mut params = chain.params;
    params.burn_bps = 9_000;
    params.treasury_bps = 1_000;
    let new_arbiter = chain.user(0).await;
    chain.airdrop(&new_arbiter.pubkey(), 1_000_000_000).await;
    let change = Change::Config {
        params,
        arbiter: new_arbiter.pubkey(),
    };
    through_the_timelock(&mut chain, change).await;

    // The running job settles under the split it was assigned under (95/5).
    chain.advance(300).await;
    chain.submit(&node, &job, 300).await.unwrap();
    let treasury = chain.balance(&chain.treasury.clone()).await;
    chain.accept(&creator, &job).await.unwrap();
    assert!(chain.sweep().await);
    let charged = 120_241;
    assert_eq!(
        chain.balance(&chain.treasury.clone()).await - treasury,
        charged - charged * 9_500 / 10_000
    );
    // The next job is assigned under the new terms; its dispute goes to
    // the new arbiter, never the old one.
    chain.node_ready(&node).await.unwrap();
    let terms = chain.job(&other).await.unwrap().terms;
    assert_eq!(
        (terms.burn_bps, terms.arbiter),
        (9_000, new_arbiter.pubkey())
    );
    chain.advance(60).await;
    chain.submit(&node, &other, 60).await.unwrap();
    chain.dispute(&creator, &other).await.unwrap();
    let j = chain.job(&other).await.unwrap();
    let keys = chain.settle_keys(creator.token, admin.pubkey()).await;
    let old = ixs::resolve_dispute(other, &j, &keys, true);
    assert_market_error(chain.send(&[old], &[&admin]).await, MarketError::NotArbiter);
    let keys = chain.settle_keys(creator.token, new_arbiter.pubkey()).await;
    let new = ixs::resolve_dispute(other, &j, &keys, true);
    chain.send_ok(&[new], &[&new_arbiter.key]).await;
}

#[tokio::test]
async fn the_timelock_halves_at_most_per_change_and_a_due_change_expires() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let propose = |params: ake_market::state::Params| {
        ixs::propose_change(
            admin.pubkey(),
            admin.pubkey(),
            Change::Config {
                params,
                arbiter: admin.pubkey(),
            },
        )
    };
    let mut faster = chain.params;
    faster.timelock_secs = TIMELOCK_SECS / 2 - 1;
    assert_market_error(
        chain.send(&[propose(faster)], &[&admin]).await,
        MarketError::InvalidTimelock,
    );
    let mut emissions = current_emissions(&mut chain).await;
    emissions.timelock_secs = TIMELOCK_SECS / 2 - 1;
    assert_emissions_error(
        propose_emissions(&mut chain, &admin, emissions).await,
        EmissionsError::InvalidTimelock,
    );
    // The unbonding period never drops below a market's release-budget window.
    let mut short = chain.params;
    short.unbonding_secs = RELEASE_BUDGET_WINDOW_SECS - 1;
    assert_market_error(
        chain.send(&[propose(short)], &[&admin]).await,
        MarketError::InvalidUnbonding,
    );

    faster.timelock_secs = TIMELOCK_SECS / 2;
    chain.send_ok(&[propose(faster)], &[&admin]).await;
    chain
        .advance(i64::from(TIMELOCK_SECS) + 14 * 86_400 + 1) // past the 14-day grace
        .await;
    assert_market_error(
        chain
            .send(&[ixs::apply_change(pda::config(), admin.pubkey())], &[])
            .await,
        MarketError::ChangeExpired,
    );
}

#[tokio::test]
async fn a_pause_stops_assignment_even_when_a_job_comes_back_from_a_node() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let node = chain.node(1, 1_000 * AKE).await;
    let waiting = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let creator = chain.user(1_000 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    chain.node_ready(&waiting).await.unwrap();
    chain
        .send_ok(&[ixs::set_paused(admin.pubkey(), true)], &[&admin])
        .await;
    chain.advance(1_201).await;
    chain.expire(creator.token, &job).await.unwrap();
    // Back in line at the front, not handed to the waiting node.
    let j = chain.job(&job).await.unwrap();
    assert_eq!(
        (j.state, j.node),
        (ake_market::state::JobState::Queued, Pubkey::default())
    );
    assert_eq!(chain.market(0).await.node_count, 1);
}

#[tokio::test]
async fn emission_changes_wait_for_ended_epochs_to_close() {
    let mut chain = Chain::start().await;
    let admin = chain.admin.insecure_clone();
    let mut change = current_emissions(&mut chain).await;
    change.rewards.max_reward_per_burn_bps = 5_000;
    change.rewards.reward_floor_bps = 4_000;
    propose_emissions(&mut chain, &admin, change).await.unwrap();
    chain.advance_to_epoch(1).await;
    let apply = ixs::emissions::apply_change(admin.pubkey());
    assert_emissions_error(
        chain.send(std::slice::from_ref(&apply), &[]).await,
        EmissionsError::CloseEndedEpochsFirst,
    );
    let crank = chain.user(0).await;
    chain.close_epoch(&crank, 0).await.unwrap();
    chain.send_ok(&[apply], &[]).await;
}
