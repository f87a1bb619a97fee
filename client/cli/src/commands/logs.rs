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

/// Failed reads in a row `--follow` waits out (a minute) before it gives up.
const FOLLOW_PATIENCE: u32 = 30;

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

/// A log as far as it is known now.
pub enum Found {
    /// The job's result committed it: verified against its root.
    Committed(Vec<u8>),
    /// The live copy of the attempt running now: the node's word.
    Live(Vec<u8>, u8),
    /// Nothing yet: no result, and no live logs for the current attempt.
    NotYet,
    /// The job ended without a result whose logs count, and why.
    Ended(&'static str),
}

/// Where a job's logs are now: with its result, or the live copy of the
/// attempt running now; or why there are none (yet).
pub enum Source {
    /// The result's output URI and the on-chain root it must hold.
    Committed(String, [u8; 32]),
    Live(String, u8),
    NotYet,
    Ended(&'static str),
}

/// Finds where `job`'s logs are (one job read, and a history search when
/// it settled or runs).
pub async fn source(p: &Protocol, job: &Pubkey) -> anyhow::Result<Source> {
    let attempt_now = match p.job(job).await? {
        Some(j) => match j.result {
            Some(r) => return Ok(Source::Committed(r.output_uri, r.commitment)),
            None => j.attempts,
        },
        None => {
            return Ok(match crate::commands::job::settled_result(p, job).await? {
                Ok((uri, commitment)) => Source::Committed(uri, commitment),
                Err(why) => Source::Ended(why),
            })
        }
    };
    let announced = match p.live_logs(job).await {
        Ok(found) => found,
        // A history too long to find it in is the same as none.
        Err(ake_sdk::protocol::ProtocolError::HistoryTooLong { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(match announced {
        // An earlier attempt's copy is not what runs now.
        Some((attempt, uri)) if attempt == attempt_now => Source::Live(uri, attempt),
        _ => Source::NotYet,
    })
}

/// The log `name` (`stdout.log` or `stderr.log`) where `source` says.
pub async fn read(source: &Source, name: &str) -> anyhow::Result<Found> {
    Ok(match source {
        Source::Committed(uri, commitment) => {
            // The store checks the log against the manifest and the manifest
            // against the URI's root; the root must be the on-chain one.
            crate::commands::job::check_uri_names_commitment(uri, commitment)?;
            Found::Committed(OutputStore::for_output(uri)?.fetch_log(uri, name).await?)
        }
        Source::Live(uri, attempt) => Found::Live(
            OutputStore::for_output(uri)?
                .fetch_live_log(uri, name)
                .await?,
            *attempt,
        ),
        Source::NotYet => Found::NotYet,
        Source::Ended(why) => Found::Ended(why),
    })
}

/// The log `name` of `job` as it is now.
pub async fn read_log(p: &Protocol, job: &Pubkey, name: &str) -> anyhow::Result<Found> {
    read(&source(p, job).await?, name).await
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
        return match read_log(p, &job, name).await? {
            Found::Committed(log) => show(&job, name, &log, None, json),
            Found::Live(log, attempt) => show(&job, name, &log, Some(attempt), json),
            Found::NotYet => anyhow::bail!("job {job} has no logs yet: no result is on-chain and its node announced no live logs for this attempt (only jobs of at least the node's live_logs_min_secs, 600 s by default, stream them); `--follow` waits for them"),
            Found::Ended(why) => anyhow::bail!("job {job} has no logs: {why}"),
        };
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

/// Prints the log as it grows, then what the result committed, and ends
/// (also when the job ends without a result).
async fn follow_log(p: &Protocol, job: &Pubkey, name: &str) -> anyhow::Result<()> {
    let mut follower = Follower::default();
    let mut out = std::io::stdout();
    let mut failures = 0u32;
    loop {
        let read = match read_log(p, job, name).await {
            Ok(Found::Committed(log)) => Some((log, None)),
            Ok(Found::Live(log, attempt)) => Some((log, Some(attempt))),
            Ok(Found::NotYet) => None,
            Ok(Found::Ended(why)) => anyhow::bail!("job {job} ended with no logs to follow: {why}"),
            // An endpoint or store outage is waited out, for a while.
            Err(e) if failures < FOLLOW_PATIENCE => {
                failures += 1;
                eprintln!("(could not read the log, trying again: {e:#})");
                tokio::time::sleep(FOLLOW_EVERY).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        failures = 0;
        if let Some((log, attempt)) = read {
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
    use super::{read, Follower, Source};

    /// A result whose URI names another root than the on-chain one: its
    /// logs are refused before anything is fetched, however consistent the
    /// upload there is.
    #[tokio::test]
    async fn committed_logs_must_be_under_the_on_chain_root() {
        let uri = format!("file:///nonexistent/jobs/j-1/{}", "a".repeat(64));
        let err = read(&Source::Committed(uri, [0xbb; 32]), "stdout.log")
            .await
            .err()
            .expect("refused");
        assert!(
            err.to_string()
                .contains("do NOT match the on-chain commitment"),
            "{err}"
        );
    }

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
