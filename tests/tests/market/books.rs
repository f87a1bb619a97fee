//! Random sequences of market instructions keep the token books balanced.

use ake_market::state::{Job, JobState, Node, NodeStatus, Stake};
use ake_sdk::pda;
use ake_tests::*;
use proptest::prelude::*;
use solana_sdk::signer::Signer;

#[derive(Debug, Clone)]
enum Action {
    Post {
        creator: usize,
        gpus: u16,
        secs: u32,
        /// `verify = "exact"`: drawn for an audit once submitted.
        exact: bool,
    },
    Ready {
        node: usize,
    },
    /// The node's daemon leaves the queue; or its owner holds it out
    /// (queued or busy) until a `Rearm`.
    Unready {
        node: usize,
        by_owner: bool,
    },
    Cancel {
        job: usize,
    },
    Submit {
        job: usize,
        wall_secs: u64,
        rearm: bool,
    },
    PostBatch {
        creator: usize,
        frames: u32,
        parallelism: u32,
    },
    RequeueBatch {
        batch: usize,
    },
    /// A halted batch back in line (only its creator may).
    ResumeBatch {
        batch: usize,
        by_creator: bool,
    },
    Sweep,
    /// A node arms, a job is posted and, once assigned, run for `secs`
    /// and submitted: a short path to settlements and disputes.
    Work {
        creator: usize,
        node: usize,
        secs: u64,
        /// `verify = "exact"`: submitted with a sealed digest, then drawn.
        exact: bool,
    },
    MatchFrame {
        batch: usize,
    },
    CancelBatch {
        batch: usize,
        by_creator: bool,
    },
    CloseBatch {
        batch: usize,
    },
    Accept {
        job: usize,
    },
    Finalize {
        job: usize,
    },
    Expire {
        job: usize,
    },
    Dispute {
        job: usize,
    },
    Resolve {
        job: usize,
        creator_wins: bool,
    },
    ExpireDispute {
        job: usize,
    },
    Rearm {
        node: usize,
    },
    Release {
        job: usize,
        reason: u8,
    },
    Advance {
        secs: i64,
    },
    RefundStale {
        job: usize,
    },
    RotateKey {
        node: usize,
    },
    CloseNode {
        node: usize,
    },
    /// The authority raises every capacity by `by` (the pool grows under
    /// whatever is queued and in flight).
    Grow {
        by: u16,
    },
    /// Anyone pairs a job and a node (refused unless each is the other's best).
    MatchJob {
        job: usize,
        node: usize,
    },
    /// Anyone closes a due page a job was indexed in (refused while in use).
    CloseDuePage {
        page: usize,
    },
    /// The node running a job says where its live logs go (it moves
    /// nothing); `by_other`: another node tries (refused).
    AnnounceLogs {
        job: usize,
        by_other: bool,
    },
    /// Anyone draws a submitted auditable job.
    Draw {
        job: usize,
    },
    /// The node of a job under audit (or of an audit run) reveals its digest.
    Reveal {
        job: usize,
    },
    /// Anyone judges an audit round.
    Judge {
        job: usize,
    },
    /// Anyone settles an audit run, or an audited job that lost.
    SettleAudit {
        job: usize,
    },
    /// The job's node appeals the audit it lost.
    Appeal {
        job: usize,
    },
    ResolveAppeal {
        job: usize,
        upheld: bool,
    },
}

/// The digest a node's runs give: nodes 0 and 1 run jobs, node 2 fakes.
fn digest_of(node: usize) -> [u8; 32] {
    if node == 2 {
        [0xF0; 32]
    } else {
        [0xA1; 32]
    }
}

