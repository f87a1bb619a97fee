//! The audit draw (issue 33): whether a submitted result is re-executed by
//! another owner's node, decided by entropy that did not exist when the node
//! signed its submit, at a rate that makes faking lose.
//!
//! - At submit the job records `s0 = submit slot + DRAW_DELAY_SLOTS`.
//! - Anyone may draw between `s0 + DRAW_SPAN_SLOTS` and `s0 + DRAW_LAST_SLOT`
//!   (inside the 512 slots the SlotHashes sysvar keeps). The seed is
//!   `sha256(job ‖ commitment ‖ the hash of every slot in [s0, s0 + 8) that
//!   SlotHashes holds)`: skipped slots are simply absent. Past the window the
//!   job is audited (nobody may profit from a draw never made).
//! - The job is drawn when the seed's first 8 bytes, as a little-endian
//!   integer modulo 10,000, fall below the rate `p` in bps.
//!
//! What steering remains: the leader of one of the 8 slots can withhold its
//! block (the slot becomes absent), which gives it one re-roll per slot it
//! leads, at the cost of that block's fees and rewards. A node cannot know at
//! submit whether it will be drawn: the hashes are at least 32 slots in its
//! future.
//!
//! SlotHashes is about 20 KB: the draw reads its raw bytes (a little-endian
//! u64 count, then `(slot: u64, hash: [u8; 32])` entries, newest first) and
//! finds the 8 slots by binary search, never decoding the whole vector.

use anchor_lang::prelude::Pubkey;
use solana_sha256_hasher::hashv;

use crate::constants::BPS;
use crate::state::AuditPhase;

/// Slots between a submit and the first slot whose hash seeds its draw:
/// none of them exists when the node signs, whatever slot it picks.
pub const DRAW_DELAY_SLOTS: u64 = 32;
/// Slots whose hashes seed the draw, from `s0`.
pub const DRAW_SPAN_SLOTS: u64 = 8;
/// The last slot after `s0` at which a draw may be made: the entropy's
/// hashes are still among the 512 SlotHashes keeps, with room to land.
pub const DRAW_LAST_SLOT: u64 = 400;
/// The SlotHashes sysvar's address.
pub const SLOT_HASHES_ID: Pubkey =
    anchor_lang::prelude::pubkey!("SysvarS1otHashes111111111111111111111111111");
/// Entries SlotHashes holds at most (the runtime's `MAX_ENTRIES`).
pub const SLOT_HASHES_MAX: usize = 512;
const ENTRY_LEN: usize = 8 + 32;

/// Where a slot stands relative to a job's draw window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrawWindow {
    /// The seed's slots are not all past yet.
    TooEarly,
    Open,
    /// Nobody drew in time: the job is audited.
    Closed,
}

/// `s0` for a result submitted in `submit_slot`.
pub fn draw_start(submit_slot: u64) -> Option<u64> {
    submit_slot.checked_add(DRAW_DELAY_SLOTS)
}

pub fn draw_window(s0: u64, slot: u64) -> DrawWindow {
    if slot < s0.saturating_add(DRAW_SPAN_SLOTS) {
        DrawWindow::TooEarly
    } else if slot <= s0.saturating_add(DRAW_LAST_SLOT) {
        DrawWindow::Open
    } else {
        DrawWindow::Closed
    }
}

/// The audit rate in bps: `k_bps` (the audit multiplier, in bps) times the
/// charge over the collateral at risk, within `[p_min_bps, 10,000]`; rounded
/// up (in the protocol's favour: more audits). No collateral at risk means
/// every result is audited.
pub fn audit_rate_bps(charge: u64, at_risk: u64, k_bps: u32, p_min_bps: u16) -> u16 {
    // k · charge / R, in bps of a certainty: k_bps · charge / R.
    let rate = match at_risk {
        0 => u128::from(BPS),
        r => (u128::from(k_bps) * u128::from(charge)).div_ceil(u128::from(r)),
    };
    let rate = rate.max(u128::from(p_min_bps)).min(u128::from(BPS));
    // At most BPS, which fits.
    u16::try_from(rate).unwrap_or(u16::MAX)
}

