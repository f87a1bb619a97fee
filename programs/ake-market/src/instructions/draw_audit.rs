use anchor_lang::prelude::*;

use ake_program_common::account_creation::{create_pda, read_existing, write_new};

use crate::audit::{
    auditor_min_reputation, auditor_seed, draw_seed, draw_window, drawn, drawn_auditors, DrawWindow,
};
use crate::constants::{AUDIT_SEED, CONFIG_SEED, STAKE_SEED};
use crate::errors::MarketError;
use crate::events::{AuditDrawn, AuditRunOpened, JobQueued};
use crate::matching::{enqueue, offer_to, Offer, Rules};
use crate::math::result_collateral;
use crate::pool::ensure_free_slot;
use crate::settlement::charge_for;
use crate::state::{
    AuditPhase, AuditTrack, Config, Job, JobState, Market, MarketMut, Node, Releases, Stake,
    Verify, TIERS,
};

#[event_cpi]
#[derive(Accounts)]
pub struct DrawAudit<'info> {
    /// Anyone (the crank): pays the audit run's rent when the job is drawn
    /// (repaid when the run closes), and the pool's growth if it needs a slot.
    #[account(mut)]
    pub caller: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump)]
    pub config: Box<Account<'info, Config>>,
    #[account(mut, has_one = market @ MarketError::AccountMismatch)]
    pub job: Box<Account<'info, Job>>,
    #[account(mut)]
    pub market: AccountLoader<'info, Market>,
    /// The job's node owner's stake: a cleared job's collateral drops to
    /// the result collateral.
    #[account(mut, seeds = [STAKE_SEED, job.node_owner.as_ref()], bump = owner_stake.bump)]
    pub owner_stake: Box<Account<'info, Stake>>,
    /// CHECK: the SlotHashes sysvar, read raw (about 20 KB: never decoded whole).
    #[account(address = crate::audit::SLOT_HASHES_ID @ MarketError::NotSlotHashes)]
    pub slot_hashes: UncheckedAccount<'info>,
    /// CHECK: the audit's two runs, PDAs ["audit", job, 1] and ["audit",
    /// job, 2], created when the job is drawn.
    #[account(mut, seeds = [AUDIT_SEED, job.key().as_ref(), &[1]], bump)]
    pub first_run: UncheckedAccount<'info>,
    /// CHECK: see `first_run`.
    #[account(mut, seeds = [AUDIT_SEED, job.key().as_ref(), &[2]], bump)]
    pub second_run: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

/// Anyone draws a submitted auditable job between `s0 + 8` and `s0 + 400`
/// slots (`crate::audit`); past that window the job is audited. The audit
/// fee moves to the market's audit reserve either way. Not drawn: the job
/// settles as usual and its collateral drops to the result collateral.
/// Drawn: two audit runs (jobs of the same spec, paid from the reserve,
/// closed to the audited node's owner). Two from the start, so that all
/// three commitments are in before anyone reveals: a tie-breaker opened
/// after a reveal could copy either digest. Each goes to a node drawn by
/// the seed among the first `AUDITOR_POOL` eligible waiting nodes (the
/// second's of yet another owner), which the caller names in the
/// remaining accounts (`[node, its owner's stake]` per run, as ake-sdk
/// computes them): a wrong name fails the draw (read the queue again).
/// Only a run no waiting node can take joins the front of the queue.
///
/// Writes: caller, job, market, owner_stake, both runs. Compute: one
/// binary search of SlotHashes (at most 10 probes, 8 reads), one sha256,
/// two account creations.
pub fn handler(ctx: Context<DrawAudit>) -> Result<()> {
    let bumps = [ctx.bumps.first_run, ctx.bumps.second_run];
    let (drawn_event, runs) = draw(ctx.accounts, bumps, ctx.remaining_accounts)?;
    let market = ctx.accounts.market.key();
    emit_cpi!(drawn_event);
    for run in runs {
        emit_cpi!(run.event);
        if let Some(grown) = run.grown {
            emit_cpi!(grown);
        }
        if let Some(idled) = run.idled {
            emit_cpi!(idled);
        }
        match run.assigned {
            Some(assigned) => emit_cpi!(assigned),
            None => emit_cpi!(JobQueued {
                job: run.event.run,
                market,
                at_front: true,
            }),
        }
    }
    Ok(())
}

