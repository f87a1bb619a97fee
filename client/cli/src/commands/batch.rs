//! Batches from the command line: one `ake job post` for every frame, one
//! progress bar while they render, frames listed, fetched and verified in order.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ake_market::instructions::PostBatchArgs;
use ake_sdk::ake_market;
use ake_sdk::job_spec::{FrameRange, ValidSpec};
use ake_sdk::pda;
use ake_sdk::protocol::{associated_token, FrameState, FrameStatus, Protocol, ProtocolError};
use serde::Serialize;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signer::Signer;

use crate::amounts::{format, usd};
use crate::commands::job::{fetch_results, settled_result, state_name};
use crate::context::Ctx;
use crate::output::print;

/// What `ake job post` asked for, for a batch.
pub struct PostBatch {
    pub valid: ValidSpec,
    pub frames: FrameRange,
    /// The most tokens the post may take (escrow of every frame + the fee).
    pub limit: u64,
    /// The most frames out at once: the rent the batch reserves.
    pub parallelism: u32,
    pub wait: Option<Duration>,
    pub out: Option<PathBuf>,
}

/// Frames a batch keeps out at once unless told: 64 frames' rent is 0.40
/// SOL, enough for 64 nodes side by side (or fewer nodes with results
/// waiting in their challenge window).
pub const DEFAULT_PARALLELISM: u32 = 64;

/// `--parallelism` checked against the batch, or the default.
pub fn parallelism(asked: Option<u32>, frames: u32) -> anyhow::Result<u32> {
    match asked {
        None => Ok(DEFAULT_PARALLELISM.min(frames)),
        Some(n) if (1..=frames).contains(&n) => Ok(n),
        Some(n) => anyhow::bail!(
            "--parallelism {n}: a batch of {frames} frames keeps 1 to {frames} out at once"
        ),
    }
}

/// The quote for `frames` frames: (escrow of all, posting fee, total).
pub fn batch_total(escrow_per_frame: u64, posting_fee: u64, frames: u32) -> Option<u64> {
    escrow_per_frame
        .checked_mul(u64::from(frames))?
        .checked_add(posting_fee)
}

