//! AKE/USD through Pyth: where the price account lives, how to read it, and
//! (for the local chain) how to write one.

use anchor_lang::prelude::Pubkey;
use pyth_solana_receiver_sdk::price_update::{PriceFeedMessage, PriceUpdateV2, VerificationLevel};
use solana_sdk::account::Account;

/// The Pyth push-oracle price feed account for `feed_id` (shard 0), the
/// address Pyth keeps updated on every cluster; localnet writes its own there.
pub fn price_feed_address(feed_id: &[u8; 32]) -> Pubkey {
    Pubkey::find_program_address(
        &[&0u16.to_le_bytes(), feed_id],
        &pyth_solana_receiver_sdk::PYTH_PUSH_ORACLE_ID,
    )
    .0
}

/// Decodes a PriceUpdateV2 account's data.
pub fn decode_price(data: &[u8]) -> Option<PriceUpdateV2> {
    anchor_lang::AccountDeserialize::try_deserialize(&mut &data[..]).ok()
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
    let mut data = Vec::with_capacity(PriceUpdateV2::LEN);
    anchor_lang::AccountSerialize::try_serialize(&update, &mut data)
        .expect("serialize a price update");
    data.resize(PriceUpdateV2::LEN, 0);
    Account {
        lamports: 10_000_000,
        data,
        owner,
        executable: false,
        rent_epoch: 0,
    }
}

/// What a creator would pay, before posting: (max micro-USD, escrow base units, haircut price).
pub fn quote(
    rate_micro_usd: u64,
    gpus: u16,
    max_secs: u32,
    update: &PriceUpdateV2,
    params: &ake_market::state::OracleParams,
    decimals: u8,
) -> Option<(u64, u64, u64)> {
    let m = &update.price_message;
    let price = ake_market::math::haircut_price(m.ema_price, m.ema_conf, params.haircut_bps)?;
    let usd = ake_market::math::charge_micro_usd(rate_micro_usd, gpus, u64::from(max_secs))?;
    let tokens = ake_market::math::micro_usd_to_tokens_ceil(usd, price, m.exponent, decimals)?;
    Some((usd, tokens, price))
}
