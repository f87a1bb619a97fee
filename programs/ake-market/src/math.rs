//! Pure pricing arithmetic: no Solana types, every step checked, every
//! rounding in the protocol's favour (charges and escrows round up, payouts down).

use crate::constants::{BPS, MICRO_USD_DECIMALS, REPUTATION_PRIOR_MICRO_USD};

/// `rate x gpus x seconds`, in micro-USD.
pub fn charge_micro_usd(rate_per_gpu_sec: u64, gpus: u16, seconds: u64) -> Option<u64> {
    rate_per_gpu_sec
        .checked_mul(u64::from(gpus))?
        .checked_mul(seconds)
}

/// EMA price less `haircut_bps / 10000` times the EMA confidence. The haircut
/// rounds up so the price used is never above the conservative price.
/// None when the result is not positive.
pub fn haircut_price(ema_price: i64, ema_conf: u64, haircut_bps: u32) -> Option<u64> {
    if ema_price <= 0 {
        return None;
    }
    let cut = ceil_div(
        u128::from(ema_conf).checked_mul(u128::from(haircut_bps))?,
        u128::from(BPS),
    )?;
    let price = u128::try_from(ema_price).ok()?.checked_sub(cut)?;
    if price == 0 {
        return None;
    }
    u64::try_from(price).ok()
}

/// True when `conf` is at most `max_bps` of `price`.
pub fn confidence_within(price: i64, conf: u64, max_bps: u16) -> bool {
    if price <= 0 {
        return false;
    }
    let lhs = u128::from(conf) * u128::from(BPS);
    let rhs = price.unsigned_abs() as u128 * u128::from(max_bps);
    lhs <= rhs
}

/// Token base units worth `micro_usd` at a price of `mantissa x 10^expo` USD
/// per whole token, for a mint of `decimals`. Rounds UP: what a payer owes.
pub fn micro_usd_to_tokens_ceil(
    micro_usd: u64,
    mantissa: u64,
    expo: i32,
    decimals: u8,
) -> Option<u64> {
    if mantissa == 0 {
        return None;
    }
    // tokens = micro_usd x 10^(decimals - 6 - expo) / mantissa
    let e = i64::from(decimals) - i64::from(MICRO_USD_DECIMALS) - i64::from(expo);
    let (num, den) = if e >= 0 {
        (
            u128::from(micro_usd).checked_mul(pow10(u32::try_from(e).ok()?)?)?,
            u128::from(mantissa),
        )
    } else {
        (
            u128::from(micro_usd),
            u128::from(mantissa).checked_mul(pow10(u32::try_from(-e).ok()?)?)?,
        )
    };
    u64::try_from(ceil_div(num, den)?).ok()
}

/// Splits a payment into (burned, treasury). The burn rounds down and the
/// treasury takes the remainder, so the two always add up to `amount`.
pub fn split_payment(amount: u64, burn_bps: u16) -> Option<(u64, u64)> {
    let burn = u128::from(amount)
        .checked_mul(u128::from(burn_bps))?
        .checked_div(u128::from(BPS))?;
    let burn = u64::try_from(burn).ok()?;
    Some((burn, amount.checked_sub(burn)?))
}

/// Tier = how many of the ascending thresholds `amount` reaches (0..=3).
pub fn tier_for(amount: u64, thresholds: &[u64; 3]) -> u8 {
    thresholds.iter().filter(|t| amount >= **t).count() as u8
}

/// Reputation in bps: the value-weighted success rate of a node's work,
/// `proven / (proven + failed + prior)`, all in micro-USD. Weighting by value
/// means it rises only with work someone paid for (a thousand one-second
/// jobs count as what they were worth), and the prior means a fresh node
/// starts at 0, so a new identity is never better off than a punished one.
/// Rounded down (the protocol's favour).
pub fn reputation_bps(proven_micro_usd: u64, failed_micro_usd: u64) -> u16 {
    let proven = u128::from(proven_micro_usd);
    let total = proven + u128::from(failed_micro_usd) + u128::from(REPUTATION_PRIOR_MICRO_USD);
    // proven < total, so the quotient is below 10,000 and fits.
    (proven * u128::from(BPS) / total) as u16
}

/// `bps` of `amount`, rounded up: what a participant is charged (a slash,
/// a collateral requirement) never rounds in its favour.
pub fn bps_of_ceil(amount: u64, bps: u64) -> Option<u64> {
    u64::try_from(ceil_div(
        u128::from(amount).checked_mul(u128::from(bps))?,
        u128::from(BPS),
    )?)
    .ok()
}

