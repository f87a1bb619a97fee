use anchor_lang::prelude::*;

use crate::constants::{MAX_IMAGE_LEN, MAX_INLINE_SPEC_BYTES, MAX_RELEASES, MAX_URI_LEN};
use crate::errors::MarketError;
use crate::state::releases::with_mark;
use crate::state::{AuditParams, Releases};

/// A job, PDA `["job", creator, nonce (u64 LE)]`. Its account is sized for
/// its own spec plus the largest result, and closes when the job settles.
#[account]
#[derive(Debug)]
pub struct Job {
    pub creator: Pubkey,
    pub nonce: u64,
    pub market: Pubkey,
    pub spec: JobSpec,
    /// An inline spec: sha256 of the whole borsh-encoded `JobSpec` (its
    /// variant byte 0 first, then the `InlineSpec`). A remote spec: the
    /// sha256 it names (of the document's bytes). A frame: its batch's.
    pub spec_hash: [u8; 32],
    pub gpus: u16,
    pub max_duration_secs: u32,
    /// Assignment skips nodes below this reputation.
    pub min_reputation_bps: u16,
    /// The market rate when posted, micro-USD per GPU-second.
    pub rate_micro_usd: u64,
    pub max_charge_micro_usd: u64,
    /// Tokens held in the market's escrow vault for this job.
    pub escrow: u64,
    /// The haircut AKE/USD price locked at posting.
    pub price: LockedPrice,
    pub tier: u8,
    pub state: JobState,
    /// Assignments so far (the node's journal keys its attempts by this).
    pub attempts: u8,
    /// Missed deadlines so far; the config's `max_job_attempts` of them refund the job.
    pub expiries: u8,
    /// Who handed the job back: they are not assigned it again, and the
    /// market's `max_releases` counted ones refund it (`unrunnable_at`: an
    /// audit run's first counted one is the audited node's owner).
    pub releases: Releases,
    /// Why the job was last handed back (for people; it changes nothing).
    pub last_release: Option<ReleaseReason>,
    pub posted_at: i64,
    /// When the job last joined the queue (posted, or back from a node):
    /// past the market's `max_queue_secs` anyone may refund it.
    pub queued_at: i64,
    pub assigned_at: i64,
    /// The node must submit by then; afterwards anyone may expire the job.
    pub deadline: i64,
    pub submitted_at: i64,
    pub node: Pubkey,
    /// The node's owner, whose stake backs this job.
    pub node_owner: Pubkey,
    /// Owner stake locked for this job now: the execution collateral while
    /// assigned, the result collateral once submitted and while disputed.
    pub collateral: u64,
    /// The SLA in force for this job, copied at assignment: later parameter
    /// changes never reach a job already running.
    pub terms: SlaTerms,
    /// The posting fee, held in escrow and burned when the job leaves the
    /// system (settled, cancelled or refunded); never refunded.
    pub posting_fee: u64,
    /// The creator's dispute bond, held in the escrow vault.
    pub bond: u64,
    pub disputed_at: i64,
    pub result: Option<JobResult>,
    /// The market slot of its queue entry while queued, and of its
    /// in-flight entry while assigned (the market checks the slot still
    /// holds this job): O(1) removal.
    pub queue_slot: u32,
    pub in_flight_slot: u32,
    /// The due page indexing it while submitted or disputed (see `DuePage`).
    pub due_page: Pubkey,
    /// How its result may be checked by re-execution.
    pub verify: Verify,
    /// Where its audit stands (see `crate::audit`).
    pub audit: AuditTrack,
    pub bump: u8,
}

impl Job {
    /// Whether nodes of `owner` may not take this job: the owner handed it
    /// back, or (an audit run) holds the audit's other run.
    pub fn excludes(&self, owner: &Pubkey) -> bool {
        self.excluded_owners().any(|o| o == owner)
    }

    /// Their marks, for its queue entry and the node search
    /// (`Releases::marks`): the same owners as `excludes`, so a search
    /// never names a node the program refuses.
    pub fn excluded_marks(&self) -> u64 {
        self.excluded_owners()
            .enumerate()
            .fold(0, |marks, (i, owner)| with_mark(marks, i, owner))
    }

