//! Audits by re-execution (issue 33), played through the program: the
//! draw, blind commitments and reveals, two of three deciding, and what
//! each party's tokens do.

use ake_market::audit::seal;
use ake_market::errors::MarketError;
use ake_market::events::{AppealResolved, AuditAppealed, AuditDrawn, AuditJudged, AuditSettled};
use ake_market::state::{
    AuditPhase, Job, JobResult, JobSpec, JobState, Node, UnauditableSpec, Verify, SEALED_SALT_LEN,
};
use ake_sdk::instructions as ixs;
use ake_sdk::pda;
use ake_tests::*;
use anchor_lang::{AnchorDeserialize, Discriminator};
use solana_sdk::pubkey::Pubkey;
use solana_sdk::signer::Signer;

const HONEST: [u8; 32] = [0xA1; 32];
const FAKE: [u8; 32] = [0xF0; 32];
const OTHER: [u8; 32] = [0x0C; 32];

/// A chain where every auditable job is drawn (p_min = 100 %).
async fn always_audited() -> Chain {
    let mut chain = Chain::start().await;
    let mut params = chain.params;
    params.audit.p_min_bps = 10_000;
    chain.set_params(params).await;
    chain
}

fn salt_of(node: &TestNode) -> [u8; 32] {
    node.signer.pubkey().to_bytes()
}

async fn post_exact(chain: &mut Chain, creator: &User) -> Pubkey {
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    let mut args = chain.post_args(nonce, 1, 600);
    args.verify = Verify::Exact;
    chain.post_job_with(creator, args).await.unwrap()
}

/// `node` submits `job` after 60 s, sealing `digest` with its salt.
async fn submit_sealed(chain: &mut Chain, node: &TestNode, job: &Pubkey, digest: [u8; 32]) {
    chain.advance(60).await;
    let sealed = seal(job, &digest, &salt_of(node));
    submit_with(chain, node, job, sealed).await.unwrap();
}

async fn submit_with(
    chain: &mut Chain,
    node: &TestNode,
    job: &Pubkey,
    sealed_digest: [u8; 32],
) -> Result<(), solana_sdk::transaction::TransactionError> {
    let due = chain.submit_pick(job).await;
    let result = JobResult {
        sealed_digest,
        sealed_salt: [0; SEALED_SALT_LEN],
        ..result_of(60)
    };
    let ix = ixs::submit_result(
        node.signer.pubkey(),
        node.owner.pubkey(),
        (*job, pda::market(0), None),
        result,
        ixs::AfterSubmit::StayIdle,
        due,
    );
    chain.send(&[ix], &[&node.signer]).await
}

async fn reveal(
    chain: &mut Chain,
    node: &TestNode,
    job: &Pubkey,
    audited_key: &Pubkey,
    digest: [u8; 32],
) -> Result<(), solana_sdk::transaction::TransactionError> {
    reveal_as(chain, node, job, audited_key, (digest, salt_of(node))).await
}

async fn reveal_as(
    chain: &mut Chain,
    node: &TestNode,
    job: &Pubkey,
    audited_key: &Pubkey,
    pair: ([u8; 32], [u8; 32]),
) -> Result<(), solana_sdk::transaction::TransactionError> {
    let audited = chain.job(audited_key).await.unwrap();
    let ix = ixs::reveal_digest(node.signer.pubkey(), *job, (*audited_key, &audited), pair);
    chain.send(&[ix], &[&node.signer]).await
}

fn event<T: AnchorDeserialize + Discriminator>(events: &[Vec<u8>]) -> T {
    let raw = events
        .iter()
        .find(|e| e.starts_with(T::DISCRIMINATOR))
        .expect("event");
    T::deserialize(&mut &raw[8..]).unwrap()
}

async fn draw(chain: &mut Chain, job_key: &Pubkey) -> AuditDrawn {
    let payer = chain.payer();
    let ix = chain.draw_audit_ix(payer.pubkey(), job_key).await;
    event(&chain.send_with_events(&[ix], &[]).await.unwrap())
}

async fn judge(
    chain: &mut Chain,
    job_key: &Pubkey,
) -> Result<AuditJudged, solana_sdk::transaction::TransactionError> {
    let job = chain.job(job_key).await.unwrap();
    let payer = chain.payer();
    let ix = ixs::judge_audit(payer.pubkey(), *job_key, &job);
    chain.send_with_events(&[ix], &[]).await.map(|e| event(&e))
}

/// A `judge_audit` that finds a digest missing: it starts the time to
/// reveal; returns its end.
async fn start_reveal_clock(chain: &mut Chain, job_key: &Pubkey) -> i64 {
    let job = chain.job(job_key).await.unwrap();
    let payer = chain.payer();
    let ix = ixs::judge_audit(payer.pubkey(), *job_key, &job);
    let events = chain.send_with_events(&[ix], &[]).await.unwrap();
    let due: ake_market::events::RevealsDue = event(&events);
    assert_eq!(
        chain.job(job_key).await.unwrap().audit.phase,
        AuditPhase::Auditing
    );
    due.deadline
}

async fn settle_audit(chain: &mut Chain, creator: &User, job_key: &Pubkey) -> AuditSettled {
    try_settle_audit(chain, creator, job_key).await.unwrap()
}

async fn try_settle_audit(
    chain: &mut Chain,
    creator: &User,
    job_key: &Pubkey,
) -> Result<AuditSettled, solana_sdk::transaction::TransactionError> {
    let job = chain.job(job_key).await.unwrap();
    let payer = chain.payer().pubkey();
    let keys = chain.settle_keys(creator.token, payer).await;
    let ix = ixs::settle_audit(*job_key, &job, &keys);
    chain.send_with_events(&[ix], &[]).await.map(|e| event(&e))
}

/// `node` appeals the audit `job_key` lost.
async fn appeal(
    chain: &mut Chain,
    node: &TestNode,
    job_key: &Pubkey,
) -> Result<AuditAppealed, solana_sdk::transaction::TransactionError> {
    let job = chain.job(job_key).await.unwrap();
    let ix = ixs::appeal_audit(node.signer.pubkey(), *job_key, &job);
    chain
        .send_with_events(&[ix], &[&node.signer])
        .await
        .map(|e| event(&e))
}

/// The arbiter (the admin here) decides an appeal.
async fn resolve_appeal(
    chain: &mut Chain,
    job_key: &Pubkey,
    upheld: bool,
) -> Result<AppealResolved, solana_sdk::transaction::TransactionError> {
    let job = chain.job(job_key).await.unwrap();
    let arbiter = chain.admin.insecure_clone();
    let ix = ixs::resolve_appeal(arbiter.pubkey(), *job_key, &job, upheld);
    chain
        .send_with_events(&[ix], &[&arbiter])
        .await
        .map(|e| event(&e))
}