/// What a job refunded as stale burns for the time it held a queue slot:
/// one posting fee per `WAITING_FEE_PERIOD_SECS` waited, pro rata, rounded
/// up (the protocol's favour), at most `cap` (its escrow).
pub fn waiting_fee(posting_fee: u64, waited_secs: u64, cap: u64) -> Option<u64> {
    let fee = ceil_div(
        u128::from(posting_fee).checked_mul(u128::from(waited_secs))?,
        u128::from(crate::constants::WAITING_FEE_PERIOD_SECS),
    )?;
    Some(u64::try_from(fee).unwrap_or(u64::MAX).min(cap))
}

/// Collateral a job locks from its node owner's free stake while it runs:
/// at least the market's stake per GPU for each of the job's GPUs, and at
/// least `escrow_bps` of the job's escrow, so a long many-GPU job puts more
/// at risk than a one-second frame.
pub fn execution_collateral(
    stake_per_gpu: u64,
    gpus: u16,
    escrow: u64,
    escrow_bps: u16,
) -> Option<u64> {
    let per_gpu = stake_per_gpu.checked_mul(u64::from(gpus))?;
    Some(per_gpu.max(bps_of_ceil(escrow, u64::from(escrow_bps))?))
}

/// Collateral kept through the challenge window and any dispute: a multiple
/// (`charge_bps`) of what the job charged, never more than the execution
/// collateral it replaces.
pub fn result_collateral(execution: u64, charged: u64, charge_bps: u16) -> Option<u64> {
    Some(execution.min(bps_of_ceil(charged, u64::from(charge_bps))?))
}

/// Seconds after assignment during which a node may hand a job back for
/// free: `bps` of the job's max duration, clamped to `[min, max]` (enough for
/// an image pull and the input fetch).
pub fn release_window_secs(max_duration_secs: u32, bps: u16, min: u32, max: u32) -> u32 {
    let share = u64::from(max_duration_secs) * u64::from(bps) / BPS;
    u32::try_from(share)
        .unwrap_or(u32::MAX)
        .clamp(min, max.max(min))
}

/// The slash for handing a job back after the free window: the expiry slash
/// scaled by the share of the job's time the node held it (`held` of
/// `span`, both from assignment), rounded down so that it stays below the
/// expiry slash for every release before the deadline.
pub fn late_release_slash(expiry_slash: u64, held: u64, span: u64) -> Option<u64> {
    if span == 0 {
        return Some(expiry_slash);
    }
    let scaled =
        u128::from(expiry_slash).checked_mul(u128::from(held.min(span)))? / u128::from(span);
    u64::try_from(scaled).ok()
}

fn pow10(exp: u32) -> Option<u128> {
    10u128.checked_pow(exp)
}

