//! ake_market::price_update decodes what Pyth's receiver writes: every
//! field, both verification levels, checked against the receiver SDK's own
//! encoder, and anything else refused.

use ake_market::price_update::{self as ours, PriceUpdateV2};
use anchor_lang::{AccountSerialize, Discriminator};
use proptest::prelude::*;
use pyth_solana_receiver_sdk::price_update as pyth;

fn pyth_bytes(update: &pyth::PriceUpdateV2) -> Vec<u8> {
    let mut data = Vec::new();
    update.try_serialize(&mut data).expect("serialize");
    data.resize(pyth::PriceUpdateV2::LEN, 0);
    data
}

fn level(partial: Option<u8>) -> (pyth::VerificationLevel, ours::VerificationLevel) {
    match partial {
        Some(n) => (
            pyth::VerificationLevel::Partial { num_signatures: n },
            ours::VerificationLevel::Partial { num_signatures: n },
        ),
        None => (pyth::VerificationLevel::Full, ours::VerificationLevel::Full),
    }
}

#[test]
fn the_constants_are_pyth_s() {
    assert_eq!(ours::RECEIVER_PROGRAM_ID, pyth_solana_receiver_sdk::ID);
    assert_eq!(
        ours::PUSH_ORACLE_PROGRAM_ID,
        pyth_solana_receiver_sdk::PYTH_PUSH_ORACLE_ID
    );
    assert_eq!(ours::DISCRIMINATOR, pyth::PriceUpdateV2::DISCRIMINATOR);
    assert_eq!(PriceUpdateV2::LEN, pyth::PriceUpdateV2::LEN);
}

#[test]
fn other_accounts_are_refused() {
    let update = PriceUpdateV2 {
        write_authority: Default::default(),
        verification_level: ours::VerificationLevel::Full,
        price_message: ours::PriceFeedMessage {
            feed_id: [1; 32],
            price: 5,
            conf: 1,
            exponent: -8,
            publish_time: 7,
            prev_publish_time: 6,
            ema_price: 5,
            ema_conf: 1,
        },
        posted_slot: 3,
    };
    let good = update.encode();
    assert_eq!(PriceUpdateV2::decode(&good), Some(update));
    let mut wrong_kind = good.clone();
    wrong_kind[0] ^= 1;
    assert_eq!(PriceUpdateV2::decode(&wrong_kind), None);
    assert_eq!(PriceUpdateV2::decode(&good[..60]), None);
    let mut bad_level = good;
    bad_level[40] = 2;
    assert_eq!(PriceUpdateV2::decode(&bad_level), None);
}

proptest! {
    #[test]
    fn decodes_and_encodes_exactly_as_pyth(
        authority in any::<[u8; 32]>(),
        partial in proptest::option::of(any::<u8>()),
        feed_id in any::<[u8; 32]>(),
        price in any::<i64>(),
        conf in any::<u64>(),
        exponent in any::<i32>(),
        publish_time in any::<i64>(),
        prev_publish_time in any::<i64>(),
        ema_price in any::<i64>(),
        ema_conf in any::<u64>(),
        posted_slot in any::<u64>(),
    ) {
        let (theirs_level, ours_level) = level(partial);
        let theirs = pyth::PriceUpdateV2 {
            write_authority: authority.into(),
            verification_level: theirs_level,
            price_message: pyth::PriceFeedMessage {
                feed_id, price, conf, exponent, publish_time, prev_publish_time, ema_price, ema_conf,
            },
            posted_slot,
        };
        let expected = PriceUpdateV2 {
            write_authority: authority.into(),
            verification_level: ours_level,
            price_message: ours::PriceFeedMessage {
                feed_id, price, conf, exponent, publish_time, prev_publish_time, ema_price, ema_conf,
            },
            posted_slot,
        };
        let bytes = pyth_bytes(&theirs);
        prop_assert_eq!(PriceUpdateV2::decode(&bytes), Some(expected));
        prop_assert_eq!(expected.encode(), bytes);
    }
}
