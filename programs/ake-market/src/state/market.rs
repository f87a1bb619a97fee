use std::cell::RefMut;
use std::ops::{Deref, DerefMut, RangeInclusive};

use anchor_lang::prelude::*;

use anchor_lang::Discriminator;

use crate::errors::MarketError;
use crate::state::{mark_of_tag, marked, release_mark, Node};

/// One market per GPU class, PDA `["market", index (u16 LE)]`, zero-copy.
///
/// The account is this header followed by `slot_count` [`Slot`]s, a pool
/// the market's three lists draw from: jobs (and batches) waiting for a
/// node, nodes waiting for a job, and jobs in flight (assigned, submitted,
/// disputed) that the crank walks. Waiting entries sit in buckets by
/// (tier, GPU class), each a doubly linked list kept in line order (lowest
/// seq first), so a search reads a bounded number of entries however long
/// the queue is, and an entry leaves in O(1) through the slot index its
/// job, batch or node account keeps. Best = highest tier, then lowest seq
/// (FIFO inside a tier). No list has a ceiling: a post or an arm that finds
/// no free slot grows the pool by one at its payer's expense (see
/// [`crate::pool`]); the authority may pre-allocate with `grow_market`.
#[account(zero_copy)]
#[repr(C)]
pub struct Market {
    pub config: Pubkey,
    /// Token account holding this market's escrow, PDA `["escrow", market]`,
    /// its own authority.
    pub escrow_vault: Pubkey,
    /// UTF-8, zero padded.
    pub name: [u8; 32],
    /// The address lookup table the authority named for this market's
    /// transactions (default: none); see `set_lookup_table`.
    pub lookup_table: Pubkey,
    pub rate_micro_usd: u64,
    /// Owner stake a node must lock per GPU to take work here.
    pub min_stake_per_gpu: u64,
    /// Next back-of-line sequence number (grows from 2^63).
    pub next_back_seq: u64,
    /// Next front-of-line sequence number (shrinks from 2^63 - 1).
    pub next_front_seq: u64,
    /// Escrow and posting fees deposited by posts, less what refunds,
    /// cancels and expiries took out: the market's open obligations are
    /// this plus the ledger's `escrow_in` less its `escrow_out` (settlements
    /// count there, never here).
    pub open_escrow: u64,
    pub jobs_posted: u64,
    /// Burned here at once: batch posting fees, refunded jobs' posting
    /// fees, waiting fees, slashes (settlements burn through the ledger).
    pub tokens_burned: u64,
    /// Charged at posting in micro-USD (at the oracle price, rounded up),
    /// held in escrow and burned when the job leaves the system.
    pub posting_fee_micro_usd: u64,
    pub max_duration_secs: u32,
    /// Free hand-back window: `release_window_bps` of the job's max
    /// duration, clamped to [min, max] seconds.
    pub release_window_min_secs: u32,
    pub release_window_max_secs: u32,
    /// A job queued longer than this may be refunded by anyone.
    pub max_queue_secs: u32,
    /// Slots in the pool after this header.
    pub slot_count: u32,
    /// Slots ever used: the pool hands out freed slots first, then these.
    pub slots_used: u32,
    /// Freed slots, linked through `Slot::next` (a link is index + 1, 0 is none).
    pub free_head: u32,
    pub index: u16,
    pub max_gpus_per_job: u16,
    pub job_count: u16,
    pub node_count: u16,
    pub in_flight_count: u16,
    /// How many of each list the authority pre-allocated with `grow_market`
    /// (the pool's initial size); not limits: the pool grows on demand.
    pub job_capacity: u16,
    pub node_capacity: u16,
    pub in_flight_capacity: u16,
    /// Execution collateral is at least this share of the job's escrow.
    pub collateral_escrow_bps: u16,
    /// Result collateral is this multiple of the charge (capped by the execution collateral).
    pub result_collateral_bps: u16,
    pub release_window_bps: u16,
    pub bump: u8,
    pub escrow_bump: u8,
    /// Counted hand-backs (see `Releases`) that refund a job.
    pub max_releases: u8,
    /// 1: a GPU market (nodes need registered GPUs); 0: a CPU market.
    pub gpu_required: u8,
    /// The shortest max duration a job may ask: a node keeps part of a
    /// job's deadline back for committing its result, so a shorter job
    /// could never be run in time.
    pub min_duration_secs: u16,
    /// NVIDIA driver capabilities nodes grant the jobs' containers (bits of
    /// `DRIVER_CAPABILITIES`).
    pub driver_capabilities: u8,
    pub _reserved: [u8; 7],
    /// Waiting jobs and batches by tier, GPU class, then the reputation
    /// and collateral they ask: see [`job_band`].
    pub job_buckets: [[[List; JOB_BANDS]; GPU_CLASSES]; TIERS],
    /// Waiting nodes by tier, GPU class, then reputation band: see [`rep_band`].
    pub node_buckets: [[[List; REP_BANDS]; GPU_CLASSES]; TIERS],
    /// Jobs in flight by phase (assigned, submitted, disputed), each in the
    /// order it entered the phase: the submitted list falls due in order.
    pub in_flight: [List; 3],
    /// Batches with every frame's rent out (see `Batch::parked`): out of
    /// the searches, their slots kept until `requeue_batch` (the crank
    /// finds them here, with no program scan).
    pub parked: List,
    /// Audit fees paid in and not yet spent on audit runs, held in the
    /// escrow vault: they fund audit runs' escrow, and a run's unspent
    /// escrow comes back here.
    pub audit_reserve: u64,
}

/// A doubly linked list of slots; links are index + 1, 0 is none (so a
/// zeroed account holds empty lists).
#[zero_copy]
#[repr(C)]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct List {
    pub head: u32,
    pub tail: u32,
}

/// One entry of the pool: a waiting job, batch or node, or a job in flight.
#[zero_copy]
#[repr(C)]
#[derive(Debug, PartialEq, Eq)]
pub struct Slot {
    /// The job, batch or node account.
    pub key: Pubkey,
    /// Place in line (waiting entries).
    pub seq: u64,
    /// A job's collateral when posted (so a node skips jobs its owner
    /// cannot cover); a node's owner tag (so a job skips owners that
    /// handed it back).
    pub aux: u64,
    /// A waiting job's or batch's releasers' marks (`Releases::marks`): a
    /// node passes over work its owner handed back.
    pub released_marks: u64,
    /// Deadline while assigned; end of the challenge window once
    /// submitted; dispute timeout while disputed.
    pub due: i64,
    pub prev: u32,
    pub next: u32,
    pub gpus: u16,
    /// A job's minimum node reputation, or a node's reputation.
    pub reputation_bps: u16,
    pub tier: u8,
    /// `SLOT_FREE`, `SLOT_JOB`, `SLOT_NODE`, `SLOT_IN_FLIGHT` or `SLOT_PARKED`.
    pub kind: u8,
    /// `PHASE_*` while in flight.
    pub phase: u8,
    /// A waiting entry's band at enqueue: [`job_band`] or [`rep_band`].
    pub band: u8,
}

