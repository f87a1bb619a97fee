//! Pure schedule and share arithmetic: no Solana types, every step checked,
//! payouts rounded down.

use crate::constants::BPS;

/// The epoch `now` falls in; None before genesis.
pub fn epoch_at(now: i64, genesis_ts: i64, epoch_secs: u32) -> Option<u64> {
    if now < genesis_ts || epoch_secs == 0 {
        return None;
    }
    u64::try_from((now - genesis_ts) / i64::from(epoch_secs)).ok()
}

/// Unix time at which `epoch` ends.
pub fn epoch_end(epoch: u64, genesis_ts: i64, epoch_secs: u32) -> Option<i64> {
    let secs = epoch.checked_add(1)?.checked_mul(u64::from(epoch_secs))?;
    genesis_ts.checked_add(i64::try_from(secs).ok()?)
}

/// The next epoch's uncapped emission: decayed by `decay_bps`, never below the floor.
pub fn decay(emission: u64, decay_bps: u16, floor: u64) -> u64 {
    let kept =
        u128::from(emission) * u128::from(BPS - u64::from(decay_bps).min(BPS)) / u128::from(BPS);
    (kept as u64).max(floor)
}

/// What an epoch really emits: its scheduled amount, cut to what the cap has left.
pub fn capped(emission: u64, scheduled_total: u64, cap: u64) -> u64 {
    emission.min(cap.saturating_sub(scheduled_total))
}

/// (node share, treasury share) of an emission; the treasury takes the rounding.
pub fn split(emission: u64, node_bps: u16) -> (u64, u64) {
    let node = (u128::from(emission) * u128::from(node_bps) / u128::from(BPS)) as u64;
    (node, emission - node)
}

/// A node's reward: floor(node_share x node_work / total_work).
pub fn node_reward(node_share: u64, node_work: u64, total_work: u64) -> Option<u64> {
    if total_work == 0 {
        return Some(0);
    }
    let r = u128::from(node_share).checked_mul(u128::from(node_work))? / u128::from(total_work);
    u64::try_from(r).ok()
}

/// Helium-style rolling window: what was minted in the window decays
/// linearly to zero over `window_secs`. Rounds up, so the breaker errs on
/// the side of refusing.
pub fn decayed_window_total(total: u64, elapsed: i64, window_secs: u32) -> u64 {
    let window = i64::from(window_secs);
    if elapsed >= window || window == 0 {
        return 0;
    }
    let remaining = (window - elapsed.max(0)) as u128;
    let num = u128::from(total) * remaining;
    num.div_ceil(window as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;
    use proptest::prelude::*;

    #[test]
    fn epochs() {
        assert_eq!(epoch_at(99, 100, 10), None);
        assert_eq!(epoch_at(100, 100, 10), Some(0));
        assert_eq!(epoch_at(119, 100, 10), Some(1));
        assert_eq!(epoch_end(1, 100, 10), Some(120));
    }

    #[test]
    fn window_decays_linearly() {
        assert_eq!(decayed_window_total(1_000, 0, 100), 1_000);
        assert_eq!(decayed_window_total(1_000, 50, 100), 500);
        assert_eq!(decayed_window_total(1_000, 99, 100), 10);
        assert_eq!(decayed_window_total(1_000, 100, 100), 0);
        assert_eq!(decayed_window_total(3, 1, 2), 2); // 1.5 rounds up
    }

    /// The schedule exactly as the program runs it, epoch after epoch.
    fn run_schedule(first: u64, decay_bps: u16, floor: u64, cap: u64, epochs: usize) -> Vec<u64> {
        let (mut next, mut total) = (first, 0u64);
        let mut out = Vec::with_capacity(epochs);
        for _ in 0..epochs {
            let e = capped(next, total, cap);
            total += e;
            out.push(e);
            next = decay(next, decay_bps, floor);
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Over 1,000 epochs the decayed emission never exceeds the exact
        /// reference max(floor, first x (1 - d)^n), loses at most one base
        /// unit per epoch to rounding, and the cap is never passed: epochs
        /// emit the schedule in full until the cap, then what is left, then 0.
        #[test]
        fn schedule_matches_reference(
            first in 1u64..2_000_000_000_000,
            decay_bps in 0u16..=500,
            floor_pct in 0u64..=100,
            cap_tenths in 1u64..=2_000,
        ) {
            let floor = first / 100 * floor_pct / 100;
            let cap = first.saturating_mul(cap_tenths) / 10;
            let got = run_schedule(first, decay_bps, floor, cap, 1_000);
            let base = BigUint::from(10_000u32);
            let keep = BigUint::from(10_000u32 - u32::from(decay_bps));
            let (mut uncapped, mut total) = (first, 0u64);
            let (mut keep_n, mut base_n) = (BigUint::from(1u32), BigUint::from(1u32));
            for (n, e) in got.iter().enumerate() {
                let exact = (BigUint::from(first) * &keep_n / &base_n).max(BigUint::from(floor));
                keep_n *= &keep;
                base_n *= &base;
                prop_assert!(BigUint::from(uncapped) <= exact.clone(), "epoch {}: over the reference", n);
                prop_assert!(BigUint::from(uncapped) + BigUint::from(n as u64) >= exact, "epoch {}: rounding drift", n);
                prop_assert_eq!(*e, uncapped.min(cap - total));
                total += e;
                prop_assert!(total <= cap);
                uncapped = decay(uncapped, decay_bps, floor);
            }
        }

        #[test]
        fn rewards_never_exceed_the_share(share in 0u64..u64::MAX / 2, works in proptest::collection::vec(0u64..1_000_000_000, 1..50)) {
            let total: u64 = works.iter().sum();
            let paid: u64 = works.iter().map(|w| node_reward(share, *w, total).unwrap()).sum();
            prop_assert!(paid <= share);
            // Dust is below one base unit per claimant.
            if total > 0 {
                prop_assert!(share - paid <= works.len() as u64);
            }
        }

        #[test]
        fn split_adds_up(e in any::<u64>(), bps in 0u16..=10_000) {
            let (n, t) = split(e, bps);
            prop_assert_eq!(n + t, e);
        }
    }
}
