//! Pairing a job with a node. Transactions name every account up front, so
//! the client passes the counterpart it read as best from the market queue;
//! the program recomputes the best and assigns only when the pick is still
//! it. A stale or missing pick never fails the transaction: the job or node
//! joins its queue instead, and anyone pairs the two later with `match_job`
//! (or `match_frame` for a batch), valid only for a mutual best pair.

use anchor_lang::prelude::*;

use ake_program_common::account_creation::{allocate_and_assign, read_existing, write_new};

use crate::constants::{DISPUTE_BOND_ESCROW_BPS, FRAME_SEED};
use crate::errors::MarketError;
use crate::math::{bps_of_ceil, execution_collateral, release_window_secs};
use crate::state::{
    owner_tag, Batch, Config, Job, JobState, Market, MarketMut, Node, NodeStatus, Params, Seeker,
    SlaTerms, Stake, Waiting, PHASE_ASSIGNED,
};

/// What matching needs from the config: the parameters copied into a job
/// at assignment, the arbiter it gets, and whether assignment is paused.
#[derive(Clone, Copy)]
pub struct Rules {
    pub params: Params,
    pub arbiter: Pubkey,
    pub paused: bool,
}

impl Rules {
    pub fn of(config: &Config) -> Self {
        Rules {
            params: config.params,
            arbiter: config.arbiter,
            paused: config.paused,
        }
    }
}

/// Whether to assign now to the passed counterpart (it is still the best)
/// or to queue (none passed, a stale pick, or nobody fits).
pub fn is_best(best: Option<Pubkey>, passed: Option<Pubkey>) -> bool {
    best.is_some() && best == passed
}

/// The execution collateral `job` would lock under the market's current terms.
pub fn collateral_for(market: &Market, job: &Job) -> Result<u64> {
    execution_collateral(
        market.min_stake_per_gpu,
        job.gpus,
        job.escrow,
        market.collateral_escrow_bps,
    )
    .ok_or_else(|| error!(MarketError::MathOverflow))
}

/// The SLA a job assigned `now` runs under: copied into the job, so later
/// parameter changes never reach it.
pub fn terms_for(market: &Market, rules: &Rules, job: &Job, now: i64) -> Result<SlaTerms> {
    let params = &rules.params;
    let window = release_window_secs(
        job.max_duration_secs,
        market.release_window_bps,
        market.release_window_min_secs,
        market.release_window_max_secs,
    );
    Ok(SlaTerms {
        execution_collateral: collateral_for(market, job)?,
        result_collateral_bps: market.result_collateral_bps,
        expiry_slash_bps: params.sla.expiry_slash_bps,
        expiry_bounty_bps: params.sla.expiry_bounty_bps,
        dispute_slash_bps: params.sla.dispute_slash_bps,
        release_window_end: now
            .checked_add(i64::from(window))
            .ok_or(MarketError::MathOverflow)?,
        challenge_window_secs: params.challenge_window_secs,
        dispute_timeout_secs: params.sla.dispute_timeout_secs,
        // Rounded up: the protocol's favour.
        dispute_bond: bps_of_ceil(job.escrow, DISPUTE_BOND_ESCROW_BPS)
            .ok_or(MarketError::MathOverflow)?
            .max(params.sla.dispute_bond),
        burn_bps: params.burn_bps,
        arbiter: rules.arbiter,
    })
}

/// Puts a job in the queue (`at_front`: ahead of its tier, for a job back
/// from a node) and starts its queue clock.
pub fn enqueue(
    market: &mut MarketMut,
    key: Pubkey,
    job: &mut Job,
    at_front: bool,
    now: i64,
) -> Result<()> {
    let entry = Waiting {
        key,
        gpus: job.gpus,
        reputation_bps: job.min_reputation_bps,
        tier: job.tier,
        aux: collateral_for(market, job)?,
        released_marks: job.excluded_marks(),
    };
    job.queue_slot = market.enqueue_job(entry, at_front)?;
    job.queued_at = now;
    Ok(())
}

/// The queue entry of a node waiting for a job.
pub fn waiting_node(key: Pubkey, node: &Node, tier: u8) -> Waiting {
    Waiting {
        key,
        gpus: node.gpus,
        reputation_bps: node.reputation_bps,
        tier,
        aux: owner_tag(&node.owner),
        released_marks: 0,
    }
}