/// The escrow vault holds exactly the market's open obligations, its
/// pending burns and fees, and its audit reserve.
async fn assert_books(chain: &mut Chain) {
    let market = chain.market(0).await;
    let ledger = chain.ledger().await;
    let owed = market.open_escrow + ledger.escrow_in - ledger.escrow_out
        + ledger.pending_burn
        + ledger.pending_treasury
        + market.audit_reserve;
    assert_eq!(chain.escrow_balance().await, owed, "escrow vault vs books");
}

/// The stake vault holds exactly the three owners' stakes (the only ones
/// on the chain) and each owner's lock is what its open jobs hold.
async fn assert_stake_books(chain: &mut Chain, a: &Audit) {
    let mut staked = 0;
    for node in [&a.original, &a.auditors[0], &a.auditors[1]] {
        let stake = chain.stake_of(&node.owner.pubkey()).await;
        staked += stake.amount + stake.unbonding;
        let mut locked = 0;
        for job in [a.job, a.runs[0], a.runs[1]] {
            if let Some(j) = chain.job(&job).await {
                if j.node_owner == node.owner.pubkey() {
                    locked += j.collateral + j.appeal_bond();
                }
            }
        }
        assert_eq!(stake.locked, locked, "lock of {}", node.owner.pubkey());
    }
    assert_eq!(
        chain.balance(&pda::stake_vault()).await,
        staked,
        "stake vault vs stakes"
    );
}

/// An audit in progress: the audited node, two auditors of two other
/// owners, the job (submitted with `digest`, drawn) and its two runs, each
/// taken by its auditor and committed with `digests`.
struct Audit {
    original: TestNode,
    auditors: [TestNode; 2],
    job: Pubkey,
    runs: [Pubkey; 2],
}

async fn audit(
    chain: &mut Chain,
    creator: &User,
    digest: [u8; 32],
    digests: [[u8; 32]; 2],
) -> Audit {
    let original = chain.node(1, 1_000 * AKE).await;
    let auditors = [
        chain.node(1, 1_000 * AKE).await,
        chain.node(1, 1_000 * AKE).await,
    ];
    drawn_and_taken(chain, creator, original, auditors, (digest, digests)).await
}

async fn drawn_and_taken(
    chain: &mut Chain,
    creator: &User,
    original: TestNode,
    auditors: [TestNode; 2],
    (digest, digests): ([u8; 32], [[u8; 32]; 2]),
) -> Audit {
    chain.node_ready(&original).await.unwrap();
    let job = post_exact(chain, creator).await;
    assert_eq!(chain.job(&job).await.unwrap().node, original.account);
    submit_sealed(chain, &original, &job, digest).await;
    chain.advance(20).await;
    let drawn = draw(chain, &job).await;
    assert!(drawn.drawn && !drawn.by_default);
    let runs = [pda::audit_run(&job, 1), pda::audit_run(&job, 2)];
    assert_eq!(drawn.runs, runs.to_vec());
    // The audited node's owner never audits its own job.
    chain.node_ready(&original).await.unwrap();
    assert_eq!(chain.job(&runs[0]).await.unwrap().state, JobState::Queued);
    let unready = ixs::node_unready(
        original.owner.pubkey(),
        original.signer.pubkey(),
        original.owner.pubkey(),
        pda::market(0),
    );
    chain.send_ok(&[unready], &[&original.owner.key]).await;
    let auditors = take_runs(chain, auditors, &runs).await;
    // Nobody reveals before both runs commit: a digest could be copied.
    submit_sealed(chain, &auditors[0], &runs[0], digests[0]).await;
    assert_market_error(
        reveal(chain, &original, &job, &job, digest).await,
        MarketError::RevealTooEarly,
    );
    assert_market_error(
        reveal(chain, &auditors[0], &runs[0], &job, digests[0]).await,
        MarketError::RevealTooEarly,
    );
    submit_sealed(chain, &auditors[1], &runs[1], digests[1]).await;
    Audit {
        original,
        auditors,
        job,
        runs,
    }
}

/// The auditors arm and take the two runs; returned in the runs' order.
async fn take_runs(
    chain: &mut Chain,
    auditors: [TestNode; 2],
    runs: &[Pubkey; 2],
) -> [TestNode; 2] {
    for auditor in &auditors {
        chain.node_ready(auditor).await.unwrap();
    }
    let first = chain.job(&runs[0]).await.unwrap().node;
    let [a, b] = auditors;
    let ordered = if first == a.account { [a, b] } else { [b, a] };
    for (run, auditor) in runs.iter().zip(&ordered) {
        assert_eq!(chain.job(run).await.unwrap().node, auditor.account);
    }
    ordered
}

/// Every party reveals what it committed.
async fn reveal_all(chain: &mut Chain, a: &Audit, digest: [u8; 32], digests: [[u8; 32]; 2]) {
    reveal(chain, &a.original, &a.job, &a.job, digest)
        .await
        .unwrap();
    for ((auditor, run), digest) in a.auditors.iter().zip(&a.runs).zip(digests) {
        reveal(chain, auditor, run, &a.job, digest).await.unwrap();
    }
}