pub async fn post(ctx: &Ctx, post: PostBatch, decimals: u8) -> anyhow::Result<()> {
    let p = &ctx.protocol;
    let creator = ctx.signer()?;
    let args = PostBatchArgs {
        nonce: 0,
        first_frame: post.frames.first,
        frame_count: post.frames.count,
        parallelism: post.parallelism,
        gpus: post.valid.args.gpus,
        max_duration_secs: post.valid.args.max_duration_secs,
        min_reputation_bps: post.valid.args.min_reputation_bps,
        max_tokens: post.limit,
        spec: post.valid.args.spec.clone(),
    };
    check_rent(ctx, &creator.pubkey(), &args).await?;
    let (batch_key, ix) = p
        .post_batch(&creator.pubkey(), post.valid.market, args)
        .await?;
    let sig = ctx.send(&creator, &[], &[ix]).await.map_err(|e| {
        match format!("{e:#}").contains("SlippageExceeded") {
            true => anyhow::anyhow!(
                "not posted: the price moved before the batch landed and the on-chain total passed your limit of {} AKE; retry, or raise the limit (--max-tokens, or --slippage-bps without it)",
                format(post.limit, decimals)
            ),
            false => e,
        }
    })?;
    // Nodes already waiting take their frames now; if this races with
    // them, the crank or their own node_ready hands the frames out.
    match p.match_waiting_nodes(creator.pubkey(), &batch_key, 6).await {
        Ok(ixs) if !ixs.is_empty() => {
            if let Err(e) = ctx.send(&creator, &[], &ixs).await {
                tracing::info!("waiting nodes will take their frames themselves: {e:#}");
            }
        }
        _ => {}
    }
    let batch = p
        .batch(&batch_key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("batch {batch_key} is not readable after posting"))?;
    let escrow = batch.escrow_per_frame * u64::from(batch.frame_count);
    let frames = format!("{}-{}", post.frames.first, post.frames.last());
    let Some(limit) = post.wait else {
        print(
            ctx.json,
            &serde_json::json!({
                "batch": batch_key.to_string(),
                "frames": frames,
                "frame_count": batch.frame_count,
                "parallelism": batch.parallelism,
                "signature": sig.to_string(),
                "escrow": escrow,
                "escrow_per_frame": batch.escrow_per_frame,
                "max_charge_micro_usd_per_frame": batch.max_charge_micro_usd,
            }),
            |_| {
                format!(
                    "posted batch {batch_key}: frames {frames}, escrowed {} AKE ({} AKE per frame, for up to {} each) ({sig})\nfollow it: ake job list --batch {batch_key}",
                    format(escrow, decimals),
                    format(batch.escrow_per_frame, decimals),
                    usd(batch.max_charge_micro_usd)
                )
            },
        );
        return Ok(());
    };
    if !ctx.json {
        eprintln!(
            "posted batch {batch_key}: frames {frames}, escrowed {} AKE",
            format(escrow, decimals)
        );
    }
    let token = associated_token(&creator.pubkey(), &p.config().await?.mint);
    let before = p.token_balance(&token).await?;
    let done = follow(ctx, &batch_key, limit, post.out.as_deref()).await?;
    let refunded = p.token_balance(&token).await?.saturating_sub(before);
    let summary = serde_json::json!({
        "batch": batch_key.to_string(),
        "frames_settled": done.settled,
        "frames_cancelled": done.cancelled,
        "paid": escrow.saturating_sub(refunded),
        "refunded": refunded,
        "fetched": done.fetched,
        "closed": done.closed,
    });
    print(ctx.json, &summary, |_| {
        format!(
            "batch {batch_key}: {} frame(s) settled, paid {} AKE, refunded {} AKE{}{}",
            done.settled,
            format(escrow.saturating_sub(refunded), decimals),
            format(refunded, decimals),
            match &post.out {
                Some(dir) => format!(
                    ", {} frame(s) verified into {}",
                    done.fetched.len(),
                    dir.display()
                ),
                None => String::new(),
            },
            if done.closed {
                ", batch closed (rent returned)"
            } else {
                ""
            }
        )
    });
    Ok(())
}

/// A batch holds the rent of `parallelism` frames' job accounts while it
/// runs (reused as frames settle): say so before sending, not after.
async fn check_rent(ctx: &Ctx, creator: &Pubkey, args: &PostBatchArgs) -> anyhow::Result<()> {
    use ake_market::state::Batch;
    let spec_len = anchor_lang::prelude::borsh::to_vec(&args.spec)?.len();
    let chain = ctx.chain();
    let frame_rent = chain.minimum_balance(Batch::frame_job_space()).await?;
    let batch_rent = chain.minimum_balance(Batch::space_for(spec_len)).await?;
    let needed = frame_rent
        .saturating_mul(u64::from(args.parallelism))
        .saturating_add(batch_rent)
        .saturating_add(FEE_MARGIN_LAMPORTS);
    let have = chain.balance(creator).await?;
    let sol = |l: u64| format!("{:.6}", l as f64 / 1e9);
    anyhow::ensure!(
        have >= needed,
        "posting {} frames {} at a time holds {} SOL of rent while they run ({} SOL per frame out at once, and the batch's own {} SOL, all back when the batch closes); your wallet {creator} has {} SOL: fund it, or lower --parallelism",
        args.frame_count,
        args.parallelism,
        sol(needed - FEE_MARGIN_LAMPORTS),
        sol(frame_rent),
        sol(batch_rent),
        sol(have)
    );
    Ok(())
}

/// Room for the posting transaction's fee and the nonce counter's rent.
const FEE_MARGIN_LAMPORTS: u64 = 2_000_000;

#[derive(Serialize)]
struct Fetched {
    frame: u32,
    dir: String,
    commitment: String,
}

struct Followed {
    settled: u32,
    cancelled: u32,
    fetched: Vec<Fetched>,
    closed: bool,
}