/// The draw's seed from SlotHashes' raw account data; None when the data is
/// not SlotHashes' layout. The caller checks that the account is the
/// SlotHashes sysvar and that the window is open: with no hash in it the
/// seed would be `sha256(job ‖ commitment)`, known at submit.
pub fn draw_seed(
    job: &Pubkey,
    commitment: &[u8; 32],
    slot_hashes: &[u8],
    s0: u64,
) -> Option<[u8; 32]> {
    let entries = SlotHashesView::new(slot_hashes)?;
    let (window, _) = entries.hashes_in(s0, s0.checked_add(DRAW_SPAN_SLOTS)?);
    let mut parts: Vec<&[u8]> = vec![job.as_ref(), commitment];
    parts.extend(window);
    Some(hashv(&parts).to_bytes())
}

/// How many of the first eligible waiting nodes an audit run's node is
/// drawn among: not the queue's head, where an attacker would park.
pub const AUDITOR_POOL: usize = 8;

/// The release marks excluding `owners`' nodes (at most 3) from a search,
/// packed as `Releases::marks` packs them.
pub fn owner_marks(owners: &[Pubkey]) -> u64 {
    owners
        .iter()
        .take(crate::constants::MAX_RELEASES)
        .enumerate()
        .fold(0, |marks, (i, owner)| {
            marks | crate::state::release_mark(owner) << (21 * i as u32)
        })
}

/// The seed an audit's auditors are drawn with: the draw's, or past its
/// window the hashes of its last 8 slots (`s0 + 392..s0 + 400`): all past
/// once the window closed, so the seed does not change with the slot a
/// late draw lands in (while SlotHashes keeps them, ~500 slots).
pub fn auditor_seed(
    job: &Pubkey,
    commitment: &[u8; 32],
    slot_hashes: &[u8],
    s0: u64,
    window: DrawWindow,
) -> Option<[u8; 32]> {
    let from = match window {
        DrawWindow::Closed => s0.checked_add(DRAW_LAST_SLOT - DRAW_SPAN_SLOTS)?,
        _ => s0,
    };
    draw_seed(job, commitment, slot_hashes, from)
}

/// The least reputation an auditor of `job` needs: the job's own minimum,
/// or the market's auditor floor when higher. Audit runs ask for it too.
pub fn auditor_min_reputation(job: &crate::state::Job, floor_bps: u16) -> u16 {
    job.min_reputation_bps.max(floor_bps)
}

/// The nodes the draw names for an audit's two runs: each drawn by `seed`
/// among the first `AUDITOR_POOL` waiting nodes able to run `job` (at
/// `auditor_min_reputation`, `floor_bps` the auditor floor) whose
/// owner does not vote yet (the audited node's owner, the first run's
/// node's owner). One when only one owner's nodes wait, none when no node
/// does. The program and ake-sdk both use this, so the caller names what
/// the program checks.
pub fn drawn_auditors<M, S>(
    market: &crate::state::Book<M, S>,
    (job, floor_bps): (&crate::state::Job, u16),
    seed: &[u8; 32],
    owner_of: impl Fn(&Pubkey) -> Option<Pubkey>,
) -> Vec<Pubkey>
where
    M: core::ops::Deref<Target = crate::state::Market>,
    S: core::ops::Deref<Target = [crate::state::Slot]>,
{
    let mut voters = vec![job.node_owner];
    let mut picked = Vec::new();
    for round in 1..=2u8 {
        let eligible = market.first_nodes_for(
            job.gpus,
            auditor_min_reputation(job, floor_bps),
            owner_marks(&voters),
            AUDITOR_POOL,
        );
        let Some(&pick) = eligible.get(pick_auditor(seed, round, eligible.len())) else {
            break;
        };
        picked.push(pick);
        match owner_of(&pick) {
            Some(owner) => voters.push(owner),
            None => break,
        }
    }
    picked
}

/// Which of `eligible` nodes runs audit run `round`, drawn by the seed.
pub fn pick_auditor(seed: &[u8; 32], round: u8, eligible: usize) -> usize {
    let choice = hashv(&[seed, &[round]]).to_bytes();
    let mut head = [0u8; 8];
    head.copy_from_slice(&choice[..8]);
    usize::try_from(u64::from_le_bytes(head) % eligible.max(1) as u64).unwrap_or(0)
}

/// Whether a seed draws the job at `p_bps`.
pub fn drawn(seed: &[u8; 32], p_bps: u16) -> bool {
    let mut head = [0u8; 8];
    head.copy_from_slice(&seed[..8]);
    u64::from_le_bytes(head) % BPS < u64::from(p_bps)
}