#[tokio::test]
async fn an_honest_job_is_audited_matched_and_paid() {
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let supply0 = chain.supply().await;
    let a = audit(&mut chain, &creator, HONEST, [HONEST, HONEST]).await;
    let job = chain.job(&a.job).await.unwrap();
    assert_eq!(job.audit.phase, AuditPhase::Auditing);
    // The execution collateral stays locked until the audit resolves: it is R.
    assert_eq!(job.collateral, 200 * AKE);
    // Nor may the job settle or be accepted.
    assert_market_error(
        chain.finalize(creator.token, &a.job).await,
        MarketError::AuditPending,
    );
    assert_market_error(
        chain.accept(&creator, &a.job).await,
        MarketError::AuditPending,
    );
    assert_market_error(
        reveal(&mut chain, &a.auditors[0], &a.runs[0], &a.job, OTHER).await,
        MarketError::RevealMismatch,
    );
    reveal(&mut chain, &a.original, &a.job, &a.job, HONEST)
        .await
        .unwrap();
    reveal(&mut chain, &a.auditors[0], &a.runs[0], &a.job, HONEST)
        .await
        .unwrap();
    // A digest is missing: the first call starts the time to reveal, and
    // nobody is judged before it is up.
    let deadline = start_reveal_clock(&mut chain, &a.job).await;
    assert_eq!(deadline, chain.now().await + i64::from(AUDIT_REVEAL_SECS));
    assert_market_error(
        judge(&mut chain, &a.job).await.map(|_| ()),
        MarketError::AuditNotReady,
    );
    reveal(&mut chain, &a.auditors[1], &a.runs[1], &a.job, HONEST)
        .await
        .unwrap();
    let judged = judge(&mut chain, &a.job).await.unwrap();
    assert_eq!(judged.verdict, AuditPhase::Passed);
    assert_eq!(
        judged.run_verdicts,
        [AuditPhase::RunPaid, AuditPhase::RunPaid]
    );
    // Passed: down to the result collateral.
    assert!(chain.job(&a.job).await.unwrap().collateral < 200 * AKE);

    for run in a.runs {
        let reserve = chain.market(0).await.audit_reserve;
        let run_escrow = chain.job(&run).await.unwrap().escrow;
        let paid = settle_audit(&mut chain, &creator, &run).await;
        assert_eq!(paid.slashed, 0);
        assert!(paid.charged > 0, "the auditor is paid");
        assert_eq!(paid.charged + paid.to_reserve, run_escrow);
        assert_eq!(
            chain.market(0).await.audit_reserve,
            reserve + paid.to_reserve
        );
    }
    // The creator's challenge window counts from the verdict.
    let before = chain.account::<Node>(&a.original.account).await.unwrap();
    assert_market_error(
        chain.finalize(creator.token, &a.job).await,
        MarketError::ChallengeWindowOpen,
    );
    chain.advance(3_700).await;
    chain.finalize(creator.token, &a.job).await.unwrap();
    let after = chain.account::<Node>(&a.original.account).await.unwrap();
    // Work an audit confirmed counts twice for reputation.
    let work = after.work_micro_usd - before.work_micro_usd;
    assert_eq!(after.proven_micro_usd - before.proven_micro_usd, 2 * work);
    assert_books(&mut chain).await;
    let stake = chain.stake_of(&a.original.owner.pubkey()).await;
    assert_eq!((stake.amount, stake.locked), (1_000 * AKE, 0));
    assert!(chain.sweep().await);
    assert!(chain.supply().await < supply0, "the charges were burned");
}

#[tokio::test]
async fn a_faked_result_is_caught_two_to_one_and_its_appeal_burns_the_bond_too() {
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let a = audit(&mut chain, &creator, FAKE, [HONEST, HONEST]).await;
    reveal_all(&mut chain, &a, FAKE, [HONEST, HONEST]).await;
    let judged = judge(&mut chain, &a.job).await.unwrap();
    assert_eq!(judged.verdict, AuditPhase::Failed);
    assert_eq!(
        judged.run_verdicts,
        [AuditPhase::RunPaid, AuditPhase::RunPaid]
    );

    let creator_before = chain.balance(&creator.token).await;
    let job = chain.job(&a.job).await.unwrap();
    let (escrow, r, bond) = (job.escrow, job.collateral, job.terms.dispute_bond);
    assert_eq!(r, 200 * AKE);
    // The node may appeal first: nothing settles inside the window.
    assert_market_error(
        try_settle_audit(&mut chain, &creator, &a.job)
            .await
            .map(|_| ()),
        MarketError::AppealWindowOpen,
    );
    // Only its own node appeals, once, with its owner's bond.
    assert_market_error(
        appeal(&mut chain, &a.auditors[0], &a.job).await.map(|_| ()),
        MarketError::NotAssignedNode,
    );
    let appealed = appeal(&mut chain, &a.original, &a.job).await.unwrap();
    assert_eq!(appealed.bond, bond);
    let stake = chain.stake_of(&a.original.owner.pubkey()).await;
    assert_eq!(stake.locked, r + bond, "the bond is locked beside R");
    assert_stake_books(&mut chain, &a).await;
    assert_market_error(
        appeal(&mut chain, &a.original, &a.job).await.map(|_| ()),
        MarketError::NotAppealable,
    );
    assert_market_error(
        try_settle_audit(&mut chain, &creator, &a.job)
            .await
            .map(|_| ()),
        MarketError::AppealUndecided,
    );
    // The cheat's appeal is rejected: settling burns R and the bond.
    let rejected = resolve_appeal(&mut chain, &a.job, false).await.unwrap();
    assert_eq!(
        (rejected.upheld, rejected.verdict),
        (false, AuditPhase::Failed)
    );
    assert_market_error(
        resolve_appeal(&mut chain, &a.job, true).await.map(|_| ()),
        MarketError::NoAppeal,
    );
    assert_market_error(
        appeal(&mut chain, &a.original, &a.job).await.map(|_| ()),
        MarketError::NotAppealable,
    );
    let lost = settle_audit(&mut chain, &creator, &a.job).await;
    // The creator gets its whole escrow back; R and the bond are burned,
    // paid to nobody: the cheat's appeal cost it 100 AKE more.
    assert_eq!((lost.creator_refund, lost.slashed), (escrow, r + bond));
    assert_eq!(chain.balance(&creator.token).await, creator_before + escrow);
    let stake = chain.stake_of(&a.original.owner.pubkey()).await;
    assert_eq!((stake.amount, stake.locked), (1_000 * AKE - r - bond, 0));
    assert_stake_books(&mut chain, &a).await;
    let node = chain.account::<Node>(&a.original.account).await.unwrap();
    assert!(node.suspended);
    assert_eq!(node.reputation_bps, 0);
    for run in a.runs {
        let paid = settle_audit(&mut chain, &creator, &run).await;
        assert!(paid.charged > 0 && paid.slashed == 0);
    }
    assert_books(&mut chain).await;
    let supply = chain.supply().await;
    assert!(chain.sweep().await);
    assert!(chain.supply().await <= supply - r, "R burned at the sweep");
}

