//! A market's address lookup table: only the authority names it, and only
//! an active lookup table it holds (or a frozen one) will do.

use ake_market::errors::MarketError;
use ake_sdk::lookup_tables::create_instructions;
use ake_sdk::{instructions as ixs, pda};
use ake_tests::*;
use solana_sdk::signature::Signer;

#[tokio::test]
async fn only_the_authority_names_a_market_s_lookup_table_and_it_must_be_one() {
    let mut chain = Chain::start().await;
    chain.advance(1).await; // slots for the table's derivation slot
    let admin = chain.admin.insecure_clone();
    let slot = chain.clock().await.slot - 1;
    let (table, create) =
        create_instructions(admin.pubkey(), 0, &chain.mint, &chain.treasury, slot);
    // Create and fill the table, but name it as a stranger: refused.
    let stranger = chain.user(0).await;
    chain.send_ok(&create[..2], &[&admin]).await;
    let name = ixs::set_lookup_table(stranger.pubkey(), 0, table);
    assert_market_error(
        chain.send(&[name], &[&stranger.key]).await,
        MarketError::NotAuthority,
    );
    // Any other account is not a table.
    let name = ixs::set_lookup_table(admin.pubkey(), 0, pda::config());
    assert_market_error(
        chain.send(&[name], &[&admin]).await,
        MarketError::NotALookupTable,
    );
    // A table someone else holds (they could deactivate it): refused.
    let (theirs, create_theirs) =
        create_instructions(stranger.pubkey(), 0, &chain.mint, &chain.treasury, slot);
    chain.send_ok(&create_theirs[..2], &[&stranger.key]).await;
    let name = ixs::set_lookup_table(admin.pubkey(), 0, theirs);
    assert_market_error(
        chain.send(&[name], &[&admin]).await,
        MarketError::LookupTableNotHeld,
    );
    assert_eq!(chain.market(0).await.lookup_table, Default::default());
    chain.send_ok(&create[2..], &[&admin]).await;
    assert_eq!(chain.market(0).await.lookup_table, table);
}
