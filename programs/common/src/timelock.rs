//! The delay both programs put between proposing a parameter change and
//! applying it, so users can see a change coming and leave before it lands.

/// The shortest delay a config may set (seconds; a local chain uses this).
pub const MIN_TIMELOCK_SECS: u32 = 1;
/// The longest: a month.
pub const MAX_TIMELOCK_SECS: u32 = 30 * 86_400;

/// Whether `secs` is a delay a config may hold.
pub fn valid_delay(secs: u32) -> bool {
    (MIN_TIMELOCK_SECS..=MAX_TIMELOCK_SECS).contains(&secs)
}

/// A due change must be applied within this long after its eta (then only
/// cancelling clears it): nobody can keep an old change in reserve and
/// spring it after users stopped watching.
pub const APPLY_GRACE_SECS: i64 = 14 * 86_400;

/// Whether a change from `current` to `proposed` seconds may be made: the
/// delay at most halves per change, so removing it takes many changes,
/// each visible for the delay then in force.
pub fn valid_change(current: u32, proposed: u32) -> bool {
    valid_delay(proposed) && proposed >= current / 2
}

/// Whether a change with `eta` may be applied at `now`.
pub fn applicable(now: i64, eta: i64) -> bool {
    now >= eta && now <= eta.saturating_add(APPLY_GRACE_SECS)
}

/// When a change proposed at `now` may be applied; None on overflow.
pub fn eta(now: i64, delay_secs: u32) -> Option<i64> {
    now.checked_add(i64::from(delay_secs))
}
