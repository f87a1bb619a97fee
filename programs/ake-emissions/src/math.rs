//! Pure schedule and share arithmetic: no Solana types, every step checked,
//! payouts rounded down.

use crate::constants::BPS;
use crate::state::Rewards;

/// How epochs are laid out: from `first_epoch` on, starting at
/// `start_ts`, each lasts `epoch_secs`; the epochs before lasted
/// `previous_epoch_secs`. At genesis `first_epoch` is 0 and `start_ts`
/// genesis; a change of length starts a new segment at an epoch boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segments {
    pub first_epoch: u64,
    pub start_ts: i64,
    pub epoch_secs: u32,
    pub previous_epoch_secs: u32,
}

/// The epoch `now` falls in; None before genesis. Exact from the start
/// of the segment before the current one on: earlier times (only ever
/// asked about by nothing: every epoch that ended then closed before the
/// length last changed) are counted in the previous length too.
pub fn epoch_at(now: i64, s: &Segments) -> Option<u64> {
    if s.epoch_secs == 0 || s.previous_epoch_secs == 0 {
        return None;
    }
    if now >= s.start_ts {
        let since = now.checked_sub(s.start_ts)? / i64::from(s.epoch_secs);
        return s.first_epoch.checked_add(u64::try_from(since).ok()?);
    }
    let before = s.start_ts.checked_sub(now)?.checked_sub(1)? / i64::from(s.previous_epoch_secs);
    s.first_epoch
        .checked_sub(u64::try_from(before).ok()?.checked_add(1)?)
}

/// Unix time at which `epoch` ends; exact from the segment before the
/// current one on (as `epoch_at`).
pub fn epoch_end(epoch: u64, s: &Segments) -> Option<i64> {
    let next = epoch.checked_add(1)?;
    let (count, secs, forward) = if next >= s.first_epoch {
        (next - s.first_epoch, s.epoch_secs, true)
    } else {
        (s.first_epoch - next, s.previous_epoch_secs, false)
    };
    let span = i64::try_from(count.checked_mul(u64::from(secs))?).ok()?;
    if forward {
        s.start_ts.checked_add(span)
    } else {
        s.start_ts.checked_sub(span)
    }
}

/// The emission of the epoch after one that emitted `emission`: decayed,
/// and, after the last epoch of an old length, restated per epoch of the
/// new length (`rescale`: new and old seconds); the floor, stated per
/// epoch of the length that follows, applies last.
pub fn next_emission(
    emission: u64,
    decay_bps: u16,
    floor: u64,
    rescale: Option<(u32, u32)>,
) -> u64 {
    let decayed = decay(emission, decay_bps, 0);
    let restated = match rescale {
        Some((to_secs, from_secs)) => rescale_emission(decayed, to_secs, from_secs),
        None => decayed,
    };
    restated.max(floor)
}

/// An emission per epoch of `from_secs` restated per epoch of `to_secs`,
/// rounded down (the same yearly rate, never more).
pub fn rescale_emission(emission: u64, to_secs: u32, from_secs: u32) -> u64 {
    if from_secs == 0 {
        return 0;
    }
    (u128::from(emission) * u128::from(to_secs) / u128::from(from_secs)).min(u128::from(u64::MAX))
        as u64
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

/// A node's pro-rata part: floor(node_share x its part / all parts). Parts
/// are the tokens burned for each node's jobs, so the split, the cap and
/// the floor are in the same unit.
pub fn node_reward(node_share: u64, node_work: u64, total_work: u64) -> Option<u64> {
    if total_work == 0 {
        return Some(0);
    }
    let r = u128::from(node_share).checked_mul(u128::from(node_work))? / u128::from(total_work);
    u64::try_from(r).ok()
}

/// `burned x bps / 10000`, rounded down: a node's cap (the multiplier) or
/// its floor (phi) for the tokens its jobs burned.
pub fn reward_cap(burned: u64, bps: u16) -> u64 {
    (u128::from(burned) * u128::from(bps) / u128::from(BPS)) as u64
}

/// Whether the schedule alone pays every node at least the floor:
/// node share / burn >= phi, compared exactly.
pub fn schedule_covers_floor(node_share: u64, burned: u64, floor_bps: u16) -> bool {
    u128::from(node_share) * u128::from(BPS) >= u128::from(burned) * u128::from(floor_bps)
}

/// The crank tip for closing an epoch, paid out of the treasury: at most
/// the configured tip, what the treasury holds, and 1% of the epoch's burn.
/// The last bound keeps a self-dealer who also closes the epoch at a loss:
/// its reward is at most its burn, and the fee it paid (at least 1% of the
/// charge, more than 1% of the burn) exceeds the tip.
pub fn crank_tip(tip: u64, treasury_balance: u64, burned: u64) -> u64 {
    let share_of_burn = (u128::from(burned) * u128::from(TIP_BPS_OF_BURN) / u128::from(BPS)) as u64;
    tip.min(treasury_balance).min(share_of_burn)
}

/// The tip is at most this share of the epoch's burn (the market's minimum treasury fee).
pub const TIP_BPS_OF_BURN: u64 = 100;

/// What closing an epoch fixes, from the schedule and the epoch's burn.
/// Nothing is minted at close: nodes claim, the tip comes from the treasury.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochClose {
    /// The schedule's emission for the epoch (counted against the cap).
    pub emission: u64,
    /// The nodes' part of it: all of it, or 0 when nothing was burned.
    pub node_share: u64,
    /// What nodes may claim in all: min(node share, burn x multiplier)
    /// when the schedule covers the floor, else burn x phi (rounded down):
    /// then about `payable - node_share` is minted back from the burn
    /// (a base unit more per claimant, as each claim rounds down).
    pub payable: u64,
    /// The floor claims pay, in bps of a node's burn: phi, or less when
    /// `max_remint_per_epoch` binds.
    pub floor_bps: u16,
}