pub enum Assignment {
    Assigned {
        deadline: i64,
        collateral: u64,
        release_window_end: i64,
    },
    /// The owner's free stake could not cover the job: the node went idle.
    Uncovered { collateral: u64, free_stake: u64 },
}

/// Assigns `job` to `node` (already out of the node queue): the node's
/// queue lock is released and the job's execution collateral locked from
/// its owner's free stake. An owner who cannot cover it never makes the
/// transaction fail (it may carry other work): its node goes idle instead.
#[allow(clippy::too_many_arguments)]
pub fn assign(
    market: &mut MarketMut,
    job_key: Pubkey,
    job: &mut Job,
    node_key: Pubkey,
    node: &mut Node,
    owner_stake: &mut Stake,
    rules: &Rules,
    now: i64,
) -> Result<Assignment> {
    require_keys_eq!(owner_stake.owner, node.owner, MarketError::AccountMismatch);
    let terms = terms_for(market, rules, job, now)?;
    owner_stake.unlock(node.locked_stake)?;
    node.locked_stake = 0;
    let collateral = terms.execution_collateral;
    if owner_stake.free() < collateral {
        node.status = NodeStatus::Idle;
        return Ok(Assignment::Uncovered {
            collateral,
            free_stake: owner_stake.free(),
        });
    }
    owner_stake.lock(collateral)?;
    if let Some(audited) = job.audit.audited() {
        owner_stake.took_run_of(&audited);
    }
    let deadline = now
        .checked_add(i64::from(job.max_duration_secs))
        .and_then(|t| t.checked_add(i64::from(rules.params.completion_grace_secs)))
        .ok_or(MarketError::MathOverflow)?;
    job.in_flight_slot = market.track(job_key, job.in_flight_slot, deadline, PHASE_ASSIGNED)?;
    job.state = JobState::Assigned;
    job.assigned_at = now;
    job.deadline = deadline;
    job.attempts = job
        .attempts
        .checked_add(1)
        .ok_or(MarketError::MathOverflow)?;
    job.node = node_key;
    job.node_owner = node.owner;
    job.collateral = collateral;
    job.terms = terms;
    node.open_job()?;
    node.status = NodeStatus::Busy;
    node.current_job = job_key;
    Ok(Assignment::Assigned {
        deadline,
        collateral,
        release_window_end: terms.release_window_end,
    })
}

/// What became of a job offered to the best waiting node.
pub enum Offer {
    Assigned {
        node: Pubkey,
        deadline: i64,
        collateral: u64,
        release_window_end: i64,
    },
    /// The best node's owner could not cover the job: the node went idle
    /// and the job still needs a node.
    NodeIdled {
        node: Pubkey,
        collateral: u64,
        free_stake: u64,
    },
    /// No waiting node can serve the job, or the one named is no longer
    /// its best: the job waits for `match_job`.
    NoNode,
    /// An audit run whose best node's owner holds the audit's other run:
    /// that owner is barred from it and it waits for another node.
    Barred(crate::events::AuditRunBarred),
}

/// Bars the owner of `stake` from audit run `job` when a node of that owner
/// holds the audit's other run (a verdict needs two owners' runs), and
/// marks the run's queue entry so that searches pass the owner's nodes
/// over from now on: the event, or None when the owner may take it.
pub fn bar_other_run_owner(
    market: &mut MarketMut,
    job_key: Pubkey,
    job: &mut Job,
    stake: &Stake,
) -> Option<crate::events::AuditRunBarred> {
    let audited = job.audit.audited()?;
    if !stake.holds_run_of(&audited) {
        return None;
    }
    job.audit.set_other_run_owner(stake.owner);
    market.remark_job(&job_key, job.queue_slot, job.excluded_marks());
    Some(crate::events::AuditRunBarred {
        run: job_key,
        audited,
        owner: stake.owner,
    })
}