pub const SLOT_FREE: u8 = 0;
pub const SLOT_JOB: u8 = 1;
pub const SLOT_NODE: u8 = 2;
pub const SLOT_IN_FLIGHT: u8 = 3;
pub const SLOT_PARKED: u8 = 4;

pub const PHASE_ASSIGNED: u8 = 1;
pub const PHASE_SUBMITTED: u8 = 2;
pub const PHASE_DISPUTED: u8 = 3;

/// Stake tiers (0..=3).
pub const TIERS: usize = 4;
/// GPU classes: 1 to 8 GPUs each their own, then 9 or more.
pub const GPU_CLASSES: usize = 9;
/// Jobs by the reputation they ask (none, or a node band) and whether
/// their collateral is above the per-GPU floor: see [`job_band`].
pub const JOB_BANDS: usize = 2 * (1 + REP_BANDS);
/// Nodes by reputation: 0-2,499, 2,500-4,999, 5,000-7,499, 7,500 bps up.
pub const REP_BANDS: usize = 4;
/// Entries a search reads in one bucket before it moves on. Entries the
/// searcher cannot serve (reputation, collateral, a released owner)
/// count against it; buckets keep them rare (see [`job_band`]).
pub const BUCKET_WALK: u32 = 16;
/// Buckets and entries a search reads in one tier at most, whatever the
/// queue's length: with `TIERS`, what bounds its compute (512 reads).
pub const TIER_STEPS: u32 = 128;

/// A market's capacities at creation, within the 10 KiB a PDA created by
/// CPI may have: `grow_market` raises them.
pub const INITIAL_JOB_CAPACITY: u16 = 36;
pub const INITIAL_NODE_CAPACITY: u16 = 14;
pub const INITIAL_IN_FLIGHT_CAPACITY: u16 = 22;
/// Slots one `grow_market` adds at most: the runtime lets an instruction
/// grow an account by 10 KiB.
pub const MAX_GROW_SLOTS: u32 = (10_240 / std::mem::size_of::<Slot>()) as u32;

const SEQ_MIDPOINT: u64 = 1 << 63;
const HEADER_END: usize = 8 + std::mem::size_of::<Market>();

const _: () = assert!(Market::initial_space() <= 10_240);
const _: () = assert!(HEADER_END.is_multiple_of(8) && std::mem::size_of::<Slot>() == 80);

/// A node looking for work, as the job search reads it.
#[derive(Clone, Copy, Debug)]
pub struct Seeker {
    pub gpus: u16,
    pub reputation_bps: u16,
    /// Its owner's free stake: the collateral it can lock.
    pub free_stake: u64,
    /// Its owner's `release_mark`.
    pub owner_mark: u64,
}

/// What a waiting entry describes, for insertion.
pub struct Waiting {
    pub key: Pubkey,
    pub gpus: u16,
    pub reputation_bps: u16,
    pub tier: u8,
    /// See [`Slot::aux`].
    pub aux: u64,
    /// See [`Slot::released_marks`].
    pub released_marks: u64,
}

/// A job in flight, as the crank reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub job: Pubkey,
    pub due: i64,
    pub phase: u8,
}

impl Seeker {
    /// `node`, with `free_stake` of its owner's stake.
    pub fn node(node: &Node, free_stake: u64) -> Self {
        Self {
            gpus: node.gpus,
            reputation_bps: node.reputation_bps,
            free_stake,
            owner_mark: release_mark(&node.owner),
        }
    }
}