/// The schedule's state an epoch closes against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleState {
    pub next_emission: u64,
    pub scheduled_total: u64,
    pub emission_cap: u64,
}

/// `close_epoch`'s arithmetic. A node's reward is
/// `its burn x min(multiplier, max(phi, node share / burn))`: the epoch's
/// whole emission goes to work (the treasury lives on fees), capped by the
/// burn so a quiet epoch mints little, and floored at phi of the burn so a
/// busy one still pays: the shortfall is minted back from what was burned.
pub fn close_amounts(schedule: ScheduleState, rewards: &Rewards, burned: u64) -> EpochClose {
    let emission = capped(
        schedule.next_emission,
        schedule.scheduled_total,
        schedule.emission_cap,
    );
    // Nobody worked: nothing is minted (the emission is forgone).
    let node_share = if burned == 0 { 0 } else { emission };
    let phi = rewards.reward_floor_bps;
    let (payable, floor_bps) = if schedule_covers_floor(node_share, burned, phi) {
        let most = reward_cap(burned, rewards.max_reward_per_burn_bps);
        (node_share.min(most), phi)
    } else {
        let floor = reward_cap(burned, phi);
        let most = node_share.saturating_add(rewards.max_remint_per_epoch);
        if floor <= most {
            (floor, phi)
        } else {
            // The re-mint ceiling binds: the floor gives way to what it
            // allows, in bps of the burn rounded down (claims stay within).
            let bps = u128::from(most) * u128::from(BPS) / u128::from(burned);
            (most, bps as u16)
        }
    };
    EpochClose {
        emission,
        node_share,
        payable,
        floor_bps,
    }
}

/// A node's claim on a closed epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimAmounts {
    /// Its pro-rata part of the node share (by burn).
    pub pro_rata: u64,
    /// Its burn x the multiplier.
    pub cap: u64,
    /// Its burn x phi.
    pub floor: u64,
    /// Paid out of the schedule: min(pro rata, cap).
    pub from_schedule: u64,
    /// Minted back above the schedule: floor - from_schedule, when positive.
    pub reminted: u64,
}

impl ClaimAmounts {
    /// What the node gets: max(min(pro rata, cap), floor).
    pub fn amount(&self) -> u64 {
        self.from_schedule + self.reminted
    }
}

/// A node's claim: `its burn x min(multiplier, max(phi, share / burn))`,
/// each part rounded down. The floor is never above the cap (phi <= the
/// multiplier), and when the schedule covers the floor the pro-rata part
/// is already at least the floor, so nothing is reminted.
pub fn claim_amounts(
    node_share: u64,
    node_burned: u64,
    all_burned: u64,
    max_reward_per_burn_bps: u16,
    reward_floor_bps: u16,
) -> Option<ClaimAmounts> {
    let pro_rata = node_reward(node_share, node_burned, all_burned)?;
    let cap = reward_cap(node_burned, max_reward_per_burn_bps);
    let floor = reward_cap(node_burned, reward_floor_bps.min(max_reward_per_burn_bps));
    let from_schedule = pro_rata.min(cap);
    Some(ClaimAmounts {
        pro_rata,
        cap,
        floor,
        from_schedule,
        reminted: floor.saturating_sub(from_schedule),
    })
}

