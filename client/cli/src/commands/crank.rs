use std::time::Duration;

use ake_sdk::protocol::{create_associated_token, CrankWork, FrameState, Protocol};
use ake_sdk::sender::{pack, send_instructions, send_with_tables, Fees, MAX_COMPUTE_UNITS};
use clap::Args;
use serde::Serialize;
use solana_sdk::instruction::Instruction;
use solana_sdk::message::AddressLookupTableAccount;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signature::Keypair;
use solana_sdk::signer::Signer;

use crate::context::GlobalArgs;
use crate::output::print;

#[derive(Args)]
pub struct CrankArgs {
    /// One pass, then exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between passes.
    #[arg(long, default_value_t = 5)]
    pub interval: u64,
}

#[derive(Serialize, Default)]
pub struct CrankReport {
    pub epochs_closed: Vec<u64>,
    pub jobs_finalized: Vec<String>,
    /// Auditable jobs drawn (their node had not), audit rounds judged, and
    /// audit runs or audited jobs settled by their verdict.
    pub audits_drawn: Vec<String>,
    pub audits_judged: Vec<String>,
    pub audits_settled: Vec<String>,
    pub jobs_expired: Vec<String>,
    pub disputes_expired: Vec<String>,
    pub stale_jobs_refunded: Vec<String>,
    pub stale_batches_refunded: Vec<String>,
    /// Frames handed to nodes that were waiting (`match_frame`), by batch.
    pub frames_matched: Vec<String>,
    /// Parked batches put back in line (a frame closed, its rent back).
    pub batches_requeued: Vec<String>,
    /// Batches whose every frame settled, closed (their rent to the creator).
    pub batches_closed: Vec<String>,
    /// Markets whose settled burns and treasury fees left the escrow vault.
    pub markets_swept: Vec<String>,
    /// Waiting nodes handed the queued work they were best for (`match_job`
    /// or `match_frame`): what a post naming a stale pick left waiting.
    pub nodes_matched: Vec<String>,
    /// Due pages closed (every job they indexed left), rent back to their payers.
    pub due_pages_closed: Vec<String>,
    /// Transactions this pass signed.
    pub transactions: usize,
    pub failures: Vec<String>,
}

/// What packed sends cost and what failed.
#[derive(Default)]
struct Tally {
    transactions: usize,
    failures: Vec<String>,
}

/// Settlements packed into one transaction at most (each may take up to
/// `MAX_COMPUTE_UNITS / this` compute units).
const SETTLEMENTS_PER_TX: usize = 6;

/// Sends `work` (job, instruction) packed several per v0 transaction
/// through the markets' lookup tables (legacy when there are none); a group
/// that fails (one job raced by another crank, say) is retried one by one,
/// as legacy transactions, so the others still land.
async fn send_packed(
    chain: &dyn ake_sdk::chain::Chain,
    caller: &Keypair,
    (fees, tables): (Fees, &[AddressLookupTableAccount]),
    work: Vec<(String, Instruction)>,
    what: &str,
    done: &mut Vec<String>,
    report: &mut Tally,
) {
    let me = caller.pubkey();
    let ixs: Vec<Instruction> = work.iter().map(|(_, ix)| ix.clone()).collect();
    let mut at = 0;
    for group in pack(&me, ixs, SETTLEMENTS_PER_TX, tables) {
        let jobs = &work[at..at + group.len()];
        at += group.len();
        let group_fees = Fees {
            compute_unit_limit: (fees.compute_unit_limit)
                .saturating_mul(group.len() as u32)
                .min(MAX_COMPUTE_UNITS),
            ..fees
        };
        report.transactions += 1;
        match send_with_tables(chain, caller, &[], &group, group_fees, tables).await {
            Ok(_) => done.extend(jobs.iter().map(|(job, _)| job.clone())),
            // One by one as legacy: a table that stopped serving, or one
            // job raced by another crank, fails nothing else.
            Err(_) if jobs.len() > 1 || !tables.is_empty() => {
                for (job, ix) in jobs {
                    report.transactions += 1;
                    match send_instructions(chain, caller, &[], std::slice::from_ref(ix), fees)
                        .await
                    {
                        Ok(_) => done.push(job.clone()),
                        Err(e) => report.failures.push(format!("{what} {job}: {e}")),
                    }
                }
            }
            Err(e) => report.failures.push(format!("{what} {}: {e}", jobs[0].0)),
        }
    }
}