/// The first 8 bytes of an owner's key: enough to tell owners apart in the
/// queue without storing whole keys (a collision only skips a node).
pub fn owner_tag(owner: &Pubkey) -> u64 {
    let b = owner.to_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// The bucket column of `gpus` GPUs.
/// The reputation bands a node search reads for a job asking
/// `min_reputation_bps`, higher first (every node there has the reputation
/// asked), and how many.
fn node_bands(min_reputation_bps: u16) -> ([usize; REP_BANDS], usize) {
    let mut bands = [0usize; REP_BANDS];
    let lowest = rep_band(min_reputation_bps);
    for (i, band) in (lowest..REP_BANDS).rev().enumerate() {
        bands[i] = band;
    }
    (bands, REP_BANDS - lowest)
}

pub fn gpu_class(gpus: u16) -> usize {
    usize::from(gpus.clamp(1, GPU_CLASSES as u16)) - 1
}

/// A node's reputation band.
pub fn rep_band(reputation_bps: u16) -> usize {
    usize::from(reputation_bps / 2_500).min(REP_BANDS - 1)
}

/// A job's band: `2 x r + heavy`, where r is 0 when it asks no
/// reputation, else 1 + the node band of what it asks, and heavy is 1 when
/// its collateral is above the market's per-GPU floor. Band 0 (plain) fits
/// every node of its GPU class; a node never reads bands asking more
/// reputation than its own band, so jobs it cannot serve rarely stand in
/// its way (only in its own band, or heavy ones it cannot cover).
pub fn job_band(w: &Waiting, min_stake_per_gpu: u64) -> usize {
    let floor = u64::from(w.gpus).saturating_mul(min_stake_per_gpu);
    let rep = if w.reputation_bps == 0 {
        0
    } else {
        1 + rep_band(w.reputation_bps)
    };
    rep * 2 + usize::from(w.aux > floor)
}

fn tier_row(tier: u8) -> usize {
    usize::from(tier).min(TIERS - 1)
}

fn link(index: usize) -> u32 {
    index as u32 + 1
}

fn unlink(l: u32) -> Option<usize> {
    l.checked_sub(1).map(|i| i as usize)
}

impl Market {
    /// The market's driver capabilities by name, in the toolkit's order.
    pub fn driver_capability_names(&self) -> Vec<&'static str> {
        crate::constants::DRIVER_CAPABILITIES
            .iter()
            .filter(|(bit, _)| self.driver_capabilities & bit != 0)
            .map(|(_, name)| *name)
            .collect()
    }

    /// The account's size with the initial pool.
    pub const fn initial_space() -> usize {
        Self::space_for(
            INITIAL_JOB_CAPACITY as u32
                + INITIAL_NODE_CAPACITY as u32
                + INITIAL_IN_FLIGHT_CAPACITY as u32,
        )
    }

    /// The account's size with `slots` slots.
    pub const fn space_for(slots: u32) -> usize {
        HEADER_END + slots as usize * std::mem::size_of::<Slot>()
    }

    /// Slots the three capacities need together.
    pub fn slots_needed(job: u16, node: u16, in_flight: u16) -> u32 {
        u32::from(job) + u32::from(node) + u32::from(in_flight)
    }

    pub fn init_queues(&mut self) {
        self.next_back_seq = SEQ_MIDPOINT;
        self.next_front_seq = SEQ_MIDPOINT - 1;
        self.job_capacity = INITIAL_JOB_CAPACITY;
        self.node_capacity = INITIAL_NODE_CAPACITY;
        self.in_flight_capacity = INITIAL_IN_FLIGHT_CAPACITY;
        self.slot_count = Self::slots_needed(
            INITIAL_JOB_CAPACITY,
            INITIAL_NODE_CAPACITY,
            INITIAL_IN_FLIGHT_CAPACITY,
        );
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

    /// Whether the pool can take one more entry without growing.
    pub fn has_free_slot(&self) -> bool {
        self.free_head != 0 || self.slots_used < self.slot_count
    }
}

impl Default for Slot {
    fn default() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}

/// A market's header with its slot pool: what the queue operations need.
/// On-chain it borrows the account's data ([`MarketMut`]); a client holds
/// a decoded copy ([`MarketView`]). It reads as its header.
#[derive(Clone)]
pub struct Book<M, S> {
    header: M,
    slots: S,
}

/// A market account borrowed for writing.
pub type MarketMut<'a> = Book<RefMut<'a, Market>, RefMut<'a, [Slot]>>;
/// A market account as a client decodes it.
pub type MarketView = Book<Box<Market>, Vec<Slot>>;

impl<M: Deref<Target = Market>, S> Deref for Book<M, S> {
    type Target = Market;
    fn deref(&self) -> &Market {
        &self.header
    }
}

impl<M: DerefMut<Target = Market>, S> DerefMut for Book<M, S> {
    fn deref_mut(&mut self) -> &mut Market {
        &mut self.header
    }
}

impl MarketView {
    /// A header with its pool (`slots` beyond `slot_count` are dropped).
    pub fn new(header: Box<Market>, mut slots: Vec<Slot>) -> Self {
        slots.truncate(header.slot_count as usize);
        Book { header, slots }
    }
}

impl<'a> MarketMut<'a> {
    /// Borrows a market account's header and pool for writing. The loader
    /// has checked the owner and discriminator; this checks the account is
    /// writable and holds the pool its header declares.
    pub fn load(loader: &'a AccountLoader<'_, Market>) -> Result<Self> {
        let info: &'a AccountInfo = loader.as_ref();
        require!(
            info.is_writable,
            anchor_lang::error::ErrorCode::AccountNotMutable
        );
        let data = info.try_borrow_mut_data()?;
        require!(
            data.len() >= HEADER_END && data[..8] == *Market::DISCRIMINATOR,
            anchor_lang::error::ErrorCode::AccountDiscriminatorMismatch
        );
        let (header, slots) = RefMut::map_split(data, |d| d.split_at_mut(HEADER_END));
        let header = RefMut::map(header, |h| bytemuck::from_bytes_mut::<Market>(&mut h[8..]));
        let count = header.slot_count as usize;
        require!(
            slots.len() >= count * std::mem::size_of::<Slot>(),
            anchor_lang::error::ErrorCode::AccountDidNotDeserialize
        );
        let slots = RefMut::map(slots, |s| {
            bytemuck::cast_slice_mut::<u8, Slot>(&mut s[..count * std::mem::size_of::<Slot>()])
        });
        Ok(Book { header, slots })
    }
}

/// Where an entry is linked.
#[derive(Clone, Copy)]
enum ListId {
    Jobs(usize, usize, usize),
    Nodes(usize, usize, usize),
    InFlight(usize),
    Parked,
}

impl ListId {
    fn of(s: &Slot) -> Self {
        let (row, col) = (tier_row(s.tier), gpu_class(s.gpus));
        match s.kind {
            SLOT_JOB => ListId::Jobs(row, col, usize::from(s.band).min(JOB_BANDS - 1)),
            SLOT_NODE => ListId::Nodes(row, col, usize::from(s.band).min(REP_BANDS - 1)),
            SLOT_PARKED => ListId::Parked,
            _ => ListId::InFlight(usize::from(s.phase.clamp(1, 3) - 1)),
        }
    }

    fn get(self, m: &mut Market) -> &mut List {
        match self {
            ListId::Jobs(r, c, b) => &mut m.job_buckets[r][c][b],
            ListId::Nodes(r, c, b) => &mut m.node_buckets[r][c][b],
            ListId::InFlight(p) => &mut m.in_flight[p],
            ListId::Parked => &mut m.parked,
        }
    }
}

/// Reads: searches count the entries and buckets they visit in `steps`.
impl<M: Deref<Target = Market>, S: Deref<Target = [Slot]>> Book<M, S> {
    /// The best waiting job or batch `seeker` can serve, passing over
    /// work its owner handed back.
    pub fn best_job_for(&self, seeker: &Seeker) -> Option<Pubkey> {
        self.best_job_counted(seeker, &mut 0)
    }

    pub fn best_job_counted(&self, seeker: &Seeker, steps: &mut u32) -> Option<Pubkey> {
        let Seeker {
            gpus,
            reputation_bps,
            free_stake,
            owner_mark,
        } = *seeker;
        let fits =
            |j: &Slot| j.gpus <= gpus && j.reputation_bps <= reputation_bps && j.aux <= free_stake;
        // Work this owner handed back is passed over without counting
        // against the bucket walk (as owners a job excludes are in the node
        // search): one hand-back never stalls the owner's fleet.
        let skip = |j: &Slot| marked(j.released_marks, owner_mark);
        // Plain and lighter bands first (their heads fit), the node's own
        // reputation band (where a job may ask more than it has) last.
        let top = 1 + rep_band(reputation_bps);
        let mut bands = [0usize; JOB_BANDS];
        let mut n = 0;
        for heavy in [0, 1] {
            for rep in 0..=top {
                bands[n] = rep * 2 + heavy;
                n += 1;
            }
        }
        let classes = 0..=gpu_class(gpus);
        self.best_in(
            &self.header.job_buckets,
            classes,
            &bands[..n],
            fits,
            skip,
            steps,
        )
    }

    /// The best waiting node able to serve a job of `gpus` GPUs needing
    /// `min_reputation_bps`, skipping owners that handed the job back
    /// (`excluded`: their marks, `Releases::marks`; the same marks the
    /// node's own search skips the job by, so both searches agree).
    pub fn best_node_for(
        &self,
        gpus: u16,
        min_reputation_bps: u16,
        excluded: u64,
    ) -> Option<Pubkey> {
        self.best_node_counted(gpus, min_reputation_bps, excluded, &mut 0)
    }

    /// The first `w` waiting nodes able to serve a job of `gpus` GPUs
    /// needing `min_reputation_bps`, owners marked in `excluded` skipped, in
    /// the order the queue would hand them work (each found by the bounded
    /// best-node search, the ones already found skipped).
    pub fn first_nodes_for(
        &self,
        gpus: u16,
        min_reputation_bps: u16,
        excluded: u64,
        w: usize,
    ) -> Vec<Pubkey> {
        self.first_nodes_counted(gpus, min_reputation_bps, excluded, w, &mut 0)
    }

    /// `first_nodes_for`, adding the entries it reads to `steps`: at most
    /// `w x TIERS x TIER_STEPS`, however long the queue.
    pub fn first_nodes_counted(
        &self,
        gpus: u16,
        min_reputation_bps: u16,
        excluded: u64,
        w: usize,
        steps: &mut u32,
    ) -> Vec<Pubkey> {
        let fits = |n: &Slot| n.gpus >= gpus && n.reputation_bps >= min_reputation_bps;
        let (bands, n) = node_bands(min_reputation_bps);
        let bands = &bands[..n];
        let mut found: Vec<Pubkey> = Vec::with_capacity(w);
        while found.len() < w {
            let skip = |n: &Slot| marked(excluded, mark_of_tag(n.aux)) || found.contains(&n.key);
            let classes = gpu_class(gpus)..=GPU_CLASSES - 1;
            let next = self.best_in(&self.header.node_buckets, classes, bands, fits, skip, steps);
            match next {
                Some(key) => found.push(key),
                None => break,
            }
        }
        found
    }

    pub fn best_node_counted(
        &self,
        gpus: u16,
        min_reputation_bps: u16,
        excluded: u64,
        steps: &mut u32,
    ) -> Option<Pubkey> {
        let fits = |n: &Slot| n.gpus >= gpus && n.reputation_bps >= min_reputation_bps;
        // An excluded owner's nodes are passed over without counting
        // against the bucket walk: one owner's many nodes never hide the
        // others from a job it handed back.
        let excluded = |n: &Slot| marked(excluded, mark_of_tag(n.aux));
        let (bands, n) = node_bands(min_reputation_bps);
        let classes = gpu_class(gpus)..=GPU_CLASSES - 1;
        self.best_in(
            &self.header.node_buckets,
            classes,
            &bands[..n],
            fits,
            excluded,
            steps,
        )
    }

    /// Highest tier first; inside a tier the lowest seq among each
    /// bucket's first fitting entry (buckets are in seq order), reading
    /// `bands` in the order given. Each tier reads at most `TIER_STEPS`
    /// buckets and entries, so one crowded tier never hides the others.
    fn best_in<const B: usize>(
        &self,
        buckets: &[[[List; B]; GPU_CLASSES]; TIERS],
        classes: RangeInclusive<usize>,
        bands: &[usize],
        fits: impl Fn(&Slot) -> bool,
        skip: impl Fn(&Slot) -> bool,
        steps: &mut u32,
    ) -> Option<Pubkey> {
        for row in buckets.iter().rev() {
            let mut best: Option<&Slot> = None;
            let mut tier_steps = 0;
            'tier: for &band in bands {
                for class in classes.clone() {
                    if tier_steps >= TIER_STEPS {
                        break 'tier;
                    }
                    tier_steps += 1;
                    let list = &row[class][band];
                    if let Some(s) = self.first_fit(list, &fits, &skip, &mut tier_steps) {
                        if best.is_none_or(|b| s.seq < b.seq) {
                            best = Some(s);
                        }
                    }
                }
            }
            *steps += tier_steps;
            if let Some(b) = best {
                return Some(b.key);
            }
        }
        None
    }

    /// The first entry of `list` that fits, reading at most `BUCKET_WALK`
    /// entries that do not (`skip`ped ones aside) and never past `TIER_STEPS`.
    fn first_fit(
        &self,
        list: &List,
        fits: &impl Fn(&Slot) -> bool,
        skip: &impl Fn(&Slot) -> bool,
        tier_steps: &mut u32,
    ) -> Option<&Slot> {
        let mut at = unlink(list.head);
        let mut walked = 0;
        while let Some(i) = at {
            if *tier_steps >= TIER_STEPS || walked >= BUCKET_WALK {
                return None;
            }
            let s = &self.slots[i];
            *tier_steps += 1;
            if !skip(s) {
                if fits(s) {
                    return Some(s);
                }
                walked += 1;
            }
            at = unlink(s.next);
        }
        None
    }

    /// The slot `slot` when it holds `key` as `kind`.
    fn holding(&self, key: &Pubkey, slot: u32, kind: u8) -> Option<usize> {
        let i = slot as usize;
        self.slots
            .get(i)
            .filter(|s| s.kind == kind && s.key == *key)
            .map(|_| i)
    }

    /// Waiting jobs and batches in serving order (best first). Off-chain:
    /// it reads the whole pool.
    pub fn queued_jobs(&self) -> Vec<Slot> {
        self.waiting(SLOT_JOB)
    }

    pub fn queued_nodes(&self) -> Vec<Slot> {
        self.waiting(SLOT_NODE)
    }

    fn waiting(&self, kind: u8) -> Vec<Slot> {
        let mut v: Vec<Slot> = self
            .slots
            .iter()
            .filter(|s| s.kind == kind)
            .copied()
            .collect();
        v.sort_by(|a, b| (b.tier, a.seq).cmp(&(a.tier, b.seq)));
        v
    }

    /// Slots holding an entry (not free). Off-chain: it reads the whole pool.
    pub fn slots_holding(&self) -> usize {
        let used = (self.header.slots_used as usize).min(self.slots.len());
        self.slots[..used]
            .iter()
            .filter(|s| s.kind != SLOT_FREE)
            .count()
    }

    /// Parked batches, in the order they parked. Off-chain.
    pub fn parked_batches(&self) -> Vec<Pubkey> {
        let mut v = Vec::new();
        let mut at = unlink(self.header.parked.head);
        while let Some(i) = at {
            v.push(self.slots[i].key);
            at = unlink(self.slots[i].next);
        }
        v
    }

    /// Jobs in flight, phase by phase, each phase in the order it was
    /// entered (submitted jobs fall due in that order).
    pub fn in_flight(&self) -> Vec<InFlight> {
        let mut v = Vec::with_capacity(usize::from(self.header.in_flight_count));
        for list in &self.header.in_flight {
            let mut at = unlink(list.head);
            while let Some(i) = at {
                let s = &self.slots[i];
                v.push(InFlight {
                    job: s.key,
                    due: s.due,
                    phase: s.phase,
                });
                at = unlink(s.next);
            }
        }
        v
    }
}

