//! Priority tiers on both sides of the queue, capability matching, and
//! resistance to pre-funded addresses.

use ake_market::state::{JobState, Node, NodeStatus};
use ake_sdk::pda;
use ake_tests::*;
use anchor_lang::solana_program::system_instruction;
use solana_sdk::signature::Signer;

#[tokio::test]
async fn higher_tier_creator_is_served_first() {
    let mut chain = Chain::start().await;
    let early = chain.user(10 * AKE).await;
    let early_job = chain.post_job(&early, 1, 600).await.unwrap();
    let staker = chain.user(1_010 * AKE).await;
    chain.deposit_stake(&staker, 1_000 * AKE).await.unwrap(); // tier 1
    let late_job = chain.post_job(&staker, 1, 600).await.unwrap();
    assert_eq!(chain.job(&late_job).await.unwrap().tier, 1);

    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    assert_eq!(
        chain.job(&late_job).await.unwrap().state,
        JobState::Assigned
    );
    assert_eq!(chain.job(&early_job).await.unwrap().state, JobState::Queued);
}

#[tokio::test]
async fn higher_tier_node_is_assigned_first() {
    let mut chain = Chain::start().await;
    let small = chain.node(1, 200 * AKE).await; // tier 0, armed first
    chain.node_ready(&small).await.unwrap();
    let big = chain.node(1, 10_000 * AKE).await; // tier 2
    chain.node_ready(&big).await.unwrap();

    let creator = chain.user(10 * AKE).await;
    let job = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_eq!(chain.job(&job).await.unwrap().node, big.account);
    let second = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_eq!(chain.job(&second).await.unwrap().node, small.account);
}

#[tokio::test]
async fn fifo_inside_a_tier_and_gpu_capability() {
    let mut chain = Chain::start().await;
    let one = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&one).await.unwrap();
    let four = chain.node(4, 1_000 * AKE).await;
    chain.node_ready(&four).await.unwrap();

    let creator = chain.user(100 * AKE).await;
    // A 2-GPU job skips the older 1-GPU node.
    let big = chain.post_job(&creator, 2, 600).await.unwrap();
    assert_eq!(chain.job(&big).await.unwrap().node, four.account);
    let small = chain.post_job(&creator, 1, 600).await.unwrap();
    assert_eq!(chain.job(&small).await.unwrap().node, one.account);

    // With no node free, jobs wait in posting order.
    let a = chain.post_job(&creator, 1, 600).await.unwrap();
    let b = chain.post_job(&creator, 1, 600).await.unwrap();
    let order: Vec<_> = chain
        .market(0)
        .await
        .queued_jobs()
        .iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(order, vec![a, b]);
}

#[tokio::test]
async fn node_leaves_the_queue_and_gets_its_stake_back() {
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap();
    let ix = ake_sdk::instructions::node_unready(
        node.signer.pubkey(),
        node.signer.pubkey(),
        node.owner.pubkey(),
        pda::market(0),
    );
    chain.send_ok(&[ix], &[&node.signer]).await;
    let n: Node = chain.account(&node.account).await.unwrap();
    assert_eq!((n.status, n.locked_stake), (NodeStatus::Idle, 0));
    assert_eq!(chain.market(0).await.node_count, 0);
    let s: ake_market::state::Stake = chain
        .account(&pda::stake(&node.owner.pubkey()))
        .await
        .unwrap();
    assert_eq!(s.locked, 0);
}

