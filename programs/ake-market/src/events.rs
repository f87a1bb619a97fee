//! Every state change emits one of these through `emit_cpi!` (self-CPI), which
//! survives log truncation and is visible to native tests.

use anchor_lang::prelude::*;

use crate::instructions::MarketArgs;
use crate::state::{Params, ReleaseReason, UsageReceipt};

#[event]
pub struct ConfigInitialized {
    pub authority: Pubkey,
    pub mint: Pubkey,
    pub treasury: Pubkey,
    pub params: Params,
}

#[event]
pub struct ConfigUpdated {
    pub params: Params,
    pub arbiter: Pubkey,
}

#[event]
pub struct AuthorityProposed {
    pub authority: Pubkey,
    pub proposed: Pubkey,
}

#[event]
pub struct AuthorityAccepted {
    pub previous: Pubkey,
    pub authority: Pubkey,
}

#[event]
pub struct PauseSet {
    pub paused: bool,
    /// The guardian or the authority.
    pub by: Pubkey,
}

#[event]
pub struct GuardianSet {
    pub guardian: Pubkey,
}

#[event]
pub struct ChangeProposed {
    /// The config or market it changes.
    pub target: Pubkey,
    /// Applicable from this unix time on.
    pub eta: i64,
    pub change: crate::state::Change,
}

#[event]
pub struct ChangeCancelled {
    pub target: Pubkey,
}

#[event]
pub struct MarketSaved {
    pub market: Pubkey,
    pub index: u16,
    pub args: MarketArgs,
    pub created: bool,
}

/// `grow_market` added slots; `applied` once the pool holds the
/// capacities asked for (they are the market's capacities from then on).
#[event]
pub struct MarketGrown {
    pub market: Pubkey,
    pub slot_count: u32,
    pub job_capacity: u16,
    pub node_capacity: u16,
    pub in_flight_capacity: u16,
    pub applied: bool,
}

/// A post or an arm found the market's pool without a free slot and grew
/// it by one, `payer` paying `rent` lamports (not refunded: the slot is
/// reused forever).
#[event]
pub struct PoolGrown {
    pub market: Pubkey,
    pub slot_count: u32,
    pub payer: Pubkey,
    pub rent: u64,
}

/// `set_lookup_table`: the market's transactions may use this table.
#[event]
pub struct LookupTableSet {
    pub market: Pubkey,
    pub lookup_table: Pubkey,
}

#[event]
pub struct StakeDeposited {
    pub owner: Pubkey,
    pub amount: u64,
    pub staked: u64,
    pub tier: u8,
}

#[event]
pub struct UnstakeRequested {
    pub owner: Pubkey,
    pub amount: u64,
    pub unlock_at: i64,
}

#[event]
pub struct StakeWithdrawn {
    pub owner: Pubkey,
    pub amount: u64,
}

#[event]
pub struct NodeRegistered {
    pub node: Pubkey,
    pub owner: Pubkey,
    pub signer: Pubkey,
    pub market: Pubkey,
    pub gpus: u16,
}

#[event]
pub struct NodeQueued {
    pub node: Pubkey,
    pub market: Pubkey,
    pub tier: u8,
    pub locked_stake: u64,
}

#[event]
pub struct NodeLeftQueue {
    pub node: Pubkey,
    pub market: Pubkey,
}

#[event]
pub struct JobPosted {
    pub job: Pubkey,
    pub creator: Pubkey,
    pub market: Pubkey,
    pub nonce: u64,
    pub max_charge_micro_usd: u64,
    pub escrow: u64,
    pub price_mantissa: u64,
    pub price_expo: i32,
    pub tier: u8,
    /// Tokens held with the escrow and burned when the job leaves the system.
    pub posting_fee: u64,
}

#[event]
pub struct BatchPosted {
    pub batch: Pubkey,
    pub creator: Pubkey,
    pub market: Pubkey,
    pub nonce: u64,
    pub first_frame: u32,
    pub frame_count: u32,
    pub max_charge_micro_usd: u64,
    pub escrow_per_frame: u64,
    pub price_mantissa: u64,
    pub price_expo: i32,
    pub tier: u8,
    /// Burned at posting: one fee for the whole batch.
    pub posting_fee: u64,
    /// Lamports held for the frames' job accounts: `parallelism` frames'
    /// rent, reused as frames settle, returned when the batch closes.
    pub rent_reserve: u64,
    pub parallelism: u32,
}