    /// The owners whose nodes may not take it, as many as its queue entry
    /// has marks for: its counted releasers (for an audit run the audited
    /// node's owner first), the owner holding the audit's other run, then
    /// the latest uncounted releaser while there is room. A runnable run
    /// always has room for the other run's owner (`unrunnable_at`).
    fn excluded_owners(&self) -> impl Iterator<Item = &Pubkey> {
        let r = &self.releases;
        let counted = usize::from(r.counted);
        let other = &self.audit.runs[1]; // `AuditTrack::other_run_owner`
        let other = (self.audit.is_run() && *other != Pubkey::default()).then_some(other);
        r.by[..counted]
            .iter()
            .chain(other)
            .chain(&r.by[counted..usize::from(r.recorded)])
            .take(MAX_RELEASES)
    }

    /// Counted hand-backs that refund it as unrunnable: the market's
    /// `max_releases`; for an audit run, whose first counted releaser is the
    /// audited node's owner, one more, within the entries there are.
    pub fn unrunnable_at(&self, max_releases: u8) -> u8 {
        if self.audit.is_run() {
            max_releases.saturating_add(1).min(MAX_RELEASES as u8)
        } else {
            max_releases
        }
    }

    /// Seconds this job may wait in the queue before anyone refunds it:
    /// the market's `max_queue_secs`, and for an audit run no longer than
    /// the audit's time to reveal (a run nobody able takes, say no node at
    /// the auditor floor, must not hold the audited node's collateral and
    /// pay, and the creator's sealed outputs, for the queue's days).
    pub fn stale_after_secs(&self, max_queue_secs: u32, audit: &AuditParams) -> u32 {
        if self.audit.is_run() {
            max_queue_secs.min(audit.reveal_secs)
        } else {
            max_queue_secs
        }
    }

    /// A job entering the queue: never assigned, no collateral, no result,
    /// no fee, unaudited, of nobody yet. Each maker sets what describes it
    /// over this (`Job { creator, gpus, .., ..Job::queued(spec, price, now, bump) }`).
    pub fn queued(spec: JobSpec, price: LockedPrice, now: i64, bump: u8) -> Job {
        Job {
            creator: Pubkey::default(),
            nonce: 0,
            market: Pubkey::default(),
            spec,
            spec_hash: [0; 32],
            gpus: 0,
            max_duration_secs: 0,
            min_reputation_bps: 0,
            rate_micro_usd: 0,
            max_charge_micro_usd: 0,
            escrow: 0,
            price,
            tier: 0,
            state: JobState::Queued,
            attempts: 0,
            expiries: 0,
            releases: Releases::default(),
            last_release: None,
            posted_at: now,
            queued_at: now,
            assigned_at: 0,
            deadline: 0,
            submitted_at: 0,
            node: Pubkey::default(),
            node_owner: Pubkey::default(),
            collateral: 0,
            terms: SlaTerms::default(),
            posting_fee: 0,
            bond: 0,
            disputed_at: 0,
            result: None,
            queue_slot: 0,
            in_flight_slot: 0,
            due_page: Pubkey::default(),
            verify: Verify::None,
            audit: AuditTrack::default(),
            bump,
        }
    }

    /// Bytes of a job whose borsh spec takes `spec_len` bytes, result included.
    pub fn space_for(spec_len: usize) -> usize {
        8 // discriminator
            + 32 + 8 + 32 // creator, nonce, market
            + spec_len
            + 32 + 2 + 4 + 2 // spec hash, gpus, duration, min reputation
            + 8 + 8 + 8 // rate, max charge, escrow
            + LockedPrice::INIT_SPACE
            + 1 + 1 + 1 + 1 // tier, state, attempts, expiries
            + Releases::INIT_SPACE + 1 + ReleaseReason::INIT_SPACE
            + 8 * 5 // timestamps
            + 32 + 32 + 8 // node, node owner, collateral
            + SlaTerms::INIT_SPACE
            + 8 + 8 + 8 // posting fee, bond, disputed at
            + 1 + JobResult::INIT_SPACE
            + 4 + 4 // queue slot, in-flight slot
            + 32 // due page
            + Verify::INIT_SPACE
            + AuditTrack::INIT_SPACE
            + 1 // bump
    }