/// Writes: each is O(1) (a pop or push on the free list and one linked list).
impl<M: DerefMut<Target = Market>, S: DerefMut<Target = [Slot]>> Book<M, S> {
    /// Queues a job or batch; `at_front` puts it ahead of its tier (a job
    /// back from a node). Returns the slot its account keeps.
    pub fn enqueue_job(&mut self, w: Waiting, at_front: bool) -> Result<u32> {
        let seq = self.header.next_seq(at_front)?;
        let band = job_band(&w, self.header.min_stake_per_gpu);
        let entry = waiting_slot(w, seq, SLOT_JOB, band);
        let slot = self.insert(entry, at_front)?;
        self.header.job_count += 1;
        Ok(slot)
    }

    pub fn enqueue_node(&mut self, w: Waiting) -> Result<u32> {
        let seq = self.header.next_seq(false)?;
        let band = rep_band(w.reputation_bps);
        let entry = waiting_slot(w, seq, SLOT_NODE, band);
        let slot = self.insert(entry, false)?;
        self.header.node_count += 1;
        Ok(slot)
    }

    pub fn remove_job(&mut self, key: &Pubkey, slot: u32) -> Result<()> {
        self.dequeue(key, slot, SLOT_JOB, MarketError::NotQueued)
    }

    /// Updates a waiting or parked batch's releasers (`Releases::marks`) in
    /// place: one of its frames was handed back while it kept its slot.
    pub fn mark_released(&mut self, key: &Pubkey, slot: u32, marks: u64) -> Result<()> {
        let i = self
            .holding(key, slot, SLOT_JOB)
            .or_else(|| self.holding(key, slot, SLOT_PARKED))
            .ok_or(MarketError::NotQueued)?;
        self.slots[i].released_marks = marks;
        Ok(())
    }