/// A spec that reads the clock or the host: its two runs, on other hosts
/// seconds later, agree with each other and not with the honest node. Its
/// appeal, upheld, costs it nothing; the creator who framed it pays for
/// the job and every run, and its spec is marked.
#[tokio::test]
async fn a_node_framed_by_its_spec_appeals_and_loses_nothing() {
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let a = audit(&mut chain, &creator, HONEST, [OTHER, OTHER]).await;
    reveal_all(&mut chain, &a, HONEST, [OTHER, OTHER]).await;
    let judged = judge(&mut chain, &a.job).await.unwrap();
    assert_eq!(judged.verdict, AuditPhase::Failed);
    let before = chain.account::<Node>(&a.original.account).await.unwrap();
    appeal(&mut chain, &a.original, &a.job).await.unwrap();
    // Only the job's arbiter decides.
    let job = chain.job(&a.job).await.unwrap();
    let ix = ixs::resolve_appeal(creator.pubkey(), a.job, &job, true);
    assert_market_error(
        chain.send(&[ix], &[&creator.key]).await,
        MarketError::NotArbiter,
    );
    let upheld = resolve_appeal(&mut chain, &a.job, true).await.unwrap();
    assert_eq!(
        (upheld.upheld, upheld.verdict, upheld.spec_marked),
        (true, AuditPhase::Inconclusive, true)
    );
    let mark = pda::unauditable_spec(&pda::market(0), &job.spec_hash);
    let marked: UnauditableSpec = chain.account(&mark).await.unwrap();
    assert_eq!(marked.job, a.job);
    // The bond is back; the collateral down to the result collateral.
    let job = chain.job(&a.job).await.unwrap();
    assert!(job.collateral < 200 * AKE);
    let stake = chain.stake_of(&a.original.owner.pubkey()).await;
    assert_eq!((stake.amount, stake.locked), (1_000 * AKE, job.collateral));
    assert_stake_books(&mut chain, &a).await;
    for run in a.runs {
        let paid = settle_audit(&mut chain, &creator, &run).await;
        assert!(
            paid.charged > 0 && paid.slashed == 0,
            "the runs were honest too"
        );
    }
    // The job settles as usual after the creator's challenge window: its
    // node is credited its work and has lost nothing.
    assert_market_error(
        chain.finalize(creator.token, &a.job).await,
        MarketError::ChallengeWindowOpen,
    );
    chain.advance(3_700).await;
    let creator_before = chain.balance(&creator.token).await;
    chain.finalize(creator.token, &a.job).await.unwrap();
    assert!(
        chain.balance(&creator.token).await - creator_before < job.escrow,
        "the creator pays for the job"
    );
    let after = chain.account::<Node>(&a.original.account).await.unwrap();
    assert!(after.work_micro_usd > before.work_micro_usd);
    assert!(!after.suspended);
    let stake = chain.stake_of(&a.original.owner.pubkey()).await;
    assert_eq!((stake.amount, stake.locked), (1_000 * AKE, 0));
    assert_books(&mut chain).await;
}

/// A node whose stake is all locked by its job's `R` and its place in the
/// queue still appeals: it leaves the queue for the bond.
#[tokio::test]
async fn a_queued_node_leaves_the_queue_to_appeal() {
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let original = chain.node(1, 400 * AKE).await;
    let auditors = [
        chain.node(1, 1_000 * AKE).await,
        chain.node(1, 1_000 * AKE).await,
    ];
    let a = drawn_and_taken(
        &mut chain,
        &creator,
        original,
        auditors,
        (HONEST, [OTHER, OTHER]),
    )
    .await;
    reveal_all(&mut chain, &a, HONEST, [OTHER, OTHER]).await;
    assert_eq!(
        judge(&mut chain, &a.job).await.unwrap().verdict,
        AuditPhase::Failed
    );
    // Its owner held it out of the queue for the draw; it waits again.
    chain.rearm(&a.original).await.unwrap();
    chain.node_ready(&a.original).await.unwrap();
    let stake = chain.stake_of(&a.original.owner.pubkey()).await;
    let job = chain.job(&a.job).await.unwrap();
    assert!(
        stake.amount - stake.locked < job.terms.dispute_bond,
        "no free stake for the bond"
    );
    appeal(&mut chain, &a.original, &a.job).await.unwrap();
    let node = chain.account::<Node>(&a.original.account).await.unwrap();
    assert_eq!(
        (node.status, node.locked_stake),
        (ake_market::state::NodeStatus::Idle, 0)
    );
    assert_eq!(chain.next_work_for(&a.original).await, None);
    let stake = chain.stake_of(&a.original.owner.pubkey()).await;
    assert_eq!(stake.locked, job.collateral + job.terms.dispute_bond);
    resolve_appeal(&mut chain, &a.job, true).await.unwrap();
    assert_stake_books(&mut chain, &a).await;
}

/// An arbiter that never decides an appeal penalises nobody: the run's
/// collateral comes back and only the bond's timeout fee is burned; the
/// run is not paid.
#[tokio::test]
async fn an_appeal_the_arbiter_leaves_undecided_penalises_nobody() {
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let a = audit(&mut chain, &creator, HONEST, [OTHER, HONEST]).await;
    reveal_all(&mut chain, &a, HONEST, [OTHER, HONEST]).await;
    let judged = judge(&mut chain, &a.job).await.unwrap();
    assert_eq!(judged.run_verdicts[0], AuditPhase::RunFailed);
    let run = chain.job(&a.runs[0]).await.unwrap();
    let appealed = appeal(&mut chain, &a.auditors[0], &a.runs[0])
        .await
        .unwrap();
    assert_eq!(
        chain.job(&a.runs[0]).await.unwrap().audit.phase,
        AuditPhase::RunAppealed
    );
    let now = chain.now().await;
    chain.advance(appealed.decide_by - now).await;
    assert_market_error(
        try_settle_audit(&mut chain, &creator, &a.runs[0])
            .await
            .map(|_| ()),
        MarketError::AppealUndecided,
    );
    chain.advance(1).await;
    // Past the deadline the arbiter's word comes too late.
    for upheld in [true, false] {
        assert_market_error(
            resolve_appeal(&mut chain, &a.runs[0], upheld)
                .await
                .map(|_| ()),
            MarketError::AppealDecisionLate,
        );
    }
    let reserve = chain.market(0).await.audit_reserve;
    let lapsed = settle_audit(&mut chain, &creator, &a.runs[0]).await;
    let fee = run.terms.dispute_bond / 10;
    assert_eq!(
        (
            lapsed.verdict,
            lapsed.slashed,
            lapsed.charged,
            lapsed.to_reserve
        ),
        (AuditPhase::RunAppealed, fee, 0, run.escrow)
    );
    assert_eq!(chain.market(0).await.audit_reserve, reserve + run.escrow);
    let stake = chain.stake_of(&a.auditors[0].owner.pubkey()).await;
    assert_eq!((stake.amount, stake.locked), (1_000 * AKE - fee, 0));
    assert_stake_books(&mut chain, &a).await;
    let node = chain.account::<Node>(&a.auditors[0].account).await.unwrap();
    assert!(!node.suspended);
    settle_audit(&mut chain, &creator, &a.runs[1]).await;
    chain.finalize(creator.token, &a.job).await.unwrap();
    assert_books(&mut chain).await;
}