/// The blind commitment of `job`'s result to an output digest:
/// `sha256(job ‖ digest ‖ salt)`. Bound to the job, so a run that copies
/// the audited job's commitment cannot open it with the audited node's
/// reveal.
pub fn seal(job: &Pubkey, digest: &[u8; 32], salt: &[u8; 32]) -> [u8; 32] {
    hashv(&[job.as_ref(), digest, salt]).to_bytes()
}

/// A run's part in an audit: absent when it closed before committing
/// (nobody took it), or when its node's owner already votes (the audited
/// job's, or the other run's); else the digest it revealed, if it did.
pub type Vote = Option<Option<[u8; 32]>>;

/// The verdict of an audit: the audited job's phase and each run's
/// (`Unaudited` for an absent run that did not work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub audited: AuditPhase,
    pub runs: [AuditPhase; 2],
}

/// Judges an audit once every run committed and revealed (or its reveal
/// deadline passed), all three commitments in before any reveal:
/// - a party that did not reveal loses, whoever it is;
/// - the audited job passes when a run agrees with it, and a run that
///   disagrees with the two others is outvoted;
/// - it fails when both runs agree on another digest;
/// - otherwise (one run against it, or three different digests) nothing
///   is decided: the spec is not deterministic, or a run is missing, and
///   nobody is penalised for it;
/// - with no run revealed the job was never audited: it settles as usual.
pub fn judge(audited: Option<[u8; 32]>, votes: [Vote; 2]) -> Outcome {
    use AuditPhase::*;
    let revealed: Vec<[u8; 32]> = votes.iter().filter_map(|v| v.flatten()).collect();
    let verdict = match audited {
        // Nobody ran it again: nothing to hold the job's silence against.
        _ if revealed.is_empty() && votes.iter().all(Option::is_none) => Cleared,
        None => Failed,
        Some(a) if revealed.contains(&a) => Passed,
        Some(_) if revealed.len() == 2 && revealed[0] == revealed[1] => Failed,
        Some(_) if revealed.is_empty() => Cleared,
        Some(_) => Inconclusive,
    };
    let run = |vote: &Vote| match (vote, verdict) {
        (None, _) => Unaudited,
        (Some(None), _) => RunFailed,
        (Some(Some(d)), Passed) if Some(*d) != audited => RunFailed,
        (Some(Some(_)), _) => RunPaid,
    };
    Outcome {
        audited: verdict,
        runs: [run(&votes[0]), run(&votes[1])],
    }
}

/// Whether no two of the three agree: the job and two runs of two other
/// owners revealed three different digests, so the spec is not
/// deterministic (a missing reveal or vote proves nothing about the spec).
pub fn spec_at_fault(audited: Option<[u8; 32]>, votes: [Vote; 2]) -> bool {
    match (audited, votes) {
        (Some(a), [Some(Some(x)), Some(Some(y))]) => a != x && a != y && x != y,
        _ => false,
    }
}

/// SlotHashes' raw entries, newest slot first.
struct SlotHashesView<'a> {
    entries: &'a [u8],
    count: usize,
}

impl<'a> SlotHashesView<'a> {
    fn new(data: &'a [u8]) -> Option<Self> {
        let (len, entries) = data.split_first_chunk::<8>()?;
        let count = usize::try_from(u64::from_le_bytes(*len)).ok()?;
        if count > SLOT_HASHES_MAX || entries.len() < count.checked_mul(ENTRY_LEN)? {
            return None;
        }
        Some(Self { entries, count })
    }

    fn slot_at(&self, index: usize) -> u64 {
        let at = index * ENTRY_LEN;
        let mut slot = [0u8; 8];
        slot.copy_from_slice(&self.entries[at..at + 8]);
        u64::from_le_bytes(slot)
    }

