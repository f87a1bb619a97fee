//! Bootstrap cannot be front-run: trust flows from whoever holds the mint.

use ake_emissions::errors::EmissionsError;
use ake_market::errors::MarketError;
use ake_sdk::pda;
use ake_tests::*;
use anchor_spl::token::spl_token;
use solana_sdk::program_pack::Pack;
use solana_sdk::signature::Signer;

fn emissions_error(e: EmissionsError) -> u32 {
    anchor_lang::error::ERROR_CODE_OFFSET + e as u32
}

#[tokio::test]
async fn front_run_initialize_fails_on_both_programs_before_and_after_the_real_one() {
    let mut chain = Chain::bare().await;
    chain.genesis_ts = chain.now().await;
    let stranger = chain.user(0).await;
    let admin = chain.admin.insecure_clone();

    // Before the real bootstrap: the stranger holds no mint authority, and
    // the market needs ake-emissions first.
    let ix = chain.initialize_emissions_ix(&stranger.pubkey());
    assert_code(
        chain.send(&[ix], &[&stranger.key]).await,
        emissions_error(EmissionsError::NotMintAuthority),
    );
    let ix = chain.initialize_market_ix(&stranger.pubkey());
    assert_code(
        chain.send(&[ix], &[&stranger.key]).await,
        anchor_error(anchor_lang::error::ErrorCode::AccountNotInitialized),
    );

    // The mint's authority initializes ake-emissions, which takes the mint
    // authority in the same instruction.
    let ix = chain.initialize_emissions_ix(&admin.pubkey());
    chain.send_ok(&[ix], &[&admin]).await;
    let mint = chain.raw_account(&chain.mint.clone()).await.unwrap();
    let mint = spl_token::state::Mint::unpack(&mint.data).unwrap();
    assert_eq!(mint.mint_authority, Some(pda::mint_authority()).into());
    let config = chain.emissions_config().await;
    assert_eq!(config.authority, admin.pubkey());
    assert_eq!(
        config.reporter,
        pda::reporter(),
        "derived on-chain from ake-market's id"
    );
    assert_eq!(ake_emissions::constants::MARKET_PROGRAM_ID, ake_market::ID);

    // Between the two, and after: the stranger is refused by both.
    let ix = chain.initialize_market_ix(&stranger.pubkey());
    assert_market_error(
        chain.send(&[ix], &[&stranger.key]).await,
        MarketError::NotAuthority,
    );
    let ix = chain.initialize_emissions_ix(&stranger.pubkey());
    assert_code(
        chain.send(&[ix], &[&stranger.key]).await,
        emissions_error(EmissionsError::NotMintAuthority),
    );
    // The treasury is ake-emissions' own (a token account PDA that is its
    // own authority): the market's fees cannot be sent anywhere else.
    let treasury: spl_token::state::Account = {
        let raw = chain.raw_account(&pda::treasury()).await.unwrap();
        spl_token::state::Account::unpack(&raw.data).unwrap()
    };
    assert_eq!(config.treasury, pda::treasury());
    assert_eq!(
        (treasury.mint, treasury.owner),
        (chain.mint, pda::treasury())
    );
    assert!(treasury.delegate.is_none() && treasury.close_authority.is_none());
    let elsewhere = chain.token_account(&admin.pubkey()).await;
    let ix = ake_sdk::instructions::initialize(
        admin.pubkey(),
        chain.mint,
        elsewhere,
        chain.params,
        admin.pubkey(),
    );
    assert_market_error(
        chain.send(&[ix], &[&admin]).await,
        MarketError::WrongTreasury,
    );
    let ix = chain.initialize_market_ix(&admin.pubkey());
    chain.send_ok(&[ix], &[&admin]).await;
    let ix = chain.initialize_market_ix(&stranger.pubkey());
    assert_market_error(
        chain.send(&[ix], &[&stranger.key]).await,
        MarketError::NotAuthority,
    );
    // Nor can the real authority initialize a second time.
    let ix = chain.initialize_emissions_ix(&admin.pubkey());
    assert_code(
        chain.send(&[ix], &[&admin]).await,
        emissions_error(EmissionsError::NotMintAuthority),
    );
}

#[tokio::test]
async fn front_run_with_a_freezable_mint_is_refused() {
    let mut chain = Chain::bare().await;
    chain.genesis_ts = chain.now().await;
    let admin = chain.admin.insecure_clone();
    chain.mint = chain.create_mint_with_freeze(Some(&admin.pubkey())).await;
    let ix = chain.initialize_emissions_ix(&admin.pubkey());
    assert_code(
        chain.send(&[ix], &[&admin]).await,
        emissions_error(EmissionsError::MintHasFreezeAuthority),
    );
}

#[tokio::test]
async fn front_run_with_a_mint_of_ones_own_is_refused() {
    // A stranger creates a mint it controls and tries to take the single
    // emissions config with it: only the programs' upgrade authority may.
    let mut chain = Chain::bare().await;
    chain.genesis_ts = chain.now().await;
    let stranger = chain.user(0).await;
    let real_mint = chain.mint;
    chain.mint_authority = stranger.key.insecure_clone();
    chain.mint = chain.create_mint_with_freeze(None).await;
    let ix = chain.initialize_emissions_ix(&stranger.pubkey());
    assert_code(
        chain.send(&[ix], &[&stranger.key]).await,
        emissions_error(EmissionsError::NotUpgradeAuthority),
    );
    assert!(chain.raw_account(&pda::emissions_config()).await.is_none());
    // The deployer, holding the real mint, still can.
    let admin = chain.admin.insecure_clone();
    chain.mint = real_mint;
    let ix = chain.initialize_emissions_ix(&admin.pubkey());
    chain.send_ok(&[ix], &[&admin]).await;
}