fn salt_of(node: &TestNode) -> [u8; 32] {
    node.signer.pubkey().to_bytes()
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0..3usize, 1..3u16, 60..1_200u32, any::<bool>()).prop_map(|(creator, gpus, secs, exact)| Action::Post { creator, gpus, secs, exact }),
        3 => (0..3usize).prop_map(|node| Action::Ready { node }),
        1 => (0..3usize, any::<bool>()).prop_map(|(node, by_owner)| Action::Unready { node, by_owner }),
        1 => (0..16usize).prop_map(|job| Action::Cancel { job }),
        3 => (0..16usize, 0..2_000u64, any::<bool>()).prop_map(|(job, wall_secs, rearm)| Action::Submit { job, wall_secs, rearm }),
        2 => (0..3usize, 1..4u32, 1..4u32).prop_map(|(creator, frames, parallelism)| Action::PostBatch { creator, frames, parallelism: parallelism.min(frames) }),
        1 => (0..4usize).prop_map(|batch| Action::RequeueBatch { batch }),
        1 => (0..4usize, any::<bool>()).prop_map(|(batch, by_creator)| Action::ResumeBatch { batch, by_creator }),
        1 => Just(Action::Sweep),
        3 => (0..3usize, 0..3usize, 1..600u64, any::<bool>()).prop_map(|(creator, node, secs, exact)| Action::Work { creator, node, secs, exact }),
        1 => (0..4usize).prop_map(|batch| Action::MatchFrame { batch }),
        1 => (0..4usize, any::<bool>()).prop_map(|(batch, by_creator)| Action::CancelBatch { batch, by_creator }),
        1 => (0..4usize).prop_map(|batch| Action::CloseBatch { batch }),
        2 => (0..16usize).prop_map(|job| Action::Accept { job }),
        2 => (0..16usize).prop_map(|job| Action::Finalize { job }),
        2 => (0..16usize).prop_map(|job| Action::Expire { job }),
        2 => (0..16usize).prop_map(|job| Action::Dispute { job }),
        1 => (0..16usize, any::<bool>()).prop_map(|(job, creator_wins)| Action::Resolve { job, creator_wins }),
        1 => (0..16usize).prop_map(|job| Action::ExpireDispute { job }),
        2 => (0..3usize).prop_map(|node| Action::Rearm { node }),
        2 => (0..16usize, 0..9u8).prop_map(|(job, reason)| Action::Release { job, reason }),
        2 => (0..4_000i64).prop_map(|secs| Action::Advance { secs }),
        1 => Just(Action::Advance { secs: i64::from(MAX_QUEUE_SECS) }),
        1 => (0..16usize).prop_map(|job| Action::RefundStale { job }),
        1 => (0..3usize).prop_map(|node| Action::RotateKey { node }),
        1 => (0..3usize).prop_map(|node| Action::CloseNode { node }),
        1 => (1..40u16).prop_map(|by| Action::Grow { by }),
        2 => (0..16usize, 0..3usize).prop_map(|(job, node)| Action::MatchJob { job, node }),
        1 => (0..8usize).prop_map(|page| Action::CloseDuePage { page }),
        1 => (0..16usize, any::<bool>()).prop_map(|(job, by_other)| Action::AnnounceLogs { job, by_other }),
        2 => (0..16usize).prop_map(|job| Action::Draw { job }),
        3 => (0..16usize).prop_map(|job| Action::Reveal { job }),
        2 => (0..16usize).prop_map(|job| Action::Judge { job }),
        2 => (0..16usize).prop_map(|job| Action::SettleAudit { job }),
        2 => (0..16usize).prop_map(|job| Action::Appeal { job }),
        1 => (0..16usize, any::<bool>()).prop_map(|(job, upheld)| Action::ResolveAppeal { job, upheld }),
    ]
}

struct World {
    chain: Chain,
    creators: Vec<User>,
    nodes: Vec<TestNode>,
    /// Nodes their owner closed (their accounts must be gone).
    closed: Vec<bool>,
    jobs: Vec<(usize, solana_sdk::pubkey::Pubkey)>,
    /// Batches posted (creator, key); their frames join `jobs` when handed out.
    batches: Vec<(usize, solana_sdk::pubkey::Pubkey)>,
    /// Due pages jobs were seen indexed in.
    due_pages: std::collections::BTreeSet<solana_sdk::pubkey::Pubkey>,
}

impl World {
    async fn new() -> Self {
        let mut chain = Chain::start().await;
        let mut creators = Vec::new();
        for _ in 0..3 {
            creators.push(chain.user(50 * AKE).await);
        }
        let staker = &creators[2];
        chain.deposit_stake(staker, 20 * AKE).await.unwrap();
        // Every exact job is drawn, so audits, verdicts and appeals happen
        // in most runs (at the default rate almost none would).
        let mut params = chain.params;
        params.audit.p_min_bps = 10_000;
        chain.set_params(params).await;
        let mut nodes = Vec::new();
        for (gpus, stake) in [(1, 400 * AKE), (2, 1_000 * AKE), (1, 10_000 * AKE)] {
            nodes.push(chain.node(gpus, stake).await);
        }
        World {
            chain,
            creators,
            nodes,
            closed: vec![false; 3],
            jobs: Vec::new(),
            batches: Vec::new(),
            due_pages: Default::default(),
        }
    }