/// One pass: everything due now, each its own transaction; one failure
/// (say, a race with another crank) does not stop the rest.
pub async fn pass(p: &Protocol, caller: &Keypair, fees: Fees) -> anyhow::Result<CrankReport> {
    let work: CrankWork = p.crank_work().await?;
    let mut report = CrankReport::default();
    let me = caller.pubkey();
    let config = p.config().await?;
    let chain = p.chain.as_ref();
    // Without tables the settlements go as legacy transactions: fewer per
    // transaction, nothing else lost.
    let table_keys = work
        .lookup_tables
        .iter()
        .filter_map(|k| k.parse().ok())
        .collect::<Vec<Pubkey>>();
    let tables = p.lookup_tables(&table_keys).await.unwrap_or_else(|e| {
        tracing::warn!("reading the markets' lookup tables failed ({e}); settling without them");
        Vec::new()
    });
    let tip_account = create_associated_token(&me, &me, &config.mint);
    for &epoch in &work.epochs_to_close {
        let ix = p.close_epoch(epoch, me).await?;
        report.transactions += 1;
        match ake_sdk::sender::send_instructions(
            chain,
            caller,
            &[],
            &[tip_account.clone(), ix],
            fees,
        )
        .await
        {
            // A tally over many markets takes several calls: the next
            // epoch waits for this one to close.
            Ok(_) if !p.epoch_summary(epoch).await?.is_some_and(|s| s.closed) => break,
            Ok(_) => report.epochs_closed.push(epoch),
            Err(e) => report.failures.push(format!("close epoch {epoch}: {e}")),
        }
    }
    let mut created = Vec::new();
    let mut tally = Tally::default();
    for creator in &work.creator_accounts_to_create {
        let owner: Pubkey = creator.parse()?;
        let ix = vec![create_associated_token(&me, &owner, &config.mint)];
        let item = ("create the token account of creator", creator, &mut created);
        send_one(chain, caller, fees, Ok(ix), item, &mut tally).await;
    }
    report.transactions += tally.transactions;
    report.failures.extend(tally.failures);
    for (list, done, what) in [
        (
            &work.jobs_to_finalize,
            &mut report.jobs_finalized,
            "finalize",
        ),
        (
            &work.disputes_to_expire,
            &mut report.disputes_expired,
            "end dispute",
        ),
    ] {
        let mut built = Vec::new();
        for job in list {
            let key: Pubkey = job.parse()?;
            let ix = match what {
                "finalize" => p.finalize(&key, me).await,
                _ => p.expire_dispute(&key, me).await,
            };
            match ix {
                Ok(ix) => built.push((job.clone(), ix)),
                Err(e) => report.failures.push(format!("{what} {job}: {e}")),
            }
        }
        let mut tally = Tally::default();
        let send = (fees, tables.as_slice());
        send_packed(chain, caller, send, built, what, done, &mut tally).await;
        report.failures.extend(tally.failures);
        report.transactions += tally.transactions;
    }
    batches_after_settling(p, caller, fees, &work, &mut report).await?;
    // After the settlements: one burn and one treasury payment per market
    // for everything settled, this pass's included.
    let mut tally = Tally::default();
    for index in 0..config.market_count {
        let market = ake_sdk::pda::market(index).to_string();
        let built = p.sweep(&ake_sdk::pda::market(index), me).await;
        let item = ("sweep market", &market, &mut report.markets_swept);
        send_one(chain, caller, fees, built, item, &mut tally).await;
    }
    report.transactions += tally.transactions;
    report.failures.extend(tally.failures);
    let requeued = report.batches_requeued.clone();
    for batch in work.batches_to_match.iter().chain(&requeued) {
        let key: Pubkey = batch.parse()?;
        match p.match_waiting_nodes(me, &key, SETTLEMENTS_PER_TX).await {
            Ok(ixs) if ixs.is_empty() => {}
            Ok(ixs) => {
                let work = ixs.into_iter().map(|ix| (batch.clone(), ix)).collect();
                let mut matched = Vec::new();
                let mut tally = Tally::default();
                send_packed(
                    chain,
                    caller,
                    (fees, &tables),
                    work,
                    "match frames of",
                    &mut matched,
                    &mut tally,
                )
                .await;
                report.failures.extend(tally.failures);
                report.transactions += tally.transactions;
                if !matched.is_empty() {
                    report.frames_matched.push(batch.clone());
                }
            }
            Err(e) => report
                .failures
                .push(format!("match frames of {batch}: {e}")),
        }
    }
    let mut tally = Tally::default();
    for (list, done, what) in [
        (
            &work.stale_jobs_to_refund,
            &mut report.stale_jobs_refunded,
            "refund stale job",
        ),
        (
            &work.stale_batches_to_cancel,
            &mut report.stale_batches_refunded,
            "refund stale batch",
        ),
    ] {
        for job in list {
            let key: Pubkey = job.parse()?;
            // The refund goes to the creator's associated token account,
            // created if missing: a creator cannot dodge the crank (and
            // squat a queue slot) by posting from another account.
            let ixs = match what {
                "refund stale job" => match p.job(&key).await {
                    Ok(Some(job)) => p.refund_stale(&key).await.map(|ix| {
                        vec![create_associated_token(&me, &job.creator, &config.mint), ix]
                    }),
                    Ok(None) => Ok(Vec::new()),
                    Err(e) => Err(e),
                },
                _ => p.batch_keys(&key).await.map(|keys| {
                    vec![
                        create_associated_token(&me, &keys.creator, &config.mint),
                        ake_sdk::instructions::cancel_batch(me, &keys),
                    ]
                }),
            };
            send_one(chain, caller, fees, ixs, (what, job, done), &mut tally).await;
        }
    }
    for node in &work.nodes_to_match {
        // Read afresh for each node: every pairing moves the queue.
        let built = p.match_for_node(me, &node.parse()?).await;
        let item = ("match waiting node", node, &mut report.nodes_matched);
        send_one(chain, caller, fees, built, item, &mut tally).await;
    }
    for page in &work.due_pages_to_close {
        let built = p.close_due_page(&page.parse()?, me).await;
        let item = ("close due page", page, &mut report.due_pages_closed);
        send_one(chain, caller, fees, built.map(|ix| [ix]), item, &mut tally).await;
    }
    for (list, done, what) in [
        (
            &work.audits_to_draw,
            &mut report.audits_drawn,
            "draw audit of",
        ),
        (
            &work.audits_to_judge,
            &mut report.audits_judged,
            "judge audit of",
        ),
        (
            &work.audits_to_settle,
            &mut report.audits_settled,
            "settle audit of",
        ),
    ] {
        for job in list {
            let key: Pubkey = job.parse()?;
            let built = match what {
                "draw audit of" => p.draw_audit(&key, me).await,
                "judge audit of" => p.judge_audit(&key, me).await,
                _ => p.settle_audit(&key, me).await,
            };
            let item = (what, job, &mut *done);
            send_one(chain, caller, fees, built.map(|ix| [ix]), item, &mut tally).await;
        }
    }
    for job in &work.jobs_to_expire {
        let built = p.expire(&job.parse()?, me).await;
        let ixs = built.map(|ix| vec![tip_account.clone(), ix]);
        let item = ("expire", job, &mut report.jobs_expired);
        send_one(chain, caller, fees, ixs, item, &mut tally).await;
    }
    report.transactions += tally.transactions;
    report.failures.extend(tally.failures);
    Ok(report)
}