#[tokio::test]
async fn a_lying_auditor_is_outvoted_and_an_inconclusive_spec_penalises_nobody() {
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let a = audit(&mut chain, &creator, HONEST, [FAKE, HONEST]).await;
    reveal_all(&mut chain, &a, HONEST, [FAKE, HONEST]).await;
    let judged = judge(&mut chain, &a.job).await.unwrap();
    assert_eq!(judged.verdict, AuditPhase::Passed);
    assert_eq!(
        judged.run_verdicts,
        [AuditPhase::RunFailed, AuditPhase::RunPaid]
    );
    let r = chain.job(&a.runs[0]).await.unwrap().collateral;
    // The liar does not appeal: its loss settles once its window is over
    // (the job's challenge window, from the verdict), too late to appeal.
    assert_market_error(
        try_settle_audit(&mut chain, &creator, &a.runs[0])
            .await
            .map(|_| ()),
        MarketError::AppealWindowOpen,
    );
    chain.advance(3_601).await;
    assert_market_error(
        appeal(&mut chain, &a.auditors[0], &a.runs[0])
            .await
            .map(|_| ()),
        MarketError::AppealWindowClosed,
    );
    let lost = settle_audit(&mut chain, &creator, &a.runs[0]).await;
    assert_eq!((lost.slashed, lost.charged), (r, 0));
    assert_eq!(
        chain.stake_of(&a.auditors[0].owner.pubkey()).await.amount,
        1_000 * AKE - r
    );
    settle_audit(&mut chain, &creator, &a.runs[1]).await;
    chain.advance(3_700).await;
    chain.finalize(creator.token, &a.job).await.unwrap();
    assert_books(&mut chain).await;

    // A spec that is not deterministic: three runs, three digests.
    let a = audit(&mut chain, &creator, HONEST, [FAKE, OTHER]).await;
    reveal_all(&mut chain, &a, HONEST, [FAKE, OTHER]).await;
    let judged = judge(&mut chain, &a.job).await.unwrap();
    assert_eq!(judged.verdict, AuditPhase::Inconclusive);
    assert_eq!(
        judged.run_verdicts,
        [AuditPhase::RunPaid, AuditPhase::RunPaid]
    );
    for run in a.runs {
        assert_eq!(settle_audit(&mut chain, &creator, &run).await.slashed, 0);
    }
    chain.advance(3_700).await;
    chain.finalize(creator.token, &a.job).await.unwrap();
    for node in [&a.original, &a.auditors[0], &a.auditors[1]] {
        let stake = chain.stake_of(&node.owner.pubkey()).await;
        assert_eq!(
            (stake.amount, stake.locked),
            (1_000 * AKE, 0),
            "nobody penalised"
        );
    }
    assert_books(&mut chain).await;

    // The spec is marked: no exact job of it on this market again (its
    // audits would pay runs and decide nothing); unaudited it still runs,
    // and a changed spec (another hash) may ask again.
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    let mut args = chain.post_args(nonce, 1, 600);
    args.verify = Verify::Exact;
    let spec_hash = args.spec.validate().unwrap().1;
    let mark = pda::unauditable_spec(&pda::market(0), &spec_hash);
    let marked: UnauditableSpec = chain.account(&mark).await.unwrap();
    assert_eq!((marked.job, marked.spec_hash), (a.job, spec_hash));
    let balance = chain.balance(&creator.token).await;
    assert_market_error(
        chain
            .post_job_with(&creator, args.clone())
            .await
            .map(|_| ()),
        MarketError::SpecNotAuditable,
    );
    assert_eq!(
        chain.balance(&creator.token).await,
        balance,
        "nothing taken"
    );
    if let JobSpec::Inline(spec) = &mut args.spec {
        spec.command.push("--deterministic".into());
    }
    chain.post_job_with(&creator, args.clone()).await.unwrap();
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    chain
        .post_job_with(&creator, chain.post_args(nonce, 1, 600))
        .await
        .unwrap();
    // An exact job names the mark: leaving it out is refused.
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    let mut args = chain.post_args(nonce, 1, 600);
    args.verify = Verify::Exact;
    let mut ix = chain.post_job_ix(&creator, args).await;
    let at = ix.accounts.iter().position(|m| m.pubkey == mark).unwrap();
    ix.accounts[at].pubkey = ake_market::ID;
    assert_market_error(
        chain.send(&[ix], &[&creator.key]).await,
        MarketError::MissingUnauditableMark,
    );
}

/// An audited job's image is pinned by digest: a tag could name another
/// image by the time its audit runs, and an honest node would lose.
#[tokio::test]
async fn an_exact_job_with_a_tagged_image_is_refused() {
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    let mut args = chain.post_args(nonce, 1, 600);
    args.verify = Verify::Exact;
    if let JobSpec::Inline(spec) = &mut args.spec {
        spec.image = "ake/render:latest".into();
    }
    let balance = chain.balance(&creator.token).await;
    assert_market_error(
        chain.post_job_with(&creator, args).await.map(|_| ()),
        MarketError::ExactNeedsPinnedImage,
    );
    assert_eq!(chain.balance(&creator.token).await, balance);
}

#[tokio::test]
async fn a_lazy_auditor_that_copies_the_commitment_cannot_open_it_and_loses() {
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let original = chain.node(1, 1_000 * AKE).await;
    let auditors = [
        chain.node(1, 1_000 * AKE).await,
        chain.node(1, 1_000 * AKE).await,
    ];
    chain.node_ready(&original).await.unwrap();
    let job = post_exact(&mut chain, &creator).await;
    submit_sealed(&mut chain, &original, &job, HONEST).await;
    chain.advance(20).await;
    draw(&mut chain, &job).await;
    let runs = [pda::audit_run(&job, 1), pda::audit_run(&job, 2)];
    let auditors = take_runs(&mut chain, auditors, &runs).await;
    // The lazy one copies the audited job's commitment without running anything.
    let copied = chain.job(&job).await.unwrap().result.unwrap().sealed_digest;
    chain.advance(60).await;
    submit_with(&mut chain, &auditors[0], &runs[0], copied)
        .await
        .unwrap();
    submit_sealed(&mut chain, &auditors[1], &runs[1], HONEST).await;
    reveal(&mut chain, &original, &job, &job, HONEST)
        .await
        .unwrap();
    // Even with the audited node's digest and salt it cannot open it: the
    // commitment is bound to the job it was made for.
    assert_market_error(
        reveal_as(
            &mut chain,
            &auditors[0],
            &runs[0],
            &job,
            (HONEST, salt_of(&original)),
        )
        .await,
        MarketError::RevealMismatch,
    );
    reveal(&mut chain, &auditors[1], &runs[1], &job, HONEST)
        .await
        .unwrap();
    start_reveal_clock(&mut chain, &job).await;
    chain.advance(i64::from(AUDIT_REVEAL_SECS) + 1).await;
    let judged = judge(&mut chain, &job).await.unwrap();
    assert_eq!(judged.verdict, AuditPhase::Passed);
    assert_eq!(
        judged.run_verdicts,
        [AuditPhase::RunFailed, AuditPhase::RunPaid]
    );
    let r = chain.job(&runs[0]).await.unwrap().collateral;
    assert_eq!(
        settle_audit(&mut chain, &creator, &runs[0]).await.slashed,
        r
    );
    settle_audit(&mut chain, &creator, &runs[1]).await;
    chain.advance(3_700).await;
    chain.finalize(creator.token, &job).await.unwrap();
    assert_books(&mut chain).await;
}