/// A batch handed a frame to a node: the frame's job account now exists.
#[event]
pub struct FrameHandedOut {
    pub batch: Pubkey,
    pub frame: u32,
    pub job: Pubkey,
    pub node: Pubkey,
    pub frames_waiting: u32,
    /// Every frame's rent is out: the batch left the queue until a frame
    /// closes and `requeue_batch` puts it back.
    pub parked: bool,
}

/// A parked batch is back in the queue (a frame closed and gave its rent back).
#[event]
pub struct BatchRequeued {
    pub batch: Pubkey,
    pub market: Pubkey,
    pub frames_waiting: u32,
    /// Frames the reserve can create now before the batch parks again.
    pub frames_reserved: u64,
    pub queue_slot: u32,
}

/// The creator put a halted batch back in the queue (`parked`: in the
/// parked list, every frame's rent out).
#[event]
pub struct BatchResumed {
    pub batch: Pubkey,
    pub market: Pubkey,
    pub frames_waiting: u32,
    pub parked: bool,
}

#[event]
pub struct BatchCancelled {
    pub batch: Pubkey,
    pub frames_refunded: u32,
    pub refund: u64,
    pub rent_returned: u64,
    /// False: the creator cancelled; true: anyone, after `max_queue_secs`.
    pub stale: bool,
    /// It was halted (unrunnable; or resumed after a halt with no frame
    /// submitted since): the creator's posting fee rose a step.
    pub halted: bool,
}

#[event]
pub struct BatchClosed {
    pub batch: Pubkey,
    pub rent_returned: u64,
    /// The batch's frames, `first_frame..first_frame + frame_count`: the
    /// first `handed_out` ran and settled (their results are in their own
    /// histories), the rest were refunded before they were handed out.
    pub first_frame: u32,
    pub frame_count: u32,
    pub handed_out: u32,
}

#[event]
pub struct JobQueued {
    pub job: Pubkey,
    pub market: Pubkey,
    pub at_front: bool,
}

#[event]
pub struct JobAssigned {
    pub job: Pubkey,
    pub node: Pubkey,
    pub deadline: i64,
    pub attempt: u8,
    /// Locked from the node owner's free stake for this job.
    pub collateral: u64,
    /// The node may hand the job back for free until then.
    pub release_window_end: i64,
}

/// A node of `owner` tried to take audit run `run` while its owner holds
/// the audit's other run: the owner is barred from this one (a verdict
/// needs two owners' runs), which waits for another owner's node.
#[event]
#[derive(Clone, Copy, Debug)]
pub struct AuditRunBarred {
    pub run: Pubkey,
    pub audited: Pubkey,
    pub owner: Pubkey,
}

/// A waiting node's owner could not cover a job's collateral: the node left
/// the queue (it re-arms when its owner's free stake allows).
#[event]
pub struct NodeIdled {
    pub node: Pubkey,
    pub job: Pubkey,
    pub collateral: u64,
    pub free_stake: u64,
}

#[event]
pub struct JobReleased {
    pub job: Pubkey,
    pub node: Pubkey,
    pub owner: Pubkey,
    pub reason: ReleaseReason,
    pub held_secs: i64,
    /// Burned from the job's collateral (0 inside the free window).
    pub slashed: u64,
    /// Past the owner's release budget: priced and recorded as an expiry.
    pub over_budget: bool,
    pub requeued: bool,
    /// Escrow returned to the creator when the job ran out of releases.
    pub refund: u64,
    pub posting_fee_burned: u64,
    /// The job is a frame and this release halted its batch.
    pub batch_halted: bool,
    /// Refunded as unrunnable (`Job::unrunnable_at` counted hand-backs): its
    /// releasers got their budget back (`budgets_returned` besides this
    /// owner) and, for a job that is not a frame, the creator's posting fee
    /// rose to `creator_fee_steps` steps this window.
    pub unrunnable: bool,
    pub budgets_returned: u8,
    pub creator_fee_steps: u16,
}

#[event]
pub struct JobCancelled {
    pub job: Pubkey,
    pub refund: u64,
    pub posting_fee_burned: u64,
}

