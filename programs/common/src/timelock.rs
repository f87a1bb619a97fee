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

/// When a change proposed at `now` may be applied; None on overflow.
pub fn eta(now: i64, delay_secs: u32) -> Option<i64> {
    now.checked_add(i64::from(delay_secs))
}