    /// Who gets the job account's rent back when it closes: the creator,
    /// or for a frame its batch (whose reserve paid it, so the batch's
    /// next frame can reuse it: a batch's rent follows its parallelism).
    pub fn rent_receiver(&self) -> Pubkey {
        match &self.spec {
            JobSpec::Frame(frame) => frame.batch,
            _ if self.audit.is_run() => self.audit.rent_payer,
            _ => self.creator,
        }
    }

    /// The batch of a frame.
    pub fn batch(&self) -> Option<Pubkey> {
        match &self.spec {
            JobSpec::Frame(frame) => Some(frame.batch),
            _ => None,
        }
    }

    /// The appeal bond its node owner has locked (the terms' dispute bond)
    /// since its node appealed the audit it lost, until the appeal ends.
    /// `disputed_at` records the appeal: a job that lost its audit can no
    /// longer be disputed, and a run never can.
    pub fn appeal_bond(&self) -> u64 {
        let appealable = matches!(
            self.audit.phase,
            AuditPhase::Failed
                | AuditPhase::RunFailed
                | AuditPhase::Appealed
                | AuditPhase::RunAppealed
        );
        if appealable && self.disputed_at != 0 {
            self.terms.dispute_bond
        } else {
            0
        }
    }

    /// Whether a job that lost its audit is past its node's time to appeal:
    /// it appealed already, never revealed (nothing to appeal with), or let
    /// `appeal_window_end` pass.
    pub fn appeal_time_over(&self, now: i64) -> bool {
        self.appeal_bond() > 0
            || !self.audit.revealed
            || self.appeal_window_end().is_some_and(|end| end < now)
    }

    /// Until then the arbiter decides an appeal (from `disputed_at`): the
    /// dispute timeout plus the job's max duration, time to re-run it.
    pub fn appeal_decide_by(&self) -> Option<i64> {
        self.disputed_at
            .checked_add(i64::from(self.terms.dispute_timeout_secs))?
            .checked_add(i64::from(self.max_duration_secs))
    }

    /// Until then a node that lost its audit may appeal: the job's challenge
    /// window counted from the verdict, at least `MIN_APPEAL_WINDOW_SECS`.
    pub fn appeal_window_end(&self) -> Option<i64> {
        let window = self
            .terms
            .challenge_window_secs
            .max(crate::constants::MIN_APPEAL_WINDOW_SECS);
        self.submitted_at
            .max(self.audit.resolved_at)
            .checked_add(i64::from(window))
    }

    /// When its challenge window ends: `challenge_window_secs` after its
    /// submit, or after its audit resolved when that was later (a creator
    /// always gets a whole window after the verdict).
    pub fn challenge_window_end(&self) -> Option<i64> {
        self.submitted_at
            .max(self.audit.resolved_at)
            .checked_add(i64::from(self.terms.challenge_window_secs))
    }

    pub fn is_open(&self) -> bool {
        !matches!(self.state, JobState::Settled)
    }
}

/// How a job's result may be checked by re-running it (issue 33).
#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq, Default,
)]
pub enum Verify {
    /// Never drawn for an audit: shown as unaudited.
    #[default]
    None,
    /// Deterministic: two honest runs give the same output digest (the
    /// output files and the exit code, see `ake_node::outputs`).
    Exact,
}

/// Where a job stands in the audit protocol (see `crate::audit`).
#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq, Default,
)]
pub enum AuditPhase {
    /// Not auditable (`Verify::None`), or not submitted yet.
    #[default]
    Unaudited,
    /// Submitted: waiting for its draw; the execution collateral stays locked.
    Undrawn,
    /// Not drawn (or no auditor came in time): settles as usual.
    Cleared,
    /// Drawn: audit runs re-execute it.
    Auditing,
    /// The audit agreed with it: settles as usual, with more reputation.
    Passed,
    /// Outvoted: its node loses its collateral, the creator is refunded.
    Failed,
    /// Nothing decided (no two of three agreed, or one run against it):
    /// everyone who revealed is paid and nobody penalised for it.
    Inconclusive,
    /// An audit run, until the verdict.
    Run,
    /// An audit run on the winning side (or of an inconclusive audit): paid.
    RunPaid,
    /// An audit run outvoted (or that never revealed): loses its collateral.
    RunFailed,
    /// An audited job whose node appealed its `Failed` verdict: the arbiter
    /// decides (`resolve_appeal`); silent past the dispute timeout, nobody
    /// is penalised and nobody paid (`settle_audit`).
    Appealed,
    /// An audit run whose node appealed its `RunFailed` verdict, as `Appealed`.
    RunAppealed,
}

