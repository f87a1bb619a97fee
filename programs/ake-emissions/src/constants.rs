//! Seeds shared by the program and the SDK.

pub const EMISSIONS_CONFIG_SEED: &[u8] = b"emissions";
pub const MINT_AUTHORITY_SEED: &[u8] = b"mint_authority";
pub const EPOCH_SEED: &[u8] = b"epoch";
pub const NODE_WORK_SEED: &[u8] = b"node_work";
pub const MARKET_EPOCH_SEED: &[u8] = b"market_epoch";
/// The treasury: a token account PDA that is its own authority.
pub const TREASURY_SEED: &[u8] = b"treasury";
/// A treasury spend waiting out the timelock: `["spend", config]`.
pub const SPEND_SEED: &[u8] = b"spend";

pub const BPS: u64 = 10_000;

/// ake-market's program id: its `["reporter"]` PDA is the only work reporter,
/// derived here on-chain, never passed in. (ake-market depends on this
/// crate, so its id is restated; a test checks the two agree.)
pub const MARKET_PROGRAM_ID: anchor_lang::prelude::Pubkey =
    anchor_lang::pubkey!("2QskJPuWAZ7ZGacVcaRbHNfTKUAenH8hS9MxcNAS3FvB");
/// The seed of ake-market's markets, `["market", index (u16 LE)]`: an
/// epoch's tally ends at the first index with no market.
pub const MARKET_SEED: &[u8] = b"market";
/// The seed of ake-market's reporter PDA.
pub const MARKET_REPORTER_SEED: &[u8] = b"reporter";
/// A change waiting out the timelock: `["pending", config]`.
pub const PENDING_SEED: &[u8] = b"pending";
/// The emission cap rises at most this much per change (10%): a hostile or
/// mistaken proposal cannot open the mint in one step.
pub const MAX_CAP_RAISE_BPS: u64 = 1_000;
/// The most a node may earn per token burned for its jobs: 1x. The burn is
/// what is left of a charge after the market's fee, so even the treasury's
/// holder, who gets the fee back, pays the posting fee (burned) and is
/// paid at most what it paid.
pub const MAX_REWARD_PER_BURN_BPS: u16 = 10_000;