    /// Updates a job's excluded owners (`Job::excluded_marks`) in its queue
    /// entry, when it is waiting there (else it carries them when queued).
    pub fn remark_job(&mut self, key: &Pubkey, slot: u32, marks: u64) {
        if let Some(i) = self.holding(key, slot, SLOT_JOB) {
            self.slots[i].released_marks = marks;
        }
    }

    pub fn remove_node(&mut self, key: &Pubkey, slot: u32) -> Result<()> {
        self.dequeue(key, slot, SLOT_NODE, MarketError::NodeNotQueued)
    }

    fn dequeue(&mut self, key: &Pubkey, slot: u32, kind: u8, missing: MarketError) -> Result<()> {
        let i = self.holding(key, slot, kind).ok_or(missing)?;
        self.release(i);
        let count = match kind {
            SLOT_JOB => &mut self.header.job_count,
            _ => &mut self.header.node_count,
        };
        *count -= 1;
        Ok(())
    }

    /// Takes a waiting batch out of the searches, keeping its slot: it
    /// cannot create its next frame until one of its frames closes.
    pub fn park_job(&mut self, key: &Pubkey, slot: u32) -> Result<()> {
        let i = self
            .holding(key, slot, SLOT_JOB)
            .ok_or(MarketError::NotQueued)?;
        self.detach(i);
        self.slots[i].kind = SLOT_PARKED;
        self.attach(i, false);
        self.header.job_count -= 1;
        Ok(())
    }

    /// Puts a parked batch back at the back of its tier, in its own slot.
    pub fn unpark_job(&mut self, key: &Pubkey, slot: u32) -> Result<()> {
        let i = self
            .holding(key, slot, SLOT_PARKED)
            .ok_or(MarketError::BatchNotParked)?;
        let seq = self.header.next_seq(false)?;
        self.detach(i);
        self.slots[i].kind = SLOT_JOB;
        self.slots[i].seq = seq;
        self.attach(i, false);
        self.header.job_count += 1;
        Ok(())
    }

    /// Frees a parked batch's slot (it was cancelled or halted).
    pub fn remove_parked(&mut self, key: &Pubkey, slot: u32) -> Result<()> {
        let i = self
            .holding(key, slot, SLOT_PARKED)
            .ok_or(MarketError::BatchNotParked)?;
        self.release(i);
        Ok(())
    }

    /// Puts a job in flight, or moves it to `phase` at the back of that
    /// phase's list. Returns the slot its account keeps.
    pub fn track(&mut self, job: Pubkey, slot: u32, due: i64, phase: u8) -> Result<u32> {
        let i = match self.holding(&job, slot, SLOT_IN_FLIGHT) {
            Some(i) => {
                self.detach(i);
                i
            }
            None => {
                let i = self.alloc().ok_or(MarketError::MarketFull)?;
                self.header.in_flight_count += 1;
                i
            }
        };
        self.slots[i] = Slot {
            key: job,
            due,
            phase,
            kind: SLOT_IN_FLIGHT,
            ..Slot::default()
        };
        self.attach(i, false);
        Ok(i as u32)
    }

    pub fn untrack(&mut self, job: &Pubkey, slot: u32) {
        let held = self.holding(job, slot, SLOT_IN_FLIGHT);
        // Every caller's job is in flight: a miss is a stale index (a bug).
        debug_assert!(held.is_some(), "job {job} not in flight at slot {slot}");
        if let Some(i) = held {
            self.release(i);
            self.header.in_flight_count -= 1;
        }
    }

    /// Links `entry` into a free slot: the instruction made sure one is
    /// free (`pool::ensure_free_slot`) or freed one first.
    fn insert(&mut self, entry: Slot, at_front: bool) -> Result<u32> {
        let i = self.alloc().ok_or(MarketError::MarketFull)?;
        self.slots[i] = entry;
        self.attach(i, at_front);
        Ok(i as u32)
    }

