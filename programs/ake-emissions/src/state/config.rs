use anchor_lang::prelude::*;

use crate::constants::{BPS, MAX_CAP_RAISE_BPS};
use crate::errors::EmissionsError;

/// PDA `["emissions"]`: the schedule, the rewards, the breaker and the running
/// totals. This program's `["mint_authority"]` PDA is the mint's only authority.
#[account]
#[derive(InitSpace, Debug)]
pub struct EmissionsConfig {
    /// Proposes (timelocked) and cancels changes, names the guardian,
    /// unpauses: any address, e.g. a multisig or governance PDA.
    pub authority: Pubkey,
    /// Proposed new authority (two-step transfer); default when none.
    pub pending_authority: Pubkey,
    /// May pause epoch closing and re-mints at once (never unpause): any
    /// address.
    pub guardian: Pubkey,
    /// While set no epoch that ends after `paused_at` closes (no new
    /// emission); earlier epochs still close and claims go on, except those
    /// that mint back above the schedule (`RemintPaused`).
    pub paused: bool,
    pub paused_at: i64,
    /// Seconds between proposing a change and applying it.
    pub timelock_secs: u32,
    pub mint: Pubkey,
    /// The treasury: this program's token account PDA `["treasury"]`,
    /// paid by the market's fee; it pays crank tips and, after the
    /// timelock, what the authority proposes to spend.
    pub treasury: Pubkey,
    /// The only signer allowed to report work: ake-market's `["reporter"]` PDA.
    pub reporter: Pubkey,
    pub schedule: Schedule,
    pub rewards: Rewards,
    pub breaker: BreakerParams,
    /// The next epoch to close (epochs close in order).
    pub next_epoch: u64,
    /// `next_epoch`'s emission before the cap.
    pub next_emission: u64,
    /// Sum of the emissions of all closed epochs (never above the cap).
    pub scheduled_total: u64,
    /// Tokens this program has minted out of the schedule (never above
    /// the cap).
    pub total_minted: u64,
    /// Tokens minted back above the schedule to hold the reward floor:
    /// each epoch at most phi x what its work burned.
    pub total_reminted: u64,
    pub window: BreakerWindow,
    pub mint_authority_bump: u8,
    pub treasury_bump: u8,
    pub bump: u8,
}

impl EmissionsConfig {
    pub const SPACE: usize = 8 + EmissionsConfig::INIT_SPACE;

    /// Every token this program minted: out of the schedule and back from
    /// burns (supply == genesis + this - burned).
    pub fn minted_in_all(&self) -> u64 {
        self.total_minted.saturating_add(self.total_reminted)
    }
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Epoch 0 starts here.
    pub genesis_ts: i64,
    /// The length of the epochs from `segment_first_epoch` on.
    pub epoch_secs: u32,
    /// The length can change (governance, timelocked): from this epoch
    /// on, starting at `segment_start_ts`, epochs last `epoch_secs`; the
    /// ones before kept `previous_epoch_secs`. At genesis: epoch 0,
    /// `genesis_ts` and `epoch_secs`. A change starts at the end of the
    /// epoch it is applied in, so no epoch moves.
    pub segment_first_epoch: u64,
    pub segment_start_ts: i64,
    pub previous_epoch_secs: u32,
    pub first_emission: u64,
    /// Each epoch emits this much less than the one before, in bps.
    pub decay_bps: u16,
    /// Tail emission: the decay stops here.
    pub floor_emission: u64,
    /// Most this program may ever mint out of the schedule (what is minted
    /// back from burns is not counted).
    pub emission_cap: u64,
}