fn draw(
    a: &mut DrawAudit,
    bumps: [u8; 2],
    auditors: &[AccountInfo],
) -> Result<(AuditDrawn, Vec<OpenedRun>)> {
    require!(
        a.job.state == JobState::Submitted && a.job.audit.phase == AuditPhase::Undrawn,
        MarketError::NotAwaitingDraw
    );
    let job_key = a.job.key();
    let clock = Clock::get()?;
    let s0 = a.job.audit.draw_slot;
    let (is_drawn, seed) = match draw_window(s0, clock.slot) {
        DrawWindow::TooEarly => return err!(MarketError::DrawTooEarly),
        DrawWindow::Open => {
            let commitment = a.job.result.as_ref().map(|r| r.commitment);
            let data = a.slot_hashes.try_borrow_data()?;
            let seed = draw_seed(&job_key, &commitment.unwrap_or_default(), &data, s0)
                .ok_or(MarketError::NotSlotHashes)?;
            (drawn(&seed, a.job.audit.rate_bps), seed)
        }
        DrawWindow::Closed => (true, [0u8; 32]),
    };
    let pick_seed = {
        let commitment = a
            .job
            .result
            .as_ref()
            .map(|r| r.commitment)
            .unwrap_or_default();
        let data = a.slot_hashes.try_borrow_data()?;
        auditor_seed(
            &job_key,
            &commitment,
            &data,
            s0,
            draw_window(s0, clock.slot),
        )
        .ok_or(MarketError::NotSlotHashes)?
    };
    let fee = a.job.audit.fee;
    a.job.audit.fee = 0;
    {
        let mut market = MarketMut::load(&a.market)?;
        market.open_escrow = market
            .open_escrow
            .checked_sub(fee)
            .ok_or(MarketError::MathOverflow)?;
        market.audit_reserve = market
            .audit_reserve
            .checked_add(fee)
            .ok_or(MarketError::MathOverflow)?;
    }
    let mut runs = Vec::new();
    if is_drawn {
        a.job.audit.phase = AuditPhase::Auditing;
        let accounts = [&a.first_run, &a.second_run];
        let rules = Rules::of(&a.config);
        let floor = a.config.params.audit.auditor_min_reputation_bps;
        let mut named = auditors.chunks(2);
        // Paused, nothing is assigned: the runs wait in the queue.
        let picks = if rules.paused {
            Vec::new()
        } else {
            let market = MarketMut::load(&a.market)?;
            let owner_of = |key: &Pubkey| {
                auditors
                    .iter()
                    .find(|info| info.key == key)
                    .and_then(|info| read_existing::<Node>(info, &crate::ID).ok())
                    .map(|n| n.owner)
            };
            drawn_auditors(&market, (&a.job, floor), &pick_seed, owner_of)
        };
        let run_min_reputation = auditor_min_reputation(&a.job, floor);
        for (round, (run, bump)) in (1u8..).zip(accounts.into_iter().zip(bumps)) {
            let opened = open_run(
                RunAccounts {
                    payer: &a.caller.to_account_info(),
                    market: &a.market,
                    run: &run.to_account_info(),
                    bump,
                },
                (job_key, &mut a.job, round),
                Auditor {
                    node: picks.get(usize::from(round - 1)).copied(),
                    named: named.next(),
                    rules: &rules,
                    min_reputation_bps: run_min_reputation,
                },
                clock.unix_timestamp,
            )?;
            runs.push(opened);
        }
    } else {
        a.job.audit.phase = AuditPhase::Cleared;
        a.job.audit.resolved_at = clock.unix_timestamp;
        release_to_result_collateral(&mut a.job, &mut a.owner_stake)?;
    }
    let event = AuditDrawn {
        job: job_key,
        drawn: is_drawn,
        by_default: seed == [0u8; 32],
        rate_bps: a.job.audit.rate_bps,
        seed,
        fee_to_reserve: fee,
        runs: runs.iter().map(|r| r.event.run).collect(),
    };
    Ok((event, runs))
}

