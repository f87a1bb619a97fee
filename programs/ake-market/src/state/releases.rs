use anchor_lang::prelude::*;

use crate::constants::MAX_RELEASES;
use crate::state::owner_tag;

/// The owners that handed a job (or frames of a batch) back.
///
/// Owners whose node has proven work (the config's `proof_floor_micro_usd`)
/// take the first entries, for good, and are `counted` toward refunding a
/// job or halting a batch (each once: it is excluded from then on). Other
/// owners count for nothing and share one entry, after the counted ones,
/// holding the latest of them: each is excluded until the next takes its
/// place, so an owner never takes straight back what it just handed back,
/// and fresh sybil owners can neither count nor crowd out those who do.
#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, Default, InitSpace, Debug, PartialEq, Eq,
)]
pub struct Releases {
    pub by: [Pubkey; MAX_RELEASES],
    /// Entries of `by` in use: the counted ones, then at most one other.
    pub recorded: u8,
    /// Counted releasers, `by[..counted]`.
    pub counted: u8,
    /// Every hand-back, counted or not.
    pub total: u16,
}

impl Releases {
    /// Whether `owner` is excluded (handed the work back before).
    pub fn includes(&self, owner: &Pubkey) -> bool {
        self.by[..usize::from(self.recorded)].contains(owner)
    }

    /// Records a hand-back by `owner`; `proven` when its node has the proven
    /// work that makes the release count.
    pub fn record(&mut self, owner: Pubkey, proven: bool) {
        self.total = self.total.saturating_add(1);
        let counted = usize::from(self.counted);
        if self.includes(&owner) || counted == MAX_RELEASES {
            return;
        }
        if proven {
            // Counted owners come first: the uncounted entry, if any, moves
            // up one (dropped when the counted ones fill every entry).
            let latest = (self.recorded > self.counted).then_some(self.by[counted]);
            self.by[counted] = owner;
            self.counted += 1;
            self.recorded = self.counted;
            if let Some(other) = latest.filter(|_| counted + 1 < MAX_RELEASES) {
                self.by[counted + 1] = other;
                self.recorded += 1;
            }
        } else {
            self.by[counted] = owner;
            self.recorded = self.counted + 1;
        }
    }

    /// The releasers packed (see [`release_mark`]): in the work's queue
    /// entry, so a node skips work its owner handed back, and for the node
    /// search, which skips those owners' nodes.
    pub fn marks(&self) -> u64 {
        self.by[..usize::from(self.recorded)]
            .iter()
            .enumerate()
            .fold(0, |packed, (i, owner)| with_mark(packed, i, owner))
    }
}

/// `marks` with `owner`'s mark in entry `i`, when there is one (three fit).
pub fn with_mark(marks: u64, i: usize, owner: &Pubkey) -> u64 {
    if i >= MAX_RELEASES {
        return marks;
    }
    marks | release_mark(owner) << (MARK_BITS * i as u32)
}

const MARK_BITS: u32 = 21;
const MARK_MASK: u64 = (1 << MARK_BITS) - 1;
const _: () = assert!(MARK_BITS * MAX_RELEASES as u32 <= 64);

/// An owner's 21-bit mark (never 0): three fit in a queue entry. Two owners
/// share a mark with odds of one in two million, and then one only passes
/// over the other's hand-back in its search (the program still checks the
/// whole key when a node takes work).
pub fn release_mark(owner: &Pubkey) -> u64 {
    mark_of_tag(owner_tag(owner))
}

/// The mark of the owner whose `owner_tag` is `tag` (a waiting node's
/// entry holds its owner's tag).
pub fn mark_of_tag(tag: u64) -> u64 {
    tag % MARK_MASK + 1
}

/// Whether `marks` (see [`Releases::marks`]) holds `mark` (0 is no owner).
pub fn marked(marks: u64, mark: u64) -> bool {
    mark != 0 && (0..MAX_RELEASES as u32).any(|i| (marks >> (MARK_BITS * i)) & MARK_MASK == mark)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Pubkey {
        Pubkey::new_from_array([n; 32])
    }

    #[test]
    fn proven_releasers_count_once_and_sybils_share_one_entry() {
        let mut r = Releases::default();
        // Sybils first: they take no counted entry, only the latest is kept.
        r.record(key(8), false);
        r.record(key(9), false);
        assert_eq!((r.recorded, r.counted), (1, 0));
        assert!(r.includes(&key(9)) && !r.includes(&key(8)));
        r.record(key(1), true);
        r.record(key(1), true); // excluded already: not again
        r.record(key(2), true);
        assert_eq!((r.recorded, r.counted, r.total), (3, 2, 5));
        assert!(r.includes(&key(1)) && r.includes(&key(2)) && r.includes(&key(9)));
        // A third proven owner takes the last entry from the sybil.
        r.record(key(3), true);
        assert_eq!((r.recorded, r.counted), (3, 3));
        assert!(!r.includes(&key(9)));
        // Full of counted owners: nothing more is recorded.
        r.record(key(4), true);
        assert_eq!((r.recorded, r.counted, r.total), (3, 3, 7));
    }

    #[test]
    fn marks_hold_each_recorded_owner_and_no_other() {
        let mut r = Releases::default();
        for n in 1..=3 {
            r.record(key(n), true);
        }
        let marks = r.marks();
        for n in 1..=3 {
            assert!(marked(marks, release_mark(&key(n))));
        }
        assert!(!marked(marks, release_mark(&key(9))));
        assert!(!marked(0, release_mark(&key(1))));
    }
}
