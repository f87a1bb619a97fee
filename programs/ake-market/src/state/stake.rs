use anchor_lang::prelude::*;

use ake_program_common::account_creation::{create_pda, is_uncreated, read_existing};

use crate::constants::STAKE_SEED;
use crate::errors::MarketError;
use crate::state::ReleaseParams;

/// An owner's stake, PDA `["stake", owner]`. Tokens sit in the config's stake vault.
#[account]
#[derive(InitSpace, Debug)]
pub struct Stake {
    pub owner: Pubkey,
    /// Active stake: counts for tiers and node collateral.
    pub amount: u64,
    /// Part of `amount` backing waiting nodes or jobs' collateral: cannot leave.
    pub locked: u64,
    /// Requested out, waiting for `unlock_at`; no longer counts for anything.
    pub unbonding: u64,
    pub unlock_at: i64,
    /// GPUs of the owner's registered nodes (a node without GPUs counts
    /// one): its release budget is this many times the config's
    /// `budget_per_gpu`, so a fleet's budget grows with the fleet.
    pub registered_gpus: u32,
    /// The release-budget window (unix time / the config's window length)
    /// that `releases_in_window` counts.
    pub release_window: u64,
    pub releases_in_window: u32,
    /// The key the owner lets operate its nodes: it may take them out of
    /// the queue and hold them out, release them, and lift a limited
    /// number of suspensions; never withdraw, close or re-key. Default:
    /// none.
    pub operator: Pubkey,
    pub bump: u8,
    /// The audits (`run_tag` of the audited job) whose runs its nodes
    /// hold: a node of this owner takes no second run of the same audit,
    /// whose verdict needs two owners' runs. 0 is a free entry.
    pub audit_runs_held: [u64; MAX_AUDIT_RUNS_HELD],
}

/// Audits an owner is remembered to hold a run of at once. An owner
/// holding more takes further runs unremembered, so it may take both runs
/// of one of those: its second run then counts as no vote (`judge_audit`),
/// never as two.
pub const MAX_AUDIT_RUNS_HELD: usize = 16;

/// An audited job's entry in `Stake::audit_runs_held`: its key's first 8
/// bytes, never 0 (two audits share a tag with odds of 1 in 2^63; then an
/// owner holding a run of one is also kept off the other's runs).
pub fn run_tag(audited: &Pubkey) -> u64 {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&audited.as_ref()[..8]);
    u64::from_le_bytes(prefix) | 1
}

impl Stake {
    pub const SPACE: usize = 8 + Stake::INIT_SPACE;

    pub fn free(&self) -> u64 {
        self.amount.saturating_sub(self.locked)
    }

    pub fn lock(&mut self, amount: u64) -> Result<()> {
        require!(self.free() >= amount, MarketError::InsufficientStake);
        self.locked = self
            .locked
            .checked_add(amount)
            .ok_or(MarketError::MathOverflow)?;
        Ok(())
    }

    /// Takes `amount` out of the stake locked for one job: the active
    /// amount and its lock shrink together, so the owner's free stake and
    /// other jobs' collateral are untouched.
    pub fn slash_locked(&mut self, amount: u64) -> Result<()> {
        require!(amount <= self.locked, MarketError::MathOverflow);
        self.amount = self
            .amount
            .checked_sub(amount)
            .ok_or(MarketError::MathOverflow)?;
        self.locked -= amount;
        Ok(())
    }

    /// A new stake account of `owner`.
    pub fn new(owner: Pubkey, bump: u8) -> Self {
        Self {
            owner,
            amount: 0,
            locked: 0,
            unbonding: 0,
            unlock_at: 0,
            registered_gpus: 0,
            release_window: 0,
            releases_in_window: 0,
            operator: Pubkey::default(),
            bump,
            audit_runs_held: [0; MAX_AUDIT_RUNS_HELD],
        }
    }

    /// Whether a node of this owner holds a run of `audited`'s audit.
    pub fn holds_run_of(&self, audited: &Pubkey) -> bool {
        self.audit_runs_held.contains(&run_tag(audited))
    }

    /// A node of this owner took a run of `audited`'s audit: remembered in
    /// a free entry, if any is left.
    pub fn took_run_of(&mut self, audited: &Pubkey) {
        if let Some(free) = self.audit_runs_held.iter_mut().find(|t| **t == 0) {
            *free = run_tag(audited);
        }
    }

    /// Its node no longer holds that run (released, expired or settled).
    pub fn left_run_of(&mut self, audited: &Pubkey) {
        let tag = run_tag(audited);
        if let Some(held) = self.audit_runs_held.iter_mut().find(|t| **t == tag) {
            *held = 0;
        }
    }

    /// Its node no longer holds `job` (released, expired or settled): when
    /// that is a run of an audit, the owner may take a run of it again.
    pub fn left_job(&mut self, job: &super::Job) {
        if let Some(audited) = job.audit.audited() {
            self.left_run_of(&audited);
        }
    }