/// The node a run goes to: drawn by the draw (`audit::drawn_auditors`),
/// with the accounts the caller named for it.
pub struct Auditor<'a, 'info> {
    pub node: Option<Pubkey>,
    /// `[node, its owner's stake]` the caller names for it.
    pub named: Option<&'a [AccountInfo<'info>]>,
    pub rules: &'a Rules,
    /// `audit::auditor_min_reputation`: the run asks it of whoever takes it.
    pub min_reputation_bps: u16,
}

/// The drawn node and its owner's stake, read from the accounts the caller
/// named (which must be those).
fn drawn_auditor(a: &Auditor) -> Result<Option<(Pubkey, Node, Stake)>> {
    let Some(pick) = a.node else {
        return Ok(None);
    };
    let Some([node_info, stake_info]) = a.named else {
        return err!(MarketError::StaleAuditorPick);
    };
    require_keys_eq!(node_info.key(), pick, MarketError::StaleAuditorPick);
    let node = read_existing::<Node>(node_info, &crate::ID)?;
    let (stake_key, _) =
        Pubkey::find_program_address(&[STAKE_SEED, node.owner.as_ref()], &crate::ID);
    require_keys_eq!(stake_info.key(), stake_key, MarketError::StaleAuditorPick);
    let stake = read_existing::<Stake>(stake_info, &crate::ID)?;
    Ok(Some((pick, node, stake)))
}

/// A job that keeps its execution collateral until its audit resolves
/// drops it to the result collateral (as any job does at submit).
pub fn release_to_result_collateral(job: &mut Job, stake: &mut Stake) -> Result<()> {
    let wall_secs = job.result.as_ref().map_or(0, |r| r.usage.wall_secs);
    let (_, charged) = charge_for(job, wall_secs)?;
    let kept = result_collateral(job.collateral, charged, job.terms.result_collateral_bps)
        .ok_or(MarketError::MathOverflow)?;
    stake.unlock(job.collateral - kept)?;
    job.collateral = kept;
    Ok(())
}

pub struct RunAccounts<'a, 'info> {
    pub payer: &'a AccountInfo<'info>,
    pub market: &'a AccountLoader<'info, Market>,
    /// The run's PDA, ["audit", audited job, round].
    pub run: &'a AccountInfo<'info>,
    pub bump: u8,
}

pub struct OpenedRun {
    pub event: AuditRunOpened,
    pub grown: Option<crate::events::PoolGrown>,
    /// The run went straight to its drawn node.
    pub assigned: Option<crate::events::JobAssigned>,
    /// Or that node's owner could not cover it: the node went idle and the
    /// run waits in the queue.
    pub idled: Option<crate::events::NodeIdled>,
}

