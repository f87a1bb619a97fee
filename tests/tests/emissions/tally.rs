//! Issue 27: settlements report work per market (no account is written by
//! every settlement of the protocol), and `close_epoch` sums the markets,
//! in as many calls as it takes, before any emission is fixed.

use ake_emissions::errors::EmissionsError;
use ake_emissions::state::{EpochSummary, MarketEpoch};
use ake_sdk::instructions::emissions::{self as eixs, EpochTally};
use ake_sdk::{instructions as ixs, pda};
use ake_tests::*;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Signer;

fn assert_emissions_error(
    r: Result<(), solana_sdk::transaction::TransactionError>,
    e: EmissionsError,
) {
    assert_code(r, anchor_lang::error::ERROR_CODE_OFFSET + e as u32);
}

#[tokio::test]
async fn close_epoch_sums_every_market_in_order_and_returns_the_records_rent() {
    let mut chain = Chain::start().await;
    let creator = chain.user(1_000 * AKE).await;
    let crank = chain.user(0).await;
    let node = chain.node(1, 1_000 * AKE).await;
    // A second market, where nobody works this epoch.
    let admin = chain.admin.insecure_clone();
    let second = ixs::create_market(admin.pubkey(), chain.mint, 1, default_market());
    chain.send_ok(&[second], &[&admin]).await;

    let work = chain.work(&node, &creator, 600).await;
    let m0 = pda::market_epoch(0, 0);
    let record: MarketEpoch = chain.account_of(&m0, &ake_emissions::ID).await.unwrap();
    assert_eq!(
        (
            record.market_index,
            record.jobs,
            record.nodes,
            record.total_work_micro_usd
        ),
        (0, 1, 1, work)
    );
    assert_eq!(record.payer, creator.pubkey(), "the accepter paid for it");
    // While the epoch runs no settlement writes the epoch's summary.
    assert!(chain.raw_account(&pda::epoch_summary(0)).await.is_none());
    assert_emissions_error(chain.claim(&node, 0).await, EmissionsError::EpochNotClosed);

    chain.advance_to_epoch(1).await;
    let close = |tally: EpochTally| eixs::close_epoch(crank.pubkey(), crank.token, 0, &tally);
    let tally = |first: u16, records: Vec<(Pubkey, Pubkey)>, reaches_end: bool| EpochTally {
        first,
        records,
        reaches_end,
    };
    // Ending the tally at a market that exists (market 1) is refused, as
    // are records out of order and a payer that is not the record's.
    let refusals = [
        (
            tally(0, vec![(m0, record.payer)], true),
            EmissionsError::MarketNotLast,
        ),
        (
            tally(0, vec![(pda::market_epoch(0, 1), crank.pubkey())], false),
            EmissionsError::WrongTallyAccount,
        ),
        (
            tally(0, vec![(m0, crank.pubkey())], false),
            EmissionsError::WrongTallyAccount,
        ),
    ];
    for (t, error) in refusals {
        assert_emissions_error(chain.send(&[close(t)], &[&crank.key]).await, error);
    }

    // First call: market 0 only. Its record closes, rent back to its payer;
    // the epoch is not closed and mints nothing yet.
    let payer_lamports = chain.lamports(&record.payer).await;
    let rent = chain.lamports(&m0).await;
    let minted = chain.emissions_config().await.minted_in_all();
    chain
        .send_ok(
            &[close(tally(0, vec![(m0, record.payer)], false))],
            &[&crank.key],
        )
        .await;
    assert!(chain.raw_account(&m0).await.is_none());
    assert_eq!(chain.lamports(&record.payer).await, payer_lamports + rent);
    let summary: EpochSummary = chain
        .account_of(&pda::epoch_summary(0), &ake_emissions::ID)
        .await
        .unwrap();
    assert_eq!(
        (summary.markets_tallied, summary.closed, summary.jobs),
        (1, false, 1)
    );
    assert_eq!(chain.emissions_config().await.minted_in_all(), minted);
    assert_emissions_error(chain.claim(&node, 0).await, EmissionsError::EpochNotClosed);

    // Second call: market 1 (no record), then the end: the epoch closes on
    // the sum of both markets and the node claims.
    let m1 = pda::market_epoch(0, 1);
    chain
        .send_ok(&[close(tally(1, vec![(m1, m1)], true))], &[&crank.key])
        .await;
    let summary: EpochSummary = chain
        .account_of(&pda::epoch_summary(0), &ake_emissions::ID)
        .await
        .unwrap();
    assert_eq!(
        (
            summary.closed,
            summary.markets_tallied,
            summary.total_work_micro_usd,
            summary.burned_tokens,
            summary.nodes
        ),
        (true, 2, work, record.burned_tokens, 1)
    );
    let before = chain.balance(&node.owner.token).await;
    chain.claim(&node, 0).await.unwrap();
    assert!(chain.balance(&node.owner.token).await > before);
}