/// Puts back in line the parked batches whose rent came back (before this
/// pass, or from the frames it just settled), and closes the batches whose
/// every frame has settled (their rent back to the creator).
async fn batches_after_settling(
    p: &Protocol,
    caller: &Keypair,
    fees: Fees,
    work: &CrankWork,
    report: &mut CrankReport,
) -> anyhow::Result<()> {
    let me = caller.pubkey();
    let chain = p.chain.as_ref();
    let mut tally = Tally::default();
    let mut batches: Vec<&String> = work.batches_to_requeue.iter().collect();
    batches.extend(
        work.batches_settling
            .iter()
            .filter(|b| !batches.contains(b))
            .collect::<Vec<_>>(),
    );
    for batch in batches {
        let key: Pubkey = batch.parse()?;
        let built = p.requeue_if_ready(me, &key).await;
        let item = ("requeue batch", batch, &mut report.batches_requeued);
        send_one(chain, caller, fees, built, item, &mut tally).await;
        // Closing counts settled frames in order: wait until none is open.
        let finished = match p.batch_frames(&key).await {
            Ok((b, frames)) => {
                b.frames_waiting() == 0
                    && frames
                        .iter()
                        .all(|f| matches!(f.state, FrameState::Settled | FrameState::Cancelled))
            }
            Err(_) => false,
        };
        if finished && work.batches_settling.contains(batch) {
            let built = p.close_batch(&key).await.map(|ix| vec![ix]);
            let item = ("close batch", batch, &mut report.batches_closed);
            send_one(chain, caller, fees, built, item, &mut tally).await;
        }
    }
    report.transactions += tally.transactions;
    report.failures.extend(tally.failures);
    Ok(())
}