/// How an epoch's emission pays for work. A node's reward is
/// `its burn x min(multiplier, max(floor, node share / all burns))`: the
/// whole emission goes to the nodes that worked (the treasury lives on
/// the market's fee), never more than they burned, and never less than
/// the floor's share of it.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub struct Rewards {
    /// Paid out of the treasury to whoever closes an epoch (at most 1% of
    /// the epoch's burn and what the treasury holds).
    pub crank_tip: u64,
    /// A node's reward for an epoch is at most the tokens burned for its
    /// jobs in that epoch times this (bps, at most 10,000 = 1x): paying
    /// yourself never pays.
    pub max_reward_per_burn_bps: u16,
    /// phi: a node's reward is at least the tokens burned for its jobs
    /// times this (bps, at most the multiplier). When demand outgrows the
    /// schedule the difference is minted back out of what was burned, so
    /// supply never grows past genesis plus what the schedule mints.
    pub reward_floor_bps: u16,
    /// The most an epoch may mint back to hold the floor (base units): past
    /// it the floor gives way, so a market bug that reported a vast burn
    /// mints at most this much beyond the schedule each epoch.
    pub max_remint_per_epoch: u64,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub struct BreakerParams {
    pub window_secs: u32,
    /// Most that may be minted in any rolling window.
    pub window_limit: u64,
}

#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq, Default,
)]
pub struct BreakerWindow {
    pub last_ts: i64,
    /// Minted in the window as of `last_ts` (decays linearly).
    pub total: u64,
}

impl Schedule {
    /// The epoch `now` falls in; None before genesis. Exact from the start
    /// of the segment before the current one on.
    pub fn epoch_at(&self, now: i64) -> Option<u64> {
        crate::math::epoch_at(now, &self.segments())
    }

    /// When `epoch` ends; exact from the segment before the current one on.
    pub fn epoch_end(&self, epoch: u64) -> Option<i64> {
        crate::math::epoch_end(epoch, &self.segments())
    }

    /// This schedule starting at `genesis_ts`: epoch 0 there, every epoch
    /// `epoch_secs` long.
    pub fn starting_at(self, genesis_ts: i64) -> Schedule {
        Schedule {
            genesis_ts,
            segment_first_epoch: 0,
            segment_start_ts: genesis_ts,
            previous_epoch_secs: self.epoch_secs,
            ..self
        }
    }

    pub fn segments(&self) -> crate::math::Segments {
        crate::math::Segments {
            first_epoch: self.segment_first_epoch,
            start_ts: self.segment_start_ts,
            epoch_secs: self.epoch_secs,
            previous_epoch_secs: self.previous_epoch_secs,
        }
    }

    pub fn validate(&self) -> Result<()> {
        require!(
            (1..=365 * 86_400).contains(&self.epoch_secs)
                && (1..=365 * 86_400).contains(&self.previous_epoch_secs)
                && self.first_emission > 0
                && self.first_emission <= self.emission_cap
                && self.decay_bps <= 5_000
                && self.floor_emission <= self.first_emission,
            EmissionsError::InvalidSchedule
        );
        Ok(())
    }
}

impl Rewards {
    /// The multiplier is 1..=1x and the floor at most the multiplier.
    pub fn validate(&self) -> Result<()> {
        require!(
            (1..=crate::constants::MAX_REWARD_PER_BURN_BPS).contains(&self.max_reward_per_burn_bps)
                && self.reward_floor_bps <= self.max_reward_per_burn_bps,
            EmissionsError::InvalidRewards
        );
        Ok(())
    }
}

impl BreakerParams {
    /// The schedule must pass: the limit covers what the window spans at
    /// `emission` per epoch, plus one epoch of catch-up (nodes claiming an
    /// older epoch late).
    pub fn validate(&self, epoch_secs: u32, emission: u64) -> Result<()> {
        let needed = crate::math::breaker_floor(emission, self.window_secs, epoch_secs)
            .ok_or(EmissionsError::MathOverflow)?;
        require!(
            self.window_secs >= epoch_secs && self.window_limit >= needed,
            EmissionsError::InvalidBreaker
        );
        Ok(())
    }
}