    /// The stake account `info` (PDA `["stake", owner]` with `bump`, checked
    /// by the caller) of the signer `owner`, created at its expense when
    /// it does not exist yet. The caller writes it back.
    pub fn load_or_create<'info>(
        owner: &AccountInfo<'info>,
        info: &AccountInfo<'info>,
        bump: u8,
    ) -> Result<Self> {
        if !is_uncreated(info) {
            return read_existing::<Stake>(info, &crate::ID);
        }
        create_pda(
            owner,
            info,
            &crate::ID,
            Stake::SPACE,
            &[STAKE_SEED, owner.key.as_ref(), &[bump]],
        )?;
        Ok(Stake::new(owner.key(), bump))
    }

    /// Counts one hand-back in the window containing `now`; false once the
    /// owner has used its budget for that window. Only GPUs its stake backs
    /// at `stake_per_gpu` count: registering GPUs costs nothing, staking
    /// for them does.
    pub fn count_release(&mut self, now: i64, rules: &ReleaseParams, stake_per_gpu: u64) -> bool {
        if self.releases_left(now, rules, stake_per_gpu) == 0 {
            return false;
        }
        let window = rules.window_at(now);
        if window != self.release_window {
            self.release_window = window;
            self.releases_in_window = 0;
        }
        self.releases_in_window += 1;
        true
    }

    /// The hand-backs the owner may still make in the window containing
    /// `now` before one costs a cooldown (nodes read it to stay out of the
    /// queue rather than spend it).
    pub fn releases_left(&self, now: i64, rules: &ReleaseParams, stake_per_gpu: u64) -> u32 {
        let used = if self.release_window == rules.window_at(now) {
            self.releases_in_window
        } else {
            0
        };
        let backed = u32::try_from(self.amount / stake_per_gpu.max(1)).unwrap_or(u32::MAX);
        let gpus = self.registered_gpus.min(backed).max(1);
        let budget = u32::from(rules.budget_per_gpu).saturating_mul(gpus);
        budget.saturating_sub(used)
    }

    /// Gives back a hand-back counted in the window containing `now` (the
    /// job it handed back was refunded as unrunnable: it cost nothing).
    pub fn return_release(&mut self, now: i64, rules: &ReleaseParams) {
        if self.release_window == rules.window_at(now) {
            self.releases_in_window = self.releases_in_window.saturating_sub(1);
        }
    }

    /// A node of `gpus` GPUs was registered (`added`) or closed.
    pub fn track_node(&mut self, gpus: u16, added: bool) -> Result<()> {
        let units = u32::from(gpus.max(1));
        self.registered_gpus = if added {
            self.registered_gpus.checked_add(units)
        } else {
            self.registered_gpus.checked_sub(units)
        }
        .ok_or(MarketError::MathOverflow)?;
        Ok(())
    }

    pub fn unlock(&mut self, amount: u64) -> Result<()> {
        self.locked = self
            .locked
            .checked_sub(amount)
            .ok_or(MarketError::MathOverflow)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ReleaseParams {
        ReleaseParams {
            budget_per_gpu: 2,
            budget_window_secs: 100,
            over_budget_cooldown_secs: 10,
            proof_floor_micro_usd: 1,
            posting_fee_step_bps: 10_000,
        }
    }

    impl Stake {
        /// With stake behind every GPU.
        fn count_release_at(&mut self, now: i64, rules: &ReleaseParams) -> bool {
            self.amount = u64::MAX;
            self.count_release(now, rules, 1)
        }
    }

    #[test]
    fn an_owner_remembers_sixteen_audits_it_holds_runs_of_until_it_leaves_them() {
        let mut s = Stake::new(Pubkey::new_unique(), 255);
        let audits: Vec<Pubkey> = (0..=MAX_AUDIT_RUNS_HELD)
            .map(|_| Pubkey::new_unique())
            .collect();
        for audited in &audits {
            s.took_run_of(audited);
        }
        // Sixteen held; the seventeenth goes unremembered (no vote twice:
        // judge_audit counts one owner once).
        assert!(audits[..MAX_AUDIT_RUNS_HELD]
            .iter()
            .all(|a| s.holds_run_of(a)));
        assert!(!s.holds_run_of(&audits[MAX_AUDIT_RUNS_HELD]));
        s.left_run_of(&audits[3]);
        assert!(!s.holds_run_of(&audits[3]));
        s.took_run_of(&audits[MAX_AUDIT_RUNS_HELD]);
        assert!(s.holds_run_of(&audits[MAX_AUDIT_RUNS_HELD]));
        // Leaving a run it does not hold changes nothing.
        let before = s.audit_runs_held;
        s.left_run_of(&Pubkey::new_unique());
        assert_eq!(s.audit_runs_held, before);
    }

    #[test]
    fn only_gpus_the_stake_backs_count() {
        let mut s = Stake::new(Pubkey::new_unique(), 255);
        s.track_node(64, true).unwrap();
        s.amount = 3 * 200;
        // 64 GPUs registered, 3 backed at 200 each: a budget of 3 x 2.
        let counted = (0..20)
            .filter(|_| s.count_release(0, &rules(), 200))
            .count();
        assert_eq!(counted, 6);
    }

    #[test]
    fn the_budget_grows_with_registered_gpus_and_resets_each_window() {
        let mut s = Stake::new(Pubkey::new_unique(), 255);
        // No node registered: the budget of one GPU.
        assert!(s.count_release_at(0, &rules()) && s.count_release_at(1, &rules()));
        assert!(!s.count_release_at(2, &rules()));
        // A 4-GPU node and a 1-GPU node: ten hand-backs a window.
        s.track_node(4, true).unwrap();
        s.track_node(1, true).unwrap();
        let counted = (0..20).filter(|_| s.count_release_at(3, &rules())).count();
        assert_eq!(counted, 10 - 2);
        // A refund as unrunnable gives one back in the same window only.
        s.return_release(50, &rules());
        assert!(s.count_release_at(50, &rules()) && !s.count_release_at(50, &rules()));
        s.return_release(150, &rules());
        assert!(!s.count_release_at(99, &rules()));
        assert!(s.count_release_at(100, &rules()), "a new window");
        s.track_node(4, false).unwrap();
        assert_eq!(s.registered_gpus, 1);
        assert!(s.track_node(4, false).is_err());
    }
}
