use anchor_lang::prelude::*;

use crate::constants::{IN_FLIGHT_CAPACITY, JOB_QUEUE_CAPACITY, NODE_QUEUE_CAPACITY};
use crate::errors::MarketError;

/// One market per GPU class, PDA `["market", index (u16 LE)]`, zero-copy.
///
/// It holds a two-sided queue: jobs waiting for a node and nodes waiting for
/// a job. Each side is a fixed slot array; an entry's place in line is its
/// (tier, seq) pair, so removing one frees its slot without shifting the
/// others. Best = highest tier, then lowest seq (FIFO inside a tier). Also
/// the in-flight list the crank walks: jobs assigned (deadline) or submitted
/// (challenge window end).
#[account(zero_copy)]
#[repr(C)]
pub struct Market {
    pub config: Pubkey,
    /// Token account holding this market's escrow, PDA `["escrow", market]`,
    /// its own authority.
    pub escrow_vault: Pubkey,
    /// UTF-8, zero padded.
    pub name: [u8; 32],
    pub rate_micro_usd: u64,
    /// Owner stake a node must lock per GPU to take work here.
    pub min_stake_per_gpu: u64,
    /// Next back-of-line sequence number (grows from 2^63).
    pub next_back_seq: u64,
    /// Next front-of-line sequence number (shrinks from 2^63 - 1).
    pub next_front_seq: u64,
    /// Sum of the escrow and dispute bonds of this market's open jobs: what
    /// the escrow vault holds.
    pub open_escrow: u64,
    pub jobs_posted: u64,
    pub jobs_settled: u64,
    /// Payments, slashes and lost bonds burned for this market's jobs.
    pub tokens_burned: u64,
    pub work_micro_usd: u64,
    /// Charged at posting in micro-USD (at the oracle price, rounded up),
    /// held in escrow and burned when the job leaves the system.
    pub posting_fee_micro_usd: u64,
    pub max_duration_secs: u32,
    /// Free hand-back window: `release_window_bps` of the job's max
    /// duration, clamped to [min, max] seconds.
    pub release_window_min_secs: u32,
    pub release_window_max_secs: u32,
    /// Length of the window a node owner's release budget counts in.
    pub release_budget_window_secs: u32,
    /// A job queued longer than this may be refunded by anyone.
    pub max_queue_secs: u32,
    pub index: u16,
    pub max_gpus_per_job: u16,
    pub job_count: u16,
    pub node_count: u16,
    pub in_flight_count: u16,
    /// Execution collateral is at least this share of the job's escrow.
    pub collateral_escrow_bps: u16,
    /// Result collateral is this multiple of the charge (capped by the execution collateral).
    pub result_collateral_bps: u16,
    pub release_window_bps: u16,
    /// Hand-backs an owner may make per budget window; beyond it a release
    /// costs what an expiry costs.
    pub release_budget: u16,
    pub bump: u8,
    pub escrow_bump: u8,
    /// Hand-backs a job may take before it is refunded.
    pub max_releases: u8,
    /// 1: a GPU market (nodes need registered GPUs); 0: a CPU market.
    pub gpu_required: u8,
    pub _reserved: [u8; 6],
    pub jobs: [QueueEntry; JOB_QUEUE_CAPACITY],
    pub nodes: [QueueEntry; NODE_QUEUE_CAPACITY],
    pub in_flight: [InFlightEntry; IN_FLIGHT_CAPACITY],
}

#[zero_copy]
#[repr(C)]
#[derive(Debug, PartialEq, Eq)]
pub struct QueueEntry {
    /// The job or node account.
    pub key: Pubkey,
    pub seq: u64,
    /// A job's collateral when posted (so a node skips jobs its owner
    /// cannot cover); a node's owner tag (so a job skips owners that
    /// handed it back).
    pub aux: u64,
    pub gpus: u16,
    /// A job's minimum node reputation, or a node's reputation.
    pub reputation_bps: u16,
    pub tier: u8,
    pub occupied: u8,
    pub _pad: [u8; 2],
}