/// Offers a job that needs a node to the best waiting one, which the client
/// passes (`candidate`, with its owner's stake). Skips owners that handed
/// the job back before.
pub fn offer_to_waiting_node(
    market: &mut MarketMut,
    job_key: Pubkey,
    job: &mut Job,
    candidate: Option<(Pubkey, &mut Node, &mut Stake)>,
    rules: &Rules,
    now: i64,
) -> Result<Offer> {
    let best = market.best_node_for(job.gpus, job.min_reputation_bps, job.excluded_marks());
    match candidate.filter(|c| is_best(best, Some(c.0))) {
        Some(chosen) => offer_to(market, (job_key, job), chosen, rules, now),
        None => Ok(Offer::NoNode),
    }
}

/// Assigns `job` to the waiting node `chosen` (taken out of the node queue
/// first), or idles the node when its owner cannot cover the job.
pub fn offer_to(
    market: &mut MarketMut,
    (job_key, job): (Pubkey, &mut Job),
    (node_key, node, stake): (Pubkey, &mut Node, &mut Stake),
    rules: &Rules,
    now: i64,
) -> Result<Offer> {
    // The search reads marks (at most three): the whole key decides.
    if job.excludes(&node.owner) {
        return Ok(Offer::NoNode);
    }
    if let Some(barred) = bar_other_run_owner(market, job_key, job, stake) {
        return Ok(Offer::Barred(barred));
    }
    market.remove_node(&node_key, node.queue_slot)?;
    Ok(
        match assign(market, job_key, job, node_key, node, stake, rules, now)? {
            Assignment::Assigned {
                deadline,
                collateral,
                release_window_end,
            } => Offer::Assigned {
                node: node_key,
                deadline,
                collateral,
                release_window_end,
            },
            Assignment::Uncovered {
                collateral,
                free_stake,
            } => Offer::NodeIdled {
                node: node_key,
                collateral,
                free_stake,
            },
        },
    )
}

/// A job back from a node (expiry or release, its in-flight slot already
/// freed): offered to the best waiting node, else put back at the front of
/// its tier.
pub fn requeue(
    market: &mut MarketMut,
    job_key: Pubkey,
    job: &mut Job,
    candidate: Option<(Pubkey, &mut Node, &mut Stake)>,
    rules: &Rules,
    now: i64,
) -> Result<Offer> {
    // While paused nothing is assigned: the job only goes back in line.
    let offer = if rules.paused {
        Offer::NoNode
    } else {
        offer_to_waiting_node(market, job_key, job, candidate, rules, now)?
    };
    if offer.unassigned() {
        enqueue(market, job_key, job, true, now)?;
    }
    Ok(offer)
}

impl Offer {
    pub fn assigned_event(&self, job: Pubkey, attempt: u8) -> Option<crate::events::JobAssigned> {
        match *self {
            Offer::Assigned {
                node,
                deadline,
                collateral,
                release_window_end,
            } => Some(crate::events::JobAssigned {
                job,
                node,
                deadline,
                attempt,
                collateral,
                release_window_end,
            }),
            _ => None,
        }
    }

    pub fn idled_event(&self, job: Pubkey) -> Option<crate::events::NodeIdled> {
        match *self {
            Offer::NodeIdled {
                node,
                collateral,
                free_stake,
            } => Some(crate::events::NodeIdled {
                node,
                job,
                collateral,
                free_stake,
            }),
            _ => None,
        }
    }

    /// Whether the job still waits for a node.
    pub fn unassigned(&self) -> bool {
        !matches!(self, Offer::Assigned { .. })
    }

    pub fn barred_event(&self) -> Option<crate::events::AuditRunBarred> {
        match self {
            Offer::Barred(barred) => Some(*barred),
            _ => None,
        }
    }
}

/// The candidate node of an instruction with the stake its collateral comes
/// from: its owner's stake as passed, or `held` (a stake the instruction
/// already holds mutably) when the candidate belongs to that same owner,
/// since one account cannot be passed twice as mutable.
pub fn candidate_with_stake<'a>(
    node: Option<(Pubkey, &'a mut Node)>,
    stake: Option<&'a mut Stake>,
    held: Option<&'a mut Stake>,
) -> Result<Option<(Pubkey, &'a mut Node, &'a mut Stake)>> {
    let Some((key, node)) = node else {
        return Ok(None);
    };
    let stake = match (stake, held) {
        (Some(stake), _) => stake,
        (None, Some(held)) if held.owner == node.owner => held,
        _ => return err!(MarketError::AccountMismatch),
    };
    require_keys_eq!(stake.owner, node.owner, MarketError::AccountMismatch);
    Ok(Some((key, node, stake)))
}

