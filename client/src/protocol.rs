//! Reading AKE's state and building the instructions that depend on it
//! (next nonce, best queue counterpart, current epoch), for the CLI, the
//! node daemon, the crank and the demo alike. Every list is reached by
//! address; nothing scans the programs.

use std::sync::Arc;

use ake_emissions::state::{
    EmissionsConfig, EpochSummary, MarketEpoch, NodeWork, PendingEmissionsChange,
};
use ake_market::constants::LOOKUP_TABLE_PROGRAM;
use ake_market::due::DuePick;
use ake_market::events::{BatchClosed, DisputeResolved, ResultSubmitted};
use ake_market::instructions::{PostBatchArgs, PostJobArgs};
use ake_market::price_update::PriceUpdateV2;
use ake_market::state::{
    Batch, Config, Creator, DuePage, Job, JobSpec, JobState, MarketLedger, MarketView, Node,
    NodeStatus, PendingChange, ReleaseReason, Seeker, Stake, DUE_TOLERANCE_SECS, PHASE_ASSIGNED,
};
use anchor_lang::AccountDeserialize;
use anchor_spl::associated_token::get_associated_token_address;
use anchor_spl::token::spl_token;
use solana_sdk::instruction::Instruction;
use solana_sdk::program_pack::Pack;
use solana_sdk::pubkey::Pubkey;

use crate::accounts::{decode, decode_due_page, decode_event, decode_market};
use crate::chain::{Chain, ChainError};
use crate::instructions as ixs;
use crate::sender::with_retry;
use crate::{oracle, pda};

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("AKE is not bootstrapped on this cluster (no config at {0}); run `ake admin bootstrap migrations/<cluster>.toml`")]
    NotBootstrapped(Pubkey),
    #[error("{what} {key} does not exist")]
    Missing { what: &'static str, key: Pubkey },
    #[error("account {key} is not a valid {what}: {reason}")]
    Malformed {
        what: &'static str,
        key: Pubkey,
        reason: String,
    },
    #[error("market {0} does not exist; `ake market list` shows the markets")]
    NoSuchMarket(u16),
    #[error("what was looked for is not among the newest {read} transactions of {key}'s history that this endpoint returns (it may be long, flooded, or pruned)")]
    HistoryTooLong { key: Pubkey, read: usize },
}

/// Transactions of a job's history [`Protocol::submitted_result`] reads
/// (one `getTransaction` each) before giving up.
pub const MAX_HISTORY_READS: usize = 100;

/// A settled job's result, from its history.
pub struct SettledResult {
    pub result: ResultSubmitted,
    /// The creator won a dispute over it (the arbiter ruled the result bad,
    /// or the dispute timed out): the outputs are not the job's work.
    pub disputed_away: bool,
}

/// Jobs and epochs the crank can move forward now.
/// What a draw of an auditable job will see, read by the caller.
pub struct DrawView<'a> {
    pub job: (Pubkey, &'a Job),
    pub market: &'a MarketView,
    /// The config's `paused`: nothing is assigned then.
    pub paused: bool,
    /// The config's `audit.auditor_min_reputation_bps`.
    pub auditor_floor_bps: u16,
    /// The SlotHashes sysvar's raw data.
    pub slot_hashes: &'a [u8],
    pub slot: u64,
}

impl DrawView<'_> {
    /// The waiting nodes (with their owners, from `owners`) that
    /// `draw_audit` will pick for the job's runs if it is drawn now, as the
    /// program computes them: none when it is not drawn.
    pub fn auditors(
        &self,
        owners: &std::collections::HashMap<Pubkey, Pubkey>,
    ) -> Vec<(Pubkey, Pubkey)> {
        use ake_market::audit::{self, DrawWindow};
        let (key, job) = self.job;
        let s0 = job.audit.draw_slot;
        let window = audit::draw_window(s0, self.slot);
        let commitment = job
            .result
            .as_ref()
            .map(|r| r.commitment)
            .unwrap_or_default();
        let drawn = match window {
            DrawWindow::TooEarly => false,
            DrawWindow::Open => audit::draw_seed(&key, &commitment, self.slot_hashes, s0)
                .is_some_and(|seed| audit::drawn(&seed, job.audit.rate_bps)),
            DrawWindow::Closed => true,
        };
        let seed = audit::auditor_seed(&key, &commitment, self.slot_hashes, s0, window);
        let (true, Some(seed), false) = (drawn, seed, self.paused) else {
            return Vec::new();
        };
        audit::drawn_auditors(self.market, (job, self.auditor_floor_bps), &seed, |k| {
            owners.get(k).copied()
        })
        .into_iter()
        .filter_map(|k| owners.get(&k).map(|owner| (k, *owner)))
        .collect()
    }
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CrankWork {
    pub epochs_to_close: Vec<u64>,
    pub jobs_to_finalize: Vec<String>,
    /// Auditable jobs past their challenge window whose draw nobody made
    /// (their node draws them at once; this catches the rest).
    pub audits_to_draw: Vec<String>,
    /// Audited jobs whose round is complete (every run revealed, or its
    /// reveal deadline passed).
    pub audits_to_judge: Vec<String>,
    /// Audit runs, and audited jobs that lost, whose verdict is in.
    pub audits_to_settle: Vec<String>,
    pub jobs_to_expire: Vec<String>,
    pub disputes_to_expire: Vec<String>,
    /// Jobs queued longer than their market's `max_queue_secs`.
    pub stale_jobs_to_refund: Vec<String>,
    /// Batches that handed out no frame for longer than `max_queue_secs`.
    pub stale_batches_to_cancel: Vec<String>,
    /// Batches with frames waiting while a node that can take them waits.
    pub batches_to_match: Vec<String>,
    /// Parked batches (every frame's rent out) that a closed frame gave
    /// rent back to: `requeue_batch` puts them back in line.
    pub batches_to_requeue: Vec<String>,
    /// Markets whose settlements left tokens to burn or fees to pay
    /// (`sweep_market`; the pass also sweeps what its own settlements left).
    pub markets_to_sweep: Vec<String>,
    /// Batches with frames among the settlements above: once those land,
    /// the batch may be requeued (its rent came back) or closed (every
    /// frame settled: its rent back to the creator).
    pub batches_settling: Vec<String>,
    /// Waiting nodes of markets where jobs wait too (first
    /// [`NODES_TO_MATCH_PER_MARKET`] in line): each may be its best job's
    /// best node, left waiting by a stale pick (`match_for_node`).
    pub nodes_to_match: Vec<String>,
    /// Creators whose associated token account is gone while a settlement
    /// due now pays into it: the crank creates it first (as for stale
    /// refunds), so nobody can keep a job from settling by closing it.
    pub creator_accounts_to_create: Vec<String>,
    /// Due pages every job left, to close (rent back to their payers), each
    /// bucket's last shard first.
    pub due_pages_to_close: Vec<String>,
    /// The lookup tables the markets name, for settling in v0 transactions
    /// (read with the markets, so the crank reads no market twice).
    pub lookup_tables: Vec<String>,
}

pub struct Protocol {
    pub chain: Arc<dyn Chain>,
}

/// A market's token books (`Protocol::market_books`).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct MarketBooks {
    /// What the escrow vault owes open jobs: escrow, posting fees, bonds.
    pub open_escrow: u64,
    /// Every token this market burned or settled to burn (pending included).
    pub burned: u64,
    /// Settled burns still in the escrow vault until the crank's sweep.
    pub pending_burn: u64,
    /// Settled treasury fees still in the escrow vault until the sweep.
    pub pending_treasury: u64,
    pub jobs_settled: u64,
    pub work_micro_usd: u64,
}