#[event]
pub struct ResultSubmitted {
    pub job: Pubkey,
    pub node: Pubkey,
    pub commitment: [u8; 32],
    pub output_uri: String,
    pub usage: UsageReceipt,
    /// Execution collateral released at submission.
    pub collateral_released: u64,
    /// Kept locked through the challenge window and any dispute.
    pub result_collateral: u64,
    /// Where the crank finds the job when its challenge window ends.
    pub due_page: Pubkey,
    /// An auditable result's blind commitment and salt sealed to the
    /// creator (zero otherwise), as in `JobResult`.
    pub sealed_digest: [u8; 32],
    pub sealed_salt: [u8; crate::state::SEALED_SALT_LEN],
}

#[event]
pub struct JobSettled {
    pub job: Pubkey,
    pub node: Pubkey,
    pub market: Pubkey,
    /// Micro-USD of verified work: the node's claim on the epoch emission.
    pub work_micro_usd: u64,
    pub charged: u64,
    pub burned: u64,
    pub treasury_fee: u64,
    pub refund: u64,
    pub posting_fee_burned: u64,
    pub accepted_by_creator: bool,
}

#[event]
pub struct JobExpired {
    pub job: Pubkey,
    pub node: Pubkey,
    pub requeued: bool,
    pub refund: u64,
    pub posting_fee_burned: u64,
}

#[event]
pub struct NodeSlashed {
    pub node: Pubkey,
    pub owner: Pubkey,
    pub job: Pubkey,
    pub slashed: u64,
    pub burned: u64,
    pub bounty: u64,
    pub reputation_bps: u16,
}

#[event]
pub struct NodeRearmed {
    pub node: Pubkey,
    pub owner: Pubkey,
    /// The owner, or its operator.
    pub by: Pubkey,
    /// A suspension was lifted (else only a hold).
    pub was_suspended: bool,
    /// Suspensions the operator has lifted on this node this window.
    pub operator_rearms: u8,
}

#[event]
pub struct OperatorSet {
    pub owner: Pubkey,
    /// The default key: none.
    pub operator: Pubkey,
}

#[event]
pub struct NodeHeld {
    pub node: Pubkey,
    pub by: Pubkey,
}

/// The node running a job uploads its live stdout and stderr under `uri`
/// (`stdout.log`, `stderr.log`), unverified until the result commits them.
#[event]
pub struct LiveLogsAnnounced {
    pub job: Pubkey,
    pub node: Pubkey,
    pub attempt: u8,
    pub uri: String,
}

#[event]
pub struct JobDisputed {
    pub job: Pubkey,
    pub node: Pubkey,
    pub bond: u64,
    pub timeout_at: i64,
    /// Where the crank finds the dispute when it times out.
    pub due_page: Pubkey,
}

/// A submit or a dispute opened a due page, `payer` paying `rent` lamports
/// (back at `close_due_page`).
#[event]
pub struct DuePageOpened {
    pub page: Pubkey,
    pub market: Pubkey,
    pub bucket: u32,
    pub shard: u16,
    pub payer: Pubkey,
    pub rent: u64,
}

/// `close_due_page`: every job of the page left; its rent went back.
#[event]
pub struct DuePageClosed {
    pub page: Pubkey,
    pub market: Pubkey,
    pub bucket: u32,
    pub shard: u16,
    pub payer: Pubkey,
    pub rent: u64,
}

#[event]
pub struct DisputeResolved {
    /// The node lost and was waiting for its next job: it left the queue.
    pub node_left_queue: bool,
    pub job: Pubkey,
    pub node: Pubkey,
    pub creator_won: bool,
    /// Resolved by the timeout rather than by the arbiter.
    pub timed_out: bool,
    /// Escrow + bond returned to the creator (creator won).
    pub refund: u64,
    /// The bond, burned (node won).
    pub bond_burned: u64,
    /// Result collateral taken from the node's owner (creator won), all burned.
    pub slashed: u64,
    pub posting_fee_burned: u64,
}

#[event]
pub struct StaleJobRefunded {
    pub job: Pubkey,
    /// Seconds it waited in the queue since it last joined it.
    pub waited_secs: i64,
    pub refund: u64,
    pub posting_fee_burned: u64,
    /// One posting fee per day waited, burned from the escrow.
    pub waiting_fee_burned: u64,
}