/// Follows a batch with one progress bar until every frame settled (or was
/// cancelled), fetching and verifying each frame's outputs into `out` while
/// its result is on-chain; then closes the batch (its rent back).
async fn follow(
    ctx: &Ctx,
    batch_key: &Pubkey,
    limit: Duration,
    out: Option<&Path>,
) -> anyhow::Result<Followed> {
    let p = &ctx.protocol;
    let started = std::time::Instant::now();
    let (batch, _) = p.batch_frames(batch_key).await?;
    let bar = indicatif::ProgressBar::new(u64::from(batch.frame_count));
    if ctx.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} frames settled  {msg}")
            .expect("a valid template"),
    );
    let mut fetched = Vec::new();
    let mut failed = Vec::new();
    let mut seen = BTreeSet::new();
    loop {
        let (_, frames) = p.batch_frames(batch_key).await?;
        let count = |f: fn(&FrameStatus) -> bool| frames.iter().filter(|s| f(s)).count() as u32;
        let settled = count(|f| matches!(f.state, FrameState::Settled));
        let cancelled = count(|f| matches!(f.state, FrameState::Cancelled));
        let running = count(|f| matches!(f.state, FrameState::Open(_)));
        bar.set_position(u64::from(settled));
        bar.set_message(format!("{running} running"));
        if let Some(out) = out {
            for f in &frames {
                if seen.contains(&f.frame) {
                    continue;
                }
                // Shown even when the bar is hidden (not a terminal, --output json).
                let say = |line: String| bar.suspend(|| eprintln!("{line}"));
                let result = match frame_result(p, batch_key, f).await {
                    Ok(Ok(result)) => result,
                    // Settled without a result to fetch: say so once.
                    Ok(Err(why)) if matches!(f.state, FrameState::Settled) => {
                        seen.insert(f.frame);
                        say(format!("  frame {}: not fetched: {why}", f.frame));
                        continue;
                    }
                    Ok(Err(_)) => continue,
                    Err(e) => {
                        seen.insert(f.frame);
                        failed.push(format!("frame {} ({}): {e:#}", f.frame, f.job));
                        say(format!("  frame {}: {e:#}", f.frame));
                        continue;
                    }
                };
                seen.insert(f.frame);
                match fetch_frame(out, f, &result).await {
                    FrameFetch::Fetched(done) => {
                        bar.println(format!("  frame {} verified into {}", f.frame, done.dir));
                        fetched.push(done);
                    }
                    FrameFetch::AlreadyThere(dir) => say(format!(
                        "  frame {}: {} already exists; not fetched again",
                        f.frame,
                        dir.display()
                    )),
                    FrameFetch::Failed(e) => {
                        say(format!("  frame {} of batch {batch_key}: {e}", f.frame));
                        failed.push(format!("frame {} ({}): {e}", f.frame, f.job));
                    }
                }
            }
        }
        let (latest, _) = p.batch_frames(batch_key).await?;
        if latest.parked {
            // Every frame's rent is out; once one settled, put the batch
            // back in line ourselves rather than wait for a crank.
            if let Ok(Some(ix)) = p.requeue_if_ready(ctx.signer()?.pubkey(), batch_key).await {
                if let Err(e) = ctx.send(&ctx.signer()?, &[], &[ix]).await {
                    tracing::info!("a crank will requeue the batch: {e:#}");
                }
            }
        }
        if latest.halted && latest.frames_waiting() > 0 {
            bar.finish_and_clear();
            anyhow::bail!(
                "batch {batch_key} halted: three node owners with verified work handed its frames back before any frame was submitted (the image, inputs or spec likely cannot run); fix them and post again, refund the {} frames still waiting with `ake job cancel {batch_key}`, or, if they can run, put it back in line with `ake job resume {batch_key}`",
                latest.frames_waiting()
            );
        }
        if settled + cancelled == batch.frame_count {
            bar.finish_and_clear();
            let closed = match close(ctx, batch_key).await {
                Ok(_) => true,
                Err(e) => {
                    eprintln!("the batch could not be closed yet ({e:#}); `ake job close-batch {batch_key}` returns its rent");
                    false
                }
            };
            if !failed.is_empty() {
                anyhow::bail!("{}", not_fetched_report(&failed, batch.frame_count));
            }
            return Ok(Followed {
                settled,
                cancelled,
                fetched,
                closed,
            });
        }
        if started.elapsed() > limit {
            bar.finish_and_clear();
            anyhow::bail!(
                "waiting for batch {batch_key}: {settled} of {} frames settled after {} s; it goes on without you: `ake job list --batch {batch_key}` (or raise --wait-timeout)",
                batch.frame_count,
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Closes a finished batch, as many close_batch transactions as it takes.
pub async fn close(ctx: &Ctx, batch_key: &Pubkey) -> anyhow::Result<u32> {
    let payer = ctx.signer()?;
    let mut sent = 0;
    while ctx.protocol.batch(batch_key).await?.is_some() {
        let ix = ctx.protocol.close_batch(batch_key).await?;
        ctx.send(&payer, &[], &[ix]).await?;
        sent += 1;
    }
    Ok(sent)
}

/// One row per frame, in order.
pub fn rows(frames: &[FrameStatus]) -> Vec<serde_json::Value> {
    frames
        .iter()
        .map(|f| {
            let node = match &f.state {
                FrameState::Open(job) => Some(job.node).filter(|n| *n != Pubkey::default()),
                _ => None,
            };
            let state = frame_state_name(&f.state);
            serde_json::json!({
                "frame": f.frame,
                "job": f.job.to_string(),
                "state": state,
                "node": node.map(|n| n.to_string()),
            })
        })
        .collect()
}

pub async fn list(ctx: &Ctx, batch_key: &Pubkey) -> anyhow::Result<()> {
    let (batch, frames) = ctx.protocol.batch_frames(batch_key).await.map_err(|e| {
        anyhow::anyhow!(
            "{e}: no batch at {batch_key} (closed once every frame settled, or never posted)"
        )
    })?;
    let rows = rows(&frames);
    let view = serde_json::json!({
        "batch": batch_key.to_string(),
        "creator": batch.creator.to_string(),
        "frames_waiting": batch.frames_waiting(),
        "handed_out": batch.handed_out,
        "cancelled": batch.cancelled,
        "parallelism": batch.parallelism,
        "parked": batch.parked,
        "frames": rows,
    });
    print(ctx.json, &view, |v| {
        let mut s = format!(
            "batch {batch_key}: {} frame(s), {} handed out, {} waiting, at most {} out at once{}",
            batch.frame_count,
            batch.handed_out,
            batch.frames_waiting(),
            batch.parallelism,
            if batch.cancelled {
                ", rest cancelled"
            } else if batch.parked {
                " (all out: the next frame goes when one settles)"
            } else {
                ""
            }
        );
        for r in v["frames"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "\n{:>8}  {}  {}{}",
                r["frame"],
                r["job"].as_str().unwrap_or(""),
                r["state"].as_str().unwrap_or(""),
                r["node"]
                    .as_str()
                    .map(|n| format!(" (node {n})"))
                    .unwrap_or_default()
            ));
        }
        s
    });
    Ok(())
}

/// A frame's result: from its job account while open, from its history
/// once settled (the account is closed); otherwise why there is none.
async fn frame_result(
    p: &Protocol,
    batch: &Pubkey,
    f: &FrameStatus,
) -> anyhow::Result<Result<(String, [u8; 32]), &'static str>> {
    Ok(match &f.state {
        FrameState::Open(job) => match &job.result {
            Some(r) => Ok((r.output_uri.clone(), r.commitment)),
            None => Err(state_name(job.state)),
        },
        FrameState::Settled => settled_result(p, &pda::frame_job(batch, f.frame)).await?,
        FrameState::Waiting => Err("waiting"),
        FrameState::Cancelled => Err("cancelled"),
    })
}