/// Shards of a due bucket read per request while looking for room.
const DUE_SHARDS_PER_READ: u16 = 8;
/// Seconds a submit signed now may take to land (the daemon rebroadcasts).
const SUBMIT_LANDING_SECS: i64 = 30;
/// How far back the crank reads due pages: a page is closed soon after its
/// bucket ends, so only a crank stopped for longer misses one (its jobs can
/// still be finalized by anyone who names them: the node or the creator).
/// Audited jobs stay longer in the page their submit filed them in: see
/// [`due_lookback_secs`].
pub const DUE_LOOKBACK_SECS: i64 = 86_400;

/// How far back the crank reads `market`'s due pages: a day, plus, while
/// audits are on, the longest an audited job stays open in the page its
/// submit filed it in: its runs waiting and running (again after each
/// expiry, up to the market's attempts), the time to reveal, the time to
/// appeal, the arbiter's time and a fresh challenge window after an upheld
/// appeal. A crank that read one day only lost sight of every audit that
/// outlived it, and of the stake it holds. Runs handed back and queued
/// again can outlast it still: their audit's nodes act on it themselves.
pub fn due_lookback_secs(
    params: &ake_market::state::Params,
    (max_queue_secs, max_duration_secs): (u32, u32),
) -> i64 {
    if !params.audit.enabled {
        return DUE_LOOKBACK_SECS;
    }
    let secs = |s: u32| i64::from(s);
    // A run waits at most the time to reveal (`Job::stale_after_secs`).
    let queued = max_queue_secs.min(params.audit.reveal_secs);
    let attempt = secs(queued) + secs(max_duration_secs) + secs(params.completion_grace_secs);
    let runs = attempt * i64::from(params.max_job_attempts.max(1));
    let window = secs(
        params
            .challenge_window_secs
            .max(ake_market::constants::MIN_APPEAL_WINDOW_SECS),
    );
    let arbiter = secs(params.sla.dispute_timeout_secs) + secs(max_duration_secs);
    DUE_LOOKBACK_SECS + runs + secs(params.audit.reveal_secs) + window + arbiter + window
}

/// Waiting nodes per market the crank tries to pair each pass.
pub const NODES_TO_MATCH_PER_MARKET: usize = 16;

/// Frame accounts one close_batch names (each 32 bytes of a 1,232-byte transaction).
pub const CLOSE_BATCH_FRAMES_PER_TX: usize = 24;

/// One frame of a batch.
#[derive(Debug, Clone)]
pub struct FrameStatus {
    pub frame: u32,
    /// Its job account's address (exists from hand-out to settlement).
    pub job: Pubkey,
    pub state: FrameState,
}

#[derive(Debug, Clone)]
pub enum FrameState {
    /// Not handed out yet.
    Waiting,
    /// Refunded before it was handed out.
    Cancelled,
    /// Handed out and not settled: its job.
    Open(Box<Job>),
    /// Handed out and settled (its job account closed).
    Settled,
}

pub fn associated_token(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    get_associated_token_address(owner, mint)
}

/// Creates `owner`'s associated AKE account if it does not exist (idempotent).
pub fn create_associated_token(payer: &Pubkey, owner: &Pubkey, mint: &Pubkey) -> Instruction {
    anchor_spl::associated_token::spl_associated_token_account::instruction::create_associated_token_account_idempotent(
        payer,
        owner,
        mint,
        &spl_token::ID,
    )
}

impl Protocol {
    pub fn new(chain: Arc<dyn Chain>) -> Self {
        Protocol { chain }
    }

    async fn load<T: AccountDeserialize>(
        &self,
        key: &Pubkey,
        owner: &Pubkey,
        what: &'static str,
    ) -> Result<Option<T>, ProtocolError> {
        let Some(acc) = self.chain.account(key).await? else {
            return Ok(None);
        };
        // An address someone only sent lamports to is not created yet.
        if acc.owner != *owner {
            return Ok(None);
        }
        decode(&acc.data)
            .map(Some)
            .map_err(|e| ProtocolError::Malformed {
                what,
                key: *key,
                reason: e.to_string(),
            })
    }

    pub async fn config(&self) -> Result<Config, ProtocolError> {
        let key = pda::config();
        self.load(&key, &ake_market::ID, "market config")
            .await?
            .ok_or(ProtocolError::NotBootstrapped(key))
    }

    pub async fn emissions(&self) -> Result<EmissionsConfig, ProtocolError> {
        let key = pda::emissions_config();
        self.load(&key, &ake_emissions::ID, "emissions config")
            .await?
            .ok_or(ProtocolError::NotBootstrapped(key))
    }

    pub async fn market(&self, index: u16) -> Result<MarketView, ProtocolError> {
        let key = pda::market(index);
        let acc = self
            .chain
            .account(&key)
            .await?
            .ok_or(ProtocolError::NoSuchMarket(index))?;
        decode_market(&acc.data).map_err(|e| ProtocolError::Malformed {
            what: "market",
            key,
            reason: e.to_string(),
        })
    }

    pub async fn market_at(&self, key: &Pubkey) -> Result<MarketView, ProtocolError> {
        let acc = self
            .chain
            .account(key)
            .await?
            .ok_or(ProtocolError::Missing {
                what: "market",
                key: *key,
            })?;
        decode_market(&acc.data).map_err(|e| ProtocolError::Malformed {
            what: "market",
            key: *key,
            reason: e.to_string(),
        })
    }

    pub async fn job(&self, key: &Pubkey) -> Result<Option<Job>, ProtocolError> {
        self.load(key, &ake_market::ID, "job").await
    }

    /// The result submitted for `job`, from the ResultSubmitted event in
    /// its transaction history: what remains of a settled job (its account
    /// closes). Needs an endpoint that keeps history. Reads at most
    /// [`MAX_HISTORY_READS`] of its newest successful transactions.
    pub async fn submitted_result(
        &self,
        job: &Pubkey,
    ) -> Result<Option<SettledResult>, ProtocolError> {
        let mut disputed_away = false;
        self.search_history(job, |inner| {
            // Newest first: a ruling comes after the result it judged.
            for data in inner.iter().rev() {
                if let Some(ruling) = decode_event::<DisputeResolved>(data) {
                    disputed_away |= ruling.job == *job && ruling.creator_won;
                }
                if let Some(result) = decode_event::<ResultSubmitted>(data) {
                    if result.job == *job {
                        return Some(SettledResult {
                            result,
                            disputed_away,
                        });
                    }
                }
            }
            None
        })
        .await
    }

    /// Walks the market program's inner instructions (its events) in the
    /// successful transactions of `key`'s history, newest first, one
    /// transaction at a time, until `found` returns Some. Reads at most
    /// [`MAX_HISTORY_READS`] transactions; a passing outage is retried.
    pub(crate) async fn search_history<T: Send>(
        &self,
        key: &Pubkey,
        mut found: impl FnMut(&[Vec<u8>]) -> Option<T> + Send,
    ) -> Result<Option<T>, ProtocolError> {
        let history = with_retry(|| self.chain.signatures_for(key)).await?;
        for signature in history.signatures.iter().take(MAX_HISTORY_READS) {
            let inner =
                with_retry(|| self.chain.inner_instructions(signature, &ake_market::ID)).await?;
            if let Some(hit) = inner.as_deref().and_then(&mut found) {
                return Ok(Some(hit));
            }
        }
        if history.signatures.len() > MAX_HISTORY_READS || !history.complete {
            return Err(ProtocolError::HistoryTooLong {
                key: *key,
                read: MAX_HISTORY_READS.min(history.signatures.len()),
            });
        }
        Ok(None)
    }