    /// A free slot: a freed one first, else the next never used.
    fn alloc(&mut self) -> Option<usize> {
        if let Some(i) = unlink(self.header.free_head) {
            self.header.free_head = self.slots[i].next;
            return Some(i);
        }
        let i = self.header.slots_used as usize;
        if i >= self.slots.len() {
            return None;
        }
        self.header.slots_used += 1;
        Some(i)
    }

    fn release(&mut self, i: usize) {
        self.detach(i);
        self.slots[i] = Slot {
            next: self.header.free_head,
            ..Slot::default()
        };
        self.header.free_head = link(i);
    }

    fn attach(&mut self, i: usize, at_front: bool) {
        let list = ListId::of(&self.slots[i]).get(&mut self.header);
        let slots = &mut *self.slots;
        let l = link(i);
        if at_front {
            slots[i].prev = 0;
            slots[i].next = list.head;
            match unlink(list.head) {
                Some(h) => slots[h].prev = l,
                None => list.tail = l,
            }
            list.head = l;
        } else {
            slots[i].next = 0;
            slots[i].prev = list.tail;
            match unlink(list.tail) {
                Some(t) => slots[t].next = l,
                None => list.head = l,
            }
            list.tail = l;
        }
    }

    fn detach(&mut self, i: usize) {
        let list = ListId::of(&self.slots[i]).get(&mut self.header);
        let slots = &mut *self.slots;
        let (prev, next) = (slots[i].prev, slots[i].next);
        match unlink(prev) {
            Some(p) => slots[p].next = next,
            None => list.head = next,
        }
        match unlink(next) {
            Some(n) => slots[n].prev = prev,
            None => list.tail = prev,
        }
    }
}