/// Opens audit run `round` (1 or 2) of the audited job: a job of the same
/// spec, shape, rate and locked price, its escrow paid from the market's
/// audit reserve, the audited node's owner recorded as having handed it
/// back (so no node of its owner takes it, ever: see `run_of`), queued at the front of the
/// highest tier. Its creator is the audited job's (who can neither cancel
/// nor accept it); its rent comes back to `payer`.
pub fn open_run(
    accounts: RunAccounts,
    (audited_key, audited, round): (Pubkey, &mut Job, u8),
    auditor: Auditor,
    now: i64,
) -> Result<OpenedRun> {
    let spec_len = anchor_lang::prelude::borsh::to_vec(&audited.spec)
        .map_err(|_| MarketError::InvalidSpec)?
        .len();
    create_pda(
        accounts.payer,
        accounts.run,
        &crate::ID,
        Job::space_for(spec_len),
        &[AUDIT_SEED, audited_key.as_ref(), &[round], &[accounts.bump]],
    )?;
    let run_key = accounts.run.key();
    let mut run = run_of(
        audited,
        (audited_key, round),
        accounts.payer.key(),
        accounts.bump,
        now,
    );
    run.min_reputation_bps = auditor.min_reputation_bps;
    let grown = if MarketMut::load(accounts.market)?.has_free_slot() {
        None
    } else {
        ensure_free_slot(accounts.market, accounts.payer)?
    };
    // A run is funded for twice the audited job's charge (a slower node
    // still gets paid in full); its unspent escrow comes back to the
    // reserve. The reserve pays what it can: a run it cannot fund in full
    // still runs (its node is paid less, and earns the emissions its burn
    // allows).
    let wall_secs = audited.result.as_ref().map_or(0, |r| r.usage.wall_secs);
    let (_, charged) = charge_for(audited, wall_secs.saturating_mul(2))?;
    let mut market = MarketMut::load(accounts.market)?;
    let escrow = market.audit_reserve.min(charged);
    market.audit_reserve -= escrow;
    market.open_escrow = market
        .open_escrow
        .checked_add(escrow)
        .ok_or(MarketError::MathOverflow)?;
    run.escrow = escrow;
    let assigned = match drawn_auditor(&auditor)? {
        Some((node_key, mut node, mut stake)) => {
            let named = auditor.named.unwrap_or_default();
            let chosen = (node_key, &mut node, &mut stake);
            let offer = offer_to(&mut market, (run_key, &mut run), chosen, auditor.rules, now)?;
            write_new(&named[0], &node)?;
            write_new(&named[1], &stake)?;
            offer
        }
        None => Offer::NoNode,
    };
    if assigned.unassigned() {
        enqueue(&mut market, run_key, &mut run, true, now)?;
    }
    drop(market);
    write_new(accounts.run, &run)?;
    audited.audit.runs[usize::from(round.clamp(1, 2) - 1)] = run_key;
    audited.audit.round = round;
    Ok(OpenedRun {
        event: AuditRunOpened {
            job: audited_key,
            run: run_key,
            round,
            escrow,
            excluded_owner: audited.node_owner,
        },
        grown,
        assigned: assigned.assigned_event(run_key, run.attempts),
        idled: assigned.idled_event(run_key),
    })
}

/// Audit run `round` of the audited job, not yet funded nor queued, nor
/// given the reputation it asks (`open_run` sets the auditor floor).
fn run_of(
    audited: &Job,
    (audited_key, round): (Pubkey, u8),
    payer: Pubkey,
    bump: u8,
    now: i64,
) -> Job {
    // The audited node's owner as a counted releaser: counted entries are
    // never displaced (an uncounted one is, by the next uncounted release),
    // so its nodes never take a run of their own audit. A run is refunded
    // as unrunnable one counted hand-back later (`Job::unrunnable_at`).
    let mut releases = Releases::default();
    releases.record(audited.node_owner, true);
    Job {
        creator: audited.creator,
        nonce: audited.nonce,
        market: audited.market,
        spec_hash: audited.spec_hash,
        gpus: audited.gpus,
        max_duration_secs: audited.max_duration_secs,
        rate_micro_usd: audited.rate_micro_usd,
        max_charge_micro_usd: audited.max_charge_micro_usd,
        tier: (TIERS - 1) as u8,
        releases,
        verify: Verify::Exact,
        audit: AuditTrack {
            phase: AuditPhase::Run,
            runs: [audited_key, Pubkey::default()],
            round,
            rent_payer: payer,
            ..AuditTrack::default()
        },
        ..Job::queued(audited.spec.clone(), audited.price, now, bump)
    }
}