fn ceil_div(num: u128, den: u128) -> Option<u128> {
    if den == 0 {
        return None;
    }
    num.checked_add(den - 1).map(|n| n / den)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escrow_at_half_a_dollar() {
        // 1 USD at 0.50 USD/AKE (expo -8) with 6 decimals = 2 AKE.
        assert_eq!(
            micro_usd_to_tokens_ceil(1_000_000, 50_000_000, -8, 6),
            Some(2_000_000)
        );
        // One micro-USD more rounds the escrow up, never down.
        assert_eq!(
            micro_usd_to_tokens_ceil(1_000_001, 50_000_000, -8, 6),
            Some(2_000_002)
        );
    }

    #[test]
    fn positive_exponent_and_tiny_prices() {
        assert_eq!(micro_usd_to_tokens_ceil(1_000_000, 2, 0, 6), Some(500_000));
        assert_eq!(micro_usd_to_tokens_ceil(5, 3, 2, 0), Some(1));
        assert_eq!(micro_usd_to_tokens_ceil(1, 0, -8, 6), None);
    }

    #[test]
    fn haircut_is_conservative() {
        // Helium's price = ema - 2 x conf.
        assert_eq!(haircut_price(50_000_000, 50_000, 20_000), Some(49_900_000));
        // A cut that rounds: 3 x 1.5 = 4.5 -> 5.
        assert_eq!(haircut_price(100, 3, 15_000), Some(95));
        assert_eq!(haircut_price(100, 50, 20_000), None);
        assert_eq!(haircut_price(0, 0, 0), None);
        assert_eq!(haircut_price(-5, 0, 0), None);
    }

    #[test]
    fn confidence_bound() {
        assert!(confidence_within(10_000, 200, 200));
        assert!(!confidence_within(10_000, 201, 200));
        assert!(!confidence_within(0, 0, 200));
    }

    #[test]
    fn tiers() {
        let t = [1_000, 10_000, 100_000];
        assert_eq!(tier_for(0, &t), 0);
        assert_eq!(tier_for(999, &t), 0);
        assert_eq!(tier_for(1_000, &t), 1);
        assert_eq!(tier_for(100_000, &t), 3);
    }

    #[test]
    fn reputation_is_the_value_weighted_success_rate() {
        let prior = REPUTATION_PRIOR_MICRO_USD;
        assert_eq!(reputation_bps(0, 0), 0);
        // As much proven work as the prior: half.
        assert_eq!(reputation_bps(prior, 0), 5_000);
        // The ceiling a job may ask for is reached with 99x the prior and no failure.
        assert_eq!(
            reputation_bps(99 * prior, 0),
            crate::state::MAX_REPUTATION_BPS
        );
        assert_eq!(
            reputation_bps(99 * prior - 1, 0),
            crate::state::MAX_REPUTATION_BPS - 1
        );
        // A failure weighs what the failed job was worth.
        assert_eq!(reputation_bps(prior, prior), 3_333);
        assert_eq!(reputation_bps(u64::MAX, 0), 9_999);
    }

    #[test]
    fn collateral_follows_the_job() {
        // A one-second frame: the per-GPU floor.
        assert_eq!(execution_collateral(200, 1, 3, 5_000), Some(200));
        // A long 8-GPU job: half its escrow, rounded up.
        assert_eq!(execution_collateral(200, 8, 100_001, 5_000), Some(50_001));
        // The result collateral is a multiple of the charge, capped by the execution collateral.
        assert_eq!(result_collateral(1_000, 100, 20_000), Some(200));
        assert_eq!(result_collateral(150, 100, 20_000), Some(150));
        assert_eq!(result_collateral(1_000, 1, 15_000), Some(2));
    }

    #[test]
    fn release_window_is_clamped() {
        assert_eq!(release_window_secs(1, 1_000, 60, 900), 60);
        assert_eq!(release_window_secs(3_600, 1_000, 60, 900), 360);
        assert_eq!(release_window_secs(259_200, 1_000, 60, 900), 900);
    }

    #[test]
    fn late_release_is_proportional_and_below_expiry() {
        assert_eq!(late_release_slash(1_000, 300, 1_200), Some(250));
        assert_eq!(late_release_slash(1_000, 1_199, 1_200), Some(999));
        assert_eq!(late_release_slash(1_000, 5_000, 1_200), Some(1_000));
    }

    proptest! {
        #[test]
        fn reputation_stays_below_the_whole_and_falls_with_failure(proven in any::<u64>(), failed in any::<u64>(), more in 1u64..u64::MAX / 4) {
            let r = reputation_bps(proven, failed);
            prop_assert!(r < 10_000);
            prop_assert!(reputation_bps(proven, failed.saturating_add(more)) <= r);
            prop_assert!(reputation_bps(proven.saturating_add(more), failed) >= r);
        }

        #[test]
        fn split_always_adds_up(amount in any::<u64>(), bps in 0u16..=10_000) {
            let (burn, treasury) = split_payment(amount, bps).unwrap();
            prop_assert_eq!(burn + treasury, amount);
            prop_assert!(u128::from(burn) * 10_000 <= u128::from(amount) * u128::from(bps));
        }

        #[test]
        fn escrow_never_undercharges(usd in 0u64..1_000_000_000_000, mantissa in 1u64..1_000_000_000_000, expo in -12i32..=0) {
            if let Some(tokens) = micro_usd_to_tokens_ceil(usd, mantissa, expo, 6) {
                // tokens x price >= usd, and one base unit less would be < usd.
                let e = 6 - 6 - i64::from(expo);
                let scale = 10u128.pow(e as u32);
                let value = u128::from(tokens) * u128::from(mantissa);
                prop_assert!(value >= u128::from(usd) * scale);
                if tokens > 0 {
                    prop_assert!((u128::from(tokens) - 1) * u128::from(mantissa) < u128::from(usd) * scale);
                }
            }
        }

        #[test]
        fn late_release_never_reaches_expiry(slash in 1u64..1_000_000_000_000, span in 2u64..10_000_000, held in 0u64..10_000_000) {
            let held = held % span;
            let late = late_release_slash(slash, held, span).unwrap();
            prop_assert!(late < slash);
        }

        #[test]
        fn result_collateral_never_exceeds_execution(exec in any::<u64>(), charged in 0u64..u64::MAX / 7, bps in 0u16..=60_000) {
            prop_assert!(result_collateral(exec, charged, bps).unwrap() <= exec);
        }

        #[test]
        fn charge_is_monotonic_in_seconds(rate in 0u64..1_000_000, gpus in 1u16..64, a in 0u64..100_000, b in 0u64..100_000) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(charge_micro_usd(rate, gpus, lo).unwrap() <= charge_micro_usd(rate, gpus, hi).unwrap());
        }
    }
}
