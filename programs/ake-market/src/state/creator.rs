use anchor_lang::prelude::*;

use crate::constants::MAX_POSTING_FEE_STEPS;
use crate::state::ReleaseParams;

/// Per-creator job counter, PDA `["creator", creator]`: job n of a creator is
/// PDA `["job", creator, n (u64 LE)]`, so a creator's jobs are enumerable
/// without scanning the program.
#[account]
#[derive(InitSpace, Debug)]
pub struct Creator {
    pub creator: Pubkey,
    pub next_nonce: u64,
    /// The release-budget window `unrunnable_in_window` counts in.
    pub release_window: u64,
    /// The creator's jobs and batches refunded as unrunnable (handed back
    /// by `max_releases` counted owners, or halted) in that window: each
    /// raises its posting fee by the config's `posting_fee_step_bps`, up to
    /// `MAX_POSTING_FEE_STEPS` steps.
    pub unrunnable_in_window: u16,
    pub bump: u8,
}

impl Creator {
    pub const SPACE: usize = 8 + Creator::INIT_SPACE;

    pub fn new(creator: Pubkey, bump: u8) -> Self {
        Self {
            creator,
            next_nonce: 0,
            release_window: 0,
            unrunnable_in_window: 0,
            bump,
        }
    }

    /// The posting fee this creator pays now for a market's `base` fee:
    /// one step more for each of its jobs refunded as unrunnable in this
    /// window (rounded up, in the protocol's favour).
    pub fn posting_fee_micro_usd(&self, base: u64, now: i64, rules: &ReleaseParams) -> Option<u64> {
        let strikes = if self.release_window == rules.window_at(now) {
            u64::from(self.unrunnable_in_window.min(MAX_POSTING_FEE_STEPS))
        } else {
            0
        };
        let step_bps = u64::from(rules.posting_fee_step_bps).checked_mul(strikes)?;
        base.checked_add(crate::math::bps_of_ceil(base, step_bps)?)
    }

    /// One of its jobs (or a batch) was refunded as unrunnable; returns its
    /// fee steps this window.
    pub fn note_unrunnable(&mut self, now: i64, rules: &ReleaseParams) -> u16 {
        let window = rules.window_at(now);
        if window != self.release_window {
            self.release_window = window;
            self.unrunnable_in_window = 0;
        }
        self.unrunnable_in_window = self.unrunnable_in_window.saturating_add(1);
        self.unrunnable_in_window.min(MAX_POSTING_FEE_STEPS)
    }
}