/// `original` runs an exact job, submits `digest` and is drawn while no
/// node waits: the job and its two runs, queued.
async fn queued_runs(
    chain: &mut Chain,
    creator: &User,
    original: &TestNode,
    digest: [u8; 32],
) -> (Pubkey, Vec<Pubkey>) {
    chain.node_ready(original).await.unwrap();
    let job = post_exact(chain, creator).await;
    submit_sealed(chain, original, &job, digest).await;
    chain.advance(20).await;
    let runs = draw(chain, &job).await.runs;
    (job, runs)
}

/// The attack: a fresh node (no proven work, so its hand-back is
/// uncounted) takes a run and hands it back free, which used to displace
/// the audited owner from the run's releasers; the cheat's own second node
/// then took its own audit and voted for itself.
#[tokio::test]
async fn a_fresh_node_handing_a_run_back_never_opens_it_to_the_audited_owner() {
    use ake_market::state::ReleaseReason;
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let original = chain.node(1, 1_000 * AKE).await;
    let (_, runs) = queued_runs(&mut chain, &creator, &original, FAKE).await;
    let own = chain.node_of(&original.owner, 1).await;
    let fresh = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&fresh).await.unwrap();
    let mut taken = None;
    for run in runs.clone() {
        if chain.job(&run).await.unwrap().node == fresh.account {
            taken = Some(run);
        }
    }
    let taken = taken.expect("the fresh node took a run");
    let token = creator.token;
    chain
        .release(&fresh, &taken, token, ReleaseReason::ImageUnavailable)
        .await
        .unwrap();
    let run = chain.job(&taken).await.unwrap();
    assert_eq!(run.state, JobState::Queued);
    assert!(run.excludes(&original.owner.pubkey()) && run.excludes(&fresh.owner.pubkey()));
    // The cheat's other node arms: it takes neither run and waits.
    chain.node_ready(&own).await.unwrap();
    for run in runs {
        assert_ne!(chain.job(&run).await.unwrap().node, own.account);
    }
    let waiting: Node = chain.account(&own.account).await.unwrap();
    assert_eq!(waiting.status, ake_market::state::NodeStatus::Queued);
    assert_books(&mut chain).await;
}

#[tokio::test]
async fn one_owner_takes_one_run_of_an_audit_and_the_other_goes_to_another() {
    use ake_market::events::AuditRunBarred;
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let original = chain.node(1, 1_000 * AKE).await;
    let (job, runs) = queued_runs(&mut chain, &creator, &original, HONEST).await;
    // One owner's two nodes, and another owner's node.
    let first = chain.node(1, 1_000 * AKE).await;
    let second = chain.node_of(&first.owner, 1).await;
    let other = chain.node(1, 1_000 * AKE).await;
    // Nobody was waiting: both runs queue. The owner's first node takes one.
    chain.node_ready(&first).await.unwrap();
    let (taken, left) = match chain.job(&runs[0]).await.unwrap().node == first.account {
        true => (runs[0], runs[1]),
        false => (runs[1], runs[0]),
    };
    assert_eq!(chain.job(&taken).await.unwrap().node, first.account);
    // Its second node waits without naming work; anyone pairs it with the
    // other run, its best: the owner is barred from that run instead.
    let arm = ixs::node_ready(
        second.signer.pubkey(),
        second.owner.pubkey(),
        pda::market(0),
        None,
    );
    chain.send_ok(&[arm], &[&second.signer]).await;
    let payer = chain.payer();
    let candidate = ixs::Candidate {
        node: second.account,
        owner: second.owner.pubkey(),
    };
    let pair = ixs::match_job(payer.pubkey(), pda::market(0), left, candidate);
    let events = chain
        .send_with_events(std::slice::from_ref(&pair), &[])
        .await
        .unwrap();
    let barred: AuditRunBarred = event(&events);
    assert_eq!((barred.run, barred.owner), (left, first.owner.pubkey()));
    let run = chain.job(&left).await.unwrap();
    assert_eq!(run.state, JobState::Queued);
    assert_eq!(run.audit.other_run_owner(), first.owner.pubkey());
    let waiting: Node = chain.account(&second.account).await.unwrap();
    assert_eq!(waiting.status, ake_market::state::NodeStatus::Queued);
    // The searches pass the owner over from now on: no second pairing, and
    // its node names other work (here none) when it arms.
    assert_market_error(
        chain.send(&[pair], &[]).await,
        MarketError::WrongMatchCandidate,
    );
    assert_eq!(chain.next_work_for(&second).await, None);
    // Another owner's node takes the run, and the verdict has its two
    // owners: the owner's lie is outvoted, not a tie that lets it off.
    chain.node_ready(&other).await.unwrap();
    assert_eq!(chain.job(&left).await.unwrap().node, other.account);
    let (first_run, second_run) = match taken == runs[0] {
        true => ((&first, FAKE), (&other, HONEST)),
        false => ((&other, HONEST), (&first, FAKE)),
    };
    submit_sealed(&mut chain, first_run.0, &runs[0], first_run.1).await;
    submit_sealed(&mut chain, second_run.0, &runs[1], second_run.1).await;
    reveal(&mut chain, &original, &job, &job, HONEST)
        .await
        .unwrap();
    for ((node, digest), run) in [first_run, second_run].into_iter().zip(&runs) {
        reveal(&mut chain, node, run, &job, digest).await.unwrap();
    }
    let judged = judge(&mut chain, &job).await.unwrap();
    assert_eq!(judged.verdict, AuditPhase::Passed);
    let before = chain.stake_of(&first.owner.pubkey()).await.amount;
    let lied = if taken == runs[0] { runs[0] } else { runs[1] };
    chain.advance(3_601).await; // past the time to appeal
    let settled = settle_audit(&mut chain, &creator, &lied).await;
    assert!(settled.slashed > 0, "the outvoted owner pays its R");
    assert_eq!(
        chain.stake_of(&first.owner.pubkey()).await.amount,
        before - settled.slashed
    );
    assert_books(&mut chain).await;
}