#[tokio::test]
async fn prefunded_addresses_cannot_block_anyone() {
    let mut chain = Chain::start().await;
    let creator = chain.user(10 * AKE).await;
    let griefer = chain.user(0).await;
    // Lamports sent ahead to the creator's counter, first job, stake, and a node address.
    let signer = solana_sdk::signature::Keypair::new();
    let targets = [
        pda::creator(&creator.pubkey()),
        pda::job(&creator.pubkey(), 0),
        pda::job(&creator.pubkey(), 1),
        pda::stake(&creator.pubkey()),
        pda::node(&signer.pubkey()),
    ];
    for t in targets {
        let ix = system_instruction::transfer(&griefer.pubkey(), &t, 1_000_000);
        chain.send_ok(&[ix], &[&griefer.key]).await;
    }

    let job0 = chain.post_job(&creator, 1, 600).await.unwrap();
    let job1 = chain.post_job(&creator, 1, 600).await.unwrap();
    for job in [job0, job1] {
        let acc = chain.raw_account(&job).await.unwrap();
        assert_eq!(acc.owner, ake_market::ID);
        assert_eq!(chain.job(&job).await.unwrap().creator, creator.pubkey());
    }
    chain.deposit_stake(&creator, AKE).await.unwrap();

    chain.airdrop(&signer.pubkey(), 1_000_000_000).await;
    let owner = chain.user(1_000 * AKE).await;
    chain.deposit_stake(&owner, 1_000 * AKE).await.unwrap();
    let ix = ake_sdk::instructions::register_node(
        owner.pubkey(),
        signer.pubkey(),
        pda::market(0),
        1,
        profile(),
    );
    chain.send_ok(&[ix], &[&owner.key, &signer]).await;
    assert!(chain
        .account::<Node>(&pda::node(&signer.pubkey()))
        .await
        .is_some());
}

#[tokio::test]
async fn largest_inline_spec_fits_one_transaction() {
    use ake_market::constants::MAX_INLINE_SPEC_BYTES;
    use ake_market::state::{InlineSpec, JobSpec};
    let mut chain = Chain::start().await;
    let node = chain.node(1, 1_000 * AKE).await;
    chain.node_ready(&node).await.unwrap(); // the post carries a candidate node too
    let creator = chain.user(1_010 * AKE).await;
    chain.deposit_stake(&creator, AKE).await.unwrap(); // and the stake account

    let spec_of = |pad: usize| {
        JobSpec::Inline(InlineSpec {
            image: "ghcr.io/ake/infer@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
            command: vec!["python".into(), "infer.py".into()],
            env: vec![ake_market::state::EnvVar { name: "PROMPT".into(), value: "p".repeat(pad) }],
            inputs: vec![ake_market::state::InputFile { url: "https://in/x".into(), sha256: [1; 32] }],
            max_output_bytes: 1 << 30,
        })
    };
    let len = |s: &JobSpec| anchor_lang::prelude::borsh::to_vec(s).unwrap().len();
    let base = len(&spec_of(0));
    let largest = spec_of(MAX_INLINE_SPEC_BYTES - base);
    assert_eq!(len(&largest), MAX_INLINE_SPEC_BYTES);

    let mut args = chain.post_args(0, 1, 600);
    args.spec = largest;
    let ix = ake_sdk::instructions::post_job(
        ake_sdk::instructions::PostJobAccounts {
            creator: creator.pubkey(),
            market: pda::market(0),
            mint: chain.mint,
            creator_token: creator.token,
            price_update: chain.price_update,
            creator_staked: true,
            candidate_node: Some(ake_sdk::instructions::Candidate {
                node: node.account,
                owner: node.owner.pubkey(),
            }),
        },
        args.clone(),
    );
    // With the compute-budget limit and price instructions every client adds.
    let budget = [
        solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_limit(400_000),
        solana_compute_budget_interface::ComputeBudgetInstruction::set_compute_unit_price(1_000),
    ];
    let all = [budget[0].clone(), budget[1].clone(), ix];
    let size = chain.transaction_size(&all, &[&creator.key]).await;
    assert!(
        size <= 1232,
        "post_job with the largest inline spec is {size} bytes"
    );
    chain.send_ok(&all, &[&creator.key]).await;

    let mut over = chain.post_args(1, 1, 600);
    over.spec = spec_of(MAX_INLINE_SPEC_BYTES - base + 1);
    assert_market_error(
        chain.post_job_with(&creator, over).await.map(|_| ()),
        ake_market::errors::MarketError::SpecTooLarge,
    );
}
