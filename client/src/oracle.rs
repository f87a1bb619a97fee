//! AKE/USD through Pyth: where the price account lives, how to read it, and
//! (for the local chain) how to write one.

use ake_market::price_update::{
    PriceFeedMessage, PriceUpdateV2, VerificationLevel, PUSH_ORACLE_PROGRAM_ID,
};
use anchor_lang::prelude::Pubkey;
use solana_sdk::account::Account;

/// The Pyth push-oracle price feed account for `feed_id` (shard 0), the
/// address Pyth keeps updated on every cluster; localnet writes its own there.
pub fn price_feed_address(feed_id: &[u8; 32]) -> Pubkey {
    Pubkey::find_program_address(&[&0u16.to_le_bytes(), feed_id], &PUSH_ORACLE_PROGRAM_ID).0
}

/// A fully verified PriceUpdateV2 account as the receiver writes it, with
/// `price` as both the spot and the EMA price (exponent -8).
pub fn price_update_account(
    price: i64,
    conf: u64,
    publish_time: i64,
    feed_id: [u8; 32],
    owner: Pubkey,
) -> Account {
    price_update_account_with(
        price,
        conf,
        publish_time,
        feed_id,
        owner,
        VerificationLevel::Full,
    )
}

pub fn price_update_account_with(
    price: i64,
    conf: u64,
    publish_time: i64,
    feed_id: [u8; 32],
    owner: Pubkey,
    level: VerificationLevel,
) -> Account {
    let update = PriceUpdateV2 {
        write_authority: Pubkey::default(),
        verification_level: level,
        price_message: PriceFeedMessage {
            feed_id,
            price,
            conf,
            exponent: -8,
            publish_time,
            prev_publish_time: publish_time - 1,
            ema_price: price,
            ema_conf: conf,
        },
        posted_slot: 0,
    };
    Account {
        lamports: 10_000_000,
        data: update.encode(),
        owner,
        executable: false,
        rent_epoch: 0,
    }
}

/// What posting a job costs at the current price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    pub max_charge_micro_usd: u64,
    /// Escrowed; what is not charged comes back.
    pub escrow: u64,
    /// Never refunded: burned when the job leaves the system.
    pub posting_fee: u64,
    /// The haircut AKE/USD price mantissa the program will use.
    pub price: u64,
}

impl Quote {
    /// What leaves the creator's account at posting.
    pub fn total(&self) -> u64 {
        self.escrow.saturating_add(self.posting_fee)
    }
}

/// The program's own arithmetic for a job of `gpus` x `max_secs` on
/// `market`: escrow and posting fee (`posting_fee_micro_usd`, what this
/// creator pays: `Protocol::posting_fee_for`), both rounded up at the
/// haircut price.
pub fn quote(
    market: &ake_market::state::Market,
    (gpus, max_secs): (u16, u32),
    posting_fee_micro_usd: u64,
    update: &PriceUpdateV2,
    params: &ake_market::state::OracleParams,
    decimals: u8,
) -> Option<Quote> {
    let m = &update.price_message;
    let price = ake_market::math::haircut_price(m.ema_price, m.ema_conf, params.haircut_bps)?;
    let usd = ake_market::math::charge_micro_usd(market.rate_micro_usd, gpus, u64::from(max_secs))?;
    let tokens = |micro_usd| {
        ake_market::math::micro_usd_to_tokens_ceil(micro_usd, price, m.exponent, decimals)
    };
    Some(Quote {
        max_charge_micro_usd: usd,
        escrow: tokens(usd)?,
        posting_fee: tokens(posting_fee_micro_usd)?,
        price,
    })
}

/// Micro-USD as dollars, to the micro-dollar ("$0.120000").
pub fn usd(micro: u64) -> String {
    format!("${}.{:06}", micro / 1_000_000, micro % 1_000_000)
}