/// The smallest breaker limit the schedule passes: the emission a window of
/// `window_secs` spans (rounded up) plus one epoch of catch-up.
pub fn breaker_floor(emission: u64, window_secs: u32, epoch_secs: u32) -> Option<u64> {
    if epoch_secs == 0 {
        return None;
    }
    let spanned = u128::from(emission)
        .checked_mul(u128::from(window_secs))?
        .div_ceil(u128::from(epoch_secs));
    u64::try_from(spanned.checked_add(u128::from(emission))?).ok()
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
        let genesis = Segments {
            first_epoch: 0,
            start_ts: 100,
            epoch_secs: 10,
            previous_epoch_secs: 10,
        };
        assert_eq!(epoch_at(99, &genesis), None);
        assert_eq!(epoch_at(100, &genesis), Some(0));
        assert_eq!(epoch_at(119, &genesis), Some(1));
        assert_eq!(epoch_end(1, &genesis), Some(120));
        // From epoch 5 (at 150) epochs last 30 s: no earlier epoch moves.
        let changed = Segments {
            first_epoch: 5,
            start_ts: 150,
            epoch_secs: 30,
            previous_epoch_secs: 10,
        };
        for epoch in 3..5 {
            assert_eq!(epoch_end(epoch, &changed), epoch_end(epoch, &genesis));
        }
        assert_eq!(epoch_at(149, &changed), Some(4));
        assert_eq!(epoch_at(140, &changed), Some(4));
        assert_eq!(epoch_at(139, &changed), Some(3));
        assert_eq!(epoch_at(150, &changed), Some(5));
        assert_eq!(epoch_at(179, &changed), Some(5));
        assert_eq!(epoch_at(180, &changed), Some(6));
        assert_eq!(epoch_end(5, &changed), Some(180));
        assert_eq!(rescale_emission(961_538, 86_400, 604_800), 137_362);
        assert_eq!(rescale_emission(7, 1, 2), 3);
    }

    #[test]
    fn rewards_are_capped_by_burns_and_floored_at_phi() {
        let rewards = Rewards {
            crank_tip: 0,
            max_reward_per_burn_bps: 10_000,
            reward_floor_bps: 8_000,
            max_remint_per_epoch: 10_000_000_000,
        };
        let state = ScheduleState {
            next_emission: 800_000_000,
            scheduled_total: 0,
            emission_cap: u64::MAX,
        };
        // A quiet epoch (0.95 AKE burned): capped at the burn, nothing reminted.
        let quiet = close_amounts(state, &rewards, 950_000);
        assert_eq!(quiet.payable, 950_000);
        // A busy one (2,000 AKE burned): 800 from the schedule is under
        // 0.8 x 2,000, so 800 more is minted back.
        let busy = close_amounts(state, &rewards, 2_000_000_000);
        assert_eq!(busy.payable, 1_600_000_000);
        // Exactly at the floor: the schedule covers it.
        let edge = close_amounts(state, &rewards, 1_000_000_000);
        assert_eq!(edge.payable, 800_000_000);
        let c = claim_amounts(800_000_000, 1_000_000_000, 1_000_000_000, 10_000, 8_000).unwrap();
        assert_eq!((c.from_schedule, c.reminted), (800_000_000, 0));
        // Nobody worked: nothing payable.
        let idle = close_amounts(state, &rewards, 0);
        assert_eq!((idle.node_share, idle.payable), (0, 0));
        // A node that burned a quarter of the busy epoch: 200 from the
        // schedule, 200 minted back (0.8 of its 500 burned).
        let c = claim_amounts(800_000_000, 500_000_000, 2_000_000_000, 10_000, 8_000).unwrap();
        assert_eq!(
            (c.from_schedule, c.reminted, c.amount()),
            (200_000_000, 200_000_000, 400_000_000)
        );
        // After the cap: the schedule pays nothing, the floor still does.
        let after_cap = ScheduleState {
            scheduled_total: u64::MAX,
            ..state
        };
        let late = close_amounts(after_cap, &rewards, 1_000);
        assert_eq!(
            (late.node_share, late.payable, late.floor_bps),
            (0, 800, 8_000)
        );
        // A vast reported burn: at most 10,000 AKE minted back; the floor
        // gives way (0.8 -> 0.1 of the burn).
        let vast = close_amounts(state, &rewards, 108_000_000_000);
        assert_eq!((vast.payable, vast.floor_bps), (10_800_000_000, 1_000));
    }

    #[test]
    fn the_tip_never_makes_self_dealing_pay() {
        assert_eq!(crank_tip(10_000_000, 57_114, 228_456), 2_284);
        assert_eq!(
            crank_tip(10_000_000, 250_000_000, 10_000_000_000),
            10_000_000
        );
        // An empty treasury pays no tip.
        assert_eq!(crank_tip(10_000_000, 0, 10_000_000_000), 0);
        assert_eq!(crank_tip(10_000_000, 0, 0), 0);
    }

    #[test]
    fn breaker_floor_spans_the_window_plus_one_epoch() {
        // Mainnet: a 7-day window of 7-day epochs.
        assert_eq!(breaker_floor(961_538, 604_800, 604_800), Some(1_923_076));
        // A 7-day window of 1-day epochs.
        assert_eq!(breaker_floor(1_000, 604_800, 86_400), Some(8_000));
        assert_eq!(breaker_floor(1, 3, 2), Some(3));
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

        /// Across a change of length, every epoch from the segment before
        /// on ends where the next begins, and `epoch_at` agrees at both
        /// sides of every boundary.
        #[test]
        fn epoch_boundaries_agree_across_a_length_change(
            first_epoch in 0u64..1_000,
            start_ts in 0i64..2_000_000_000,
            epoch_secs in 1u32..=2_592_000,
            previous_epoch_secs in 1u32..=2_592_000,
            offset in 0u64..50,
        ) {
            let s = Segments { first_epoch, start_ts, epoch_secs, previous_epoch_secs };
            // From the first epoch of the previous segment the genesis allows.
            let lowest = first_epoch.saturating_sub(10);
            let e = lowest + offset;
            let end = epoch_end(e, &s).unwrap();
            prop_assert_eq!(epoch_at(end, &s), Some(e + 1));
            prop_assert_eq!(epoch_at(end - 1, &s), Some(e));
            if e > 0 {
                let start = epoch_end(e - 1, &s).unwrap();
                prop_assert!(start < end);
                prop_assert_eq!(epoch_at(start, &s), Some(e));
            }
            if first_epoch > 0 {
                prop_assert_eq!(epoch_end(first_epoch - 1, &s), Some(start_ts));
            }
        }

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

    }

    proptest! {
        /// Over a run of epochs of random demand, with the programs' own
        /// close and claim arithmetic: mint for work never exceeds the
        /// epoch's burn, no node is paid more than its own burn times the
        /// multiplier (paying yourself never pays) or less than phi of it,
        /// claims stay within what the close fixed, and supply never
        /// passes genesis plus the schedule's cap.
        #[test]
        fn the_floor_remints_only_what_was_burned(
            first in 1u64..1_000_000_000_000,
            decay_bps in 0u16..=500,
            cap_epochs in 1u64..40,
            max_bps in 1u16..=10_000,
            floor_pct in 0u16..=100,
            max_remint in prop_oneof![Just(u64::MAX), 0u64..2_000_000_000_000],
            epochs in proptest::collection::vec(
                proptest::collection::vec(0u64..2_000_000_000_000, 0..6), 1..60),
        ) {
            let floor_bps = (u32::from(max_bps) * u32::from(floor_pct) / 100) as u16;
            let rewards = Rewards { crank_tip: 0, max_reward_per_burn_bps: max_bps, reward_floor_bps: floor_bps, max_remint_per_epoch: max_remint };
            let cap = first.saturating_mul(cap_epochs);
            let genesis = 1_000_000_000_000_000u128;
            let (mut supply, mut next, mut scheduled) = (genesis, first, 0u64);
            for burns in &epochs {
                let burned: u64 = burns.iter().sum();
                let close = close_amounts(ScheduleState { next_emission: next, scheduled_total: scheduled, emission_cap: cap }, &rewards, burned);
                let (mut paid, mut from_schedule, mut reminted) = (0u64, 0u64, 0u64);
                for b in burns {
                    let c = claim_amounts(close.node_share, *b, burned, max_bps, close.floor_bps).unwrap();
                    prop_assert!(c.amount() <= reward_cap(*b, max_bps) && c.amount() <= *b);
                    prop_assert!(c.amount() >= reward_cap(*b, close.floor_bps));
                    prop_assert!(close.floor_bps <= floor_bps);
                    if max_remint == u64::MAX {
                        prop_assert_eq!(close.floor_bps, floor_bps);
                    }
                    paid += c.amount();
                    from_schedule += c.from_schedule;
                    reminted += c.reminted;
                }
                prop_assert!(paid <= close.payable && paid <= burned);
                prop_assert!(from_schedule <= close.node_share);
                // Minted back: at most phi of the burn, and only what the
                // schedule left short (plus a unit of rounding per claim).
                prop_assert!(u128::from(reminted) * 10_000 <= u128::from(burned) * u128::from(floor_bps));
                prop_assert!(reminted <= close.payable.saturating_sub(close.node_share) + burns.len() as u64);
                prop_assert!(reminted <= max_remint.saturating_add(burns.len() as u64));
                scheduled += close.emission;
                prop_assert!(scheduled <= cap);
                supply = supply + u128::from(paid) - u128::from(burned);
                prop_assert!(supply <= genesis + u128::from(cap));
                next = next_emission(next, decay_bps, 0, None);
            }
        }
    }
}