#[zero_copy]
#[repr(C)]
#[derive(Debug, PartialEq, Eq)]
pub struct InFlightEntry {
    pub job: Pubkey,
    /// Deadline while assigned; end of the challenge window once submitted.
    pub due: i64,
    pub phase: u8,
    pub occupied: u8,
    pub _pad: [u8; 6],
}

pub const PHASE_ASSIGNED: u8 = 1;
pub const PHASE_SUBMITTED: u8 = 2;
pub const PHASE_DISPUTED: u8 = 3;

const SEQ_MIDPOINT: u64 = 1 << 63;

// A PDA created by CPI may be at most 10 KiB.
const _: () = assert!(Market::SPACE <= 10_240);

/// What a queue entry describes, for insertion.
pub struct Waiting {
    pub key: Pubkey,
    pub gpus: u16,
    pub reputation_bps: u16,
    pub tier: u8,
    /// See [`QueueEntry::aux`].
    pub aux: u64,
}

/// The first 8 bytes of an owner's key: enough to tell owners apart in the
/// queue without storing whole keys (a collision only skips a node).
pub fn owner_tag(owner: &Pubkey) -> u64 {
    let b = owner.to_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

impl Market {
    pub const SPACE: usize = 8 + std::mem::size_of::<Market>();

    pub fn init_sequences(&mut self) {
        self.next_back_seq = SEQ_MIDPOINT;
        self.next_front_seq = SEQ_MIDPOINT - 1;
    }

    pub fn name_str(&self) -> &str {
        let end = self
            .name
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(self.name.len());
        std::str::from_utf8(&self.name[..end]).unwrap_or("")
    }

    fn next_seq(&mut self, at_front: bool) -> Result<u64> {
        if at_front {
            let s = self.next_front_seq;
            self.next_front_seq = s.checked_sub(1).ok_or(MarketError::MathOverflow)?;
            Ok(s)
        } else {
            let s = self.next_back_seq;
            self.next_back_seq = s.checked_add(1).ok_or(MarketError::MathOverflow)?;
            Ok(s)
        }
    }

    /// Queues a job; `at_front` puts it ahead of its tier (an expired job).
    pub fn enqueue_job(&mut self, w: Waiting, at_front: bool) -> Result<()> {
        let seq = self.next_seq(at_front)?;
        let slot = free_slot(&self.jobs).ok_or(MarketError::JobQueueFull)?;
        self.jobs[slot] = entry(w, seq);
        self.job_count += 1;
        Ok(())
    }

    /// Whether the job queue has no free slot (a re-queue then refunds).
    pub fn job_queue_full(&self) -> bool {
        usize::from(self.job_count) >= JOB_QUEUE_CAPACITY
    }

    pub fn enqueue_node(&mut self, w: Waiting) -> Result<()> {
        let seq = self.next_seq(false)?;
        let slot = free_slot(&self.nodes).ok_or(MarketError::NodeQueueFull)?;
        self.nodes[slot] = entry(w, seq);
        self.node_count += 1;
        Ok(())
    }

    pub fn remove_job(&mut self, key: &Pubkey) -> Result<()> {
        let slot = find(&self.jobs, key).ok_or(MarketError::NotQueued)?;
        self.jobs[slot] = QueueEntry::default();
        self.job_count -= 1;
        Ok(())
    }

    pub fn remove_node(&mut self, key: &Pubkey) -> Result<()> {
        let slot = find(&self.nodes, key).ok_or(MarketError::NodeNotQueued)?;
        self.nodes[slot] = QueueEntry::default();
        self.node_count -= 1;
        Ok(())
    }

    /// Keeps a waiting node's queue entry on its current reputation.
    pub fn set_node_reputation(&mut self, key: &Pubkey, reputation_bps: u16) {
        if let Some(slot) = find(&self.nodes, key) {
            self.nodes[slot].reputation_bps = reputation_bps;
        }
    }

    /// The best waiting node able to serve a job of `gpus` GPUs needing
    /// `min_reputation_bps`, skipping owners that handed the job back
    /// (`excluded` owner tags; 0 is no owner).
    pub fn best_node_for(
        &self,
        gpus: u16,
        min_reputation_bps: u16,
        excluded: &[u64],
    ) -> Option<Pubkey> {
        best(&self.nodes, |n| {
            n.gpus >= gpus
                && n.reputation_bps >= min_reputation_bps
                && !excluded.iter().any(|t| *t != 0 && *t == n.aux)
        })
    }

    /// The best waiting job a node of `gpus` GPUs and `reputation_bps` can
    /// serve with `free_stake` of its owner's stake as collateral.
    pub fn best_job_for(&self, gpus: u16, reputation_bps: u16, free_stake: u64) -> Option<Pubkey> {
        best(&self.jobs, |j| {
            j.gpus <= gpus && j.reputation_bps <= reputation_bps && j.aux <= free_stake
        })
    }

    pub fn track(&mut self, job: Pubkey, due: i64, phase: u8) -> Result<()> {
        let slot = match self
            .in_flight
            .iter()
            .position(|e| e.occupied == 1 && e.job == job)
        {
            Some(slot) => slot,
            None => {
                let slot = self
                    .in_flight
                    .iter()
                    .position(|e| e.occupied == 0)
                    .ok_or(MarketError::InFlightFull)?;
                self.in_flight_count += 1;
                slot
            }
        };
        self.in_flight[slot] = InFlightEntry {
            job,
            due,
            phase,
            occupied: 1,
            _pad: [0; 6],
        };
        Ok(())
    }

    pub fn untrack(&mut self, job: &Pubkey) {
        if let Some(slot) = self
            .in_flight
            .iter()
            .position(|e| e.occupied == 1 && e.job == *job)
        {
            self.in_flight[slot] = InFlightEntry::default();
            self.in_flight_count -= 1;
        }
    }

    /// Occupied queue entries in serving order (best first).
    pub fn queued_jobs(&self) -> Vec<QueueEntry> {
        ordered(&self.jobs)
    }

    pub fn queued_nodes(&self) -> Vec<QueueEntry> {
        ordered(&self.nodes)
    }
}

impl Default for QueueEntry {
    fn default() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}

impl Default for InFlightEntry {
    fn default() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}

fn entry(w: Waiting, seq: u64) -> QueueEntry {
    QueueEntry {
        key: w.key,
        seq,
        gpus: w.gpus,
        reputation_bps: w.reputation_bps,
        aux: w.aux,
        tier: w.tier,
        occupied: 1,
        _pad: [0; 2],
    }
}

fn free_slot(q: &[QueueEntry]) -> Option<usize> {
    q.iter().position(|e| e.occupied == 0)
}

fn find(q: &[QueueEntry], key: &Pubkey) -> Option<usize> {
    q.iter().position(|e| e.occupied == 1 && e.key == *key)
}

/// Higher tier first, then lower seq.
fn ahead(a: &QueueEntry, b: &QueueEntry) -> bool {
    (a.tier, std::cmp::Reverse(a.seq)) > (b.tier, std::cmp::Reverse(b.seq))
}

fn best(q: &[QueueEntry], fits: impl Fn(&QueueEntry) -> bool) -> Option<Pubkey> {
    let mut best: Option<&QueueEntry> = None;
    for e in q.iter().filter(|e| e.occupied == 1 && fits(e)) {
        if best.is_none_or(|b| ahead(e, b)) {
            best = Some(e);
        }
    }
    best.map(|e| e.key)
}

fn ordered(q: &[QueueEntry]) -> Vec<QueueEntry> {
    let mut v: Vec<QueueEntry> = q.iter().filter(|e| e.occupied == 1).copied().collect();
    v.sort_by(|a, b| (b.tier, a.seq).cmp(&(a.tier, b.seq)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market() -> Box<Market> {
        let mut m: Box<Market> = bytemuck::zeroed_box();
        m.init_sequences();
        m
    }

    fn w(n: u8, gpus: u16, tier: u8) -> Waiting {
        Waiting {
            key: Pubkey::new_from_array([n; 32]),
            gpus,
            reputation_bps: 5_000,
            tier,
            aux: 0,
        }
    }

    #[test]
    fn tier_then_fifo_and_front_insertion() {
        let mut m = market();
        m.enqueue_job(w(1, 1, 0), false).unwrap();
        m.enqueue_job(w(2, 1, 1), false).unwrap();
        m.enqueue_job(w(3, 1, 1), false).unwrap();
        assert_eq!(
            m.best_job_for(8, 10_000, u64::MAX),
            Some(Pubkey::new_from_array([2; 32]))
        );
        m.enqueue_job(w(4, 1, 1), true).unwrap();
        assert_eq!(
            m.best_job_for(8, 10_000, u64::MAX),
            Some(Pubkey::new_from_array([4; 32]))
        );
        m.remove_job(&Pubkey::new_from_array([4; 32])).unwrap();
        m.remove_job(&Pubkey::new_from_array([2; 32])).unwrap();
        assert_eq!(
            m.best_job_for(8, 10_000, u64::MAX),
            Some(Pubkey::new_from_array([3; 32]))
        );
        let order: Vec<u8> = m
            .queued_jobs()
            .iter()
            .map(|e| e.key.to_bytes()[0])
            .collect();
        assert_eq!(order, vec![3, 1]);
    }

    #[test]
    fn capability_filters() {
        let mut m = market();
        m.enqueue_node(w(1, 1, 3)).unwrap();
        m.enqueue_node(w(2, 4, 0)).unwrap();
        assert_eq!(
            m.best_node_for(2, 0, &[]),
            Some(Pubkey::new_from_array([2; 32]))
        );
        assert_eq!(
            m.best_node_for(1, 0, &[]),
            Some(Pubkey::new_from_array([1; 32]))
        );
        assert_eq!(m.best_node_for(8, 0, &[]), None);
        assert_eq!(m.best_node_for(1, 6_000, &[]), None);
    }

    #[test]
    fn nodes_skip_jobs_they_cannot_cover_and_jobs_skip_owners_that_released_them() {
        let mut m = market();
        let mut big = w(1, 1, 3);
        big.aux = 5_000;
        m.enqueue_job(big, false).unwrap();
        let mut small = w(2, 1, 0);
        small.aux = 200;
        m.enqueue_job(small, false).unwrap();
        assert_eq!(
            m.best_job_for(1, 10_000, 5_000),
            Some(Pubkey::new_from_array([1; 32]))
        );
        assert_eq!(
            m.best_job_for(1, 10_000, 4_999),
            Some(Pubkey::new_from_array([2; 32]))
        );
        assert_eq!(m.best_job_for(1, 10_000, 199), None);

        let mut first = w(3, 1, 3);
        first.aux = owner_tag(&Pubkey::new_from_array([30; 32]));
        m.enqueue_node(first).unwrap();
        let mut second = w(4, 1, 0);
        second.aux = owner_tag(&Pubkey::new_from_array([40; 32]));
        m.enqueue_node(second).unwrap();
        let excluded = [owner_tag(&Pubkey::new_from_array([30; 32])), 0, 0];
        assert_eq!(
            m.best_node_for(1, 0, &excluded),
            Some(Pubkey::new_from_array([4; 32]))
        );
        assert_eq!(
            m.best_node_for(1, 0, &[0, 0, 0]),
            Some(Pubkey::new_from_array([3; 32]))
        );
    }

    #[test]
    fn full_queue_is_an_error_and_slots_are_reused() {
        let mut m = market();
        for i in 0..JOB_QUEUE_CAPACITY {
            m.enqueue_job(w(i as u8, 1, 0), false).unwrap();
        }
        assert!(m.enqueue_job(w(200, 1, 0), false).is_err());
        m.remove_job(&Pubkey::new_from_array([7; 32])).unwrap();
        m.enqueue_job(w(200, 1, 0), false).unwrap();
        assert_eq!(m.job_count as usize, JOB_QUEUE_CAPACITY);
        // FIFO survives slot reuse: job 0 is still first.
        assert_eq!(
            m.best_job_for(1, 10_000, u64::MAX),
            Some(Pubkey::new_from_array([0; 32]))
        );
    }
}