#[tokio::test]
async fn a_job_nobody_draws_in_time_is_audited_and_the_draw_is_not_early() {
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let job_key = post_exact(&mut chain, &creator).await;
    // A result without its sealed digest is refused: it could never be audited.
    chain.advance(60).await;
    assert_market_error(
        submit_with(&mut chain, &node, &job_key, [0; 32]).await,
        MarketError::SealedDigestMissing,
    );
    submit_with(
        &mut chain,
        &node,
        &job_key,
        seal(&job_key, &HONEST, &salt_of(&node)),
    )
    .await
    .unwrap();
    let job: Job = chain.job(&job_key).await.unwrap();
    assert_eq!(job.audit.phase, AuditPhase::Undrawn);
    let payer = chain.payer();
    let ix = chain.draw_audit_ix(payer.pubkey(), &job_key).await;
    assert_market_error(chain.send(&[ix], &[]).await, MarketError::DrawTooEarly);
    // 500 slots on: the window closed, so the job is audited by default.
    chain.advance(200).await;
    let drawn = draw(&mut chain, &job_key).await;
    assert!(drawn.drawn && drawn.by_default);
    assert_eq!(drawn.runs.len(), 2);
    assert_eq!(drawn.fee_to_reserve, job.audit.fee);
    assert_books(&mut chain).await;
    // An audit run is not its creator's to cancel.
    let run = pda::audit_run(&job_key, 1);
    let ix = {
        let p = chain.job(&run).await.unwrap();
        ixs::cancel_job(
            creator.pubkey(),
            run,
            p.rent_receiver(),
            p.market,
            chain.mint,
            creator.token,
        )
    };
    assert_market_error(
        chain.send(&[ix], &[&creator.key]).await,
        MarketError::AuditRunNotCancellable,
    );
}

#[tokio::test]
async fn an_undrawn_job_settles_as_usual_and_audits_can_be_off() {
    let mut chain = Chain::start().await;
    let creator = chain.user(10 * AKE).await;
    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let job_key = post_exact(&mut chain, &creator).await;
    let posted = chain.job(&job_key).await.unwrap();
    // The fee: max(3 %, the job's own draw chance) of the escrow, rounded up.
    assert_eq!(posted.audit.fee, (posted.escrow * 300).div_ceil(10_000));
    submit_sealed(&mut chain, &node, &job_key, HONEST).await;
    let job = chain.job(&job_key).await.unwrap();
    assert_eq!(
        job.audit.rate_bps, 100,
        "k x charge / R is below the 1 % floor"
    );
    chain.advance(20).await;
    let drawn = draw(&mut chain, &job_key).await;
    // The seed decides, and anyone can check it did.
    assert_eq!(
        drawn.drawn,
        ake_market::audit::drawn(&drawn.seed, drawn.rate_bps)
    );
    if !drawn.drawn {
        let job = chain.job(&job_key).await.unwrap();
        assert_eq!(job.audit.phase, AuditPhase::Cleared);
        assert!(job.collateral < 200 * AKE, "down to the result collateral");
        chain.advance(3_700).await;
        chain.finalize(creator.token, &job_key).await.unwrap();
    }
    assert_books(&mut chain).await;

    let mut params = chain.params;
    params.audit.enabled = false;
    chain.set_params(params).await;
    let nonce = chain.next_nonce(&creator.pubkey()).await;
    let mut args = chain.post_args(nonce, 1, 600);
    args.verify = Verify::Exact;
    assert_market_error(
        chain.post_job_with(&creator, args).await.map(|_| ()),
        MarketError::AuditsDisabled,
    );
}

/// Nodes waiting when a job is drawn: each run goes to a node the draw's
/// hash picks among the first waiting ones (of another owner than the
/// audited node's and each other's), named by the caller and checked;
/// a node that arms after the draw, in the same transaction, gets nothing.
#[tokio::test]
async fn waiting_auditors_are_drawn_not_first_come() {
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let original = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&original).await.unwrap();
    let job = post_exact(&mut chain, &creator).await;
    submit_sealed(&mut chain, &original, &job, HONEST).await;
    let mut waiting = Vec::new();
    for _ in 0..4 {
        let node = chain.node(1, 1_000 * AKE).await;
        chain.node_ready(&node).await.unwrap();
        waiting.push(node);
    }
    chain.advance(20).await;
    // Naming another waiting node than the draw picks is refused.
    let payer = chain.payer();
    let honest = chain.draw_audit_ix(payer.pubkey(), &job).await;
    let picked: Vec<Pubkey> = honest.accounts[honest.accounts.len() - 4..]
        .iter()
        .step_by(2)
        .map(|m| m.pubkey)
        .collect();
    assert_eq!(picked.len(), 2, "two waiting owners drawn");
    let other = waiting
        .iter()
        .find(|n| !picked.contains(&n.account))
        .unwrap();
    let mut wrong = honest.clone();
    let at = wrong.accounts.len() - 4;
    wrong.accounts[at].pubkey = other.account;
    wrong.accounts[at + 1].pubkey = pda::stake(&other.owner.pubkey());
    assert_market_error(
        chain.send(&[wrong], &[]).await,
        MarketError::StaleAuditorPick,
    );
    // Paused, nothing is assigned: the draw names nobody and the runs
    // wait in the queue (the pause is lifted before the real draw below).
    let admin = chain.admin.insecure_clone();
    chain
        .send_ok(&[ixs::set_paused(admin.pubkey(), true)], &[&admin])
        .await;
    let paused = chain.draw_audit_ix(payer.pubkey(), &job).await;
    assert_eq!(paused.accounts.len(), honest.accounts.len() - 4);
    chain
        .send_ok(&[ixs::set_paused(admin.pubkey(), false)], &[&admin])
        .await;
    // A sybil that arms in the same transaction as the draw takes nothing.
    let sybil = chain.node(1, 1_000 * AKE).await;
    let n: Node = chain.account(&sybil.account).await.unwrap();
    let ready = ixs::node_ready(sybil.signer.pubkey(), sybil.owner.pubkey(), n.market, None);
    chain
        .send(&[honest, ready], &[&sybil.signer])
        .await
        .unwrap();
    let runs = [pda::audit_run(&job, 1), pda::audit_run(&job, 2)];
    for (run, node) in runs.iter().zip(&picked) {
        let run = chain.job(run).await.unwrap();
        assert_eq!((run.state, run.node), (JobState::Assigned, *node));
    }
    let n: Node = chain.account(&sybil.account).await.unwrap();
    assert_ne!(n.status, ake_market::state::NodeStatus::Busy);
    assert_books(&mut chain).await;
}