    pub async fn node(&self, key: &Pubkey) -> Result<Option<Node>, ProtocolError> {
        self.load(key, &ake_market::ID, "node").await
    }

    pub async fn batch(&self, key: &Pubkey) -> Result<Option<Batch>, ProtocolError> {
        self.load(key, &ake_market::ID, "batch").await
    }

    /// Whether `key` holds a batch (and not a job or anything else).
    pub async fn is_batch(&self, key: &Pubkey) -> Result<bool, ProtocolError> {
        use anchor_lang::Discriminator;
        Ok(self
            .chain
            .account(key)
            .await?
            .is_some_and(|a| a.owner == ake_market::ID && a.data.starts_with(Batch::DISCRIMINATOR)))
    }

    /// The queue entry `key` as work a node can name: a job, or a batch
    /// with its next frame's job address.
    pub async fn next_work(&self, key: Pubkey) -> Result<ixs::NextWork, ProtocolError> {
        if !self.is_batch(&key).await? {
            return Ok(ixs::NextWork::Job(key));
        }
        let batch = self.existing_batch(&key).await?;
        Ok(ixs::NextWork::Frame {
            batch: key,
            frame_job: pda::frame_job(&key, batch.next_frame()),
        })
    }

    /// The best queued work for the node `key` (as `node_ready` would pick it).
    pub async fn next_work_for(&self, node: &Node) -> Result<Option<ixs::NextWork>, ProtocolError> {
        let market = self.market_at(&node.market).await?;
        let free = self.stake(&node.owner).await?.map_or(0, |s| s.free());
        match market.best_job_for(&Seeker::node(node, free)) {
            Some(key) => Ok(Some(self.next_work(key).await?)),
            None => Ok(None),
        }
    }

    /// post_batch for `creator` on market `index`: next nonce, the
    /// creator's stake and token account filled in.
    pub async fn post_batch(
        &self,
        creator: &Pubkey,
        index: u16,
        mut args: PostBatchArgs,
    ) -> Result<(Pubkey, Instruction), ProtocolError> {
        let config = self.config().await?;
        args.nonce = self.next_nonce(creator).await?;
        let (price_update, _) = self.price(&config).await?;
        let staked = self.stake(creator).await?.is_some();
        let batch = pda::batch(creator, args.nonce);
        let ix = ixs::post_batch(
            ixs::PostBatchAccounts {
                creator: *creator,
                market: pda::market(index),
                mint: config.mint,
                creator_token: associated_token(creator, &config.mint),
                price_update,
                creator_staked: staked,
            },
            args,
        );
        Ok((batch, ix))
    }

    /// match_frame instructions pairing `batch`'s next frames with the
    /// nodes waiting for them now, best first (at most `limit`).
    pub async fn match_waiting_nodes(
        &self,
        payer: Pubkey,
        batch_key: &Pubkey,
        limit: usize,
    ) -> Result<Vec<Instruction>, ProtocolError> {
        let account = self.chain.accounts(&[*batch_key]).await?.pop().flatten();
        let Some((batch, reserved)) = self.batch_reserve(account).await? else {
            return Ok(Vec::new());
        };
        let mut market = self.market_at(&batch.market).await?;
        let mut out = Vec::new();
        if !batch.in_queue() {
            return Ok(out);
        }
        // The batch parks once its reserve is out: a match past that
        // would fail (and with it every match packed beside it).
        let count = (limit as u64)
            .min(u64::from(batch.frames_waiting()))
            .min(reserved) as u32;
        let mut owners = Vec::new();
        for i in 0..count {
            let frame = batch.next_frame() + i;
            // The program's checks: the best waiting node not excluded by
            // the batch, whose best work is this batch and whose owner can
            // cover it (its queue lock comes back when it takes the frame).
            let Some(node) =
                market.best_node_for(batch.gpus, batch.min_reputation_bps, batch.releases.marks())
            else {
                break;
            };
            let Some(n) = self.node(&node).await? else {
                break;
            };
            // The stake read below predates this transaction: a second node
            // of one owner would be checked against stake the first frame
            // locks, and fail the whole transaction. It waits for the next pass.
            if owners.contains(&n.owner) {
                break;
            }
            owners.push(n.owner);
            let free = self
                .stake(&n.owner)
                .await?
                .map_or(0, |s| s.free().saturating_add(n.locked_stake));
            if market.best_job_for(&Seeker::node(&n, free)) != Some(*batch_key) {
                break;
            }
            market
                .remove_node(&node, n.queue_slot)
                .map_err(|e| ProtocolError::Malformed {
                    what: "market",
                    key: batch.market,
                    reason: e.to_string(),
                })?;
            let Some(candidate) = self.candidate(Some(node)).await? else {
                break;
            };
            out.push(ixs::match_frame(
                payer,
                batch.market,
                *batch_key,
                frame,
                candidate,
            ));
        }
        Ok(out)
    }

    /// The instruction that hands waiting node `node_key` its best queued
    /// work when that work's best node is this one (`match_job`, or
    /// `match_frame` for a batch): what a post or an arm that named a stale
    /// counterpart left waiting. None when the node is not waiting or the
    /// pair is not mutual (the program would refuse it).
    pub async fn match_for_node(
        &self,
        payer: Pubkey,
        node_key: &Pubkey,
    ) -> Result<Option<Instruction>, ProtocolError> {
        let Some(node) = self.node(node_key).await? else {
            return Ok(None);
        };
        if node.status != NodeStatus::Queued || self.config().await?.paused {
            return Ok(None);
        }
        let market = self.market_at(&node.market).await?;
        // Its queue lock comes back when it takes the work.
        let free = self
            .stake(&node.owner)
            .await?
            .map_or(0, |s| s.free().saturating_add(node.locked_stake));
        let Some(work) = market.best_job_for(&Seeker::node(&node, free)) else {
            return Ok(None);
        };
        let candidate = ixs::Candidate {
            node: *node_key,
            owner: node.owner,
        };
        let best_node = |gpus, reputation, excluded: u64| {
            market.best_node_for(gpus, reputation, excluded) == Some(*node_key)
        };
        let ix = if self.is_batch(&work).await? {
            let batch = self.existing_batch(&work).await?;
            best_node(batch.gpus, batch.min_reputation_bps, batch.releases.marks())
                .then(|| ixs::match_frame(payer, node.market, work, batch.next_frame(), candidate))
        } else {
            let job = self.existing_job(&work).await?;
            best_node(job.gpus, job.min_reputation_bps, job.excluded_marks())
                .then(|| ixs::match_job(payer, node.market, work, candidate))
        };
        Ok(ix)
    }

    /// The due page to name for a job of `market` falling due at `due_ts`:
    /// its bucket's first shard with room, or, when that is a shard not
    /// created yet, the full one before it (the program opens a new shard
    /// only as the spill of a full one, so a bucket's shards stay a prefix).
    pub async fn due_pick(&self, market: &Pubkey, due_ts: i64) -> Result<DuePick, ProtocolError> {
        let bucket = DuePage::bucket_of(due_ts).ok_or(ProtocolError::Malformed {
            what: "due time",
            key: *market,
            reason: format!("{due_ts} is out of range"),
        })?;
        let mut first = 0u16;
        loop {
            let shards: Vec<u16> = (first..first.saturating_add(DUE_SHARDS_PER_READ)).collect();
            let keys: Vec<Pubkey> = shards
                .iter()
                .map(|s| pda::due_page(market, bucket, *s))
                .collect();
            for (shard, account) in shards.iter().zip(self.chain.accounts(&keys).await?) {
                let page = account.and_then(|a| decode_due_page(&a.data).ok());
                let shard = match page {
                    Some(p) if p.is_full() => continue,
                    Some(_) => *shard,
                    None => shard.saturating_sub(1),
                };
                return Ok(DuePick { bucket, shard });
            }
            first = first.saturating_add(DUE_SHARDS_PER_READ);
        }
    }

