//! `ake job logs`: what a job printed. While it runs, the live copy its
//! node uploads (where the node announced it on-chain), which nothing
//! verifies; once a result is on-chain, the logs the result committed,
//! checked against its root. `--follow` prints as it grows and ends with
//! the committed log.

use std::io::Write;
use std::time::Duration;

use ake_node::output_store::OutputStore;
use ake_sdk::protocol::Protocol;
use serde::Serialize;
use solana_sdk::pubkey::Pubkey;

/// How often `--follow` looks again.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

#[derive(Serialize)]
struct LogView {
    job: String,
    stream: &'static str,
    /// Committed with the result and checked against its root (true), or
    /// the node's live copy (false).
    verified: bool,
    /// The attempt a live copy is from.
    attempt: Option<u8>,
    text: String,
}

/// The log `name` as far as it is known now: committed (verified) when the
/// job has a result, else the live copy with its attempt, else none.
pub async fn read_log(
    p: &Protocol,
    job: &Pubkey,
    name: &str,
) -> anyhow::Result<Option<(Vec<u8>, Option<u8>)>> {
    if let Some(uri) = result_uri(p, job).await? {
        let log = OutputStore::for_output(&uri)?.fetch_log(&uri, name).await?;
        return Ok(Some((log, None)));
    }
    match p.live_logs(job).await? {
        Some((attempt, uri)) => {
            let log = OutputStore::for_output(&uri)?
                .fetch_live_log(&uri, name)
                .await?;
            Ok(Some((log, Some(attempt))))
        }
        None => Ok(None),
    }
}

/// The output URI of the job's result: on its account while open, in its
/// history once settled; none while it has no result.
async fn result_uri(p: &Protocol, job: &Pubkey) -> anyhow::Result<Option<String>> {
    match p.job(job).await? {
        Some(j) => Ok(j.result.map(|r| r.output_uri)),
        None => Ok(crate::commands::job::settled_result(p, job)
            .await?
            .ok()
            .map(|(uri, _)| uri)),
    }
}

pub async fn run(
    p: &Protocol,
    job: Pubkey,
    follow: bool,
    stderr: bool,
    json: bool,
) -> anyhow::Result<()> {
    let name = if stderr { "stderr.log" } else { "stdout.log" };
    if json || !follow {
        let Some((log, attempt)) = read_log(p, &job, name).await? else {
            anyhow::bail!("job {job} has no logs yet: no result is on-chain and its node announced no live logs (only jobs of at least the node's live_logs_min_secs, 600 s by default, stream them); `--follow` waits for them");
        };
        return show(&job, name, &log, attempt, json);
    }
    follow_log(p, &job, name).await
}

fn show(
    job: &Pubkey,
    name: &'static str,
    log: &[u8],
    attempt: Option<u8>,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let view = LogView {
            job: job.to_string(),
            stream: name,
            verified: attempt.is_none(),
            attempt,
            text: String::from_utf8_lossy(log).into_owned(),
        };
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    std::io::stdout().write_all(log)?;
    eprintln!("{}", provenance(name, attempt));
    Ok(())
}

pub fn provenance(name: &str, attempt: Option<u8>) -> String {
    match attempt {
        None => format!("({name} as the result committed it: verified against its root)"),
        Some(a) => format!("({name} live from the node running attempt {a}: unverified until the result commits the logs)"),
    }
}

/// Prints the log as it grows, then what the result committed, and ends.
async fn follow_log(p: &Protocol, job: &Pubkey, name: &str) -> anyhow::Result<()> {
    let mut printed: Vec<u8> = Vec::new();
    let mut attempt_shown: Option<u8> = None;
    let mut out = std::io::stdout();
    loop {
        if let Some((log, attempt)) = read_log(p, job, name).await? {
            if attempt.is_some() && attempt != attempt_shown {
                if attempt_shown.is_some() {
                    printed.clear();
                }
                eprintln!("{}", provenance(name, attempt));
                attempt_shown = attempt;
            }
            if !log.starts_with(&printed) {
                eprintln!("(the log below replaces what was shown: the live copy differed)");
                printed.clear();
            }
            out.write_all(&log[printed.len()..])?;
            out.flush()?;
            printed = log;
            if attempt.is_none() {
                eprintln!("{}", provenance(name, None));
                return Ok(());
            }
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}
