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
    let mut follower = Follower::default();
    let mut out = std::io::stdout();
    loop {
        if let Some((log, attempt)) = read_log(p, job, name).await? {
            let step = follower.next(name, log, attempt);
            for note in &step.notes {
                eprintln!("{note}");
            }
            out.write_all(&step.new)?;
            out.flush()?;
            if step.done {
                eprintln!("{}", provenance(name, None));
                return Ok(());
            }
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// What `--follow` has shown: each read of the log prints only what is
/// new, says where it comes from when that changes, and ends at the
/// committed log.
#[derive(Default)]
struct Follower {
    printed: Vec<u8>,
    attempt: Option<u8>,
}

struct FollowStep {
    notes: Vec<String>,
    new: Vec<u8>,
    /// The committed log was reached: nothing more will come.
    done: bool,
}

impl Follower {
    fn next(&mut self, name: &str, log: Vec<u8>, attempt: Option<u8>) -> FollowStep {
        let mut notes = Vec::new();
        if attempt.is_some() && attempt != self.attempt {
            // A new attempt starts its log from nothing.
            if self.attempt.is_some() {
                self.printed.clear();
            }
            notes.push(provenance(name, attempt));
            self.attempt = attempt;
        }
        if !log.starts_with(&self.printed) {
            notes.push("(the log below replaces what was shown: the live copy differed)".into());
            self.printed.clear();
        }
        let new = log[self.printed.len()..].to_vec();
        self.printed = log;
        FollowStep {
            notes,
            new,
            done: attempt.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Follower;

    fn step(f: &mut Follower, log: &str, attempt: Option<u8>) -> (usize, String, bool) {
        let s = f.next("stdout.log", log.as_bytes().to_vec(), attempt);
        (s.notes.len(), String::from_utf8(s.new).unwrap(), s.done)
    }

    #[test]
    fn follow_prints_each_line_once_and_ends_at_the_committed_log() {
        let mut f = Follower::default();
        assert_eq!(step(&mut f, "a\n", Some(1)), (1, "a\n".into(), false));
        assert_eq!(step(&mut f, "a\n", Some(1)), (0, "".into(), false));
        assert_eq!(step(&mut f, "a\nb\n", Some(1)), (0, "b\n".into(), false));
        // The committed log goes on from what the live copy showed.
        assert_eq!(step(&mut f, "a\nb\nc\n", None), (0, "c\n".into(), true));
    }

    #[test]
    fn a_new_attempt_or_a_differing_log_starts_over_and_says_so() {
        let mut f = Follower::default();
        step(&mut f, "a\nb\n", Some(1));
        // The job went to another node: its log starts from nothing.
        assert_eq!(step(&mut f, "x\n", Some(2)), (1, "x\n".into(), false));
        // The committed log is not what the live copy showed.
        assert_eq!(step(&mut f, "y\n", None), (1, "y\n".into(), true));
    }
}