/// What governance may change, applied together after the timelock.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub struct EmissionsChange {
    /// A new length starts at the end of the epoch the change is applied
    /// in; the next emission scales with it (rounded down).
    pub epoch_secs: u32,
    pub decay_bps: u16,
    pub floor_emission: u64,
    pub emission_cap: u64,
    pub rewards: Rewards,
    pub breaker: BreakerParams,
    pub timelock_secs: u32,
}

impl EmissionsChange {
    /// The schedule this change leaves `config` with, checked against it:
    /// genesis never changes and a new epoch length starts at the end of
    /// the epoch open now (`next_epoch`: every ended one closed first), so
    /// no epoch moves; the cap never drops below what is scheduled and
    /// rises at most `MAX_CAP_RAISE_BPS` per change.
    pub fn schedule_for(&self, config: &EmissionsConfig) -> Result<Schedule> {
        let mut schedule = config.schedule;
        if self.epoch_secs != schedule.epoch_secs {
            // Bounded, so that no change can outrun the crank (every ended
            // epoch must close before the next change) or lock in a year.
            let (new, old) = (u64::from(self.epoch_secs), u64::from(schedule.epoch_secs));
            require!(
                (3_600..=30 * 86_400).contains(&new) && new <= 7 * old && old <= 7 * new,
                EmissionsError::EpochLengthChangeTooLarge
            );
            // A segment that has not started yet only changes its length.
            if config.next_epoch >= schedule.segment_first_epoch {
                schedule.segment_start_ts = schedule
                    .epoch_end(config.next_epoch)
                    .ok_or(EmissionsError::MathOverflow)?;
                schedule.segment_first_epoch = config
                    .next_epoch
                    .checked_add(1)
                    .ok_or(EmissionsError::MathOverflow)?;
                schedule.previous_epoch_secs = schedule.epoch_secs;
            }
            schedule.epoch_secs = self.epoch_secs;
        }
        schedule.decay_bps = self.decay_bps;
        schedule.floor_emission = self.floor_emission;
        schedule.emission_cap = self.emission_cap;
        schedule.validate()?;
        require!(
            self.emission_cap >= config.scheduled_total,
            EmissionsError::CapBelowScheduled
        );
        let old = u128::from(config.schedule.emission_cap);
        let most = old + old * u128::from(MAX_CAP_RAISE_BPS) / u128::from(BPS);
        require!(
            u128::from(self.emission_cap) <= most,
            EmissionsError::CapRaiseTooLarge
        );
        // The emissions this schedule can reach next: the open epoch's in
        // its length, and, when a new length is still to start, the first
        // of it, computed as close_epoch will. The floor may lift them.
        let emission = config.next_emission.max(self.floor_emission);
        let mut reach = vec![(schedule.epoch_secs, emission)];
        if config.next_epoch < schedule.segment_first_epoch {
            let first_of_new = crate::math::next_emission(
                config.next_emission,
                self.decay_bps,
                self.floor_emission,
                Some((schedule.epoch_secs, schedule.previous_epoch_secs)),
            );
            reach = vec![
                (schedule.previous_epoch_secs, emission),
                (schedule.epoch_secs, first_of_new),
            ];
        }
        self.rewards.validate()?;
        for (secs, emission) in reach {
            self.breaker.validate(secs, emission)?;
        }
        require!(
            ake_program_common::timelock::valid_change(config.timelock_secs, self.timelock_secs),
            EmissionsError::InvalidTimelock
        );
        Ok(schedule)
    }
}

/// A change waiting out the timelock, PDA `["pending", config]`.
#[account]
#[derive(InitSpace, Debug)]
pub struct PendingEmissionsChange {
    pub proposed_at: i64,
    /// Applicable (by anyone) from this unix time on.
    pub eta: i64,
    /// The authority that proposed it: gets the rent back.
    pub payer: Pubkey,
    pub bump: u8,
    pub change: EmissionsChange,
}

impl PendingEmissionsChange {
    pub const SPACE: usize = 8 + PendingEmissionsChange::INIT_SPACE;
}
