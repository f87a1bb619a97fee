//! Instruction builders for ake-market.

use ake_market::due::DuePick;
use ake_market::instructions::{Capacity, MarketArgs, PostBatchArgs, PostJobArgs};
use ake_market::state::{
    Change, DuePage, HardwareProfile, Job, JobResult, Params, ReleaseReason, Verify,
};
use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::{AccountMeta, Instruction};
use anchor_lang::{system_program, InstructionData, ToAccountMetas};
use anchor_spl::token;

use crate::pda;

const PROGRAM: Pubkey = ake_market::ID;

fn build(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    super::build(PROGRAM, accounts, data)
}

fn event_authority() -> Pubkey {
    pda::event_authority(&PROGRAM)
}

use ake_market::accounts as acc;
use ake_market::instruction as ix;

pub fn initialize(
    authority: Pubkey,
    mint: Pubkey,
    treasury: Pubkey,
    params: Params,
    arbiter: Pubkey,
) -> Instruction {
    build(
        acc::Initialize {
            authority,
            emissions_config: pda::emissions_config(),
            config: pda::config(),
            mint,
            treasury,
            stake_vault: pda::stake_vault(),
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::Initialize { params, arbiter },
    )
}

/// The config or market account `change` changes.
pub fn change_target(change: &Change) -> Pubkey {
    match change {
        Change::Config { .. } => pda::config(),
        Change::Market { index, .. } => pda::market(*index),
    }
}

/// The authority proposes a timelocked change (applicable after the
/// config's `timelock_secs`); `payer` funds the pending account.
pub fn propose_change(authority: Pubkey, payer: Pubkey, change: Change) -> Instruction {
    build(
        acc::ProposeChange {
            authority,
            payer,
            config: pda::config(),
            pending: pda::market_pending_change(&change_target(&change)),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ProposeChange { change },
    )
}

/// Anyone applies the pending change to `target` once due; `payer` is the
/// proposer recorded in it (gets the rent back).
pub fn apply_change(target: Pubkey, payer: Pubkey) -> Instruction {
    let market = (target != pda::config()).then_some(target);
    build(
        acc::ApplyChange {
            config: pda::config(),
            pending: pda::market_pending_change(&target),
            payer,
            market,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ApplyChange {},
    )
}

pub fn cancel_change(authority: Pubkey, target: Pubkey, payer: Pubkey) -> Instruction {
    build(
        acc::CancelChange {
            authority,
            config: pda::config(),
            pending: pda::market_pending_change(&target),
            payer,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CancelChange {},
    )
}

pub fn set_guardian(authority: Pubkey, guardian: Pubkey) -> Instruction {
    build(
        acc::SetGuardian {
            authority,
            config: pda::config(),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::SetGuardian { guardian },
    )
}

/// Names `lookup_table` as market `index`'s address lookup table (authority).
pub fn set_lookup_table(authority: Pubkey, index: u16, lookup_table: Pubkey) -> Instruction {
    build(
        acc::SetLookupTable {
            authority,
            config: pda::config(),
            market: pda::market(index),
            lookup_table,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::SetLookupTable { index },
    )
}

pub fn propose_authority(authority: Pubkey, proposed: Pubkey) -> Instruction {
    build(
        acc::ProposeAuthority {
            authority,
            config: pda::config(),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ProposeAuthority { proposed },
    )
}

pub fn accept_authority(new_authority: Pubkey) -> Instruction {
    build(
        acc::AcceptAuthority {
            new_authority,
            config: pda::config(),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::AcceptAuthority {},
    )
}

/// `caller`: the guardian or the authority to pause, the authority to unpause.
pub fn set_paused(caller: Pubkey, paused: bool) -> Instruction {
    build(
        acc::SetPaused {
            caller,
            config: pda::config(),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::SetPaused { paused },
    )
}

pub fn create_market(authority: Pubkey, mint: Pubkey, index: u16, args: MarketArgs) -> Instruction {
    let market = pda::market(index);
    build(
        acc::CreateMarket {
            authority,
            config: pda::config(),
            market,
            escrow_vault: pda::escrow_vault(&market),
            ledger: pda::ledger(&market),
            mint,
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CreateMarket { index, args },
    )
}

/// Raises market `index`'s capacities by one step (at most
/// `MAX_GROW_SLOTS` slots); see `bootstrap::grow_market` for the loop.
pub fn grow_market(authority: Pubkey, index: u16, capacity: Capacity) -> Instruction {
    build(
        acc::GrowMarket {
            authority,
            config: pda::config(),
            market: pda::market(index),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::GrowMarket { index, capacity },
    )
}

pub fn deposit_stake(owner: Pubkey, mint: Pubkey, owner_token: Pubkey, amount: u64) -> Instruction {
    build(
        acc::DepositStake {
            owner,
            config: pda::config(),
            stake: pda::stake(&owner),
            mint,
            owner_token,
            stake_vault: pda::stake_vault(),
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::DepositStake { amount },
    )
}

pub fn request_unstake(owner: Pubkey, amount: u64) -> Instruction {
    build(
        acc::RequestUnstake {
            owner,
            config: pda::config(),
            stake: pda::stake(&owner),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::RequestUnstake { amount },
    )
}

pub fn withdraw_stake(owner: Pubkey, mint: Pubkey, owner_token: Pubkey) -> Instruction {
    build(
        acc::WithdrawStake {
            owner,
            config: pda::config(),
            stake: pda::stake(&owner),
            mint,
            owner_token,
            stake_vault: pda::stake_vault(),
            token_program: token::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::WithdrawStake {},
    )
}

pub fn register_node(
    owner: Pubkey,
    node_signer: Pubkey,
    market: Pubkey,
    gpus: u16,
    profile: HardwareProfile,
) -> Instruction {
    build(
        acc::RegisterNode {
            owner,
            node_signer,
            node: pda::node(&node_signer),
            market,
            owner_stake: pda::stake(&owner),
            config: pda::config(),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::RegisterNode { gpus, profile },
    )
}

/// `candidate_job`: the best queued job the node can serve (see
/// `Market::best_job_for`), when there is one.
/// The queued work an idle node names to take (`node_ready`, the re-arm of
/// `submit_result`): the best entry of the job queue for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextWork {
    Job(Pubkey),
    /// A batch and its next frame's job address.
    Frame {
        batch: Pubkey,
        frame_job: Pubkey,
    },
}

impl NextWork {
    fn job(next: Option<NextWork>) -> Option<Pubkey> {
        match next {
            Some(NextWork::Job(job)) => Some(job),
            _ => None,
        }
    }

    fn batch(next: Option<NextWork>) -> Option<Pubkey> {
        match next {
            Some(NextWork::Frame { batch, .. }) => Some(batch),
            _ => None,
        }
    }

    fn frame_job(next: Option<NextWork>) -> Option<Pubkey> {
        match next {
            Some(NextWork::Frame { frame_job, .. }) => Some(frame_job),
            _ => None,
        }
    }
}

pub fn node_ready(
    node_signer: Pubkey,
    node_owner: Pubkey,
    market: Pubkey,
    next: Option<NextWork>,
) -> Instruction {
    build(
        acc::NodeReady {
            node_signer,
            config: pda::config(),
            node: pda::node(&node_signer),
            market,
            owner_stake: pda::stake(&node_owner),
            candidate_job: NextWork::job(next),
            candidate_batch: NextWork::batch(next),
            frame_job: NextWork::frame_job(next),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::NodeReady {},
    )
}

/// Takes a node out of the queue: signed by its hot key (the daemon), or
/// by its owner or the owner's operator, which also hold it out until
/// they re-arm it.
pub fn node_unready(
    authority: Pubkey,
    node_signer: Pubkey,
    node_owner: Pubkey,
    market: Pubkey,
) -> Instruction {
    build(
        acc::NodeUnready {
            authority,
            node: pda::node(&node_signer),
            market,
            owner_stake: pda::stake(&node_owner),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::NodeUnready {},
    )
}

/// The node running `job` says where its live logs go (`uri`).
pub fn announce_logs(node_signer: Pubkey, job: Pubkey, uri: String) -> Instruction {
    build(
        acc::AnnounceLogs {
            node_signer,
            node: pda::node(&node_signer),
            job,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::AnnounceLogs { uri },
    )
}

/// A waiting node offered a job, and its owner, whose stake the job's
/// collateral is locked from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub node: Pubkey,
    pub owner: Pubkey,
}

impl Candidate {
    /// The candidate owner's stake account, unless the instruction already
    /// carries that owner's stake (`held_owner`): one account cannot be
    /// passed twice as mutable, and the program uses the one it holds.
    fn owner_stake(self, held_owner: Option<Pubkey>) -> Option<Pubkey> {
        (held_owner != Some(self.owner)).then(|| pda::stake(&self.owner))
    }
}

/// Accounts `post_job` needs besides the arguments.
pub struct PostJobAccounts {
    pub creator: Pubkey,
    pub market: Pubkey,
    pub mint: Pubkey,
    pub creator_token: Pubkey,
    pub price_update: Pubkey,
    /// Whether the creator has a Stake account (it sets the job's tier).
    pub creator_staked: bool,
    /// The best waiting node for this job (see `Market::best_node_for`).
    pub candidate_node: Option<Candidate>,
}

pub fn post_job(a: PostJobAccounts, args: PostJobArgs) -> Instruction {
    build(
        acc::PostJob {
            creator: a.creator,
            config: pda::config(),
            creator_account: pda::creator(&a.creator),
            job: pda::job(&a.creator, args.nonce),
            market: a.market,
            escrow_vault: pda::escrow_vault(&a.market),
            mint: a.mint,
            creator_token: a.creator_token,
            price_update: a.price_update,
            creator_stake: a.creator_staked.then(|| pda::stake(&a.creator)),
            candidate_node: a.candidate_node.map(|c| c.node),
            candidate_owner_stake: a.candidate_node.and_then(|c| c.owner_stake(None)),
            unauditable_spec: unauditable_mark(&a.market, &args),
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::PostJob { args },
    )
}

/// An exact job's spec mark address, which the program checks is absent
/// (None for other jobs, and for a spec the program refuses anyway).
fn unauditable_mark(market: &Pubkey, args: &PostJobArgs) -> Option<Pubkey> {
    let (_, spec_hash) = args.spec.validate().ok()?;
    (args.verify == Verify::Exact).then(|| pda::unauditable_spec(market, &spec_hash))
}

/// `rent_receiver` is `Job::rent_receiver` (the creator, or a frame's batch).
pub fn cancel_job(
    creator: Pubkey,
    job: Pubkey,
    rent_receiver: Pubkey,
    market: Pubkey,
    mint: Pubkey,
    creator_token: Pubkey,
) -> Instruction {
    build(
        acc::CancelJob {
            creator,
            job,
            rent_receiver,
            market,
            escrow_vault: pda::escrow_vault(&market),
            mint,
            creator_token,
            token_program: token::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CancelJob {},
    )
}

/// What the node does once its result is in (see `submit_result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterSubmit {
    /// Stay idle (the daemon is draining).
    StayIdle,
    /// Take the named queued work, or join the node queue when none waits
    /// (best effort: a stale pick leaves the node idle, never fails the submit).
    Rearm(Option<NextWork>),
}

/// The result of an assigned job, indexed for the crank in the due page
/// `due` names (`Protocol::due_pick` reads which has room); `batch` is the
/// frame's batch (`Job::batch`) when the job is a frame.
pub fn submit_result(
    node_signer: Pubkey,
    node_owner: Pubkey,
    (job, market, batch): (Pubkey, Pubkey, Option<Pubkey>),
    result: JobResult,
    after: AfterSubmit,
    due: DuePick,
) -> Instruction {
    let (rearm, next) = match after {
        AfterSubmit::StayIdle => (false, None),
        AfterSubmit::Rearm(next) => (true, next),
    };
    build(
        acc::SubmitResult {
            node_signer,
            config: pda::config(),
            node: pda::node(&node_signer),
            job,
            market,
            owner_stake: pda::stake(&node_owner),
            candidate_job: NextWork::job(next),
            candidate_batch: NextWork::batch(next),
            frame_job: NextWork::frame_job(next),
            batch,
            due_page: pda::due_page(&market, due.bucket, due.shard),
            due_spill: pda::due_page(&market, due.bucket, due.shard + 1),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::SubmitResult { result, rearm, due },
    )
}

/// Accounts `post_batch` needs besides the arguments.
pub struct PostBatchAccounts {
    pub creator: Pubkey,
    pub market: Pubkey,
    pub mint: Pubkey,
    pub creator_token: Pubkey,
    pub price_update: Pubkey,
    /// Whether the creator has a Stake account (it sets the batch's tier).
    pub creator_staked: bool,
}

pub fn post_batch(a: PostBatchAccounts, args: PostBatchArgs) -> Instruction {
    build(
        acc::PostBatch {
            creator: a.creator,
            config: pda::config(),
            creator_account: pda::creator(&a.creator),
            batch: pda::batch(&a.creator, args.nonce),
            market: a.market,
            escrow_vault: pda::escrow_vault(&a.market),
            mint: a.mint,
            creator_token: a.creator_token,
            price_update: a.price_update,
            creator_stake: a.creator_staked.then(|| pda::stake(&a.creator)),
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::PostBatch { args },
    )
}

/// Hands `batch`'s frame `frame` to the waiting node `node` (the best one).
pub fn match_frame(
    payer: Pubkey,
    market: Pubkey,
    batch: Pubkey,
    frame: u32,
    node: Candidate,
) -> Instruction {
    build(
        acc::MatchFrame {
            payer,
            config: pda::config(),
            market,
            batch,
            frame_job: pda::frame_job(&batch, frame),
            node: node.node,
            owner_stake: pda::stake(&node.owner),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::MatchFrame {},
    )
}

/// Puts a parked batch back in the queue once a frame of it closed (anyone).
pub fn requeue_batch(payer: Pubkey, market: Pubkey, batch: Pubkey) -> Instruction {
    build(
        acc::RequeueBatch {
            payer,
            config: pda::config(),
            market,
            batch,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::RequeueBatch {},
    )
}

/// Pairs a waiting job with a waiting node that are each other's best
/// (anyone may send it).
pub fn match_job(payer: Pubkey, market: Pubkey, job: Pubkey, node: Candidate) -> Instruction {
    build(
        acc::MatchJob {
            payer,
            config: pda::config(),
            market,
            job,
            node: node.node,
            owner_stake: pda::stake(&node.owner),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::MatchJob {},
    )
}

/// What `cancel_batch` and `close_batch` touch of a batch.
pub struct BatchKeys {
    pub batch: Pubkey,
    pub creator: Pubkey,
    pub market: Pubkey,
    pub mint: Pubkey,
    /// The creator's token account the refund goes to.
    pub creator_token: Pubkey,
}

/// Refunds a batch's frames not handed out (the creator; anyone once stale).
pub fn cancel_batch(caller: Pubkey, k: &BatchKeys) -> Instruction {
    build(
        acc::CancelBatch {
            caller,
            config: pda::config(),
            creator: k.creator,
            batch: k.batch,
            market: k.market,
            escrow_vault: pda::escrow_vault(&k.market),
            mint: k.mint,
            creator_token: k.creator_token,
            creator_account: pda::creator(&k.creator),
            token_program: token::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CancelBatch {},
    )
}

/// Puts a halted batch back in the queue (its creator only).
pub fn resume_batch(creator: Pubkey, market: Pubkey, batch: Pubkey) -> Instruction {
    build(
        acc::ResumeBatch {
            creator,
            config: pda::config(),
            market,
            batch,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ResumeBatch {},
    )
}

/// The writable stake accounts of `owners`, in order: what `release_job`
/// gives budget back to when the job was unrunnable.
fn releaser_stakes(owners: &[Pubkey]) -> impl Iterator<Item = AccountMeta> + '_ {
    owners
        .iter()
        .map(|owner| AccountMeta::new(pda::stake(owner), false))
}

/// Counts the settled frames `frames` (their job accounts, in order from
/// the batch's `first_frame + frames_closed`) and closes the batch when
/// every frame has settled.
pub fn close_batch(batch: Pubkey, creator: Pubkey, frames: &[Pubkey]) -> Instruction {
    let mut ix = build(
        acc::CloseBatch {
            creator,
            batch,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CloseBatch {},
    );
    ix.accounts.extend(
        frames.iter().map(|f| {
            anchor_lang::solana_program::instruction::AccountMeta::new_readonly(*f, false)
        }),
    );
    ix
}

/// What a settlement needs besides the job: the token account it refunds,
/// who pays for new work records, the emissions epoch it lands in
/// (`ake_emissions::math::epoch_at` of the chain's clock) and the job's
/// market's index (its epoch record).
pub struct SettleKeys {
    pub mint: Pubkey,
    pub creator_token: Pubkey,
    pub payer: Pubkey,
    pub epoch: u64,
    pub market_index: u16,
}

fn settle_accounts(job: &Job, k: &SettleKeys) -> acc::SettleAccounts {
    acc::SettleAccounts {
        config: pda::config(),
        ledger: pda::ledger(&job.market),
        escrow_vault: pda::escrow_vault(&job.market),
        mint: k.mint,
        creator_token: k.creator_token,
        node: job.node,
        due_page: job.due_page,
        node_owner_stake: pda::stake(&job.node_owner),
        payer: k.payer,
        reporter: pda::reporter(),
        emissions_config: pda::emissions_config(),
        market_epoch: pda::market_epoch(k.epoch, k.market_index),
        node_work: pda::node_work(k.epoch, &job.node),
        emissions_event_authority: pda::event_authority(&pda::EMISSIONS_PROGRAM_ID),
        emissions_program: pda::EMISSIONS_PROGRAM_ID,
        token_program: token::ID,
        system_program: system_program::ID,
    }
}

pub fn accept_result(job_key: Pubkey, job: &Job, k: &SettleKeys) -> Instruction {
    build(
        acc::AcceptResult {
            creator: job.creator,
            job: job_key,
            rent_receiver: job.rent_receiver(),
            settle: settle_accounts(job, k),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::AcceptResult {},
    )
}

/// The caller is `k.payer`.
pub fn finalize_job(job_key: Pubkey, job: &Job, k: &SettleKeys) -> Instruction {
    build(
        acc::FinalizeJob {
            caller: k.payer,
            rent_receiver: job.rent_receiver(),
            job: job_key,
            settle: settle_accounts(job, k),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::FinalizeJob {},
    )
}

/// Accounts `expire_job` needs besides the job.
pub struct ExpireKeys {
    pub caller: Pubkey,
    /// Receives the bounty out of the slash.
    pub caller_token: Pubkey,
    pub mint: Pubkey,
    pub creator_token: Pubkey,
    /// The best waiting node for the re-queued job (see `Market::best_node_for`).
    pub candidate_node: Option<Candidate>,
}

pub fn expire_job(job_key: Pubkey, job: &Job, k: ExpireKeys) -> Instruction {
    build(
        acc::ExpireJob {
            caller: k.caller,
            caller_token: k.caller_token,
            config: pda::config(),
            rent_receiver: job.rent_receiver(),
            job: job_key,
            market: job.market,
            node: job.node,
            node_owner_stake: pda::stake(&job.node_owner),
            stake_vault: pda::stake_vault(),
            escrow_vault: pda::escrow_vault(&job.market),
            mint: k.mint,
            creator_token: k.creator_token,
            candidate_node: k.candidate_node.map(|c| c.node),
            candidate_owner_stake: k
                .candidate_node
                .and_then(|c| c.owner_stake(Some(job.node_owner))),
            token_program: token::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ExpireJob {},
    )
}

/// Accounts `release_job` needs besides the job.
pub struct ReleaseKeys {
    pub mint: Pubkey,
    /// Refunded when the job has been handed back `Job::unrunnable_at` times.
    pub creator_token: Pubkey,
    /// The best waiting node for the re-queued job, owners that handed it
    /// back excluded (see `Market::best_node_for`).
    pub candidate_node: Option<Candidate>,
}

/// The node whose hot key is `node_signer` hands `job` back.
pub fn release_job(
    node_signer: Pubkey,
    job_key: Pubkey,
    job: &Job,
    k: ReleaseKeys,
    reason: ReleaseReason,
) -> Instruction {
    let mut ix = build(
        acc::ReleaseJob {
            node_signer,
            config: pda::config(),
            node: pda::node(&node_signer),
            job: job_key,
            market: job.market,
            owner_stake: pda::stake(&job.node_owner),
            stake_vault: pda::stake_vault(),
            escrow_vault: pda::escrow_vault(&job.market),
            mint: k.mint,
            rent_receiver: job.rent_receiver(),
            creator_token: k.creator_token,
            candidate_node: k.candidate_node.map(|c| c.node),
            candidate_owner_stake: k
                .candidate_node
                .and_then(|c| c.owner_stake(Some(job.node_owner))),
            batch: job.batch(),
            creator_account: pda::creator(&job.creator),
            token_program: token::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ReleaseJob { reason },
    );
    // Read only when this release refunds the job: the other releasers,
    // as the job will record them.
    let mut releases = job.releases;
    releases.record(job.node_owner, false);
    let others: Vec<Pubkey> = releases.by[..usize::from(releases.recorded)]
        .iter()
        .filter(|owner| **owner != job.node_owner)
        .copied()
        .collect();
    ix.accounts.extend(releaser_stakes(&others));
    ix
}

/// The creator disputes a submitted result; the dispute is indexed for the
/// crank in the due page `due` names for its timeout.
pub fn dispute_job(
    job_key: Pubkey,
    job: &Job,
    (mint, creator_token): (Pubkey, Pubkey),
    due: DuePick,
) -> Instruction {
    build(
        acc::DisputeJob {
            creator: job.creator,
            config: pda::config(),
            job: job_key,
            ledger: pda::ledger(&job.market),
            node: job.node,
            escrow_vault: pda::escrow_vault(&job.market),
            mint,
            creator_token,
            due_page: job.due_page,
            dispute_page: pda::due_page(&job.market, due.bucket, due.shard),
            dispute_spill: pda::due_page(&job.market, due.bucket, due.shard + 1),
            token_program: token::ID,
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::DisputeJob { due },
    )
}

/// Burns what market's settlements left to burn and pays the treasury its
/// fees (anyone; the crank does it once per market per pass).
pub fn sweep_market(caller: Pubkey, market: Pubkey, mint: Pubkey, treasury: Pubkey) -> Instruction {
    build(
        acc::SweepMarket {
            caller,
            config: pda::config(),
            ledger: pda::ledger(&market),
            escrow_vault: pda::escrow_vault(&market),
            mint,
            treasury,
            token_program: token::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::SweepMarket {},
    )
}

/// Closes a due page whose jobs all left (anyone; the rent goes to its payer).
pub fn close_due_page(caller: Pubkey, page: &DuePage) -> Instruction {
    build(
        acc::CloseDuePage {
            caller,
            page: pda::due_page(&page.market, page.bucket, page.shard),
            next_shard: pda::due_page(&page.market, page.bucket, page.shard + 1),
            payer: page.payer,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CloseDuePage {},
    )
}

/// The arbiter (`k.payer`) decides a dispute.
pub fn resolve_dispute(
    job_key: Pubkey,
    job: &Job,
    k: &SettleKeys,
    creator_wins: bool,
) -> Instruction {
    build(
        acc::ResolveDispute {
            arbiter: k.payer,
            rent_receiver: job.rent_receiver(),
            job: job_key,
            stake_vault: pda::stake_vault(),
            market: job.market,
            settle: settle_accounts(job, k),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ResolveDispute { creator_wins },
    )
}

/// Anyone (`k.payer`) ends a timed-out dispute: the job settles as accepted.
pub fn expire_dispute(job_key: Pubkey, job: &Job, k: &SettleKeys) -> Instruction {
    build(
        acc::ExpireDispute {
            caller: k.payer,
            rent_receiver: job.rent_receiver(),
            job: job_key,
            stake_vault: pda::stake_vault(),
            settle: settle_accounts(job, k),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ExpireDispute {},
    )
}

/// The owner or its operator lifts a node's suspension or hold.
pub fn rearm_node(authority: Pubkey, node: Pubkey, node_owner: Pubkey) -> Instruction {
    build(
        acc::RearmNode {
            authority,
            node,
            owner_stake: pda::stake(&node_owner),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::RearmNode {},
    )
}

/// The owner names the key that operates its nodes (the default key: none).
pub fn set_operator(owner: Pubkey, operator: Pubkey) -> Instruction {
    build(
        acc::SetOperator {
            owner,
            owner_stake: pda::stake(&owner),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::SetOperator { operator },
    )
}

/// The owner moves an idle node to a new hot key, keeping its record; the
/// new key signs too.
pub fn rotate_node_key(owner: Pubkey, node: Pubkey, new_signer: Pubkey) -> Instruction {
    build(
        acc::RotateNodeKey {
            owner,
            node,
            new_signer,
            new_node: pda::node(&new_signer),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::RotateNodeKey {},
    )
}

/// The owner closes an idle node with no unsettled job (rent back).
pub fn close_node(owner: Pubkey, node: Pubkey) -> Instruction {
    build(
        acc::CloseNode {
            owner,
            node,
            owner_stake: pda::stake(&owner),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CloseNode {},
    )
}

/// The owner closes its empty stake account (rent back).
pub fn close_stake(owner: Pubkey) -> Instruction {
    build(
        acc::CloseStake {
            owner,
            stake: pda::stake(&owner),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::CloseStake {},
    )
}

/// Anyone refunds a job queued longer than its market's `max_queue_secs`;
/// `creator_token` is a token account of the job's creator.
pub fn refund_stale_job(
    job_key: Pubkey,
    job: &Job,
    mint: Pubkey,
    creator_token: Pubkey,
) -> Instruction {
    build(
        acc::RefundStaleJob {
            config: pda::config(),
            rent_receiver: job.rent_receiver(),
            job: job_key,
            market: job.market,
            escrow_vault: pda::escrow_vault(&job.market),
            mint,
            creator_token,
            token_program: token::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::RefundStaleJob {},
    )
}

/// Anyone (`caller`, paying the audit runs' rent when the job is drawn)
/// draws a submitted auditable job, naming the nodes the draw picks for
/// its runs (`auditors`: node, owner), as `Protocol::draw_audit` computes.
pub fn draw_audit(
    caller: Pubkey,
    job_key: Pubkey,
    job: &Job,
    auditors: &[(Pubkey, Pubkey)],
) -> Instruction {
    let mut ix = build(
        acc::DrawAudit {
            caller,
            config: pda::config(),
            job: job_key,
            market: job.market,
            owner_stake: pda::stake(&job.node_owner),
            slot_hashes: ake_market::audit::SLOT_HASHES_ID,
            first_run: pda::audit_run(&job_key, 1),
            second_run: pda::audit_run(&job_key, 2),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::DrawAudit {},
    );
    for (node, owner) in auditors {
        ix.accounts.push(AccountMeta::new(*node, false));
        ix.accounts.push(AccountMeta::new(pda::stake(owner), false));
    }
    ix
}

/// The node whose hot key is `node_signer` reveals the output digest of
/// `job`: the audited job (`audited.0`) itself or one of its runs.
pub fn reveal_digest(
    node_signer: Pubkey,
    job: Pubkey,
    (audited_key, audited): (Pubkey, &Job),
    (digest, salt): ([u8; 32], [u8; 32]),
) -> Instruction {
    build(
        acc::RevealDigest {
            node_signer,
            node: pda::node(&node_signer),
            job,
            audited: audited_key,
            first_run: audited.audit.runs[0],
            second_run: audited.audit.runs[1],
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::RevealDigest { digest, salt },
    )
}

/// Anyone (`caller`) judges `job`'s audit.
pub fn judge_audit(caller: Pubkey, job_key: Pubkey, job: &Job) -> Instruction {
    build(
        acc::JudgeAudit {
            caller,
            config: pda::config(),
            job: job_key,
            first_run: job.audit.runs[0],
            second_run: job.audit.runs[1],
            owner_stake: pda::stake(&job.node_owner),
            unauditable_spec: pda::unauditable_spec(&job.market, &job.spec_hash),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::JudgeAudit {},
    )
}

/// The node whose hot key is `node_signer` appeals the audit `job` (its
/// audited job or run) lost, locking its owner's bond.
pub fn appeal_audit(node_signer: Pubkey, job_key: Pubkey, job: &Job) -> Instruction {
    build(
        acc::AppealAudit {
            node_signer,
            node: pda::node(&node_signer),
            job: job_key,
            owner_stake: pda::stake(&job.node_owner),
            market: job.market,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::AppealAudit {},
    )
}

/// The job's arbiter upholds (the spec is at fault) or rejects an appeal.
pub fn resolve_appeal(arbiter: Pubkey, job_key: Pubkey, job: &Job, upheld: bool) -> Instruction {
    build(
        acc::ResolveAppeal {
            arbiter,
            job: job_key,
            owner_stake: pda::stake(&job.node_owner),
            unauditable_spec: pda::unauditable_spec(&job.market, &job.spec_hash),
            system_program: system_program::ID,
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::ResolveAppeal { upheld },
    )
}

/// Anyone (`k.payer`) settles an audit run, or an audited job that lost.
pub fn settle_audit(job_key: Pubkey, job: &Job, k: &SettleKeys) -> Instruction {
    build(
        acc::SettleAudit {
            rent_receiver: job.rent_receiver(),
            job: job_key,
            stake_vault: pda::stake_vault(),
            market: job.market,
            settle: settle_accounts(job, k),
            event_authority: event_authority(),
            program: PROGRAM,
        },
        ix::SettleAudit {},
    )
}