/// A job's audit record.
#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq, Default,
)]
pub struct AuditTrack {
    pub phase: AuditPhase,
    /// An audited job: `s0`, the first slot whose hash seeds its draw.
    pub draw_slot: u64,
    /// An audited job: the chance it is drawn, in bps (set at submit).
    pub rate_bps: u16,
    /// An audited job: its two audit runs (default before its draw). An
    /// audit run: `[the audited job, the owner found holding the audit's
    /// other run]` (`other_run_owner`; default until one tries: every frame
    /// account has this record, so a run reuses the entry).
    pub runs: [Pubkey; 2],
    /// An audited job: the runs opened (0 or 2). An audit run: its number.
    pub round: u8,
    /// The output digest its node revealed, and the salt that sealed it
    /// (valid when `revealed`): the salt names where its outputs are.
    pub digest: [u8; 32],
    pub salt: [u8; 32],
    pub revealed: bool,
    /// An audited job: the audit fee its creator paid at posting, moved to
    /// the market's audit reserve by the draw (refunded with the escrow if
    /// the job never reaches one).
    pub fee: u64,
    /// An audit run: who paid its account's rent (the draw's or verdict's
    /// caller), repaid when it closes.
    pub rent_payer: Pubkey,
    /// An audited job: its parties must reveal by then (set by the first
    /// `judge_audit` that finds every run committed and a digest missing).
    pub reveal_deadline: i64,
    /// An audited job: when its audit resolved (cleared or judged); an audit
    /// run: when it was judged. Its challenge window counts from then, if
    /// later than its submit: a node that lost may appeal until it ends.
    pub resolved_at: i64,
}

impl AuditTrack {
    /// The audited job, when this job is one of its audit's runs.
    pub fn audited(&self) -> Option<Pubkey> {
        self.is_run().then_some(self.runs[0])
    }

    /// An audit run: an owner found holding the audit's other run, whose
    /// nodes may not take this one (see `Stake::holds_run_of`); default
    /// until one tries (and for any other job).
    pub fn other_run_owner(&self) -> Pubkey {
        if self.is_run() {
            self.runs[1]
        } else {
            Pubkey::default()
        }
    }

    /// Records `owner` as holding the audit's other run (an audit run).
    pub fn set_other_run_owner(&mut self, owner: Pubkey) {
        self.runs[1] = owner;
    }

    pub fn is_run(&self) -> bool {
        matches!(
            self.phase,
            AuditPhase::Run | AuditPhase::RunPaid | AuditPhase::RunFailed | AuditPhase::RunAppealed
        )
    }

    /// Whether the job lost its audit (a run or the audited job).
    pub fn lost(&self) -> bool {
        matches!(self.phase, AuditPhase::Failed | AuditPhase::RunFailed)
    }

    /// Whether the result may settle through `finalize_job` (after its
    /// challenge window), be accepted or disputed.
    pub fn settles_as_usual(&self) -> bool {
        matches!(
            self.phase,
            AuditPhase::Unaudited
                | AuditPhase::Cleared
                | AuditPhase::Passed
                | AuditPhase::Inconclusive
        )
    }
}

/// The SLA terms a job runs under, fixed when it is assigned.
#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq, Default,
)]
pub struct SlaTerms {
    /// Locked from the owner's free stake at assignment; released at submit
    /// down to the result collateral.
    pub execution_collateral: u64,
    /// Result collateral = min(execution collateral, this x the charge / 10000).
    pub result_collateral_bps: u16,
    /// Share of the execution collateral slashed on a missed deadline.
    pub expiry_slash_bps: u16,
    /// Share of an expiry slash paid to whoever expired the job.
    pub expiry_bounty_bps: u16,
    /// Share of the result collateral slashed (burned) on a lost dispute.
    pub dispute_slash_bps: u16,
    /// Until then (from assignment) the node may hand the job back for free.
    pub release_window_end: i64,
    pub challenge_window_secs: u32,
    pub dispute_timeout_secs: u32,
    pub dispute_bond: u64,
    /// Share of the charge burned at settlement (the rest is the treasury
    /// fee): the node's emission cap follows the burn, so a fee-split
    /// change never reaches work already assigned.
    pub burn_bps: u16,
    /// Who decides a dispute on this job.
    pub arbiter: Pubkey,
}