    async fn run(&mut self, a: &Action) {
        let on_node = match a {
            Action::Ready { node }
            | Action::Unready { node, .. }
            | Action::Rearm { node }
            | Action::RotateKey { node }
            | Action::CloseNode { node }
            | Action::Work { node, .. } => Some(*node),
            _ => None,
        };
        if on_node.is_some_and(|n| self.closed[n]) {
            return;
        }
        // Actions on a job in a given state pick among the jobs in it, so
        // settlements and disputes happen in most runs.
        let submitted = self.jobs_in(&[JobState::Submitted]).await;
        let disputed = self.jobs_in(&[JobState::Disputed]).await;
        let assigned = self.jobs_in(&[JobState::Assigned]).await;
        let c = &mut self.chain;
        let job_at = |i: usize, jobs: &[(usize, solana_sdk::pubkey::Pubkey)]| {
            jobs.get(i % jobs.len().max(1)).copied()
        };
        // Outcomes are free to fail (wrong state, too early...); the books must hold either way.
        let outcome = match a {
            Action::Post {
                creator,
                gpus,
                secs,
                exact,
            } => {
                let user = &self.creators[*creator];
                let nonce = c.next_nonce(&user.pubkey()).await;
                let mut args = c.post_args(nonce, *gpus, *secs);
                if *exact {
                    args.verify = ake_market::state::Verify::Exact;
                }
                match c.post_job_with(user, args).await {
                    Ok(job) => {
                        self.jobs.push((*creator, job));
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Action::Work {
                creator,
                node,
                secs,
                exact,
            } => {
                let _ = c.node_ready(&self.nodes[*node]).await;
                let user = &self.creators[*creator];
                let nonce = c.next_nonce(&user.pubkey()).await;
                let mut args = c.post_args(nonce, 1, 600);
                if *exact {
                    args.verify = ake_market::state::Verify::Exact;
                }
                match c.post_job_with(user, args).await {
                    Ok(key) => {
                        self.jobs.push((*creator, key));
                        let job = c.job(&key).await.unwrap();
                        match self.nodes.iter().position(|n| n.account == job.node) {
                            Some(at) => {
                                let runner = &self.nodes[at];
                                c.advance(*secs as i64).await;
                                let mut result = result_of(*secs);
                                if *exact {
                                    result.sealed_digest = ake_market::audit::seal(
                                        &key,
                                        &digest_of(at),
                                        &salt_of(runner),
                                    );
                                }
                                let after = ake_sdk::instructions::AfterSubmit::StayIdle;
                                let submitted = c.submit_result(runner, &key, result, after).await;
                                if *exact && submitted.is_ok() {
                                    // The other nodes wait, and the crank draws
                                    // the job once its slots are past.
                                    for (other, n) in self.nodes.iter().enumerate() {
                                        if other != at && !self.closed[other] {
                                            let _ = c.node_ready(n).await;
                                        }
                                    }
                                    c.advance(20).await;
                                    let payer = c.payer().pubkey();
                                    let ix = c.draw_audit_ix(payer, &key).await;
                                    let _ = c.send(&[ix], &[]).await;
                                }
                                submitted
                            }
                            None => Ok(()),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            Action::Ready { node } => c.node_ready(&self.nodes[*node]).await,
            Action::Unready { node, by_owner } => {
                let n = &self.nodes[*node];
                let by = if *by_owner { &n.owner.key } else { &n.signer };
                let ix = ake_sdk::instructions::node_unready(
                    by.pubkey(),
                    n.signer.pubkey(),
                    n.owner.pubkey(),
                    pda::market(0),
                );
                c.send(&[ix], &[by]).await
            }
            Action::Cancel { job } => match job_at(*job, &self.jobs) {
                Some((who, key)) if c.job(&key).await.is_some() => {
                    c.cancel(&self.creators[who], &key).await
                }
                _ => Ok(()),
            },
            Action::Submit {
                job,
                wall_secs,
                rearm,
            } => match job_at(*job, &assigned) {
                Some((_, key)) => match c.job(&key).await {
                    Some(j) if j.state == JobState::Assigned => {
                        let node = self.nodes.iter().find(|n| n.account == j.node).unwrap();
                        // Mostly within the chain's clock; sometimes beyond it (refused).
                        let held = u64::try_from(c.now().await - j.assigned_at).unwrap_or(0);
                        let secs = if wall_secs % 5 == 0 {
                            *wall_secs
                        } else {
                            (*wall_secs).min(held)
                        };
                        let at = self.nodes.iter().position(|n| n.account == j.node).unwrap();
                        let mut result = result_of(secs);
                        if j.verify == ake_market::state::Verify::Exact {
                            result.sealed_digest =
                                ake_market::audit::seal(&key, &digest_of(at), &salt_of(node));
                        }
                        let after = match rearm {
                            true => ake_sdk::instructions::AfterSubmit::Rearm(
                                c.next_work_for(node).await,
                            ),
                            false => ake_sdk::instructions::AfterSubmit::StayIdle,
                        };
                        c.submit_result(node, &key, result, after).await
                    }
                    _ => Ok(()),
                },
                None => Ok(()),
            },
            Action::Accept { job } => match job_at(*job, &submitted) {
                Some((who, key)) if c.job(&key).await.is_some() => {
                    c.accept(&self.creators[who], &key).await
                }
                _ => Ok(()),
            },
            Action::Finalize { job } => match job_at(*job, &submitted) {
                Some((who, key)) if c.job(&key).await.is_some() => {
                    let token = self.creators[who].token;
                    c.finalize(token, &key).await
                }
                _ => Ok(()),
            },
            Action::Expire { job } => match job_at(*job, &self.jobs) {
                Some((who, key)) if c.job(&key).await.is_some() => {
                    let token = self.creators[who].token;
                    c.expire(token, &key).await
                }
                _ => Ok(()),
            },
            Action::Dispute { job } => match job_at(*job, &submitted) {
                Some((who, key)) if c.job(&key).await.is_some() => {
                    c.dispute(&self.creators[who], &key).await
                }
                _ => Ok(()),
            },
            Action::Resolve { job, creator_wins } => match job_at(*job, &disputed) {
                Some((who, key)) if c.job(&key).await.is_some() => {
                    let token = self.creators[who].token;
                    c.resolve(token, &key, *creator_wins).await
                }
                _ => Ok(()),
            },
            Action::ExpireDispute { job } => match job_at(*job, &disputed) {
                Some((who, key)) if c.job(&key).await.is_some() => {
                    let token = self.creators[who].token;
                    c.expire_dispute(token, &key).await
                }
                _ => Ok(()),
            },
            Action::Rearm { node } => c.rearm(&self.nodes[*node]).await,
            Action::Release { job, reason } => match job_at(*job, &self.jobs) {
                Some((who, key)) => match c.job(&key).await {
                    Some(j) if j.state == JobState::Assigned => {
                        let node = self.nodes.iter().find(|n| n.account == j.node).unwrap();
                        let token = self.creators[who].token;
                        let reason = ake_market::state::ReleaseReason::from_code(*reason).unwrap();
                        c.release(node, &key, token, reason).await
                    }
                    _ => Ok(()),
                },
                None => Ok(()),
            },
            Action::Advance { secs } => {
                c.advance(*secs).await;
                Ok(())
            }
            Action::MatchJob { job, node } => match job_at(*job, &self.jobs) {
                Some((_, key)) if c.job(&key).await.is_some() => {
                    c.match_job(&key, &self.nodes[*node]).await
                }
                _ => Ok(()),
            },
            Action::CloseDuePage { page } => {
                let pages: Vec<_> = self.due_pages.iter().copied().collect();
                match pages.get(page % pages.len().max(1)) {
                    Some(key) => match c.raw_account(key).await {
                        Some(raw) => {
                            let p = ake_sdk::accounts::decode_due_page(&raw.data).unwrap();
                            let payer = c.payer();
                            let ix = ake_sdk::instructions::close_due_page(payer.pubkey(), &p);
                            c.send(&[ix], &[&payer]).await
                        }
                        None => Ok(()),
                    },
                    None => Ok(()),
                }
            }
            Action::PostBatch {
                creator,
                frames,
                parallelism,
            } => {
                let user = &self.creators[*creator];
                let nonce = c.next_nonce(&user.pubkey()).await;
                let args = ake_market::instructions::PostBatchArgs {
                    parallelism: *parallelism,
                    ..c.batch_args(nonce, 1, *frames)
                };
                match c.post_batch_with(user, args).await {
                    Ok(batch) => {
                        self.batches.push((*creator, batch));
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Action::MatchFrame { batch } => match job_at(*batch, &self.batches) {
                Some((_, key)) => match c.batch(&key).await {
                    Some(b) if b.in_queue() => {
                        let waiting = c.market(0).await.best_node_for(
                            b.gpus,
                            b.min_reputation_bps,
                            b.releases.marks(),
                        );
                        match waiting {
                            Some(_) => c.match_frame(&self.creators[0], &key).await.map(|_| ()),
                            None => Ok(()),
                        }
                    }
                    _ => Ok(()),
                },
                None => Ok(()),
            },
            Action::Sweep => {
                c.sweep().await;
                Ok(())
            }
            Action::RequeueBatch { batch } => match job_at(*batch, &self.batches) {
                Some((_, key)) => {
                    let payer = c.payer();
                    let ix =
                        ake_sdk::instructions::requeue_batch(payer.pubkey(), pda::market(0), key);
                    c.send(&[ix], &[]).await
                }
                None => Ok(()),
            },
            Action::ResumeBatch { batch, by_creator } => match job_at(*batch, &self.batches) {
                Some((who, key)) => {
                    let caller = &self.creators[if *by_creator { who } else { (who + 1) % 3 }];
                    let ix =
                        ake_sdk::instructions::resume_batch(caller.pubkey(), pda::market(0), key);
                    let signer = caller.key.insecure_clone();
                    c.send(&[ix], &[&signer]).await
                }
                None => Ok(()),
            },
            Action::CancelBatch { batch, by_creator } => match job_at(*batch, &self.batches) {
                Some((who, key)) if c.batch(&key).await.is_some() => {
                    let caller = if *by_creator { who } else { (who + 1) % 3 };
                    let keys = c.batch_keys(&key, &self.creators[who]);
                    let ix =
                        ake_sdk::instructions::cancel_batch(self.creators[caller].pubkey(), &keys);
                    let signer = self.creators[caller].key.insecure_clone();
                    c.send(&[ix], &[&signer]).await
                }
                _ => Ok(()),
            },
            Action::CloseBatch { batch } => match job_at(*batch, &self.batches) {
                Some((who, key)) => match c.batch(&key).await {
                    Some(b) => {
                        let frames: Vec<_> = (b.frames_closed..b.frames_total())
                            .map(|i| pda::frame_job(&key, b.first_frame + i))
                            .collect();
                        let ix = ake_sdk::instructions::close_batch(
                            key,
                            self.creators[who].pubkey(),
                            &frames,
                        );
                        c.send(&[ix], &[]).await
                    }
                    None => Ok(()),
                },
                None => Ok(()),
            },
            Action::RefundStale { job } => match job_at(*job, &self.jobs) {
                Some((who, key)) => match c.job(&key).await {
                    Some(j) => {
                        let token = self.creators[who].token;
                        let ix = ake_sdk::instructions::refund_stale_job(key, &j, c.mint, token);
                        c.send(&[ix], &[]).await
                    }
                    None => Ok(()),
                },
                None => Ok(()),
            },
            Action::Grow { by } => {
                let m = c.market(0).await;
                let capacity = ake_market::instructions::Capacity {
                    jobs: m.job_capacity + by,
                    nodes: m.node_capacity + by,
                    in_flight: m.in_flight_capacity + by,
                };
                c.grow_market(capacity).await;
                Ok(())
            }
            Action::AnnounceLogs { job, by_other } => match job_at(*job, &assigned) {
                Some((_, key)) => match c.job(&key).await {
                    Some(j) if j.state == JobState::Assigned => {
                        let running = self.nodes.iter().position(|n| n.account == j.node);
                        let running = running.unwrap();
                        let at = (running + usize::from(*by_other)) % self.nodes.len();
                        let node = &self.nodes[at];
                        let uri = format!("s3://logs/jobs/{key}-{}/live", j.attempts);
                        let ix =
                            ake_sdk::instructions::announce_logs(node.signer.pubkey(), key, uri);
                        c.send(&[ix], &[&node.signer]).await
                    }
                    _ => Ok(()),
                },
                None => Ok(()),
            },
            Action::Draw { job } => match job_at(*job, &submitted) {
                Some((_, key)) => {
                    let payer = c.payer().pubkey();
                    let ix = c.draw_audit_ix(payer, &key).await;
                    c.send(&[ix], &[]).await
                }
                None => Ok(()),
            },
            Action::Reveal { job } => match job_at(*job, &submitted) {
                Some((_, key)) => {
                    let j = c.job(&key).await.unwrap();
                    let audited_key = j.audit.audited().unwrap_or(key);
                    let audited = c.job(&audited_key).await;
                    match (self.nodes.iter().position(|n| n.account == j.node), audited) {
                        (Some(at), Some(audited)) => {
                            let n = &self.nodes[at];
                            let pair = (digest_of(at), salt_of(n));
                            let ix = ake_sdk::instructions::reveal_digest(
                                n.signer.pubkey(),
                                key,
                                (audited_key, &audited),
                                pair,
                            );
                            c.send(&[ix], &[&n.signer]).await
                        }
                        _ => Ok(()),
                    }
                }
                None => Ok(()),
            },
            Action::Judge { job } => match job_at(*job, &submitted) {
                Some((_, key)) => {
                    let j = c.job(&key).await.unwrap();
                    let payer = c.payer().pubkey();
                    let ix = ake_sdk::instructions::judge_audit(payer, key, &j);
                    c.send(&[ix], &[]).await
                }
                None => Ok(()),
            },
            Action::SettleAudit { job } => match job_at(*job, &submitted) {
                Some((who, key)) => {
                    let j = c.job(&key).await.unwrap();
                    let payer = c.payer().pubkey();
                    let token = self.creators[who].token;
                    let keys = c.settle_keys(token, payer).await;
                    let ix = ake_sdk::instructions::settle_audit(key, &j, &keys);
                    c.send(&[ix], &[]).await
                }
                None => Ok(()),
            },
            Action::Appeal { job } => match job_at(*job, &submitted) {
                Some((_, key)) => {
                    let j = c.job(&key).await.unwrap();
                    match self.nodes.iter().find(|n| n.account == j.node) {
                        Some(n) => {
                            let ix =
                                ake_sdk::instructions::appeal_audit(n.signer.pubkey(), key, &j);
                            c.send(&[ix], &[&n.signer]).await
                        }
                        None => Ok(()),
                    }
                }
                None => Ok(()),
            },
            Action::ResolveAppeal { job, upheld } => match job_at(*job, &submitted) {
                Some((_, key)) => {
                    let j = c.job(&key).await.unwrap();
                    let arbiter = c.admin.insecure_clone();
                    let ix =
                        ake_sdk::instructions::resolve_appeal(arbiter.pubkey(), key, &j, *upheld);
                    c.send(&[ix], &[&arbiter]).await
                }
                None => Ok(()),
            },
            Action::RotateKey { node } => {
                let n = &self.nodes[*node];
                let signer = solana_sdk::signature::Keypair::new();
                let owner = n.owner.pubkey();
                let ix = ake_sdk::instructions::rotate_node_key(owner, n.account, signer.pubkey());
                let result = c.send(&[ix], &[&n.owner.key, &signer]).await;
                if result.is_ok() {
                    let rotated = TestNode {
                        account: pda::node(&signer.pubkey()),
                        owner: User {
                            key: n.owner.key.insecure_clone(),
                            token: n.owner.token,
                        },
                        signer,
                    };
                    self.nodes[*node] = rotated;
                }
                result
            }
            Action::CloseNode { node } => {
                let n = &self.nodes[*node];
                let ix = ake_sdk::instructions::close_node(n.owner.pubkey(), n.account);
                let result = c.send(&[ix], &[&n.owner.key]).await;
                if result.is_ok() {
                    self.closed[*node] = true;
                }
                result
            }
        };
        let _ = outcome;
        self.adopt_audit_runs().await;
    }

    /// Audit runs opened since the last step become jobs of their audited
    /// job's creator.
    async fn adopt_audit_runs(&mut self) {
        for (who, key) in self.jobs.clone() {
            let Some(job) = self.chain.job(&key).await else {
                continue;
            };
            if job.audit.is_run() {
                continue;
            }
            for run in job.audit.runs {
                if run != solana_sdk::pubkey::Pubkey::default()
                    && !self.jobs.iter().any(|(_, k)| *k == run)
                {
                    self.jobs.push((who, run));
                }
            }
        }
    }

    /// The jobs (creator index, key) whose account is open in one of `states`.
    async fn jobs_in(&mut self, states: &[JobState]) -> Vec<(usize, solana_sdk::pubkey::Pubkey)> {
        let mut found = Vec::new();
        for (who, key) in self.jobs.clone() {
            if let Some(job) = self.chain.job(&key).await {
                if states.contains(&job.state) {
                    found.push((who, key));
                }
            }
        }
        found
    }

    /// Frames handed out since the last step become jobs of their creator.
    async fn adopt_frames(&mut self) {
        for (who, key) in self.batches.clone() {
            let Some(b) = self.chain.batch(&key).await else {
                continue;
            };
            for i in 0..b.handed_out {
                let job = pda::frame_job(&key, b.first_frame + i);
                if !self.jobs.iter().any(|(_, k)| *k == job) {
                    self.jobs.push((who, job));
                }
            }
        }
    }

    /// The books: supply, escrow, stake locks, every job's state.
    async fn check(&mut self) {
        self.adopt_frames().await;
        let c = &mut self.chain;
        let market = c.market(0).await;
        // The lists hold what their counters say, and nothing twice.
        let (jobs, nodes, flying) = (
            market.queued_jobs(),
            market.queued_nodes(),
            market.in_flight(),
        );
        assert_eq!(
            (jobs.len(), nodes.len(), flying.len()),
            (
                usize::from(market.job_count),
                usize::from(market.node_count),
                usize::from(market.in_flight_count)
            )
        );
        let parked = market.parked_batches();
        let mut seen: Vec<_> = jobs
            .iter()
            .map(|e| e.key)
            .chain(flying.iter().map(|e| e.job))
            .chain(parked.iter().copied())
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(
            seen.len(),
            jobs.len() + flying.len() + parked.len(),
            "an entry in two lists"
        );
        // No slot leaks: every slot holding an entry is in one list.
        assert_eq!(
            market.slots_holding(),
            jobs.len() + nodes.len() + flying.len() + parked.len(),
            "a slot outside every list"
        );
        // One token book: supply == genesis + minted - burned + pending,
        // where burned counts what settlements left to burn (`pending`,
        // still in the escrow vault until the crank's sweep).
        let minted = c.emissions_config().await.minted_in_all();
        let ledger = c.ledger().await;
        let burned = market.tokens_burned + ledger.tokens_burned + ledger.pending_burn;
        assert_eq!(
            c.supply().await,
            c.genesis_supply + minted - burned + ledger.pending_burn
        );

        // Escrow vault == open jobs' escrow + posting fees + bonds == the market's counter.
        let mut open_escrow = 0;
        let mut job_locks: std::collections::HashMap<_, u64> = Default::default();
        let mut jobs_naming: std::collections::HashMap<_, u16> = Default::default();
        let mut due_open: std::collections::HashMap<_, u16> = Default::default();
        for (_, key) in self.jobs.clone() {
            let Some(job) = c.account::<Job>(&key).await else {
                continue;
            };
            open_escrow += job.escrow + job.posting_fee + job.bond + job.audit.fee;
            let frame = matches!(job.spec, ake_market::state::JobSpec::Frame(_));
            assert!(
                job.posting_fee > 0 || frame || job.audit.is_run(),
                "every open job holds its posting fee (a batch's was burned at posting, \
                 an audit run is paid from the audit reserve)"
            );
            let queued = market.queued_jobs().iter().any(|e| e.key == key);
            // In the market's pool only while assigned; indexed in its due
            // page while submitted or disputed.
            let flight = market.in_flight().into_iter().find(|e| e.job == key);
            assert_eq!(
                flight.map(|e| e.phase),
                (job.state == JobState::Assigned).then_some(ake_market::state::PHASE_ASSIGNED),
                "in-flight entry of {key}"
            );
            if matches!(job.state, JobState::Submitted | JobState::Disputed) {
                let raw = c.raw_account(&job.due_page).await.expect("its due page");
                let page = ake_sdk::accounts::decode_due_page(&raw.data).unwrap();
                assert!(page.entries().contains(&key), "{key} in its due page");
                *due_open.entry(job.due_page).or_default() += 1;
            }
            match job.state {
                JobState::Queued => {
                    assert!(queued, "a queued job is in the queue");
                    assert_eq!(job.collateral, 0);
                }
                JobState::Assigned => {
                    assert!(!queued);
                    let node: Node = c.account(&job.node).await.unwrap();
                    assert_eq!((node.status, node.current_job), (NodeStatus::Busy, key));
                    assert_eq!(job.collateral, job.terms.execution_collateral);
                    assert!(
                        !job.excludes(&job.node_owner),
                        "never back to an owner that released it (or holds its audit's other run)"
                    );
                }
                JobState::Submitted => {
                    assert!(job.result.is_some() && !queued && job.bond == 0);
                    assert!(job.collateral <= job.terms.execution_collateral);
                }
                JobState::Disputed => assert!(job.result.is_some() && !queued && job.bond > 0),
                JobState::Settled => panic!("a settled job's account must be closed"),
            }
            // An appeal's bond is locked beside the job's collateral.
            *job_locks.entry(job.node_owner).or_default() += job.collateral + job.appeal_bond();
            if job.state != JobState::Queued {
                *jobs_naming.entry(job.node).or_default() += 1;
            }
        }
        // A batch holds the escrow of the frames it has not handed out, and
        // the rent of `parallelism` frames between its reserve and its
        // frames' accounts (a cancel gave the spare reserve back).
        let rent = solana_sdk::rent::Rent::default();
        let parked = market.parked_batches();
        for (_, key) in self.batches.clone() {
            let Some(b) = c.batch(&key).await else {
                continue;
            };
            open_escrow += b.escrow_per_frame * u64::from(b.frames_waiting());
            let queued = market.queued_jobs().iter().any(|e| e.key == key);
            assert_eq!(
                queued,
                b.in_queue(),
                "a batch is queued iff it hands frames out"
            );
            assert_eq!(
                parked.contains(&key),
                b.parked,
                "parked in the pool iff parked"
            );
            assert!(!(b.parked && b.in_queue()));
            let mut live = 0u64;
            for i in 0..b.handed_out {
                if c.raw_account(&pda::frame_job(&key, b.first_frame + i))
                    .await
                    .is_some()
                {
                    live += 1;
                }
            }
            assert!(
                live <= u64::from(b.parallelism),
                "never more frames out than its parallelism"
            );
            let account = c.raw_account(&key).await.unwrap();
            let own = rent.minimum_balance(account.data.len());
            let reserve = account.lamports - own;
            let held = reserve + b.frame_rent * live;
            if b.cancelled {
                assert!(held <= b.frame_rent * u64::from(b.parallelism));
            } else {
                assert_eq!(
                    held,
                    b.frame_rent * u64::from(b.parallelism),
                    "the reserve and the live frames hold parallelism frames' rent"
                );
                // In line, it can always create its next frame.
                assert!(!b.in_queue() || reserve >= b.frame_rent);
            }
            assert!(b.handed_out <= b.frame_count && b.frames_closed <= b.handed_out);
        }
        // Vault == open obligations + what settled and waits for the sweep.
        assert_eq!(
            c.escrow_balance().await,
            open_escrow + ledger.pending_burn + ledger.pending_treasury + market.audit_reserve
        );
        assert_eq!(
            market.open_escrow + ledger.escrow_in - ledger.escrow_out,
            open_escrow
        );
        // A due page's open count is the submitted and disputed jobs it
        // indexes: nothing settles without leaving its page.
        // Every page seen: a page no open job names has none open (it can
        // close), and none closes while a job still names it.
        self.due_pages.extend(due_open.keys().copied());
        for key in &self.due_pages {
            let open = due_open.get(key).copied().unwrap_or(0);
            let Some(raw) = c.raw_account(key).await else {
                assert_eq!(open, 0, "due page {key} closed under open jobs");
                continue;
            };
            let page = ake_sdk::accounts::decode_due_page(&raw.data).unwrap();
            assert_eq!(
                page.open, open,
                "open jobs of due page {}/{}",
                page.bucket, page.shard
            );
        }

        // Each owner's locked stake == its queued nodes' locks + its jobs' locks;
        // the stake vault holds exactly everyone's active + unbonding stake.
        let creator_stake: Stake = c
            .account(&pda::stake(&self.creators[2].pubkey()))
            .await
            .unwrap();
        let mut staked = creator_stake.amount + creator_stake.unbonding;
        for (i, n) in self.nodes.iter().enumerate() {
            let stake: Stake = c.account(&pda::stake(&n.owner.pubkey())).await.unwrap();
            staked += stake.amount + stake.unbonding;
            if self.closed[i] {
                assert!(c.raw_account(&n.account).await.is_none());
                assert_eq!(
                    stake.locked,
                    job_locks.get(&n.owner.pubkey()).copied().unwrap_or(0)
                );
                continue;
            }
            let node: Node = c.account(&n.account).await.unwrap();
            // Every unsettled job naming the node is counted (close and re-key rely on it).
            assert_eq!(
                node.open_jobs,
                jobs_naming.get(&n.account).copied().unwrap_or(0)
            );
            let expected =
                node.locked_stake + job_locks.get(&n.owner.pubkey()).copied().unwrap_or(0);
            assert_eq!(stake.locked, expected, "stake lock of {}", n.account);
            let entry = market
                .queued_nodes()
                .into_iter()
                .find(|e| e.key == n.account);
            assert_eq!(entry.is_some(), node.status == NodeStatus::Queued);
            // A suspended node is never waiting; a waiting one is matched on
            // the reputation it joined with, which settlements only raise.
            if let Some(entry) = entry {
                assert!(!node.suspended);
                assert!(entry.reputation_bps <= node.reputation_bps);
            }
        }

        assert_eq!(c.balance(&pda::stake_vault()).await, staked);

        // Every token is somewhere: wallets + treasury + escrow + stake vault == supply.
        let mut total = c.balance(&c.treasury.clone()).await + c.escrow_balance().await;
        total += c.balance(&c.faucet.clone()).await + c.balance(&c.payer_token.clone()).await;
        total += c.balance(&pda::stake_vault()).await;
        for u in self
            .creators
            .iter()
            .chain(self.nodes.iter().map(|n| &n.owner))
        {
            total += c.balance(&u.token).await;
        }
        assert_eq!(total, c.supply().await);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn books_stay_balanced(actions in proptest::collection::vec(action(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut world = World::new().await;
            world.check().await;
            for a in &actions {
                world.run(a).await;
                world.check().await;
            }
        });
    }
}