/// The queue entry of a batch: one entry for all its waiting frames.
pub fn batch_entry(market: &Market, key: Pubkey, batch: &Batch) -> Result<Waiting> {
    Ok(Waiting {
        key,
        gpus: batch.gpus,
        reputation_bps: batch.min_reputation_bps,
        tier: batch.tier,
        aux: execution_collateral(
            market.min_stake_per_gpu,
            batch.gpus,
            batch.escrow_per_frame,
            market.collateral_escrow_bps,
        )
        .ok_or(MarketError::MathOverflow)?,
        released_marks: batch.releases.marks(),
    })
}

/// The accounts a frame hand-out touches besides the batch's data.
pub struct FrameAccounts<'info> {
    pub batch: AccountInfo<'info>,
    /// The next frame's job address, created here.
    pub frame_job: AccountInfo<'info>,
}

/// What a frame hand-out did.
pub struct HandOut {
    pub frame: u32,
    pub job: Pubkey,
    pub assignment: Assignment,
}

/// The address and bump of `batch`'s job for frame `frame`.
pub fn frame_job_address(batch: &Pubkey, frame: u32) -> (Pubkey, u8) {
    Pubkey::find_program_address(
        &[FRAME_SEED, batch.as_ref(), &frame.to_le_bytes()],
        &crate::ID,
    )
}

/// Whether `frame_job` is the address of `batch`'s next frame.
pub fn is_next_frame(batch_key: &Pubkey, batch: &Batch, frame_job: &Pubkey) -> bool {
    batch.in_queue() && frame_job_address(batch_key, batch.next_frame()).0 == *frame_job
}

/// Hands the batch's next frame to `node` (already out of the node queue):
/// its job account is created (rent from the batch's reserve) and assigned.
/// An owner who cannot cover the collateral idles its node and the frame
/// stays with the batch. The batch leaves the queue with its last frame, or
/// parks when its reserve holds no further frame's rent.
pub fn take_frame<'info>(
    market: &mut MarketMut,
    batch: &mut Batch,
    accounts: &FrameAccounts<'info>,
    (node_key, node, stake): (Pubkey, &mut Node, &mut Stake),
    rules: &Rules,
    now: i64,
) -> Result<HandOut> {
    require!(batch.in_queue(), MarketError::BatchHasNoFramesWaiting);
    let batch_key = accounts.batch.key();
    let frame = batch.next_frame();
    let (job_key, bump) = frame_job_address(&batch_key, frame);
    require_keys_eq!(accounts.frame_job.key(), job_key, MarketError::FrameTaken);
    let mut job = batch.frame_job(batch_key, frame, bump, now);
    let assignment = assign(market, job_key, &mut job, node_key, node, stake, rules, now)?;
    if let Assignment::Assigned { .. } = assignment {
        // Holds for a batch in line (it parks before its reserve runs out).
        require!(
            Batch::spare_reserve(&accounts.batch)? >= batch.frame_rent,
            MarketError::BatchReserveInUse
        );
        allocate_and_assign(
            &accounts.frame_job,
            &crate::ID,
            Batch::frame_job_space(),
            &[
                FRAME_SEED,
                batch_key.as_ref(),
                &frame.to_le_bytes(),
                &[bump],
            ],
        )?;
        // The program owns both accounts now: the frame's rent moves from
        // the batch's reserve (the creator's deposit) with no transfer CPI.
        accounts.batch.sub_lamports(batch.frame_rent)?;
        accounts.frame_job.add_lamports(batch.frame_rent)?;
        write_new(&accounts.frame_job, &job)?;
        batch.handed_out += 1;
        batch.queued_at = now;
        if batch.frames_waiting() == 0 {
            market.remove_job(&batch_key, batch.queue_slot)?;
        } else if Batch::spare_reserve(&accounts.batch)? < batch.frame_rent {
            // Its parallelism is reached: it parks, so no search ever
            // finds a batch that cannot create its next frame.
            market.park_job(&batch_key, batch.queue_slot)?;
            batch.parked = true;
        }
    }
    Ok(HandOut {
        frame,
        job: job_key,
        assignment,
    })
}