    /// The hashes held for the slots in `[from, to)`, oldest first (at
    /// most `to - from`), and the probes it took: one binary search for
    /// the first entry below `to` (at most 10 probes for 512 entries), then
    /// the entries after it while they are at or above `from`.
    fn hashes_in(&self, from: u64, to: u64) -> (Vec<&'a [u8]>, u32) {
        let (mut low, mut high, mut probes) = (0usize, self.count, 0);
        while low < high {
            probes += 1;
            let mid = low + (high - low) / 2;
            if self.slot_at(mid) >= to {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        let span = usize::try_from(to.saturating_sub(from)).unwrap_or(usize::MAX);
        let mut hashes: Vec<&'a [u8]> = (low..self.count)
            .take(span)
            .take_while(|&i| self.slot_at(i) >= from)
            .map(|i| &self.entries[i * ENTRY_LEN + 8..(i + 1) * ENTRY_LEN])
            .collect();
        hashes.reverse();
        (hashes, probes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SlotHashes' layout for `slots` (newest first), each hash derived from its slot.
    fn slot_hashes(slots: &[u64]) -> Vec<u8> {
        let mut data = (slots.len() as u64).to_le_bytes().to_vec();
        for slot in slots {
            data.extend_from_slice(&slot.to_le_bytes());
            data.extend_from_slice(&hashv(&[&slot.to_le_bytes()]).to_bytes());
        }
        data
    }

    #[test]
    fn two_of_three_decide_and_silence_loses() {
        use AuditPhase::*;
        let (a, b, c) = (Some([1u8; 32]), Some([2u8; 32]), Some([3u8; 32]));
        let o = |audited, votes| {
            let o = judge(audited, votes);
            (o.audited, o.runs)
        };
        assert_eq!(o(a, [Some(a), Some(a)]), (Passed, [RunPaid, RunPaid]));
        assert_eq!(
            o(a, [Some(a), Some(b)]),
            (Passed, [RunPaid, RunFailed]),
            "a liar outvoted"
        );
        assert_eq!(
            o(a, [Some(b), Some(b)]),
            (Failed, [RunPaid, RunPaid]),
            "a faker outvoted"
        );
        assert_eq!(o(a, [Some(b), Some(c)]), (Inconclusive, [RunPaid, RunPaid]));
        assert_eq!(
            o(a, [Some(b), None]),
            (Inconclusive, [RunPaid, Unaudited]),
            "one against one"
        );
        assert_eq!(o(a, [Some(a), None]), (Passed, [RunPaid, Unaudited]));
        assert_eq!(
            o(a, [None, None]),
            (Cleared, [Unaudited, Unaudited]),
            "nobody came"
        );
        assert_eq!(
            o(None, [None, None]),
            (Cleared, [Unaudited, Unaudited]),
            "nobody to be silent to"
        );
        // Silence loses, whoever is silent.
        assert_eq!(o(None, [Some(b), Some(b)]), (Failed, [RunPaid, RunPaid]));
        assert_eq!(o(a, [Some(None), Some(a)]), (Passed, [RunFailed, RunPaid]));
        assert_eq!(
            o(a, [Some(None), Some(None)]),
            (Cleared, [RunFailed, RunFailed])
        );
        assert_eq!(
            o(a, [Some(None), Some(b)]),
            (Inconclusive, [RunFailed, RunPaid])
        );
    }

    #[test]
    fn only_three_different_digests_put_the_spec_at_fault() {
        let [a, b, c] = [[1u8; 32], [2u8; 32], [3u8; 32]];
        assert!(spec_at_fault(Some(a), [Some(Some(b)), Some(Some(c))]));
        // Two agree: a verdict, not a spec at fault.
        assert!(!spec_at_fault(Some(a), [Some(Some(b)), Some(Some(b))]));
        assert!(!spec_at_fault(Some(a), [Some(Some(a)), Some(Some(c))]));
        // A silent party, a missing vote or run, an unrevealed job.
        assert!(!spec_at_fault(Some(a), [Some(None), Some(Some(c))]));
        assert!(!spec_at_fault(Some(a), [None, Some(Some(c))]));
        assert!(!spec_at_fault(None, [Some(Some(b)), Some(Some(c))]));
    }

    #[test]
    fn the_window_opens_after_the_seed_slots_and_closes_inside_slot_hashes() {
        let s0 = draw_start(1_000).unwrap();
        assert_eq!(s0, 1_032);
        assert_eq!(draw_window(s0, 1_039), DrawWindow::TooEarly);
        assert_eq!(draw_window(s0, 1_040), DrawWindow::Open);
        assert_eq!(draw_window(s0, 1_432), DrawWindow::Open);
        assert_eq!(draw_window(s0, 1_433), DrawWindow::Closed);
        // The window's last slot still sees every seed slot among the 512.
        const { assert!(DRAW_LAST_SLOT + DRAW_SPAN_SLOTS < SLOT_HASHES_MAX as u64) };
    }

    #[test]
    fn the_rate_is_k_times_charge_over_collateral_within_floor_and_one() {
        // k = 2 (20,000 bps), charge 100, R 1,000: p = 20 %.
        assert_eq!(audit_rate_bps(100, 1_000, 20_000, 100), 2_000);
        // Rounded up: 1/30,000 of a bp is a bp.
        assert_eq!(audit_rate_bps(1, 30_000, 1, 0), 1);
        assert_eq!(audit_rate_bps(1, 1_000_000, 20_000, 100), 100, "the floor");
        assert_eq!(
            audit_rate_bps(1_000, 1_000, 20_000, 100),
            10_000,
            "capped at 1"
        );
        assert_eq!(audit_rate_bps(5, 0, 20_000, 100), 10_000, "nothing at risk");
        assert_eq!(audit_rate_bps(u64::MAX, 1, u32::MAX, 0), 10_000);
    }

    #[test]
    fn the_seed_mixes_exactly_the_slots_of_its_window_that_exist() {
        let job = Pubkey::new_unique();
        let commitment = [7u8; 32];
        // Slots 1,000..1,500, newest first, with 1,034 skipped.
        let slots: Vec<u64> = (1_000..1_500).rev().filter(|s| *s != 1_034).collect();
        let data = slot_hashes(&slots);
        let seed = draw_seed(&job, &commitment, &data, 1_032).unwrap();
        let hash = |s: u64| hashv(&[&s.to_le_bytes()]).to_bytes();
        let window: Vec<[u8; 32]> = [1_032, 1_033, 1_035, 1_036, 1_037, 1_038, 1_039]
            .map(hash)
            .to_vec();
        let mut parts: Vec<&[u8]> = vec![job.as_ref(), &commitment];
        parts.extend(window.iter().map(|h| h.as_slice()));
        assert_eq!(seed, hashv(&parts).to_bytes());
        // Another commitment, another seed.
        assert_ne!(seed, draw_seed(&job, &[8u8; 32], &data, 1_032).unwrap());
        // Malformed data is refused, not read past its end.
        assert_eq!(draw_seed(&job, &commitment, &data[..100], 1_032), None);
        assert_eq!(draw_seed(&job, &commitment, &[], 1_032), None);
        let mut too_many = data.clone();
        too_many[..8].copy_from_slice(&513u64.to_le_bytes());
        assert_eq!(draw_seed(&job, &commitment, &too_many, 1_032), None);
    }

    #[test]
    fn a_window_takes_at_most_ten_probes_and_eight_reads() {
        // 512 entries, every third slot kept.
        let slots: Vec<u64> = (0..512u64).rev().map(|s| s * 3).collect();
        let data = slot_hashes(&slots);
        let view = SlotHashesView::new(&data).unwrap();
        for from in 0..1_600 {
            let (hashes, probes) = view.hashes_in(from, from + 8);
            assert!(probes <= 10, "from {from}: {probes} probes");
            let kept = (from..from + 8).filter(|s| s % 3 == 0 && *s <= 1_533);
            let expected: Vec<[u8; 32]> = kept
                .map(|s| hashv(&[&s.to_le_bytes()]).to_bytes())
                .collect();
            let found: Vec<&[u8]> = hashes;
            assert_eq!(
                found,
                expected.iter().map(|h| h.as_slice()).collect::<Vec<_>>(),
                "from {from}"
            );
        }
        // Unsorted (hostile) data still reads at most the window's length.
        let hostile = slot_hashes(&[5; 512]);
        let view = SlotHashesView::new(&hostile).unwrap();
        assert!(view.hashes_in(0, 8).0.len() <= 8);
    }

    /// Over many jobs the draw lands near `p`, whichever slot they were
    /// submitted in (the chain's hashes fixed). What a node cannot do, know
    /// its draw when it signs, holds by construction: the hashes are at
    /// least 32 slots in its future.
    #[test]
    fn the_draw_rate_is_near_p_whichever_slot_the_jobs_submit_in() {
        let p = 1_500u16;
        let runs = 20_000u64;
        let commitment = [3u8; 32];
        let data = slot_hashes(&(900..1_100).rev().collect::<Vec<_>>());
        for s0 in [1_000u64, 1_001, 1_017] {
            let mut drawn_jobs = 0u64;
            for i in 0..runs {
                let job = Pubkey::new_from_array(hashv(&[&i.to_le_bytes()]).to_bytes());
                let seed = draw_seed(&job, &commitment, &data, s0).unwrap();
                drawn_jobs += u64::from(drawn(&seed, p));
            }
            let rate = drawn_jobs * BPS / runs;
            assert!(
                (1_400..=1_600).contains(&rate),
                "s0 {s0}: rate {rate} bps over {runs}"
            );
        }
    }
}