fn frame_state_name(state: &FrameState) -> &'static str {
    match state {
        FrameState::Open(job) => state_name(job.state),
        FrameState::Waiting => "waiting",
        FrameState::Cancelled => "cancelled",
        FrameState::Settled => "settled",
    }
}

/// Fetches and verifies, in frame order, every frame with a result: open
/// frames from their accounts, settled ones from their history.
pub async fn results(ctx: &Ctx, batch_key: &Pubkey, out: &Path) -> anyhow::Result<()> {
    let frames = match ctx.protocol.batch_frames(batch_key).await {
        Ok((_, frames)) => frames,
        // Closed once every frame settled: its frames are in its history.
        Err(ProtocolError::Missing { .. }) => ctx
            .protocol
            .closed_batch_frames(batch_key)
            .await
            .map_err(|e| anyhow::anyhow!("no batch at {batch_key}, and its history cannot be read here ({e}); fetch each frame with `ake job results <FRAME JOB>`"))?
            .ok_or_else(|| anyhow::anyhow!("no batch at {batch_key}: never posted, or its history is not kept by this endpoint"))?,
        Err(e) => return Err(e.into()),
    };
    let mut fetched = Vec::new();
    let mut missing = Vec::new();
    let mut failed = Vec::new();
    for f in &frames {
        let result = match frame_result(&ctx.protocol, batch_key, f).await {
            Ok(Ok(result)) => result,
            Ok(Err(why)) => {
                missing.push((f.frame, why));
                continue;
            }
            Err(e) => {
                failed.push(format!("frame {} ({}): {e:#}", f.frame, f.job));
                continue;
            }
        };
        match fetch_frame(out, f, &result).await {
            FrameFetch::Fetched(done) => fetched.push(done),
            FrameFetch::AlreadyThere(_) => missing.push((
                f.frame,
                "its folder already exists (fetched earlier; not fetched again)",
            )),
            FrameFetch::Failed(e) => failed.push(format!("frame {} ({}): {e}", f.frame, f.job)),
        }
    }
    let view = serde_json::json!({
        "batch": batch_key.to_string(),
        "fetched": fetched,
        "not_fetched": missing
            .iter()
            .map(|(frame, state)| serde_json::json!({"frame": frame, "state": state}))
            .collect::<Vec<_>>(),
    });
    print(ctx.json, &view, |_| {
        let mut s = format!(
            "{} frame(s) verified against their commitments into {}",
            fetched.len(),
            out.display()
        );
        if !missing.is_empty() {
            s.push_str(&format!(
                "\n{} frame(s) have no result to fetch (`--output json` lists each with why)",
                missing.len()
            ));
        }
        s
    });
    if !failed.is_empty() {
        anyhow::bail!("{}", not_fetched_report(&failed, frames.len() as u32));
    }
    Ok(())
}