fn waiting_slot(w: Waiting, seq: u64, kind: u8, band: usize) -> Slot {
    Slot {
        key: w.key,
        seq,
        aux: w.aux,
        released_marks: w.released_marks,
        gpus: w.gpus,
        reputation_bps: w.reputation_bps,
        tier: w.tier,
        kind,
        band: band as u8,
        ..Slot::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Releases;

    fn seek(gpus: u16, reputation_bps: u16, free_stake: u64) -> Seeker {
        Seeker {
            gpus,
            reputation_bps,
            free_stake,
            owner_mark: 0,
        }
    }

    fn market() -> MarketView {
        sized(
            INITIAL_JOB_CAPACITY,
            INITIAL_NODE_CAPACITY,
            INITIAL_IN_FLIGHT_CAPACITY,
        )
    }

    fn sized(jobs: u16, nodes: u16, in_flight: u16) -> MarketView {
        let mut m: Box<Market> = bytemuck::zeroed_box();
        m.init_queues();
        m.min_stake_per_gpu = 100;
        m.job_capacity = jobs;
        m.node_capacity = nodes;
        m.in_flight_capacity = in_flight;
        m.slot_count = Market::slots_needed(jobs, nodes, in_flight);
        let slots = vec![Slot::default(); m.slot_count as usize];
        MarketView::new(m, slots)
    }

    fn key(n: u32) -> Pubkey {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_le_bytes());
        b[31] = 1;
        Pubkey::new_from_array(b)
    }

    fn w(n: u32, gpus: u16, tier: u8) -> Waiting {
        Waiting {
            key: key(n),
            gpus,
            reputation_bps: 5_000,
            tier,
            aux: 0,
            released_marks: 0,
        }
    }

    #[test]
    fn tier_then_fifo_and_front_insertion() {
        let mut m = market();
        m.enqueue_job(w(1, 1, 0), false).unwrap();
        m.enqueue_job(w(2, 1, 1), false).unwrap();
        let s3 = m.enqueue_job(w(3, 4, 1), false).unwrap();
        assert_eq!(m.best_job_for(&seek(8, 10_000, u64::MAX)), Some(key(2)));
        let s4 = m.enqueue_job(w(4, 2, 1), true).unwrap();
        assert_eq!(m.best_job_for(&seek(8, 10_000, u64::MAX)), Some(key(4)));
        // A node with one GPU never sees the 2- and 4-GPU jobs.
        assert_eq!(m.best_job_for(&seek(1, 10_000, u64::MAX)), Some(key(2)));
        m.remove_job(&key(4), s4).unwrap();
        let s2 = m
            .queued_jobs()
            .iter()
            .position(|e| e.key == key(2))
            .unwrap();
        assert_eq!(s2, 0, "serving order puts job 2 first");
        m.remove_job(&key(2), 1).unwrap();
        assert_eq!(m.best_job_for(&seek(8, 10_000, u64::MAX)), Some(key(3)));
        let order: Vec<Pubkey> = m.queued_jobs().iter().map(|e| e.key).collect();
        assert_eq!(order, vec![key(3), key(1)]);
        // A stale slot index (or another job's) removes nothing.
        assert!(m.remove_job(&key(1), s3).is_err());
        assert_eq!(m.job_count, 2);
    }

    #[test]
    fn a_parked_batch_leaves_the_searches_keeps_its_slot_and_returns_at_the_back() {
        let mut m = market();
        let s1 = m.enqueue_job(w(1, 1, 0), false).unwrap();
        m.enqueue_job(w(2, 1, 0), false).unwrap();
        let used = m.slots_used;
        m.park_job(&key(1), s1).unwrap();
        assert_eq!(m.best_job_for(&seek(8, 10_000, u64::MAX)), Some(key(2)));
        assert_eq!(m.parked_batches(), vec![key(1)]);
        assert_eq!((m.job_count, m.slots_used), (1, used), "its slot is kept");
        assert!(m.queued_jobs().iter().all(|e| e.key != key(1)));
        // Only a parked entry unparks or is removed as parked.
        assert!(m.unpark_job(&key(2), 1).is_err());
        assert!(m.park_job(&key(1), s1).is_err());
        m.unpark_job(&key(1), s1).unwrap();
        let order: Vec<Pubkey> = m.queued_jobs().iter().map(|e| e.key).collect();
        assert_eq!(order, vec![key(2), key(1)], "back of its tier");
        assert!(m.parked_batches().is_empty() && m.job_count == 2);
        m.park_job(&key(1), s1).unwrap();
        m.remove_parked(&key(1), s1).unwrap();
        assert!(m.parked_batches().is_empty());
        assert_eq!(m.job_count, 1);
        assert!(m.remove_parked(&key(1), s1).is_err());
    }

    #[test]
    fn capability_filters() {
        let mut m = market();
        m.enqueue_node(w(1, 1, 3)).unwrap();
        m.enqueue_node(w(2, 4, 0)).unwrap();
        m.enqueue_node(w(3, 3, 0)).unwrap();
        assert_eq!(m.best_node_for(2, 0, 0), Some(key(2)));
        assert_eq!(m.best_node_for(4, 0, 0), Some(key(2)));
        assert_eq!(m.best_node_for(1, 0, 0), Some(key(1)));
        assert_eq!(m.best_node_for(8, 0, 0), None);
        assert_eq!(m.best_node_for(1, 6_000, 0), None);
        // A 3-GPU node never reads the 4-GPU jobs ahead of a 3-GPU one.
        m.enqueue_job(w(10, 4, 0), false).unwrap();
        m.enqueue_job(w(11, 3, 0), false).unwrap();
        assert_eq!(m.best_job_for(&seek(3, 10_000, u64::MAX)), Some(key(11)));
        assert_eq!(m.best_job_for(&seek(4, 10_000, u64::MAX)), Some(key(10)));
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
        assert_eq!(m.best_job_for(&seek(1, 10_000, 5_000)), Some(key(1)));
        assert_eq!(m.best_job_for(&seek(1, 10_000, 4_999)), Some(key(2)));
        assert_eq!(m.best_job_for(&seek(1, 10_000, 199)), None);

        let mut first = w(3, 1, 3);
        first.aux = owner_tag(&key(30));
        m.enqueue_node(first).unwrap();
        let mut second = w(4, 1, 0);
        second.aux = owner_tag(&key(40));
        m.enqueue_node(second).unwrap();
        let mut excluded = Releases::default();
        excluded.record(key(30), false);
        assert_eq!(m.best_node_for(1, 0, excluded.marks()), Some(key(4)));
        assert_eq!(m.best_node_for(1, 0, 0), Some(key(3)));
    }

    #[test]
    fn lists_share_the_whole_pool_and_slots_are_reused() {
        let mut m = market();
        // No list has a ceiling of its own: jobs take every slot of the
        // pool (its pre-allocated capacity is not a limit).
        let cap = m.slot_count;
        let slots: Vec<u32> = (0..cap)
            .map(|i| m.enqueue_job(w(i, 1, 0), false).unwrap())
            .collect();
        assert!(!m.has_free_slot());
        // On-chain the instruction grows the pool first; without that the
        // insert is refused.
        assert!(m.enqueue_job(w(200, 1, 0), false).is_err());
        assert!(m.enqueue_node(w(201, 1, 0)).is_err());
        m.remove_job(&key(7), slots[7]).unwrap();
        assert!(m.has_free_slot());
        let reused = m.enqueue_job(w(200, 1, 0), false).unwrap();
        assert_eq!(reused, slots[7]);
        assert_eq!(u32::from(m.job_count), cap);
        // FIFO survives slot reuse: job 0 is still first.
        assert_eq!(m.best_job_for(&seek(1, 10_000, u64::MAX)), Some(key(0)));
        let order: Vec<Pubkey> = m.queued_jobs().iter().map(|e| e.key).collect();
        assert_eq!(order.last(), Some(&key(200)));
    }

    #[test]
    fn in_flight_moves_between_phases_in_order() {
        let mut m = market();
        let a = m.track(key(1), 0, 100, PHASE_ASSIGNED).unwrap();
        let b = m.track(key(2), 0, 90, PHASE_ASSIGNED).unwrap();
        assert_ne!(a, b);
        assert_eq!(m.track(key(2), b, 200, PHASE_SUBMITTED).unwrap(), b);
        assert_eq!(m.track(key(1), a, 210, PHASE_SUBMITTED).unwrap(), a);
        let due: Vec<(Pubkey, i64, u8)> = m
            .in_flight()
            .iter()
            .map(|e| (e.job, e.due, e.phase))
            .collect();
        assert_eq!(
            due,
            vec![
                (key(2), 200, PHASE_SUBMITTED),
                (key(1), 210, PHASE_SUBMITTED)
            ]
        );
        m.untrack(&key(2), b);
        assert_eq!(m.in_flight_count, 1);
        assert_eq!(m.in_flight()[0].job, key(1));
    }

    /// Loop iterations one operation takes with `n` entries in each list.
    fn steps_with(n: u32) -> Vec<u32> {
        let cap = n.max(1) as u16;
        let mut m = sized(cap, cap, cap);
        // Queue shape: every tier and GPU class holds entries; the searches
        // below must find what they look for behind all of them.
        for i in 0..n {
            let tier = (i % 4) as u8;
            let gpus = [1, 2, 4, 8, 16][(i % 5) as usize];
            let mut job = w(i, gpus, tier);
            job.reputation_bps = 0;
            job.aux = 1;
            m.enqueue_job(job, false).unwrap();
            m.enqueue_node(w(10_000 + i, gpus, tier)).unwrap();
            m.track(key(20_000 + i), 0, i64::from(i), PHASE_ASSIGNED)
                .unwrap();
        }
        let mut steps = Vec::new();
        let mut count = 0;
        assert!(m
            .best_job_counted(&seek(16, 10_000, u64::MAX), &mut count)
            .is_some());
        steps.push(count);
        count = 0;
        assert!(m.best_node_counted(1, 0, 0, &mut count).is_some());
        steps.push(count);
        // An 8-GPU node with little stake: every job it reads is too costly.
        count = 0;
        assert!(m
            .best_job_counted(&seek(8, 10_000, 0), &mut count)
            .is_none());
        steps.push(count);
        steps
    }

    #[test]
    fn searches_take_as_many_steps_at_1000_entries_as_at_10() {
        let at_10 = steps_with(10);
        let at_1000 = steps_with(1_000);
        let at_4000 = steps_with(4_000);
        println!("steps at 10: {at_10:?}, at 1,000: {at_1000:?}, at 4,000: {at_4000:?}");
        // A search that finds work reads one tier's bucket heads.
        let one_tier = 2 * (GPU_CLASSES * JOB_BANDS) as u32;
        for steps in [&at_10, &at_1000, &at_4000] {
            assert!(steps[..2].iter().all(|s| *s <= one_tier));
        }
        // One that finds nothing stops at TIER_STEPS a tier, however long
        // the queue: the same at 1,000 entries as at 4,000.
        assert!(at_10[2] < at_1000[2] && at_1000[2] <= TIERS as u32 * TIER_STEPS);
        assert_eq!(at_1000, at_4000);
    }

    #[test]
    fn demanding_jobs_never_hide_plain_ones() {
        let mut m = sized(2_000, 10, 10);
        // An attacker's jobs at the head of the line, asking a reputation
        // (or a collateral) no fresh node has.
        for i in 0..1_000 {
            let mut job = w(i, 1, 0);
            if i % 2 == 0 {
                job.reputation_bps = 9_000;
            } else {
                job.aux = 1_000_000;
            }
            m.enqueue_job(job, false).unwrap();
        }
        let mut plain = w(5_000, 1, 0);
        plain.reputation_bps = 0;
        plain.aux = 100;
        m.enqueue_job(plain, false).unwrap();
        let mut steps = 0;
        assert_eq!(
            m.best_job_counted(&seek(1, 0, 10_000), &mut steps),
            Some(key(5_000))
        );
        assert!(steps <= 4 * (1 + BUCKET_WALK), "{steps} steps");
    }

    #[test]
    fn fresh_nodes_never_hide_proven_ones_from_a_demanding_job() {
        let mut m = sized(10, 2_000, 10);
        for i in 0..1_000 {
            let mut node = w(i, 1, 0);
            node.reputation_bps = 0;
            m.enqueue_node(node).unwrap();
        }
        let mut proven = w(5_000, 1, 0);
        proven.reputation_bps = 8_000;
        m.enqueue_node(proven).unwrap();
        assert_eq!(m.best_node_for(1, 5_000, 0), Some(key(5_000)));
        // A plain job still goes to the node that waited longest.
        assert_eq!(m.best_node_for(1, 0, 0), Some(key(0)));
    }

    #[test]
    fn one_owner_s_many_nodes_never_hide_the_others_from_a_job_it_handed_back() {
        let mut m = sized(10, 200, 10);
        for i in 0..100 {
            let mut node = w(i, 1, 0);
            node.aux = owner_tag(&key(77));
            m.enqueue_node(node).unwrap();
        }
        let mut other = w(500, 1, 0);
        other.aux = owner_tag(&key(78));
        m.enqueue_node(other).unwrap();
        let mut released = Releases::default();
        released.record(key(77), false);
        assert_eq!(m.best_node_for(1, 0, released.marks()), Some(key(500)));
    }

    #[test]
    fn jobs_asking_more_reputation_than_a_node_has_never_stand_in_its_way() {
        let mut m = sized(200, 10, 10);
        // Unservable by anyone (reputation tops out at 9,900 bps).
        for i in 0..100 {
            let mut job = w(i, 1, 0);
            job.reputation_bps = 10_000;
            m.enqueue_job(job, false).unwrap();
        }
        let mut modest = w(500, 1, 0);
        modest.reputation_bps = 3_000;
        m.enqueue_job(modest, false).unwrap();
        assert_eq!(m.best_job_for(&seek(1, 4_000, u64::MAX)), Some(key(500)));
    }

    /// The audit draw's auditor pool (`first_nodes_for`, 8 nodes) reads
    /// at most 8 searches' bound, however many nodes wait or are passed
    /// over (their owners vote already).
    #[test]
    fn the_auditor_pool_search_is_bounded_however_long_the_queue() {
        let excluded_owner = Pubkey::new_from_array([7; 32]);
        let mark = crate::state::release_mark(&excluded_owner);
        let reads = |n: u32| {
            let mut m = sized(10, (n + 9) as u16, 10);
            for i in 0..n {
                let mut node = w(10_000 + i, [1, 2, 4, 8][(i % 4) as usize], (i % 4) as u8);
                // Most belong to the owner whose nodes may not audit.
                node.aux = if i % 10 == 0 {
                    u64::from(i) + 1
                } else {
                    owner_tag(&excluded_owner)
                };
                m.enqueue_node(node).unwrap();
            }
            let mut steps = 0;
            let found = m.first_nodes_counted(1, 0, mark, crate::audit::AUDITOR_POOL, &mut steps);
            (found.len(), steps)
        };
        let (found_100, at_100) = reads(100);
        let (found_4000, at_4000) = reads(4_000);
        println!("pool reads at 100 nodes: {at_100}, at 4,000: {at_4000}");
        let pool = crate::audit::AUDITOR_POOL;
        assert_eq!((found_100, found_4000), (pool, pool));
        let bound = pool as u32 * TIERS as u32 * TIER_STEPS;
        assert!(at_100 <= bound && at_4000 <= bound, "{at_4000} reads");
    }

    #[test]
    fn a_crowded_tier_never_hides_work_in_a_lower_one() {
        let mut m = sized(2_000, 10, 10);
        // Tier 3 full of heavy jobs no node here can cover, in every band.
        for i in 0..1_500 {
            let mut job = w(i, [1, 2, 4, 8][(i % 4) as usize], 3);
            job.aux = 1_000_000_000;
            job.reputation_bps = [0, 1_000, 3_000][(i % 3) as usize];
            m.enqueue_job(job, false).unwrap();
        }
        let mut plain = w(5_000, 8, 0);
        plain.reputation_bps = 0;
        plain.aux = 100;
        m.enqueue_job(plain, false).unwrap();
        let mut steps = 0;
        assert_eq!(
            m.best_job_counted(&seek(8, 4_000, 10_000), &mut steps),
            Some(key(5_000))
        );
        assert!(steps <= TIERS as u32 * TIER_STEPS);
    }

    #[test]
    fn a_node_passes_over_its_owner_s_hand_backs_within_the_search_bound() {
        let owner = Pubkey::new_from_array([7; 32]);
        let mark = release_mark(&owner);
        let mut m = sized(400, 10, 10);
        // More of this owner's hand-backs than a bucket walk reads, ahead
        // of work it can take.
        for i in 0..40 {
            let mut job = w(i, 1, 0);
            job.reputation_bps = 0;
            job.released_marks = mark;
            m.enqueue_job(job, false).unwrap();
        }
        let mut open = w(500, 1, 0);
        open.reputation_bps = 0;
        m.enqueue_job(open, false).unwrap();
        let seeker = Seeker {
            owner_mark: mark,
            ..seek(1, 0, u64::MAX)
        };
        let mut steps = 0;
        assert_eq!(m.best_job_counted(&seeker, &mut steps), Some(key(500)));
        // Another owner takes the first in line.
        assert_eq!(m.best_job_for(&seek(1, 0, u64::MAX)), Some(key(0)));
        // However many there are, the search stops at its bound.
        for i in 40..300 {
            let mut job = w(i + 1_000, 1, 0);
            job.reputation_bps = 0;
            job.released_marks = mark;
            m.enqueue_job(job, true).unwrap();
        }
        let mut steps = 0;
        assert_eq!(m.best_job_counted(&seeker, &mut steps), None);
        assert!(steps <= TIERS as u32 * TIER_STEPS, "{steps} reads");
    }
}
