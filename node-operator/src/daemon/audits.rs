//! This node's part in the audits of its auditable results (issue 33):
//! sealing a result at submit, then drawing it, revealing its digest once
//! every commitment of its round is in, judging the round and, for an
//! audit run, collecting its pay. Each is a transaction anyone else (the
//! crank) may send too; the node sends them because it has a stake in
//! them: an undrawn job is audited by default, a digest not revealed in
//! time loses the collateral.

use ake_sdk::ake_market::audit::{seal, DRAW_SPAN_SLOTS};
use ake_sdk::ake_market::state::{AuditPhase, Job, JobState, NodeStatus, Verify, SEALED_SALT_LEN};
use ake_sdk::instructions as ixs;
use ake_sdk::seal::{attempt_salt, output_token, seal_salt, TOKEN_PLACEHOLDER};
use solana_sdk::instruction::Instruction;
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signer::Signer;

use super::Daemon;
use crate::job_machine::{retry, Attempt, StepError};

/// What a submit carries for an auditable result.
pub struct SealedResult {
    /// The store URI with the salt's token replaced by `{token}`.
    pub output_uri: String,
    pub digest: [u8; 32],
    pub salt: [u8; SEALED_SALT_LEN],
}

/// What an audit duty does next.
enum Next {
    /// Nothing more for this node: the duty ends.
    Over,
    Wait,
    Send(Instruction, &'static str),
}

impl Daemon {
    /// Seals an auditable result (`digest` hex, from the upload) and notes
    /// the audit duty before anything is signed; a result without audits
    /// goes as uploaded.
    pub(super) async fn seal_result(
        &self,
        attempt: &Attempt,
        job: &Job,
        uri: &str,
        digest: Option<&str>,
    ) -> Result<SealedResult, StepError> {
        if job.verify == Verify::None {
            return Ok(SealedResult {
                output_uri: uri.to_string(),
                digest: [0; 32],
                salt: [0; SEALED_SALT_LEN],
            });
        }
        let hex_digest = digest
            .ok_or_else(|| retry("the upload journaled no output digest for this auditable job"))?;
        let digest = parse_digest(hex_digest)?;
        let salt = attempt_salt(&self.signer, &attempt.job, attempt.number);
        self.journal
            .add_audit_duty(&attempt.key(), hex_digest)
            .await
            .map_err(retry)?;
        Ok(SealedResult {
            output_uri: uri.replace(&output_token(&salt), TOKEN_PLACEHOLDER),
            digest: seal(&attempt.job, &digest, &salt),
            // A creator off the curve (a program) reads the outputs once
            // the reveal makes the salt public.
            salt: seal_salt(&job.creator, &salt).unwrap_or([0; SEALED_SALT_LEN]),
        })
    }

    /// Acts once on every audit this node has a part in (housekeeping).
    pub(super) async fn audit_duties(&self) {
        let duties = match self.journal.audit_duties().await {
            Ok(duties) => duties,
            Err(e) => return tracing::warn!("audit duties unreadable: {e}"),
        };
        for (key, digest) in duties {
            let Some(attempt) = Attempt::parse(&key) else {
                continue;
            };
            match self.audit_step(&attempt, &digest).await {
                Ok(Next::Over) => {
                    if let Err(e) = self.journal.drop_audit_duty(&key).await {
                        tracing::warn!("could not end the audit duty of {key}: {e}");
                    }
                }
                Ok(Next::Wait) => {}
                Ok(Next::Send(ix, what)) => self.send_audit(ix, what, &key).await,
                Err(e) => tracing::debug!("audit of {key}: will retry: {e}"),
            }
        }
    }

    async fn send_audit(&self, ix: Instruction, what: &str, key: &str) {
        let chain = self.protocol.chain.as_ref();
        match ake_sdk::sender::send_instructions(chain, &self.signer, &[], &[ix], self.fees).await {
            Ok(sig) => tracing::info!("{what} for {key} ({sig})"),
            // Raced by the crank, or the round is not complete yet: the
            // next pass reads the chain again.
            Err(e) => tracing::debug!("{what} for {key} not sent this time: {e}"),
        }
    }