#[event]
pub struct NodeClosed {
    pub node: Pubkey,
    pub owner: Pubkey,
    pub reputation_bps: u16,
    pub suspended: bool,
}

#[event]
pub struct NodeKeyRotated {
    pub old_node: Pubkey,
    pub new_node: Pubkey,
    pub owner: Pubkey,
    pub new_signer: Pubkey,
}

#[event]
pub struct StakeClosed {
    pub owner: Pubkey,
}

/// A market's settled burns and treasury fees left its escrow vault.
#[event]
pub struct MarketSwept {
    pub market: Pubkey,
    pub burned: u64,
    pub treasury_paid: u64,
    /// Burned by sweeps of this market so far.
    pub tokens_burned: u64,
}

/// An auditable job's draw was made (or its window closed: `by_default`).
#[event]
pub struct AuditDrawn {
    pub job: Pubkey,
    pub drawn: bool,
    pub by_default: bool,
    pub rate_bps: u16,
    /// sha256(job ‖ commitment ‖ the window's slot hashes); zero by default.
    pub seed: [u8; 32],
    /// The creator's audit fee, now in the market's audit reserve.
    pub fee_to_reserve: u64,
    /// The audit runs it opened (none when not drawn).
    pub runs: Vec<Pubkey>,
}

/// An audit run joined the queue.
#[derive(Clone)]
#[event]
pub struct AuditRunOpened {
    /// The audited job.
    pub job: Pubkey,
    pub run: Pubkey,
    /// 1 or 2: each audit has two runs.
    pub round: u8,
    /// Paid from the market's audit reserve.
    pub escrow: u64,
    /// The audited node's owner: none of its nodes runs it.
    pub excluded_owner: Pubkey,
}

/// A node revealed its output digest.
#[event]
pub struct DigestRevealed {
    pub job: Pubkey,
    pub node: Pubkey,
    pub digest: [u8; 32],
    /// Public from now on: it names where the job's outputs are.
    pub salt: [u8; 32],
}

/// Every run of an audit committed while a digest was still missing: the
/// parties have until `deadline` to reveal, then the silent ones lose.
#[event]
pub struct RevealsDue {
    pub job: Pubkey,
    pub deadline: i64,
}

/// An audit was judged.
#[event]
pub struct AuditJudged {
    pub job: Pubkey,
    pub verdict: crate::state::AuditPhase,
    pub runs: [Pubkey; 2],
    pub run_verdicts: [crate::state::AuditPhase; 2],
    /// The audited job reported more than 1.5x the wall seconds of a run
    /// that agreed with it (usage padding; it still settles as reported).
    pub usage_padded: bool,
}

/// An audit found three different digests: its spec is not deterministic
/// on this market, and exact jobs of it are refused here from now on.
#[event]
pub struct SpecMarkedUnauditable {
    pub market: Pubkey,
    pub spec_hash: [u8; 32],
    pub job: Pubkey,
}

/// A node appealed the audit it lost: its owner's bond is locked beside
/// the job's collateral until the arbiter decides, or until `decide_by`
/// (then nobody is penalised).
#[event]
pub struct AuditAppealed {
    pub job: Pubkey,
    pub node: Pubkey,
    pub bond: u64,
    pub decide_by: i64,
}

/// The arbiter decided an appeal. Upheld: the node ran the spec as given
/// and the spec is at fault (marked unauditable): the job (or run) is
/// paid, its collateral and bond unlocked. Rejected: the verdict stands and
/// its settlement burns the bond with the collateral.
#[event]
pub struct AppealResolved {
    pub job: Pubkey,
    pub node: Pubkey,
    pub upheld: bool,
    pub verdict: crate::state::AuditPhase,
    pub spec_marked: bool,
}

/// An audit run, or an audited job that lost its audit, settled.
#[event]
pub struct AuditSettled {
    pub job: Pubkey,
    pub node: Pubkey,
    pub verdict: crate::state::AuditPhase,
    /// Its node owner's collateral burned (a run or job that lost).
    pub slashed: u64,
    /// Back to the creator (an audited job that lost).
    pub creator_refund: u64,
    /// Back to the market's audit reserve (a run's unspent escrow).
    pub to_reserve: u64,
    /// A run's pay, burned like any charge.
    pub charged: u64,
}