/// Sends one item's instructions in a transaction of their own (none:
/// nothing is due for it) and files the item under `done`, or its error
/// under the tally's failures.
async fn send_one(
    chain: &dyn ake_sdk::chain::Chain,
    caller: &Keypair,
    fees: Fees,
    built: Result<impl IntoIterator<Item = Instruction>, ake_sdk::protocol::ProtocolError>,
    (what, item, done): (&str, &String, &mut Vec<String>),
    tally: &mut Tally,
) {
    let built = built.map(|ixs| ixs.into_iter().collect::<Vec<_>>());
    let result = match built {
        Ok(ixs) if ixs.is_empty() => return,
        Ok(ixs) => {
            tally.transactions += 1;
            ake_sdk::sender::send_instructions(chain, caller, &[], &ixs, fees)
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from)
        }
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => done.push(item.clone()),
        Err(e) => tally.failures.push(format!("{what} {item}: {e}")),
    }
}

fn summary(r: &CrankReport) -> String {
    let mut s = format!(
        "closed {} epoch(s), finalized {} job(s), expired {} job(s), ended {} dispute(s), refunded {} stale job(s) and {} stale batch(es), requeued {} parked batch(es), closed {} finished batch(es), swept {} market(s), matched waiting nodes to {} batch(es) and {} node(s) to queued work, closed {} due page(s), drew {} audit(s), judged {} and settled {} by their verdict, in {} transaction(s)",
        r.epochs_closed.len(),
        r.jobs_finalized.len(),
        r.jobs_expired.len(),
        r.disputes_expired.len(),
        r.stale_jobs_refunded.len(),
        r.stale_batches_refunded.len(),
        r.batches_requeued.len(),
        r.batches_closed.len(),
        r.markets_swept.len(),
        r.frames_matched.len(),
        r.nodes_matched.len(),
        r.due_pages_closed.len(),
        r.audits_drawn.len(),
        r.audits_judged.len(),
        r.audits_settled.len(),
        r.transactions
    );
    for f in &r.failures {
        s.push_str(&format!("\n  failed: {f}"));
    }
    s
}

pub async fn run(g: &GlobalArgs, a: CrankArgs) -> anyhow::Result<()> {
    let ctx = g.connect()?;
    let caller = ctx.signer()?;
    loop {
        match pass(&ctx.protocol, &caller, ctx.fees).await {
            Ok(report) => {
                if a.once {
                    print(ctx.json, &report, summary);
                    return Ok(());
                }
                let busy = report.transactions > 0 || !report.failures.is_empty();
                if busy {
                    print(ctx.json, &report, summary);
                }
            }
            // Unknown is not failed: an unreachable endpoint means wait and retry.
            Err(e) if !a.once => tracing::warn!("crank pass failed, retrying: {e:#}"),
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_secs(a.interval)).await;
    }
}