/// Why a node handed a job back. For people (events, `ake job status`):
/// nobody can verify it, so it never changes what a release costs.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub enum ReleaseReason {
    InputUnavailable,
    InputHashMismatch,
    ImageUnavailable,
    ImageNotAllowed,
    SpecInvalid,
    SpecUnsupported,
    ResourcesMissing,
    OperatorShutdown,
    /// The time left before the deadline cannot cover the run.
    DeadlineUnreachable,
}

impl ReleaseReason {
    /// Every reason, in code order (`reason as u8` is its code).
    pub const ALL: [ReleaseReason; 9] = [
        ReleaseReason::InputUnavailable,
        ReleaseReason::InputHashMismatch,
        ReleaseReason::ImageUnavailable,
        ReleaseReason::ImageNotAllowed,
        ReleaseReason::SpecInvalid,
        ReleaseReason::SpecUnsupported,
        ReleaseReason::ResourcesMissing,
        ReleaseReason::OperatorShutdown,
        ReleaseReason::DeadlineUnreachable,
    ];

    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Assigned,
    Submitted,
    /// The creator challenged the result; waiting for the arbiter or the timeout.
    Disputed,
    /// Only seen in events: a settled job's account is closed.
    Settled,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq)]
pub struct LockedPrice {
    /// USD per whole token = mantissa x 10^expo.
    pub mantissa: u64,
    pub expo: i32,
    pub decimals: u8,
}

/// What to run: inline when it fits one transaction, else a URI the node
/// fetches and checks against the sha256.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub enum JobSpec {
    Inline(InlineSpec),
    Remote(RemoteSpec),
    /// A frame of a batch: the spec is the batch's, with `{frame}` replaced.
    /// Only the program creates these (never posted directly).
    Frame(FrameRef),
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRef {
    pub batch: Pubkey,
    pub frame: u32,
}