    /// The pick for a submit of `job` signed now: its challenge window ends
    /// when the submit lands, a little after now (the program accepts a
    /// bucket within 900 s of the true due time).
    pub async fn submit_due_pick(&self, job: &Job) -> Result<DuePick, ProtocolError> {
        let now = self.chain.clock().await?.unix_timestamp;
        // An auditable job is due at once (its draw), as `submit_result` indexes it.
        let audited = job.verify == ake_market::state::Verify::Exact && !job.audit.is_run();
        let window = if audited {
            0
        } else {
            i64::from(job.terms.challenge_window_secs)
        };
        self.due_pick(&job.market, now + window + SUBMIT_LANDING_SECS)
            .await
    }

    /// The due pages of `market` whose bucket ended within
    /// `lookback` seconds (or ends soon), every shard of each, oldest
    /// bucket first and, inside a bucket, the last shard first (the order
    /// they close in).
    pub async fn due_pages(
        &self,
        market: &Pubkey,
        (now, lookback): (i64, i64),
    ) -> Result<Vec<DuePage>, ProtocolError> {
        let first = DuePage::bucket_of(now - lookback).unwrap_or(0);
        let last = DuePage::bucket_of(now + DUE_TOLERANCE_SECS).unwrap_or(first);
        let mut pages = Vec::new();
        let mut wanted: Vec<(u32, u16)> = (first..=last).map(|b| (b, 0)).collect();
        while !wanted.is_empty() {
            let keys: Vec<Pubkey> = wanted
                .iter()
                .map(|(b, s)| pda::due_page(market, *b, *s))
                .collect();
            let mut next = Vec::new();
            for account in self.chain.accounts(&keys).await?.into_iter().flatten() {
                let Ok(page) = decode_due_page(&account.data) else {
                    continue;
                };
                if page.is_full() {
                    next.push((page.bucket, page.shard + 1));
                }
                pages.push(page);
            }
            wanted = next;
        }
        pages.sort_by_key(|p| (p.bucket, std::cmp::Reverse(p.shard)));
        Ok(pages)
    }

    /// What the crank owes `market`'s due pages at `now`: jobs whose window
    /// (or dispute) ended, the creators' token accounts their settlement
    /// pays into when missing, and pages every job left (a bucket's last
    /// shard first, none below one that cannot close yet).
    async fn due_work(
        &self,
        market: &Pubkey,
        ((now, slot), lookback, mint): ((i64, u64), i64, &Pubkey),
        out: &mut CrankWork,
    ) -> Result<(), ProtocolError> {
        let pages = self.due_pages(market, (now, lookback)).await?;
        let mut entries: Vec<(Pubkey, Pubkey)> = Vec::new();
        let mut blocked = None;
        for page in &pages {
            let key = pda::due_page(market, page.bucket, page.shard);
            let closable = page.open == 0 && DuePage::is_final(page.bucket, now);
            if closable && blocked != Some(page.bucket) {
                out.due_pages_to_close.push(key.to_string());
                continue;
            }
            blocked = Some(page.bucket);
            if DuePage::bucket_end(page.bucket) - DUE_TOLERANCE_SECS < now {
                // Some of its jobs may be due already.
                entries.extend(page.entries().iter().map(|job| (*job, key)));
            }
        }
        entries.sort();
        entries.dedup();
        let keys: Vec<Pubkey> = entries.iter().map(|(job, _)| *job).collect();
        let mut creators = Vec::new();
        for ((key, page), account) in entries.iter().zip(self.chain.accounts(&keys).await?) {
            let Some(job) = account.and_then(|a| decode::<Job>(&a.data).ok()) else {
                continue; // settled: its account closed
            };
            // A disputed job is also listed in the page it left.
            if job.due_page != *page {
                continue;
            }
            let t = &job.terms;
            let list = match job.state {
                JobState::Submitted => match self.audit_work(&job, (now, slot), out).await? {
                    Some(list) => list,
                    None => continue,
                },
                JobState::Disputed if job.disputed_at + i64::from(t.dispute_timeout_secs) < now => {
                    &mut out.disputes_to_expire
                }
                _ => continue,
            };
            list.push(key.to_string());
            creators.push(job.creator);
            if let JobSpec::Frame(frame) = &job.spec {
                let batch = frame.batch.to_string();
                if !out.batches_settling.contains(&batch) {
                    out.batches_settling.push(batch);
                }
            }
        }
        creators.sort();
        creators.dedup();
        let accounts: Vec<Pubkey> = creators.iter().map(|c| associated_token(c, mint)).collect();
        for (creator, account) in creators.iter().zip(self.chain.accounts(&accounts).await?) {
            if account.is_none() {
                out.creator_accounts_to_create.push(creator.to_string());
            }
        }
        Ok(())
    }

