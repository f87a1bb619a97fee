//! Reading AKE/USD from a Pyth PriceUpdateV2 account, with every check the
//! SDK leaves to the caller (price > 0, confidence) made explicit.

use crate::price_update::{PriceUpdateV2, VerificationLevel};
use anchor_lang::prelude::*;

use crate::errors::MarketError;
use crate::math::{confidence_within, haircut_price};
use crate::state::{LockedPrice, OracleParams};

/// The conservative price to charge at: EMA less the confidence haircut.
pub fn read_price(
    price_account: &AccountInfo,
    params: &OracleParams,
    decimals: u8,
    now: i64,
) -> Result<LockedPrice> {
    require_keys_eq!(
        *price_account.owner,
        params.receiver_program,
        MarketError::OracleWrongOwner
    );
    let data = price_account.try_borrow_data()?;
    let update =
        PriceUpdateV2::decode(&data).ok_or_else(|| error!(MarketError::OracleMalformed))?;
    check_update(&update, params, now)?;
    let m = &update.price_message;
    let mantissa = haircut_price(m.ema_price, m.ema_conf, params.haircut_bps)
        .ok_or(MarketError::OracleNonPositivePrice)?;
    Ok(LockedPrice {
        mantissa,
        expo: m.exponent,
        decimals,
    })
}

fn check_update(update: &PriceUpdateV2, params: &OracleParams, now: i64) -> Result<()> {
    let m = &update.price_message;
    require!(m.feed_id == params.feed_id, MarketError::OracleWrongFeed);
    require!(
        update.verification_level == VerificationLevel::Full,
        MarketError::OracleNotFullyVerified
    );
    let age = now.saturating_sub(m.publish_time);
    require!(
        age <= i64::from(params.max_age_secs),
        MarketError::OracleStale
    );
    require!(
        m.ema_price > 0 && m.price > 0,
        MarketError::OracleNonPositivePrice
    );
    require!(
        confidence_within(m.ema_price, m.ema_conf, params.max_conf_bps),
        MarketError::OracleConfidenceTooWide
    );
    Ok(())
}