impl FrameRef {
    /// Borsh bytes of `JobSpec::Frame`: variant, batch, frame.
    pub const SPEC_LEN: usize = 1 + 32 + 4;
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct InlineSpec {
    /// e.g. `ghcr.io/ake/render@sha256:...` (a digest pins the image).
    pub image: String,
    pub command: Vec<String>,
    pub env: Vec<EnvVar>,
    pub inputs: Vec<InputFile>,
    /// Largest total output the node will upload, bytes.
    pub max_output_bytes: u64,
}

impl InlineSpec {
    /// Whether `image` ends in `@sha256:<64 hex>` or `@sha512:<128 hex>`.
    pub fn pins_its_image(&self) -> bool {
        self.image.split_once('@').is_some_and(|(_, digest)| {
            let hex = match digest.split_once(':') {
                Some(("sha256", hex)) if hex.len() == 64 => hex,
                Some(("sha512", hex)) if hex.len() == 128 => hex,
                _ => return false,
            };
            hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
    }
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    pub url: String,
    pub sha256: [u8; 32],
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct RemoteSpec {
    pub uri: String,
    pub sha256: [u8; 32],
}

impl JobSpec {
    /// Whether the image is pinned by digest (`name@sha256:<64 hex>` or
    /// `@sha512:<128 hex>`), as an auditable job's must be: a tag can name
    /// another image by the time its audit runs. A remote spec's image is
    /// not on-chain: the node checks it when it reads the spec.
    pub fn pins_its_image(&self) -> bool {
        match self {
            JobSpec::Inline(s) => s.pins_its_image(),
            JobSpec::Remote(_) => true,
            JobSpec::Frame(_) => false,
        }
    }

    /// Checks the bounds and returns (borsh bytes length, spec hash).
    pub fn validate(&self) -> Result<(usize, [u8; 32])> {
        let bytes =
            anchor_lang::prelude::borsh::to_vec(self).map_err(|_| MarketError::InvalidSpec)?;
        match self {
            JobSpec::Inline(s) => {
                require!(
                    bytes.len() <= MAX_INLINE_SPEC_BYTES,
                    MarketError::SpecTooLarge
                );
                require!(
                    !s.image.is_empty() && s.image.len() <= MAX_IMAGE_LEN,
                    MarketError::InvalidSpec
                );
                require!(
                    s.inputs.iter().all(|i| i.url.len() <= MAX_URI_LEN),
                    MarketError::InvalidSpec
                );
                Ok((bytes.len(), solana_sha256_hasher::hash(&bytes).to_bytes()))
            }
            JobSpec::Remote(r) => {
                require!(
                    !r.uri.is_empty() && r.uri.len() <= MAX_URI_LEN,
                    MarketError::InvalidSpec
                );
                Ok((bytes.len(), r.sha256))
            }
            JobSpec::Frame(_) => err!(MarketError::InvalidSpec),
        }
    }
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, InitSpace, Debug, PartialEq, Eq)]
pub struct JobResult {
    /// Merkle root over outputs, logs, image digest, spec hash, exit code and usage.
    pub commitment: [u8; 32],
    #[max_len(MAX_URI_LEN)]
    pub output_uri: String,
    pub usage: UsageReceipt,
    /// An auditable job's blind commitment `sha256(digest ‖ salt)` to its
    /// output digest (zero for `Verify::None`): nobody can copy the digest
    /// before committing its own, and the node reveals it after.
    pub sealed_digest: [u8; 32],
    /// An auditable job's salt sealed to its creator (an X25519 box to the
    /// creator's key: ephemeral key, ciphertext, tag; zero otherwise): the
    /// outputs' path holds a token derived from the salt, so only the
    /// creator can fetch them before the reveal makes the salt public.
    pub sealed_salt: [u8; SEALED_SALT_LEN],
}

/// An X25519 sealed box of a 32-byte salt: ephemeral public key (32),
/// ciphertext (32), tag (16).
pub const SEALED_SALT_LEN: usize = 80;

#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, InitSpace, Debug, PartialEq, Eq, Default,
)]
pub struct UsageReceipt {
    pub wall_secs: u64,
    pub gpu_secs: u64,
    pub energy_mj: u64,
}

#[cfg(test)]
impl Job {
    /// A queued frame job with nothing else set, for unit tests.
    pub fn blank() -> Job {
        let spec = JobSpec::Frame(FrameRef {
            batch: Pubkey::default(),
            frame: 0,
        });
        let price = LockedPrice {
            mantissa: 1,
            expo: 0,
            decimals: 6,
        };
        Job::queued(spec, price, 0, 255)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{marked, release_mark};

    fn run() -> Job {
        let mut job = Job::blank();
        job.audit.phase = AuditPhase::Run;
        job
    }

    /// A run at its fullest while still runnable: the audited owner and a
    /// proven releaser counted, a fresh releaser after them. The owner
    /// holding the other run takes the fresh one's place, in the marks the
    /// searches read and in what the program refuses alike.
    #[test]
    fn a_runnable_run_always_has_room_for_the_other_run_s_owner() {
        let [audited, proven, fresh, other] = [(); 4].map(|_| Pubkey::new_unique());
        let mut job = run();
        job.releases.record(audited, true);
        job.releases.record(proven, true);
        job.releases.record(fresh, false);
        assert!(job.releases.counted < job.unrunnable_at(3));
        assert!(job.excludes(&fresh));
        job.audit.set_other_run_owner(other);
        let marks = job.excluded_marks();
        for owner in [audited, proven, other] {
            assert!(job.excludes(&owner) && marked(marks, release_mark(&owner)));
        }
        assert!(!job.excludes(&fresh) && !marked(marks, release_mark(&fresh)));
        // One more counted hand-back and the run is refunded.
        job.releases.record(Pubkey::new_unique(), true);
        assert_eq!(job.releases.counted, job.unrunnable_at(3));
        assert_eq!((run().unrunnable_at(1), run().unrunnable_at(2)), (2, 3));
    }
}