impl HandOut {
    /// The events of a hand-out: the frame's assignment, or its node idling.
    pub fn assigned_event(&self, node: Pubkey) -> Option<crate::events::JobAssigned> {
        match self.assignment {
            Assignment::Assigned {
                deadline,
                collateral,
                release_window_end,
            } => Some(crate::events::JobAssigned {
                job: self.job,
                node,
                deadline,
                attempt: 1,
                collateral,
                release_window_end,
            }),
            Assignment::Uncovered { .. } => None,
        }
    }

    pub fn idled_event(&self, node: Pubkey) -> Option<crate::events::NodeIdled> {
        match self.assignment {
            Assignment::Uncovered {
                collateral,
                free_stake,
            } => Some(crate::events::NodeIdled {
                node,
                job: self.job,
                collateral,
                free_stake,
            }),
            Assignment::Assigned { .. } => None,
        }
    }
}

/// The queued work a client names for an idle node to take: a job, or a
/// batch with the address of its next frame's job.
pub struct NextWork<'a, 'info> {
    pub job: Option<&'a mut Job>,
    pub job_key: Option<Pubkey>,
    pub batch: Option<(&'a mut Batch, FrameAccounts<'info>)>,
}

impl NextWork<'_, '_> {
    /// The queue entry the client named.
    pub fn named(&self) -> Option<Pubkey> {
        self.job_key
            .or_else(|| self.batch.as_ref().map(|(_, f)| f.batch.key()))
    }

    /// Whether taking it cannot fail on a stale read: a batch's frame
    /// address must still be its next frame.
    pub fn still_current(&self) -> bool {
        match &self.batch {
            Some((batch, f)) => is_next_frame(&f.batch.key(), batch, &f.frame_job.key()),
            None => true,
        }
    }
}

/// What came of a node's try at the work named for it.
pub enum Taken {
    Took(Took),
    /// An audit run its owner holds the other run of (`bar_other_run_owner`).
    Barred(crate::events::AuditRunBarred),
    /// Its owner cannot cover it, or handed it back before.
    Not,
}

/// What an idle node took from the queue.
pub struct Took {
    pub assigned: crate::events::JobAssigned,
    pub frame: Option<crate::events::FrameHandedOut>,
}

/// Gives the named work (already checked to be the node's best) to the
/// node. None when the node cannot take it after all: its owner cannot
/// cover the collateral, or handed the job back before.
pub fn take_next(
    market: &mut MarketMut,
    next: NextWork,
    (node_key, node, stake): (Pubkey, &mut Node, &mut Stake),
    rules: &Rules,
    now: i64,
) -> Result<Taken> {
    if let (Some(job), Some(job_key)) = (next.job, next.job_key) {
        if job.excludes(&node.owner) {
            return Ok(Taken::Not);
        }
        if let Some(barred) = bar_other_run_owner(market, job_key, job, stake) {
            return Ok(Taken::Barred(barred));
        }
        let assignment = assign(market, job_key, job, node_key, node, stake, rules, now)?;
        if let Assignment::Assigned {
            deadline,
            collateral,
            release_window_end,
        } = assignment
        {
            market.remove_job(&job_key, job.queue_slot)?;
            let assigned = crate::events::JobAssigned {
                job: job_key,
                node: node_key,
                deadline,
                attempt: job.attempts,
                collateral,
                release_window_end,
            };
            return Ok(Taken::Took(Took {
                assigned,
                frame: None,
            }));
        }
        return Ok(Taken::Not);
    }
    let Some((batch, accounts)) = next.batch else {
        return err!(MarketError::MatchCandidateMissing);
    };
    // An owner that handed a frame back gets no more of this batch.
    if batch.releases.includes(&node.owner) {
        return Ok(Taken::Not);
    }
    let hand_out = take_frame(
        market,
        batch,
        &accounts,
        (node_key, node, stake),
        rules,
        now,
    )?;
    let took = hand_out.assigned_event(node_key).map(|assigned| Took {
        assigned,
        frame: Some(crate::events::FrameHandedOut {
            batch: accounts.batch.key(),
            frame: hand_out.frame,
            job: hand_out.job,
            node: node_key,
            frames_waiting: batch.frames_waiting(),
            parked: batch.parked,
        }),
    });
    Ok(took.map_or(Taken::Not, Taken::Took))
}

