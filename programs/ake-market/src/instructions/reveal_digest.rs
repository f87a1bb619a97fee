use anchor_lang::prelude::*;

use crate::audit::seal;
use crate::constants::NODE_SEED;
use crate::errors::MarketError;
use crate::events::DigestRevealed;
use crate::instructions::judge_audit::decode_run;
use crate::state::{AuditPhase, Job, JobState, Node};

#[event_cpi]
#[derive(Accounts)]
pub struct RevealDigest<'info> {
    pub node_signer: Signer<'info>,
    #[account(
        seeds = [NODE_SEED, node_signer.key().as_ref()],
        bump = node.bump,
        constraint = node.signer == node_signer.key() @ MarketError::NotNodeSigner,
    )]
    pub node: Box<Account<'info, Node>>,
    /// The audited job or one of its runs, whose node reveals.
    #[account(mut, constraint = job.node == node.key() @ MarketError::NotAssignedNode)]
    pub job: Box<Account<'info, Job>>,
    /// The audited job (`job` itself when it is the audited one).
    #[account(constraint = audited.audit.phase == AuditPhase::Auditing @ MarketError::InvalidJobState)]
    pub audited: Box<Account<'info, Job>>,
    /// CHECK: the audit's first run (`audited.audit.runs[0]`), decoded here.
    #[account(address = audited.audit.runs[0] @ MarketError::WrongAuditRun)]
    pub first_run: UncheckedAccount<'info>,
    /// CHECK: the audit's second run (`audited.audit.runs[1]`), decoded here.
    #[account(address = audited.audit.runs[1] @ MarketError::WrongAuditRun)]
    pub second_run: UncheckedAccount<'info>,
}

/// A node reveals the output digest its result sealed, once every run of
/// the audit has committed (or closed uncommitted): nobody can copy a
/// digest before committing its own. `sha256(job ‖ digest ‖ salt)` must
/// equal the sealed digest it submitted; the salt then names where its
/// outputs are, for anyone. Writes: job. Compute: one sha256, two decodes.
pub fn handler(ctx: Context<RevealDigest>, digest: [u8; 32], salt: [u8; 32]) -> Result<()> {
    let a = &mut *ctx.accounts;
    let audited_key = a.audited.key();
    let job_key = a.job.key();
    let is_party = job_key == audited_key || a.job.audit.runs[0] == audited_key;
    require!(
        is_party && a.job.state == JobState::Submitted,
        MarketError::WrongAuditRun
    );
    require!(!a.job.audit.revealed, MarketError::AlreadyRevealed);
    for run in [&a.first_run, &a.second_run] {
        let committed =
            decode_run(&run.to_account_info())?.is_none_or(|r| r.state == JobState::Submitted);
        require!(committed, MarketError::RevealTooEarly);
    }
    let sealed = a
        .job
        .result
        .as_ref()
        .map(|r| r.sealed_digest)
        .ok_or(MarketError::InvalidJobState)?;
    require!(
        seal(&job_key, &digest, &salt) == sealed,
        MarketError::RevealMismatch
    );
    a.job.audit.digest = digest;
    a.job.audit.salt = salt;
    a.job.audit.revealed = true;
    let event = DigestRevealed {
        job: job_key,
        node: a.node.key(),
        digest,
        salt,
    };
    emit_cpi!(event);
    Ok(())
}