/// What fetching one frame's outputs came to.
enum FrameFetch {
    Fetched(Fetched),
    /// Its folder exists (an earlier run into the same --out): left alone.
    AlreadyThere(PathBuf),
    /// Could not be fetched, or did not verify: its folder is removed.
    Failed(String),
}

/// Fetches `f`'s outputs into `out/frame-NNNNNN` and verifies them against
/// `(uri, commitment)`. One frame that fails is reported by the caller; the
/// others go on.
async fn fetch_frame(
    out: &Path,
    f: &FrameStatus,
    (uri, commitment): &(String, [u8; 32]),
) -> FrameFetch {
    let dir = out.join(format!("frame-{:06}", f.frame));
    if dir.exists() {
        return FrameFetch::AlreadyThere(dir);
    }
    match fetch_results(uri, commitment, &dir).await {
        Ok(_) => FrameFetch::Fetched(Fetched {
            frame: f.frame,
            dir: dir.display().to_string(),
            commitment: hex::encode(commitment),
        }),
        Err(e) => {
            discard(&dir);
            FrameFetch::Failed(format!("{e:#}"))
        }
    }
}

/// Removes what a failed fetch left in a frame's folder: nothing there is
/// verified, and a later run into the same --out fetches it again.
fn discard(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            eprintln!(
                "could not remove {} ({e}); remove it before fetching again",
                dir.display()
            );
        }
    }
}

/// The error for frames that could not be fetched or did not verify.
fn not_fetched_report(failed: &[String], frames: u32) -> String {
    format!(
        "{} of {frames} frame(s) could not be fetched or did NOT verify against their commitments (one whose outputs do not match can be disputed while its window is open: ake job dispute <JOB>):\n{}",
        failed.len(),
        failed.join("\n")
    )
}