    /// The next thing the audit of `attempt` needs from this node.
    async fn audit_step(&self, attempt: &Attempt, digest: &str) -> Result<Next, StepError> {
        let p = &self.protocol;
        let Some(job) = p.job(&attempt.job).await.map_err(retry)? else {
            return Ok(Next::Over); // settled: its account closed
        };
        if job.node != self.node || job.attempts != attempt.number {
            return Ok(Next::Over);
        }
        let me = self.signer.pubkey();
        Ok(match job.audit.phase {
            AuditPhase::Unaudited if job.state == JobState::Assigned => Next::Wait,
            AuditPhase::Undrawn => {
                let slot = p.chain.slot().await.map_err(retry)?;
                if slot < job.audit.draw_slot + DRAW_SPAN_SLOTS {
                    Next::Wait
                } else {
                    let ix = p.draw_audit(&attempt.job, me).await.map_err(retry)?;
                    Next::Send(ix, "draw_audit")
                }
            }
            AuditPhase::Auditing => {
                self.reveal_or_judge(attempt, digest, (attempt.job, &job))
                    .await?
            }
            AuditPhase::Run if job.state == JobState::Submitted => {
                let audited_key = job.audit.audited().unwrap_or(attempt.job);
                match p.job(&audited_key).await.map_err(retry)? {
                    Some(audited) if audited.audit.phase == AuditPhase::Auditing => {
                        self.reveal_or_judge(attempt, digest, (audited_key, &audited))
                            .await?
                    }
                    _ => Next::Wait,
                }
            }
            AuditPhase::RunPaid => {
                let keys = p.settle_keys(&job, me).await.map_err(retry)?;
                Next::Send(ixs::settle_audit(attempt.job, &job, &keys), "settle_audit")
            }
            AuditPhase::Run => Next::Wait,
            // Its audit over, the job settles once its window is: the
            // crank does, and this node does when no crank reads this far
            // back (an audit whose runs were handed back many times).
            AuditPhase::Passed | AuditPhase::Inconclusive => {
                let now = p.chain.clock().await.map_err(retry)?.unix_timestamp;
                if job.challenge_window_end().is_some_and(|end| end < now) {
                    let ix = p.finalize(&attempt.job, me).await.map_err(retry)?;
                    Next::Send(ix, "finalize_job")
                } else {
                    Next::Wait
                }
            }
            AuditPhase::Failed | AuditPhase::RunFailed => self.appeal(attempt, &job).await?,
            // Upheld, a run is paid: this node settles it, as any run. An
            // arbiter silent past its deadline: this node settles, and gets
            // its collateral and the bond back (less the bond's 10 % fee).
            AuditPhase::Appealed | AuditPhase::RunAppealed => {
                let now = p.chain.clock().await.map_err(retry)?.unix_timestamp;
                if job.appeal_decide_by().is_some_and(|t| t < now) {
                    let keys = p.settle_keys(&job, me).await.map_err(retry)?;
                    Next::Send(ixs::settle_audit(attempt.job, &job, &keys), "settle_audit")
                } else {
                    Next::Wait
                }
            }
            _ => Next::Over,
        })
    }

    /// This node lost the audit of `attempt`: it ran the spec in its
    /// sandbox and revealed the digest it computed, so it appeals (once,
    /// inside the job's challenge window from the verdict), locking its
    /// owner's bond; the arbiter re-runs the spec and decides. Two runs of
    /// a spec that reads the clock or the host can agree with each other
    /// and not with an honest node: without the appeal it would lose its
    /// collateral through the creator's choice.
    async fn appeal(&self, attempt: &Attempt, job: &Job) -> Result<Next, StepError> {
        let p = &self.protocol;
        let now = p.chain.clock().await.map_err(retry)?.unix_timestamp;
        if job.appeal_time_over(now) {
            return Ok(Next::Over); // appealed already, nothing revealed, or too late
        }
        if !self.appeal_lost_audits {
            tracing::warn!(
                "lost the audit of {}: not appealing (appeal_lost_audits = false); the loss settles once the time to appeal is over",
                attempt.job
            );
            return Ok(Next::Over);
        }
        let stake = p.stake(&job.node_owner).await.map_err(retry)?;
        // The program takes this node out of the queue for the bond if it
        // must: the stake its place holds counts.
        let node = p.node(&self.node).await.map_err(retry)?;
        let queued = node.filter(|n| n.status == NodeStatus::Queued);
        let free = stake.map_or(0, |s| s.free()) + queued.map_or(0, |n| n.locked_stake);
        if free < job.terms.dispute_bond {
            tracing::warn!(
                "lost the audit of {}: an appeal locks {} base units of stake and the owner has {} free; deposit more (`ake stake deposit`) before the time to appeal ends",
                attempt.job,
                job.terms.dispute_bond,
                free
            );
            return Ok(Next::Wait);
        }
        let ix = ixs::appeal_audit(self.signer.pubkey(), attempt.job, job);
        Ok(Next::Send(ix, "appeal_audit"))
    }

    /// Once every run of the audit has committed: this attempt's reveal,
    /// then (the audit's other parties revealed, or their time is up) the
    /// verdict.
    async fn reveal_or_judge(
        &self,
        attempt: &Attempt,
        digest: &str,
        (audited_key, audited): (Pubkey, &Job),
    ) -> Result<Next, StepError> {
        let p = &self.protocol;
        let runs = p.chain.accounts(&audited.audit.runs).await.map_err(retry)?;
        // A closed run (its address may hold lamports someone sent) counts
        // as done, as the program counts it.
        let committed = runs.iter().flatten().all(|account| {
            account.owner != ake_sdk::ake_market::ID
                || account.data.is_empty()
                || ake_sdk::accounts::decode::<Job>(&account.data)
                    .is_ok_and(|run| run.state == JobState::Submitted)
        });
        if !committed {
            return Ok(Next::Wait);
        }
        let me = self.signer.pubkey();
        let mine = p.job(&attempt.job).await.map_err(retry)?;
        if mine.is_some_and(|j| !j.audit.revealed) {
            let salt = attempt_salt(&self.signer, &attempt.job, attempt.number);
            let pair = (parse_digest(digest)?, salt);
            let ix = ixs::reveal_digest(me, attempt.job, (audited_key, audited), pair);
            return Ok(Next::Send(ix, "reveal_digest"));
        }
        let now = p.chain.clock().await.map_err(retry)?.unix_timestamp;
        if p.audit_round_complete(audited, now).await.map_err(retry)? {
            Ok(Next::Send(
                ixs::judge_audit(me, audited_key, audited),
                "judge_audit",
            ))
        } else {
            Ok(Next::Wait)
        }
    }
}

fn parse_digest(hex_digest: &str) -> Result<[u8; 32], StepError> {
    hex::decode(hex_digest)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| retry(format!("the journaled digest {hex_digest} is unreadable")))
}