    /// Where a submitted job past its challenge window goes: settled as
    /// usual, or the next step of its audit (None: nothing to do yet).
    async fn audit_work<'a>(
        &self,
        job: &Job,
        (now, slot): (i64, u64),
        out: &'a mut CrankWork,
    ) -> Result<Option<&'a mut Vec<String>>, ProtocolError> {
        use ake_market::state::AuditPhase::*;
        let window_over = job.challenge_window_end().is_some_and(|end| end < now);
        Ok(match job.audit.phase {
            Unaudited | Cleared | Passed | Inconclusive if window_over => {
                Some(&mut out.jobs_to_finalize)
            }
            Unaudited | Cleared | Passed | Inconclusive => None,
            // Once its draw's slots are past (counted in slots, as the
            // program does: a slow chain's slots lag the clock).
            Undrawn if slot >= job.audit.draw_slot + ake_market::audit::DRAW_SPAN_SLOTS => {
                Some(&mut out.audits_to_draw)
            }
            Undrawn => None,
            Auditing if self.audit_round_complete(job, now).await? => {
                Some(&mut out.audits_to_judge)
            }
            RunPaid => Some(&mut out.audits_to_settle),
            // A loss its node may still appeal waits out the window.
            Failed | RunFailed if job.appeal_time_over(now) => Some(&mut out.audits_to_settle),
            Appealed | RunAppealed if job.appeal_decide_by().is_some_and(|t| t < now) => {
                Some(&mut out.audits_to_settle)
            }
            Auditing | Run | Failed | RunFailed | Appealed | RunAppealed => None,
        })
    }

    /// Whether `judge_audit` acts on `job` now: every run committed (or
    /// closed: nobody came), and every party revealed, or the time to reveal
    /// has not started yet (the call starts it) or is up.
    pub async fn audit_round_complete(&self, job: &Job, now: i64) -> Result<bool, ProtocolError> {
        let mut revealed = job.audit.revealed;
        let runs = self.chain.accounts(&job.audit.runs).await?;
        for run in runs.into_iter().flatten() {
            // A closed run's address may hold lamports someone sent: the
            // program counts it closed too.
            if run.owner != ake_market::ID || run.data.is_empty() {
                continue;
            }
            let Ok(run) = decode::<Job>(&run.data) else {
                continue;
            };
            if run.state != JobState::Submitted {
                return Ok(false);
            }
            revealed &= run.audit.revealed;
        }
        let deadline = job.audit.reveal_deadline;
        Ok(revealed || deadline == 0 || now > deadline)
    }

    /// draw_audit for `job_key`, `caller` paying the runs' rent if it is
    /// drawn, naming the waiting nodes the draw picks for the runs (as the
    /// program computes them from the queue and the slot hashes now: a
    /// queue that changes before it lands makes it fail, and a new read
    /// names the new picks).
    pub async fn draw_audit(
        &self,
        job_key: &Pubkey,
        caller: Pubkey,
    ) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        let slot_hashes = self
            .chain
            .account(&ake_market::audit::SLOT_HASHES_ID)
            .await?
            .map(|a| a.data)
            .unwrap_or_default();
        let market = self.market_at(&job.market).await?;
        let waiting: Vec<Pubkey> = market.queued_nodes().iter().map(|s| s.key).collect();
        let mut owners = std::collections::HashMap::new();
        for (key, account) in waiting.iter().zip(self.chain.accounts(&waiting).await?) {
            if let Some(node) = account.and_then(|a| decode::<Node>(&a.data).ok()) {
                owners.insert(*key, node.owner);
            }
        }
        let config = self.config().await?;
        let draw = DrawView {
            job: (*job_key, &job),
            market: &market,
            paused: config.paused,
            auditor_floor_bps: config.params.audit.auditor_min_reputation_bps,
            slot_hashes: &slot_hashes,
            slot: self.chain.slot().await?,
        };
        let named = draw.auditors(&owners);
        Ok(ixs::draw_audit(caller, *job_key, &job, &named))
    }

    /// judge_audit for `job_key`, `caller` paying a tie-breaker's rent.
    pub async fn judge_audit(
        &self,
        job_key: &Pubkey,
        caller: Pubkey,
    ) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        Ok(ixs::judge_audit(caller, *job_key, &job))
    }

    /// settle_audit for an audit run, or an audited job that lost.
    pub async fn settle_audit(
        &self,
        job_key: &Pubkey,
        caller: Pubkey,
    ) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        let keys = self.settle_keys(&job, caller).await?;
        Ok(ixs::settle_audit(*job_key, &job, &keys))
    }

    /// resolve_appeal for the appeal of `job_key`, by its arbiter.
    pub async fn resolve_appeal(
        &self,
        job_key: &Pubkey,
        arbiter: Pubkey,
        upheld: bool,
    ) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        Ok(ixs::resolve_appeal(arbiter, *job_key, &job, upheld))
    }

    /// close_due_page for the page at `key`.
    pub async fn close_due_page(
        &self,
        key: &Pubkey,
        caller: Pubkey,
    ) -> Result<Instruction, ProtocolError> {
        let account = self
            .chain
            .account(key)
            .await?
            .ok_or(ProtocolError::Missing {
                what: "due page",
                key: *key,
            })?;
        let page = decode_due_page(&account.data).map_err(|e| ProtocolError::Malformed {
            what: "due page",
            key: *key,
            reason: e.to_string(),
        })?;
        Ok(ixs::close_due_page(caller, &page))
    }

    /// The ake-market change pending for `target` (the config or a market).
    pub async fn pending_market_change(
        &self,
        target: &Pubkey,
    ) -> Result<Option<PendingChange>, ProtocolError> {
        self.load(
            &pda::market_pending_change(target),
            &ake_market::ID,
            "pending change",
        )
        .await
    }

    /// The ake-emissions change pending, if any.
    pub async fn pending_emissions_change(
        &self,
    ) -> Result<Option<PendingEmissionsChange>, ProtocolError> {
        self.load(
            &pda::emissions_pending_change(),
            &ake_emissions::ID,
            "pending change",
        )
        .await
    }

    /// The treasury spend waiting out the timelock, if any.
    pub async fn pending_treasury_spend(
        &self,
    ) -> Result<Option<ake_emissions::state::PendingSpend>, ProtocolError> {
        self.load(
            &pda::treasury_pending_spend(),
            &ake_emissions::ID,
            "pending treasury spend",
        )
        .await
    }

    /// sweep_market for `market` when its settlements left anything to burn
    /// or pay; None otherwise.
    pub async fn sweep(
        &self,
        market: &Pubkey,
        caller: Pubkey,
    ) -> Result<Option<Instruction>, ProtocolError> {
        let ledger = self.ledger(market).await?;
        if ledger.pending_burn == 0 && ledger.pending_treasury == 0 {
            return Ok(None);
        }
        let config = self.config().await?;
        Ok(Some(ixs::sweep_market(
            caller,
            *market,
            config.mint,
            config.treasury,
        )))
    }

    /// Market `index`'s token books, from its header (posts, refunds,
    /// slashes) and its ledger (settlements).
    pub async fn market_books(&self, index: u16) -> Result<MarketBooks, ProtocolError> {
        let market = self.market(index).await?;
        let ledger = self.ledger(&pda::market(index)).await?;
        Ok(MarketBooks {
            open_escrow: (market.open_escrow + ledger.escrow_in).saturating_sub(ledger.escrow_out),
            burned: market.tokens_burned + ledger.tokens_burned + ledger.pending_burn,
            pending_burn: ledger.pending_burn,
            pending_treasury: ledger.pending_treasury,
            jobs_settled: ledger.jobs_settled,
            work_micro_usd: ledger.work_micro_usd,
        })
    }

    /// A market's settlement books (`["ledger", market]`).
    pub async fn ledger(&self, market: &Pubkey) -> Result<MarketLedger, ProtocolError> {
        let key = pda::ledger(market);
        self.load(&key, &ake_market::ID, "market ledger")
            .await?
            .ok_or(ProtocolError::Missing {
                what: "market ledger",
                key,
            })
    }

    pub async fn stake(&self, owner: &Pubkey) -> Result<Option<Stake>, ProtocolError> {
        self.load(&pda::stake(owner), &ake_market::ID, "stake")
            .await
    }

    /// The posting fee `creator` pays now on a market whose fee is `base`
    /// (micro-USD): one step more for each of its jobs refunded as
    /// unrunnable in this budget window (`Creator::posting_fee_micro_usd`).
    pub async fn posting_fee_for(
        &self,
        creator: &Pubkey,
        base: u64,
        config: &Config,
    ) -> Result<u64, ProtocolError> {
        let c: Option<Creator> = self
            .load(&pda::creator(creator), &ake_market::ID, "creator")
            .await?;
        let Some(record) = c else {
            return Ok(base);
        };
        let now = self.chain.clock().await?.unix_timestamp;
        Ok(record
            .posting_fee_micro_usd(base, now, &config.params.release)
            .unwrap_or(u64::MAX))
    }

    pub async fn next_nonce(&self, creator: &Pubkey) -> Result<u64, ProtocolError> {
        let c: Option<Creator> = self
            .load(&pda::creator(creator), &ake_market::ID, "creator")
            .await?;
        Ok(c.map_or(0, |c| c.next_nonce))
    }

    /// The summary account of `epoch`, as stored (created when its tally starts).
    async fn stored_epoch_summary(
        &self,
        epoch: u64,
    ) -> Result<Option<EpochSummary>, ProtocolError> {
        self.load(
            &pda::epoch_summary(epoch),
            &ake_emissions::ID,
            "epoch summary",
        )
        .await
    }

    /// `epoch`'s summary: the on-chain one once closed; before that, what
    /// the markets reported so far, summed here as `close_epoch` will (None
    /// when nothing was reported).
    pub async fn epoch_summary(&self, epoch: u64) -> Result<Option<EpochSummary>, ProtocolError> {
        let summary = self.stored_epoch_summary(epoch).await?;
        if summary.as_ref().is_some_and(|s| s.closed) {
            return Ok(summary);
        }
        let found = summary.is_some();
        let mut sum = summary.unwrap_or_else(|| EpochSummary::open(epoch, 0));
        let count = self.config().await?.market_count;
        let keys: Vec<Pubkey> = (sum.markets_tallied..count)
            .map(|i| pda::market_epoch(epoch, i))
            .collect();
        let mut reported = false;
        for account in self.chain.accounts(&keys).await?.into_iter().flatten() {
            let Ok(r) = decode::<MarketEpoch>(&account.data) else {
                continue;
            };
            reported = true;
            sum.total_work_micro_usd += r.total_work_micro_usd;
            sum.burned_tokens += r.burned_tokens;
            sum.burned_micro_usd += r.burned_micro_usd;
            sum.jobs += r.jobs;
            sum.nodes += r.nodes;
        }
        Ok((found || reported).then_some(sum))
    }

    pub async fn node_work(
        &self,
        epoch: u64,
        node: &Pubkey,
    ) -> Result<Option<NodeWork>, ProtocolError> {
        self.load(
            &pda::node_work(epoch, node),
            &ake_emissions::ID,
            "node work",
        )
        .await
    }

    /// The token balance of an SPL token account; 0 when it does not exist.
    pub async fn token_balance(&self, account: &Pubkey) -> Result<u64, ProtocolError> {
        Ok(match self.chain.account(account).await? {
            Some(acc) if acc.owner == spl_token::ID => spl_token::state::Account::unpack(&acc.data)
                .map(|a| a.amount)
                .unwrap_or(0),
            _ => 0,
        })
    }

    pub async fn supply(&self, mint: &Pubkey) -> Result<u64, ProtocolError> {
        let acc = self
            .chain
            .account(mint)
            .await?
            .ok_or(ProtocolError::Missing {
                what: "mint",
                key: *mint,
            })?;
        spl_token::state::Mint::unpack(&acc.data)
            .map(|m| m.supply)
            .map_err(|e| ProtocolError::Malformed {
                what: "mint",
                key: *mint,
                reason: e.to_string(),
            })
    }

    /// The AKE/USD price account named by the config, decoded.
    pub async fn price(&self, config: &Config) -> Result<(Pubkey, PriceUpdateV2), ProtocolError> {
        let key = oracle::price_feed_address(&config.params.oracle.feed_id);
        let acc = self
            .chain
            .account(&key)
            .await?
            .ok_or(ProtocolError::Missing {
                what: "AKE/USD price account",
                key,
            })?;
        let update = PriceUpdateV2::decode(&acc.data).ok_or(ProtocolError::Malformed {
            what: "Pyth PriceUpdateV2",
            key,
            reason: "cannot decode".into(),
        })?;
        Ok((key, update))
    }

    /// The emissions epoch the chain's clock is in.
    pub async fn current_epoch(&self, emissions: &EmissionsConfig) -> Result<u64, ProtocolError> {
        let now = self.chain.clock().await?.unix_timestamp;
        let s = &emissions.schedule;
        Ok(s.epoch_at(now).unwrap_or(0))
    }

    /// post_job for `creator` on market `index`: next nonce, best waiting
    /// node, the creator's stake and token account filled in.
    pub async fn post_job(
        &self,
        creator: &Pubkey,
        index: u16,
        mut args: PostJobArgs,
    ) -> Result<(Pubkey, Instruction), ProtocolError> {
        let config = self.config().await?;
        let market = self.market(index).await?;
        args.nonce = self.next_nonce(creator).await?;
        let (price_update, _) = self.price(&config).await?;
        let staked = self.stake(creator).await?.is_some();
        let candidate = self
            .candidate(market.best_node_for(args.gpus, args.min_reputation_bps, 0))
            .await?;
        let job = pda::job(creator, args.nonce);
        let ix = ixs::post_job(
            ixs::PostJobAccounts {
                creator: *creator,
                market: pda::market(index),
                mint: config.mint,
                creator_token: associated_token(creator, &config.mint),
                price_update,
                creator_staked: staked,
                candidate_node: candidate,
            },
            args,
        );
        Ok((job, ix))
    }

    /// The waiting node `node` with its owner (read from its account), as an
    /// instruction that may assign a job to it needs.
    pub async fn candidate(
        &self,
        node: Option<Pubkey>,
    ) -> Result<Option<ixs::Candidate>, ProtocolError> {
        let Some(key) = node else {
            return Ok(None);
        };
        let node = self
            .node(&key)
            .await?
            .ok_or(ProtocolError::Missing { what: "node", key })?;
        Ok(Some(ixs::Candidate {
            node: key,
            owner: node.owner,
        }))
    }

    /// The best waiting node for a job that needs one again (after an
    /// expiry or a release), skipping owners that handed it back.
    pub async fn candidate_for(&self, job: &Job) -> Result<Option<ixs::Candidate>, ProtocolError> {
        self.candidate_excluding(job, job.excluded_marks()).await
    }

    async fn candidate_excluding(
        &self,
        job: &Job,
        excluded: u64,
    ) -> Result<Option<ixs::Candidate>, ProtocolError> {
        let market = self.market_at(&job.market).await?;
        self.candidate(market.best_node_for(job.gpus, job.min_reputation_bps, excluded))
            .await
    }

    /// node_ready for the node whose hot key is `signer`.
    pub async fn node_ready(&self, signer: &Pubkey) -> Result<Instruction, ProtocolError> {
        let key = pda::node(signer);
        let node = self
            .node(&key)
            .await?
            .ok_or(ProtocolError::Missing { what: "node", key })?;
        let next = self.next_work_for(&node).await?;
        Ok(ixs::node_ready(*signer, node.owner, node.market, next))
    }

    pub async fn settle_keys(
        &self,
        job: &Job,
        payer: Pubkey,
    ) -> Result<ixs::SettleKeys, ProtocolError> {
        let config = self.config().await?;
        let emissions = self.emissions().await?;
        Ok(ixs::SettleKeys {
            mint: config.mint,
            creator_token: associated_token(&job.creator, &config.mint),
            payer,
            epoch: self.current_epoch(&emissions).await?,
            market_index: self.ledger(&job.market).await?.market_index,
        })
    }

    async fn existing_batch(&self, key: &Pubkey) -> Result<Batch, ProtocolError> {
        self.batch(key).await?.ok_or(ProtocolError::Missing {
            what: "batch",
            key: *key,
        })
    }

    async fn existing_job(&self, key: &Pubkey) -> Result<Job, ProtocolError> {
        self.job(key).await?.ok_or(ProtocolError::Missing {
            what: "job",
            key: *key,
        })
    }

    pub async fn finalize(
        &self,
        job_key: &Pubkey,
        caller: Pubkey,
    ) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        Ok(ixs::finalize_job(
            *job_key,
            &job,
            &self.settle_keys(&job, caller).await?,
        ))
    }

    pub async fn accept(&self, job_key: &Pubkey) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        Ok(ixs::accept_result(
            *job_key,
            &job,
            &self.settle_keys(&job, job.creator).await?,
        ))
    }

    pub async fn dispute(&self, job_key: &Pubkey) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        let config = self.config().await?;
        let now = self.chain.clock().await?.unix_timestamp;
        let timeout_at = now + i64::from(job.terms.dispute_timeout_secs);
        let due = self.due_pick(&job.market, timeout_at).await?;
        let creator_token = associated_token(&job.creator, &config.mint);
        Ok(ixs::dispute_job(
            *job_key,
            &job,
            (config.mint, creator_token),
            due,
        ))
    }

    pub async fn cancel(&self, job_key: &Pubkey) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        let config = self.config().await?;
        Ok(ixs::cancel_job(
            job.creator,
            *job_key,
            job.rent_receiver(),
            job.market,
            config.mint,
            associated_token(&job.creator, &config.mint),
        ))
    }

    pub async fn expire(
        &self,
        job_key: &Pubkey,
        caller: Pubkey,
    ) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        let config = self.config().await?;
        Ok(ixs::expire_job(
            *job_key,
            &job,
            ixs::ExpireKeys {
                caller,
                caller_token: associated_token(&caller, &config.mint),
                mint: config.mint,
                creator_token: associated_token(&job.creator, &config.mint),
                candidate_node: self.candidate_for(&job).await?,
            },
        ))
    }

    /// release_job for the node whose hot key is `signer`, which holds `job_key`.
    pub async fn release(
        &self,
        job_key: &Pubkey,
        signer: &Pubkey,
        reason: ReleaseReason,
    ) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        let config = self.config().await?;
        // The release adds the releasing owner to the job's exclusions
        // before the program picks the next node: name one the program will
        // pick (another node of the same owner would be refused).
        let mut released = job.clone();
        released.releases.record(job.node_owner, false);
        let excluded = released.excluded_marks();
        Ok(ixs::release_job(
            *signer,
            *job_key,
            &job,
            ixs::ReleaseKeys {
                mint: config.mint,
                creator_token: associated_token(&job.creator, &config.mint),
                candidate_node: self.candidate_excluding(&job, excluded).await?,
            },
            reason,
        ))
    }

    pub async fn expire_dispute(
        &self,
        job_key: &Pubkey,
        caller: Pubkey,
    ) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        Ok(ixs::expire_dispute(
            *job_key,
            &job,
            &self.settle_keys(&job, caller).await?,
        ))
    }

    pub async fn resolve_dispute(
        &self,
        job_key: &Pubkey,
        arbiter: Pubkey,
        creator_wins: bool,
    ) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        Ok(ixs::resolve_dispute(
            *job_key,
            &job,
            &self.settle_keys(&job, arbiter).await?,
            creator_wins,
        ))
    }

    pub async fn close_epoch(
        &self,
        epoch: u64,
        caller: Pubkey,
    ) -> Result<Instruction, ProtocolError> {
        let config = self.config().await?;
        let tally = self.epoch_tally(epoch, config.market_count).await?;
        Ok(ixs::emissions::close_epoch(
            caller,
            associated_token(&caller, &config.mint),
            epoch,
            &tally,
        ))
    }

    /// The next part of `epoch`'s tally: the work records of the markets
    /// not summed yet (at most `TALLY_MARKETS_PER_TX`) with their payers.
    async fn epoch_tally(
        &self,
        epoch: u64,
        market_count: u16,
    ) -> Result<ixs::emissions::EpochTally, ProtocolError> {
        let summary = self.stored_epoch_summary(epoch).await?;
        let first = summary.map_or(0, |s| s.markets_tallied);
        let last =
            market_count.min(first.saturating_add(ixs::emissions::TALLY_MARKETS_PER_TX as u16));
        let keys: Vec<Pubkey> = (first..last).map(|i| pda::market_epoch(epoch, i)).collect();
        let mut records = Vec::with_capacity(keys.len());
        for (key, account) in keys.iter().zip(self.chain.accounts(&keys).await?) {
            let payer = account
                .and_then(|a| decode::<MarketEpoch>(&a.data).ok())
                .map_or(*key, |r| r.payer);
            records.push((*key, payer));
        }
        Ok(ixs::emissions::EpochTally {
            first,
            records,
            reaches_end: last == market_count,
        })
    }

    /// Claim of `node`'s reward for `epoch`, paid to its owner's token account.
    pub async fn claim(
        &self,
        node: &Pubkey,
        epoch: u64,
        caller: Pubkey,
    ) -> Result<Option<Instruction>, ProtocolError> {
        let Some(work) = self.node_work(epoch, node).await? else {
            return Ok(None);
        };
        let config = self.config().await?;
        Ok(Some(ixs::emissions::claim(
            caller,
            epoch,
            node,
            associated_token(&work.owner, &config.mint),
            work.payer,
            config.mint,
        )))
    }

    /// The lookup tables at `keys` (the markets name them: see
    /// `lookup_tables` and `CrankWork::lookup_tables`) as they serve now,
    /// for v0 transactions; a table closed or being deactivated is left out.
    pub async fn lookup_tables(
        &self,
        keys: &[Pubkey],
    ) -> Result<Vec<solana_sdk::message::AddressLookupTableAccount>, ProtocolError> {
        let accounts = self.chain.accounts(keys).await?;
        let slot = self.chain.slot().await?;
        Ok(keys
            .iter()
            .copied()
            .zip(accounts)
            .filter_map(|(key, account)| {
                let account = account.filter(|a| a.owner == LOOKUP_TABLE_PROGRAM)?;
                crate::lookup_tables::decode(key, &account.data, slot)
            })
            .collect())
    }

    /// What is due now, from the markets' in-flight lists and the emissions
    /// schedule: no program scan.
    pub async fn crank_work(&self) -> Result<CrankWork, ProtocolError> {
        let config = self.config().await?;
        let emissions = self.emissions().await?;
        let clock = self.chain.clock().await?;
        let now = clock.unix_timestamp;
        let mut work = CrankWork::default();
        let s = &emissions.schedule;
        let mut epoch = emissions.next_epoch;
        while let Some(end) = s.epoch_end(epoch) {
            if end > now || work.epochs_to_close.len() >= 16 {
                break;
            }
            work.epochs_to_close.push(epoch);
            epoch += 1;
        }
        for index in 0..config.market_count {
            let market = self.market(index).await?;
            if market.lookup_table != Pubkey::default() {
                work.lookup_tables.push(market.lookup_table.to_string());
            }
            // Assigned jobs live in the market; submitted and disputed
            // ones in its due pages.
            for e in market.in_flight().iter().filter(|e| e.due < now) {
                if e.phase == PHASE_ASSIGNED {
                    work.jobs_to_expire.push(e.job.to_string());
                }
            }
            let market_secs = (market.max_queue_secs, market.max_duration_secs);
            let lookback = due_lookback_secs(&config.params, market_secs);
            let due = ((now, clock.slot), lookback, &config.mint);
            self.due_work(&pda::market(index), due, &mut work).await?;
            if market.job_count > 0 {
                work.nodes_to_match.extend(
                    market
                        .queued_nodes()
                        .iter()
                        .take(NODES_TO_MATCH_PER_MARKET)
                        .map(|n| n.key.to_string()),
                );
            }
            let ledger = self.ledger(&pda::market(index)).await?;
            if ledger.pending_burn > 0 || ledger.pending_treasury > 0 {
                work.markets_to_sweep.push(pda::market(index).to_string());
            }
            self.queued_work(&market, now, &mut work).await?;
            if !config.paused {
                self.parked_work(&market, &mut work).await?;
            }
        }
        Ok(work)
    }

    /// The market's parked batches whose reserve holds a frame's rent again.
    async fn parked_work(
        &self,
        market: &MarketView,
        out: &mut CrankWork,
    ) -> Result<(), ProtocolError> {
        let keys = market.parked_batches();
        for (key, account) in keys.iter().zip(self.chain.accounts(&keys).await?) {
            if self.requeue_ready(account).await?.is_some() {
                out.batches_to_requeue.push(key.to_string());
            }
        }
        Ok(())
    }

    /// The batch in `account` and how many frames its reserve can create
    /// (lamports above its own rent, in frames' rent); None when it is not a batch.
    async fn batch_reserve(
        &self,
        account: Option<solana_sdk::account::Account>,
    ) -> Result<Option<(Batch, u64)>, ProtocolError> {
        let Some(account) = account.filter(|a| a.owner == ake_market::ID) else {
            return Ok(None);
        };
        let Ok(batch) = decode::<Batch>(&account.data) else {
            return Ok(None);
        };
        let own = self.chain.minimum_balance(account.data.len()).await?;
        let spare = account.lamports.saturating_sub(own);
        let reserved = spare / batch.frame_rent.max(1);
        Ok(Some((batch, reserved)))
    }

    /// The batch in `account` when it is parked and a closed frame gave its
    /// reserve a frame's rent back (`requeue_batch` would succeed, unless
    /// the protocol is paused: the callers check).
    async fn requeue_ready(
        &self,
        account: Option<solana_sdk::account::Account>,
    ) -> Result<Option<Batch>, ProtocolError> {
        Ok(self
            .batch_reserve(account)
            .await?
            .filter(|(b, reserved)| b.parked && !b.halted && *reserved > 0)
            .map(|(b, _)| b))
    }

    /// `requeue_batch` for `batch_key` when it is parked and can hand out a
    /// frame again; None otherwise (or while the protocol is paused).
    pub async fn requeue_if_ready(
        &self,
        payer: Pubkey,
        batch_key: &Pubkey,
    ) -> Result<Option<Instruction>, ProtocolError> {
        if self.config().await?.paused {
            return Ok(None);
        }
        let account = self.chain.accounts(&[*batch_key]).await?.pop().flatten();
        Ok(self
            .requeue_ready(account)
            .await?
            .map(|b| ixs::requeue_batch(payer, b.market, *batch_key)))
    }

    /// The market's queued jobs and batches that waited past
    /// `max_queue_secs`, and batches a waiting node could take frames of
    /// (the queue entry has no clock, so their accounts are read in one call).
    async fn queued_work(
        &self,
        market: &MarketView,
        now: i64,
        out: &mut CrankWork,
    ) -> Result<(), ProtocolError> {
        let keys: Vec<Pubkey> = market.queued_jobs().iter().map(|e| e.key).collect();
        if keys.is_empty() {
            return Ok(());
        }
        let max_wait = i64::from(market.max_queue_secs);
        let audit = self.config().await?.params.audit;
        for (key, account) in keys.iter().zip(self.chain.accounts(&keys).await?) {
            let Some(account) = account.filter(|a| a.owner == ake_market::ID) else {
                continue;
            };
            if let Ok(job) = decode::<Job>(&account.data) {
                let job_wait = job.stale_after_secs(market.max_queue_secs, &audit);
                if now.saturating_sub(job.queued_at) > i64::from(job_wait) {
                    out.stale_jobs_to_refund.push(key.to_string());
                }
            } else if let Ok(batch) = decode::<Batch>(&account.data) {
                if now.saturating_sub(batch.queued_at) > max_wait {
                    out.stale_batches_to_cancel.push(key.to_string());
                } else if market
                    .best_node_for(batch.gpus, batch.min_reputation_bps, batch.releases.marks())
                    .is_some()
                {
                    out.batches_to_match.push(key.to_string());
                }
            }
        }
        Ok(())
    }

    /// The keys `cancel_batch` and `close_batch` need for `batch`; the
    /// refund goes to the creator's associated token account.
    pub async fn batch_keys(&self, batch_key: &Pubkey) -> Result<ixs::BatchKeys, ProtocolError> {
        let batch = self.existing_batch(batch_key).await?;
        let config = self.config().await?;
        Ok(ixs::BatchKeys {
            batch: *batch_key,
            creator: batch.creator,
            market: batch.market,
            mint: config.mint,
            creator_token: associated_token(&batch.creator, &config.mint),
        })
    }

    /// The frames of a closed batch (its account is gone), from the
    /// BatchClosed event that ended it, the newest in its history: the
    /// frames handed out settled (their results are in their own
    /// histories), the others were refunded. None when no such event is
    /// found.
    pub async fn closed_batch_frames(
        &self,
        batch_key: &Pubkey,
    ) -> Result<Option<Vec<FrameStatus>>, ProtocolError> {
        let closed = self
            .search_history(batch_key, |inner| {
                inner
                    .iter()
                    .filter_map(|data| decode_event::<BatchClosed>(data))
                    .find(|event| event.batch == *batch_key)
            })
            .await?;
        Ok(closed.map(|closed| {
            (0..closed.frame_count)
                .map(|i| {
                    let frame = closed.first_frame.saturating_add(i);
                    FrameStatus {
                        frame,
                        job: pda::frame_job(batch_key, frame),
                        state: match i < closed.handed_out {
                            true => FrameState::Settled,
                            false => FrameState::Cancelled,
                        },
                    }
                })
                .collect()
        }))
    }

    /// Every frame of `batch_key` in order, with what became of it.
    pub async fn batch_frames(
        &self,
        batch_key: &Pubkey,
    ) -> Result<(Batch, Vec<FrameStatus>), ProtocolError> {
        let batch = self.existing_batch(batch_key).await?;
        let handed_out: Vec<Pubkey> = (0..batch.handed_out)
            .map(|i| pda::frame_job(batch_key, batch.first_frame + i))
            .collect();
        let mut accounts = Vec::with_capacity(handed_out.len());
        for chunk in handed_out.chunks(100) {
            accounts.extend(self.chain.accounts(chunk).await?);
        }
        let mut frames = Vec::with_capacity(batch.frame_count as usize);
        for i in 0..batch.frame_count {
            let frame = batch.first_frame + i;
            let job = pda::frame_job(batch_key, frame);
            let state = match accounts.get(i as usize) {
                Some(account) => match account
                    .as_ref()
                    .filter(|a| a.owner == ake_market::ID)
                    .and_then(|a| decode::<Job>(&a.data).ok())
                {
                    Some(open) => FrameState::Open(Box::new(open)),
                    None => FrameState::Settled,
                },
                None if batch.cancelled => FrameState::Cancelled,
                None => FrameState::Waiting,
            };
            frames.push(FrameStatus { frame, job, state });
        }
        Ok((batch, frames))
    }

    /// close_batch for a batch whose frames all settled (as many of them as
    /// one transaction can name, from where the count stopped).
    pub async fn close_batch(&self, batch_key: &Pubkey) -> Result<Instruction, ProtocolError> {
        let (batch, frames) = self.batch_frames(batch_key).await?;
        let settled: Vec<Pubkey> = frames
            .iter()
            .skip(batch.frames_closed as usize)
            .take_while(|f| matches!(f.state, FrameState::Settled))
            .take(CLOSE_BATCH_FRAMES_PER_TX)
            .map(|f| f.job)
            .collect();
        Ok(ixs::close_batch(*batch_key, batch.creator, &settled))
    }

    /// refund_stale_job for a job queued past its market's limit; the
    /// escrow goes to the creator's associated token account.
    pub async fn refund_stale(&self, job_key: &Pubkey) -> Result<Instruction, ProtocolError> {
        let job = self.existing_job(job_key).await?;
        let config = self.config().await?;
        Ok(ixs::refund_stale_job(
            *job_key,
            &job,
            config.mint,
            associated_token(&job.creator, &config.mint),
        ))
    }
}