/// Puts an idle node in the node queue, locking the market's stake per
/// GPU for each of its GPUs from its owner's free stake.
pub fn join_node_queue(
    market: &mut MarketMut,
    market_key: Pubkey,
    (node_key, node, stake): (Pubkey, &mut Node, &mut Stake),
    tier: u8,
) -> Result<crate::events::NodeQueued> {
    let queue_lock = queue_lock(market, node)?;
    stake.lock(queue_lock)?;
    node.tier = tier;
    node.queue_slot = market.enqueue_node(waiting_node(node_key, node, tier))?;
    node.status = NodeStatus::Queued;
    node.locked_stake = queue_lock;
    Ok(crate::events::NodeQueued {
        node: node_key,
        market: market_key,
        tier,
        locked_stake: queue_lock,
    })
}

/// What a node waiting in the queue locks: the market's stake per GPU x its GPUs.
pub fn queue_lock(market: &Market, node: &Node) -> Result<u64> {
    market
        .min_stake_per_gpu
        .checked_mul(u64::from(node.gpus))
        .ok_or_else(|| error!(MarketError::MathOverflow))
}

/// The accounts a client named as a node's next work. Unchecked on
/// purpose: a job or batch closed, cancelled or taken since the client read
/// the queue must not fail the transaction, so each is decoded (owner,
/// discriminator, market) and ignored when it is not one.
pub struct NamedWork<'a, 'info> {
    pub job: Option<&'a UncheckedAccount<'info>>,
    pub batch: Option<&'a UncheckedAccount<'info>>,
    pub frame_job: Option<&'a UncheckedAccount<'info>>,
}

/// An account decoded as `T` on `market`; None when it is not one.
fn decoded<T: AccountDeserialize>(
    info: Option<&UncheckedAccount>,
    market: Pubkey,
    market_of: impl Fn(&T) -> Pubkey,
) -> Option<T> {
    read_existing::<T>(info?, &crate::ID)
        .ok()
        .filter(|t| market_of(t) == market)
}

/// What arming a node did.
pub enum Armed {
    Took(Took),
    Queued {
        queued: crate::events::NodeQueued,
        /// The named audit run barred the node's owner (`bar_other_run_owner`).
        barred: Option<crate::events::AuditRunBarred>,
    },
}

/// Arms an idle node: it takes the named work when that is still its best
/// (and current), else joins the node queue, never failing on a stale or
/// missing pick (`match_job` pairs it later). The node's owner must have
/// the queue lock free.
pub fn take_named_or_queue(
    market: &mut MarketMut,
    market_key: Pubkey,
    named: NamedWork,
    (node_key, node, stake): (Pubkey, &mut Node, &mut Stake),
    tier: u8,
    rules: &Rules,
    now: i64,
) -> Result<Armed> {
    node.tier = tier;
    let best = market.best_job_for(&Seeker::node(node, stake.free()));
    let mut job = decoded::<Job>(named.job, market_key, |j| j.market);
    let mut batch = decoded::<Batch>(named.batch, market_key, |b| b.market);
    let next = NextWork {
        job_key: job.as_ref().and(named.job.map(|j| j.key())),
        job: job.as_mut(),
        batch: match (batch.as_mut(), named.batch, named.frame_job) {
            (Some(b), Some(info), Some(frame_job)) => Some((
                b,
                FrameAccounts {
                    batch: info.to_account_info(),
                    frame_job: frame_job.to_account_info(),
                },
            )),
            _ => None,
        },
    };
    let mut barred = None;
    if is_best(best, next.named()) && next.still_current() {
        let taken = take_next(market, next, (node_key, node, stake), rules, now)?;
        // Write back what the hand-out (or the bar) changed.
        if let (Some(job), Some(info)) = (&job, named.job) {
            write_new(&info.to_account_info(), job)?;
        }
        if let (Some(batch), Some(info)) = (&batch, named.batch) {
            write_new(&info.to_account_info(), batch)?;
        }
        match taken {
            Taken::Took(took) => return Ok(Armed::Took(took)),
            Taken::Barred(event) => barred = Some(event),
            Taken::Not => {}
        }
    }
    let queued = join_node_queue(market, market_key, (node_key, node, stake), tier)?;
    Ok(Armed::Queued { queued, barred })
}