/// With an auditor floor (`auditor_min_reputation_bps`; 5,000 on mainnet),
/// fresh sybils parked at the head of the queue are passed over: only a
/// node with verified work is drawn, and a run nobody reputable takes
/// waits for one (a fresh node arming later does not get it).
#[tokio::test]
async fn fresh_sybils_at_the_queue_head_cannot_audit() {
    let mut chain = always_audited().await;
    let mut params = chain.params;
    params.audit.auditor_min_reputation_bps = 1;
    chain.set_params(params).await;
    let proven = chain.proven_node(1, 1_000 * AKE).await;
    let creator = chain.user(10 * AKE).await;
    let original = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&original).await.unwrap();
    let job = post_exact(&mut chain, &creator).await;
    submit_sealed(&mut chain, &original, &job, HONEST).await;
    let mut sybils = Vec::new();
    for _ in 0..3 {
        let sybil = chain.node(1, 1_000 * AKE).await;
        chain.node_ready(&sybil).await.unwrap();
        sybils.push(sybil);
    }
    chain.node_ready(&proven).await.unwrap();
    let queue: Vec<Pubkey> = chain
        .market(0)
        .await
        .queued_nodes()
        .iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(queue.last(), Some(&proven.account), "the sybils wait first");
    chain.advance(20).await;
    draw(&mut chain, &job).await;
    let runs = [pda::audit_run(&job, 1), pda::audit_run(&job, 2)];
    let first = chain.job(&runs[0]).await.unwrap();
    assert_eq!(
        (first.state, first.node),
        (JobState::Assigned, proven.account)
    );
    let second = chain.job(&runs[1]).await.unwrap();
    assert_eq!(
        (second.state, second.min_reputation_bps),
        (JobState::Queued, 1)
    );
    let late = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&late).await.unwrap();
    assert_eq!(chain.job(&runs[1]).await.unwrap().state, JobState::Queued);
    for sybil in &sybils {
        let n: Node = chain.account(&sybil.account).await.unwrap();
        assert_ne!(n.status, ake_market::state::NodeStatus::Busy);
    }
    // The run nobody able takes is refunded after the time to reveal, not
    // the queue's days: the audited node's collateral and pay wait no more.
    let waiting = chain.job(&runs[1]).await.unwrap();
    let refund = ixs::refund_stale_job(runs[1], &waiting, chain.mint, creator.token);
    assert_market_error(
        chain.send(std::slice::from_ref(&refund), &[]).await,
        MarketError::JobNotStale,
    );
    chain.advance(i64::from(AUDIT_REVEAL_SECS) + 1).await;
    chain.send(&[refund], &[]).await.unwrap();
    assert!(chain.job(&runs[1]).await.is_none());
    assert_books(&mut chain).await;
}

/// What the arbiter does with an appeal in `appeals_keep_the_books`.
#[derive(Clone, Copy, Debug)]
enum Decision {
    Upheld,
    Rejected,
    Silent,
}

/// Every verdict three digests can give, every party that lost appealing
/// or not, and every decision: each owner loses exactly what its outcome
/// says (R for a loss that stands, R and the bond for a rejected appeal,
/// the bond's timeout fee for an undecided one, nothing otherwise), every
/// lock is released, and the vaults hold exactly the books.
async fn play_appeals(digests: [usize; 3], appeals: [bool; 3], decision: [Decision; 3]) {
    const DIGESTS: [[u8; 32]; 3] = [HONEST, FAKE, OTHER];
    let mut chain = always_audited().await;
    let creator = chain.user(10 * AKE).await;
    let [d0, d1, d2] = digests.map(|d| DIGESTS[d]);
    let a = audit(&mut chain, &creator, d0, [d1, d2]).await;
    reveal_all(&mut chain, &a, d0, [d1, d2]).await;
    judge(&mut chain, &a.job).await.unwrap();
    let parties = [
        (&a.original, a.job),
        (&a.auditors[0], a.runs[0]),
        (&a.auditors[1], a.runs[1]),
    ];
    let mut lost = [0u64; 3];
    for (i, (node, job)) in parties.iter().enumerate() {
        let j = chain.job(job).await.unwrap();
        if !j.audit.lost() {
            continue;
        }
        let bond = j.terms.dispute_bond;
        lost[i] = match (appeals[i], decision[i]) {
            (false, _) => j.collateral,
            (true, Decision::Upheld) => 0,
            (true, Decision::Rejected) => j.collateral + bond,
            (true, Decision::Silent) => bond / 10,
        };
        if !appeals[i] {
            continue;
        }
        appeal(&mut chain, node, job).await.unwrap();
        assert_stake_books(&mut chain, &a).await;
        match decision[i] {
            Decision::Upheld => drop(resolve_appeal(&mut chain, job, true).await.unwrap()),
            Decision::Rejected => drop(resolve_appeal(&mut chain, job, false).await.unwrap()),
            Decision::Silent => {}
        }
        assert_stake_books(&mut chain, &a).await;
        assert_books(&mut chain).await;
    }
    // Every window and every arbiter's time is over: everything settles.
    chain.advance(400_000).await;
    for (_, job) in &parties {
        let j = chain.job(job).await.unwrap();
        if j.audit.is_run() || j.audit.lost() || j.appeal_bond() > 0 {
            settle_audit(&mut chain, &creator, job).await;
        } else {
            chain.finalize(creator.token, job).await.unwrap();
        }
        assert!(chain.job(job).await.is_none(), "settled once, closed");
        assert_books(&mut chain).await;
    }
    for (i, (node, _)) in parties.iter().enumerate() {
        let stake = chain.stake_of(&node.owner.pubkey()).await;
        assert_eq!(
            (stake.amount, stake.locked),
            (1_000 * AKE - lost[i], 0),
            "party {i}: digests {digests:?}, appeals {appeals:?}, decision {decision:?}"
        );
    }
    assert_stake_books(&mut chain, &a).await;
}

fn decision() -> impl proptest::strategy::Strategy<Value = Decision> {
    use proptest::prelude::*;
    prop_oneof![
        Just(Decision::Upheld),
        Just(Decision::Rejected),
        Just(Decision::Silent)
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    #[test]
    fn appeals_keep_the_books(
        digests in proptest::array::uniform3(0..3usize),
        appeals in proptest::array::uniform3(proptest::bool::ANY),
        decision in proptest::array::uniform3(decision()),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(play_appeals(digests, appeals, decision));
    }
}
