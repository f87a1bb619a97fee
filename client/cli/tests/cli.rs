//! Every `ake` command's happy path, the errors a user will meet with their
//! messages, and `--output json` parsed back, against a real localnet.

mod support;

use std::sync::Arc;

use ake_sdk::chain::rpc::RpcChain;
use ake_sdk::chain::Chain as _;
use ake_sdk::pda;
use ake_sdk::protocol::Protocol;
use ake_sdk::sender::{send_instructions, Fees};
use solana_commitment_config::CommitmentConfig;
use solana_sdk::signer::Signer;
use support::*;

fn protocol(net: &Net) -> Protocol {
    Protocol::new(Arc::new(RpcChain::new(
        &net.url,
        CommitmentConfig::confirmed(),
    )))
}

#[tokio::test(flavor = "multi_thread")]
async fn creator_staker_node_and_crank_flows() {
    let net = Net::start();
    let creator = net.wallet("creator").1.pubkey();
    let (_, owner) = net.wallet("owner");
    let (_, hot) = net.wallet("hot");

    // Quote: 1 GPU x 600 s at $0.0002/s at 0.50 - 2 x 0.0005 = 0.499 USD/AKE.
    let q = net.json(&["quote", "--secs", "600"], "creator");
    assert_eq!(q["escrow_base_units"], 240_481);
    assert_eq!(q["max_charge_micro_usd"], 120_000);

    // Faucet, stake, and the errors a staker meets.
    net.json(&["localnet", "faucet", "100"], "creator");
    net.json(&["localnet", "faucet", "1000"], "owner");
    let err = net.fails(&["stake", "deposit", "5000"], "owner");
    assert!(err.contains("less than the 5000 AKE to stake"), "{err}");
    let err = net.fails(&["stake", "deposit", "1.1234567"], "owner");
    assert!(err.contains("at most 6 decimals"), "{err}");
    net.json(&["stake", "deposit", "400"], "owner");
    let s = net.json(&["stake", "show"], "owner");
    assert_eq!(
        (s["staked"].as_u64(), s["tier"].as_u64()),
        (Some(400_000_000), Some(0))
    );
    let err = net.fails(&["stake", "withdraw"], "owner");
    assert!(
        err.contains("nothing is unbonding (NothingUnbonding"),
        "{err}"
    );

    // A node: register with the hot key, arm it as the daemon would.
    let hot_path = net.keypair_path("hot");
    let node = register_gpu_node(&net, &hot_path);
    // A host's other slots in one command; the node registered before is
    // left as it is, so the command can be run again.
    let (slot1, slot1_key) = net.wallet("slot1");
    let (slot2, _) = net.wallet("slot2");
    let slots = [hot_path.as_path(), slot1.as_path(), slot2.as_path()];
    let out = register_gpu_nodes(&net, &slots);
    let nodes = out["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{out}");
    assert_eq!(nodes[0]["node"], node.as_str());
    assert!(nodes[0]["signature"].is_null(), "registered before: {out}");
    assert_eq!(
        nodes[1]["node"],
        pda::node(&slot1_key.pubkey()).to_string().as_str()
    );
    assert!(nodes[1]["signature"].is_string() && nodes[2]["signature"].is_string());
    let again = register_gpu_nodes(&net, &slots);
    assert!(again["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["signature"].is_null()));
    let p = protocol(&net);
    let ready = p.node_ready(&hot.pubkey()).await.unwrap();
    send_instructions(
        p.chain.as_ref(),
        &hot_from(&net, "hot"),
        &[],
        &[ready],
        Fees::default(),
    )
    .await
    .unwrap_err();
    // The hot key has no SOL yet: the error says so; fund it and retry.
    let chain = RpcChain::new(&net.url, CommitmentConfig::confirmed());
    airdrop(&chain, &hot.pubkey(), 1_000_000_000).await;
    wait_until_armable(&p, &node).await;
    let ready = p.node_ready(&hot.pubkey()).await.unwrap();
    send_instructions(p.chain.as_ref(), &hot, &[], &[ready], Fees::default())
        .await
        .unwrap();
    let shown = net.json(&["node", "show", &node], "owner");
    assert_eq!(shown["status"], "waiting for a job");
    assert_eq!(
        shown["reputation_bps"], 0,
        "a new node starts with no reputation"
    );

    // Post a job: validated, warned about the missing digest, assigned at once.
    let spec = repo_root().join("client/examples/render-job.toml");
    let bad = net.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&spec)
            .unwrap()
            .replace("gpus = 1", "gpus = 9"),
    )
    .unwrap();
    let err = net.fails(&["job", "post", bad.to_str().unwrap()], "creator");
    assert!(err.contains("gpus: must be 1..=8 on market 0"), "{err}");
    let err = net.fails(
        &["job", "post", spec.to_str().unwrap(), "--max-tokens", "0.1"],
        "creator",
    );
    assert!(
        err.contains("not posted: the quote is") && err.contains("your limit 0.1 AKE"),
        "{err}"
    );
    // An image reference no engine accepts is refused before anything is sent.
    std::fs::write(
        &bad,
        std::fs::read_to_string(&spec).unwrap().replace(
            "image = \"ake/render:local\"",
            "image = \"ake render:local\"",
        ),
    )
    .unwrap();
    let err = net.fails(&["job", "post", bad.to_str().unwrap()], "creator");
    assert!(err.contains("is not an image reference"), "{err}");
    // A loader variable (GPU hooks run on the host with the job's
    // environment) is refused before anything is sent, naming the key.
    std::fs::write(
        &bad,
        std::fs::read_to_string(&spec)
            .unwrap()
            .replace("SCENE = \"spheres\"", "LD_PRELOAD = \"/ake/input/x.so\""),
    )
    .unwrap();
    let err = net.fails(&["job", "post", bad.to_str().unwrap()], "creator");
    assert!(
        err.contains("env.LD_PRELOAD: changes how the host's loader or libc behaves"),
        "{err}"
    );
    let posted = net.json(&["job", "post", spec.to_str().unwrap()], "creator");
    let job = posted["job"].as_str().unwrap().to_string();
    assert_eq!(posted["escrow"], 240_481);
    let status = net.json(&["job", "status", &job], "creator");
    assert_eq!(
        (status["state"].as_str(), status["node"].as_str()),
        (Some("assigned"), Some(node.as_str()))
    );
    let err = net.fails(&["job", "cancel", &job], "creator");
    assert!(err.contains("only a queued job can be cancelled"), "{err}");
    let err = net.fails(&["job", "cancel", &job], "owner");
    assert!(err.contains("belongs to"), "{err}");
    // Nothing printed anywhere yet: no live logs announced, no result.
    let err = net.fails(&["job", "logs", &job], "creator");
    assert!(err.contains("has no logs yet"), "{err}");

    // The node submits (SDK), the creator accepts (CLI): burned and refunded.
    let job_key = job.parse().unwrap();
    // The program bounds usage by its own clock: 3 s of work, reported after 4 s.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let result = ake_sdk::ake_market::state::JobResult {
        commitment: [7; 32],
        output_uri: "file:///out".into(),
        usage: ake_sdk::ake_market::state::UsageReceipt {
            wall_secs: 3,
            gpu_secs: 3,
            energy_mj: 5,
        },
        sealed_digest: [0; 32],
        sealed_salt: [0; ake_sdk::ake_market::state::SEALED_SALT_LEN],
    };
    let due = {
        let job = p.job(&job_key).await.unwrap().unwrap();
        p.submit_due_pick(&job).await.unwrap()
    };
    let submit = ake_sdk::instructions::submit_result(
        hot.pubkey(),
        owner.pubkey(),
        (job_key, ake_sdk::pda::market(0), None),
        result,
        ake_sdk::instructions::AfterSubmit::StayIdle,
        due,
    );
    send_instructions(p.chain.as_ref(), &hot, &[], &[submit], Fees::default())
        .await
        .unwrap();
    let status = net.json(&["job", "status", &job], "creator");
    assert_eq!(status["state"], "submitted");
    assert_eq!(status["commitment"], hex::encode([7u8; 32]));
    net.json(&["job", "accept", &job], "creator");
    let err = net.fails(&["job", "status", &job], "creator");
    assert!(err.contains("settled and its account closed"), "{err}");
    let list = net.json(&["job", "list"], "creator");
    assert_eq!(list[0]["state"], "closed");
    let node_view = net.json(&["node", "show", &node], "owner");
    let work = node_view["work_micro_usd"].as_u64().unwrap();
    assert!(work > 0);
    assert_eq!(
        (
            node_view["jobs_completed"].as_u64(),
            node_view["reputation_bps"].as_u64()
        ),
        (
            Some(1),
            Some(u64::from(ake_sdk::ake_market::math::reputation_bps(
                work, 0
            )))
        )
    );

    // The crank closes the epoch the work landed in (30 s on localnet); the node claims.
    let history = net.json(&["epoch", "history", "--last", "3"], "creator");
    let worked = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["jobs"] == 1)
        .expect("the epoch with the job")
        .clone();
    assert_eq!(worked["work_micro_usd"], 600);
    // 95% of the 1,203 charged (the posting fee is not work the node is credited with).
    assert_eq!(worked["burned"], 1_142);
    let epoch = worked["epoch"].as_u64().unwrap().to_string();
    let mut closed = false;
    for _ in 0..90 {
        net.json(&["crank", "--once"], "creator");
        if net.json(&["epoch", "show", &epoch], "creator")["closed"] == true {
            closed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    assert!(closed, "the epoch closes within 90 s");
    // Closing mints nothing: the node's claim is the epoch's only mint.
    let shown = net.json(&["epoch", "show", &epoch], "creator");
    assert_eq!(
        (shown["minted"].as_u64(), shown["payable"].as_u64()),
        (Some(0), shown["burned"].as_u64()),
        "{shown}"
    );
    // Earnings before the claim: what a claim pays now, and why.
    let epoch_of = |report: &serde_json::Value| {
        report["nodes"][0]["epochs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["epoch"].as_u64() == epoch.parse().ok())
            .cloned()
            .unwrap_or_else(|| panic!("epoch {epoch} not in {report}"))
    };
    let before = epoch_of(&net.json(&["node", "earnings", &node], "owner"));
    assert_eq!(
        (
            &before["jobs"],
            &before["gpu_secs"],
            &before["work_micro_usd"],
            &before["burned_credited"]
        ),
        (
            &serde_json::json!(1),
            &serde_json::json!(3),
            &serde_json::json!(600),
            &serde_json::json!(1_142)
        ),
        "{before}"
    );
    assert_eq!(
        (&before["reward"], &before["applied"], &before["claimed"]),
        (
            &shown["burned"],
            &serde_json::json!("cap"),
            &serde_json::json!(false)
        ),
        "a lone node's reward is capped at its burn: {before}"
    );
    let claim = net.json(&["node", "claim", &node, "--epoch", &epoch], "owner");
    assert_eq!(
        claim["amount"], shown["burned"],
        "the only node gets what its job burned, never more (the node share is far larger)"
    );
    let shown = net.json(&["epoch", "show", &epoch], "creator");
    assert_eq!(
        (&shown["minted"], &shown["burn_mint_ratio"]),
        (&shown["burned"], &serde_json::json!(1.0)),
        "{shown}"
    );
    let again = net.json(&["node", "claim", &node, "--epoch", &epoch], "owner");
    assert_eq!(again["amount"], 0, "a reward is never claimed twice");
    // After it: the same record, read back from the claim, and the whole
    // fleet by its owner's history.
    let after = epoch_of(&net.json(&["node", "earnings", &node], "owner"));
    assert_eq!(after["claimed"], true, "{after}");
    let mut claimed = before.clone();
    claimed["claimed"] = serde_json::json!(true);
    assert_eq!(after, claimed, "the claim event carries the epoch's record");
    let fleet = net.json(
        &["node", "earnings", "--owner", &owner.pubkey().to_string()],
        "owner",
    );
    let listed: Vec<&str> = fleet["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 3, "the owner registered three nodes: {fleet}");
    assert_eq!(listed[0], node.as_str());
    assert_eq!(epoch_of(&fleet), claimed);
    assert_eq!(fleet["reward"], claim["amount"]);
    let err = net.fails(&["node", "earnings"], "owner");
    assert!(err.contains("name the nodes"), "{err}");
    // Anyone can name the closed record's address in later transactions
    // (9 x 5,000 lamports here) to bury the claim: the report still stands,
    // saying the epoch was claimed and its figures are not readable here.
    let (_, stranger) = net.wallet("stranger");
    airdrop(&chain, &stranger.pubkey(), 1_000_000_000).await;
    let record = ake_sdk::pda::node_work(epoch.parse().unwrap(), &node.parse().unwrap());
    for lamports in 1..=9 {
        let mut bury = anchor_lang::solana_program::system_instruction::transfer(
            &stranger.pubkey(),
            &stranger.pubkey(),
            lamports,
        );
        bury.accounts
            .push(solana_sdk::instruction::AccountMeta::new_readonly(
                record, false,
            ));
        send_instructions(p.chain.as_ref(), &stranger, &[], &[bury], Fees::default())
            .await
            .unwrap();
    }
    let buried = epoch_of(&net.json(&["node", "earnings", &node], "owner"));
    assert_eq!(
        (
            &buried["claimed"],
            &buried["details_unavailable"],
            &buried["reward"]
        ),
        (
            &serde_json::json!(true),
            &serde_json::json!(true),
            &serde_json::Value::Null
        ),
        "{buried}"
    );

    // The treasury holds the fees the crank swept (less its tips); the
    // authority spends from it only through the timelock. Too much is
    // refused before anything is sent.
    let p = protocol(&net);
    let held = p.token_balance(&ake_sdk::pda::treasury()).await.unwrap();
    assert!(held > 0, "the job's fee reached the treasury");
    let err = net.fails(&["admin", "spend", &creator.to_string(), "1000"], "admin");
    assert!(err.contains("propose a smaller amount"), "{err}");
    let err = net.fails(
        &["admin", "spend", &creator.to_string(), "0.00001"],
        "creator",
    );
    assert!(err.contains("NotAuthority"), "{err}");
    let pending = net.json(
        &["admin", "spend", &creator.to_string(), "0.00001"],
        "admin",
    );
    assert_eq!(pending[0]["target"], ake_sdk::pda::treasury().to_string());
    let creator_token =
        ake_sdk::protocol::associated_token(&creator, &p.config().await.unwrap().mint);
    assert_eq!(pending[0]["spend_to"], creator_token.to_string());
    let before = p.token_balance(&creator_token).await.unwrap();
    let eta = pending[0]["eta"].as_i64().unwrap();
    while p.chain.clock().await.unwrap().unix_timestamp < eta {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let applied = net.json(&["admin", "apply"], "owner");
    assert_eq!(applied.as_array().unwrap().len(), 1, "{applied}");
    assert_eq!(p.token_balance(&creator_token).await.unwrap(), before + 10);

    // Price changes move the quote; only a localnet takes them.
    net.json(&["localnet", "set-price", "0.25"], "creator");
    let q = net.json(&["quote", "--secs", "600"], "creator");
    assert_eq!(q["escrow_base_units"], 480_962); // at 0.25 - 2 x 0.00025 = 0.2495

    // An auditable job: a tagged image is refused before anything is sent;
    // pinned, it posts with its audit fee in the quote (3 % at least).
    let exact = net.dir.path().join("exact.toml");
    let text = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("gpus = 1", "gpus = 1\nverify = \"exact\"");
    std::fs::write(&exact, &text).unwrap();
    let err = net.fails(&["job", "post", exact.to_str().unwrap()], "creator");
    assert!(
        err.contains("image: verify = \"exact\" needs the image pinned by digest"),
        "{err}"
    );
    let pinned = format!("ake/render@sha256:{}", "1".repeat(64));
    std::fs::write(&exact, text.replace("ake/render:local", &pinned)).unwrap();
    let posted = net.json(&["job", "post", exact.to_str().unwrap()], "creator");
    let escrow = posted["escrow"].as_u64().unwrap();
    let fee = posted["audit_fee"].as_u64().unwrap();
    assert!(fee > 0 && fee >= escrow * 3 / 100, "{posted}");
    assert_eq!(posted["view"]["audit"]["verify"], "exact", "{posted}");
}

fn hot_from(net: &Net, name: &str) -> solana_sdk::signature::Keypair {
    solana_sdk::signature::read_keypair_file(net.keypair_path(name)).unwrap()
}

/// Registers, as "owner", a one-GPU RTX 4090 node whose hot key is the
/// keypair file `signer`; its address.
fn register_gpu_node(net: &Net, signer: &std::path::Path) -> String {
    register_gpu_nodes(net, &[signer])["nodes"][0]["node"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `ake node register` as "owner" of a one-GPU RTX 4090 node per keypair
/// file in `signers`, in one command; what it answers.
fn register_gpu_nodes(net: &Net, signers: &[&std::path::Path]) -> serde_json::Value {
    register_gpu_nodes_as(net, "owner", signers)
}

/// `ake node register` as `owner`, as [`register_gpu_nodes`] does.
fn register_gpu_nodes_as(
    net: &Net,
    owner: &str,
    signers: &[&std::path::Path],
) -> serde_json::Value {
    let mut args = vec!["node", "register"];
    for signer in signers {
        args.extend(["--signer", signer.to_str().unwrap()]);
    }
    args.extend([
        "--gpus",
        "1",
        "--model",
        "NVIDIA RTX 4090",
        "--vram-mib",
        "24564",
    ]);
    net.json(&args, owner)
}

/// A creator with 100 AKE, and an owner with 1,000 AKE of which `stake` is staked.
fn creator_and_staked_owner(
    net: &Net,
    stake: &str,
) -> (
    solana_sdk::signature::Keypair,
    solana_sdk::signature::Keypair,
) {
    let (_, creator) = net.wallet("creator");
    let (_, owner) = net.wallet("owner");
    net.json(&["localnet", "faucet", "100"], "creator");
    net.json(&["localnet", "faucet", "1000"], "owner");
    net.json(&["stake", "deposit", stake], "owner");
    (creator, owner)
}

/// Airdrops SOL and waits (up to 10 s) until it arrives.
async fn airdrop(chain: &RpcChain, key: &solana_sdk::pubkey::Pubkey, lamports: u64) {
    let before = chain.balance(key).await.unwrap();
    chain.request_airdrop(key, lamports).await.unwrap();
    for _ in 0..100 {
        if chain.balance(key).await.unwrap() != before {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("airdrop to {key} never arrived");
}

#[test]
fn errors_without_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let out = std::process::Command::new(AKE)
        .args(["--url", "http://127.0.0.1:9", "--keypair"])
        .arg(&missing)
        .args(["stake", "show"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("did not answer"), "{err}");

    let out = std::process::Command::new(AKE)
        .args(["--url", "http://127.0.0.1:9", "localnet", "set-price", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach"), "{err}");

    let out = std::process::Command::new(AKE)
        .args([
            "--output",
            "json",
            "--url",
            "http://127.0.0.1:9",
            "--commitment",
            "sometimes",
            "epoch",
            "show",
        ])
        .output()
        .unwrap();
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("--commitment 'sometimes'"),
        "{err}"
    );
}

#[test]
fn solana_cli_config_is_read_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        "json_rpc_url: http://127.0.0.1:9\nwebsocket_url: ''\nkeypair_path: /nonexistent/id.json\naddress_labels: {}\ncommitment: confirmed\n",
    )
    .unwrap();
    // The config's URL is used ...
    let out = std::process::Command::new(AKE)
        .arg("--config")
        .arg(&config)
        .args(["epoch", "show"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:9"));
    // ... and the config's keypair path, named in the error.
    let out = std::process::Command::new(AKE)
        .arg("--config")
        .arg(&config)
        .args(["--url", "http://127.0.0.1:8", "stake", "deposit", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("127.0.0.1:8"),
        "the flag wins over the config: {err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_unstake_cancel_dispute_and_rearm() {
    let net = Net::start();
    let (_, creator) = net.wallet("creator");
    let (_, owner) = net.wallet("owner");
    let (_, hot) = net.wallet("hot");
    net.json(&["localnet", "faucet", "50"], "creator");
    net.json(&["localnet", "faucet", "1000"], "owner");

    // Admin: bootstrap refuses a bootstrapped cluster; parameters and markets apply.
    let params = repo_root().join("migrations/localnet.toml");
    let err = net.fails(&["admin", "bootstrap", params.to_str().unwrap()], "admin");
    assert!(err.contains("already bootstrapped"), "{err}");
    // Parameter changes are proposed (only what differs from the chain),
    // visible with their time, applied after the timelock (2 s on
    // localnet), or cancelled.
    let unchanged = net.json(&["admin", "propose", params.to_str().unwrap()], "admin");
    assert_eq!(unchanged, serde_json::json!([]), "nothing differs");
    let changed = net.dir.path().join("changed.toml");
    let text = std::fs::read_to_string(&params)
        .unwrap()
        .replace("challenge_window_secs = 5\n", "challenge_window_secs = 6\n")
        .replace("decay_bps = 48\n", "decay_bps = 50\n")
        .replace(
            "posting_fee_micro_usd = 5_000 #",
            "posting_fee_micro_usd = 6_000 #",
        );
    std::fs::write(&changed, text).unwrap();
    let proposed = net.json(&["admin", "propose", changed.to_str().unwrap()], "admin");
    let programs: Vec<&str> = proposed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["program"].as_str().unwrap())
        .collect();
    assert_eq!(programs, ["ake-market", "ake-market", "ake-emissions"]);
    assert_eq!(net.json(&["admin", "pending"], "creator"), proposed);
    let err = net.fails(&["admin", "cancel", "--market", "0"], "creator");
    assert!(err.contains("NotAuthority"), "{err}");
    net.json(&["admin", "cancel", "--market", "0"], "admin");
    let eta = proposed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["eta"].as_i64().unwrap())
        .max()
        .unwrap();
    let p = protocol(&net);
    while p.chain.clock().await.unwrap().unix_timestamp < eta {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let applied = net.json(&["admin", "apply"], "creator");
    assert_eq!(applied.as_array().unwrap().len(), 2, "config and emissions");
    assert_eq!(
        net.json(&["admin", "pending"], "creator"),
        serde_json::json!([])
    );
    let upgrade = net.json(&["admin", "upgrade-authority"], "creator");
    assert_eq!(
        upgrade["programs"][0]["upgrade_authority"],
        serde_json::Value::Null
    );
    let more = net.dir.path().join("more.toml");
    let text = std::fs::read_to_string(&params).unwrap();
    std::fs::write(&more, format!("{text}\n[[markets]]\nname = \"rtx-4090\"\nrate_micro_usd_per_gpu_sec = 200\nmin_stake_per_gpu_ake = 200\nmax_gpus_per_job = 8\nmax_duration_secs = 3600\nposting_fee_micro_usd = 5000\ncollateral_escrow_bps = 5000\nresult_collateral_charge_bps = 20000\nrelease_window_bps = 1000\nrelease_window_min_secs = 60\nrelease_window_max_secs = 900\nmax_releases = 3\nmax_queue_secs = 2\ngpu_required = true\nmin_duration_secs = 60\njob_capacity = 100\nnode_capacity = 32\nin_flight_capacity = 64\n")).unwrap();
    let created = net.json(
        &["admin", "create-markets", more.to_str().unwrap()],
        "admin",
    );
    assert_eq!(created.as_array().unwrap().len(), 1);
    let markets = net.json(&["market", "list"], "creator");
    assert_eq!(markets[1]["name"], "rtx-4090");
    // Everything a client needs beside its keys, and the shortest job.
    let config = protocol(&net).config().await.unwrap();
    assert_eq!(
        markets[0]["price_account"],
        ake_sdk::oracle::price_feed_address(&config.params.oracle.feed_id).to_string()
    );
    assert_eq!(
        markets[1]["escrow_vault"],
        ake_sdk::pda::escrow_vault(&ake_sdk::pda::market(1)).to_string()
    );
    assert_eq!(markets[0]["min_duration_secs"], 240);
    assert_eq!(markets[1]["min_duration_secs"], 60);
    assert_eq!(
        markets[1]["driver_capabilities"],
        serde_json::json!(["compute", "utility"])
    );
    // Created, then grown to the file's capacities; the authority raises them.
    let capacity = |m: &serde_json::Value| {
        ["job_capacity", "node_capacity", "in_flight_capacity"].map(|k| m[k].as_u64().unwrap())
    };
    assert_eq!(capacity(&markets[1]), [100, 32, 64]);
    assert_eq!(capacity(&markets[0]), [1_000, 256, 1_024]);
    let grow = |jobs: &'static str| {
        [
            "admin",
            "grow-market",
            "1",
            "--jobs",
            jobs,
            "--nodes",
            "32",
            "--in-flight",
            "64",
        ]
    };
    let err = net.fails(&grow("200"), "creator");
    assert!(err.contains("NotAuthority"), "{err}");
    let grown = net.json(&grow("200"), "admin");
    assert_eq!(
        (
            grown["job_capacity"].as_u64(),
            grown["transactions"].as_u64()
        ),
        (Some(200), Some(1))
    );
    let err = net.fails(&grow("100"), "admin");
    assert!(err.contains("capacities may only rise"), "{err}");
    // Every market got a lookup table; the authority may make a new one.
    assert!(markets[0]["lookup_table"].is_string() && markets[1]["lookup_table"].is_string());
    let err = net.fails(&["admin", "create-lookup-table", "1"], "creator");
    assert!(err.contains("NotAuthority"), "{err}");
    let made = net.json(&["admin", "create-lookup-table", "1"], "admin");
    let shown = net.json(&["market", "show", "1"], "creator");
    assert_eq!(shown[0]["lookup_table"], made["lookup_table"]);
    assert_ne!(made["lookup_table"], markets[1]["lookup_table"]);
    let err = net.fails(&["admin", "propose", changed.to_str().unwrap()], "creator");
    assert!(err.contains("NotAuthority"), "{err}");

    // Cancel a queued job: everything back.
    let spec = repo_root().join("client/examples/render-job.toml");
    let job = net.json(&["job", "post", spec.to_str().unwrap()], "creator")["job"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        net.json(&["job", "status", &job], "creator")["state"],
        "queued"
    );
    net.json(&["job", "cancel", &job], "creator");
    let list = net.json(&["job", "list"], "creator");
    assert_eq!(list[0]["state"], "closed");

    // A job no node takes within the market's max_queue_secs (2 s on the new
    // market) is refunded by the crank: escrow back, posting fee burned.
    let stale_spec = net.dir.path().join("stale.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&stale_spec, text.replace("market = 0", "market = 1")).unwrap();
    let mint = p.config().await.unwrap().mint;
    let creator_token = ake_sdk::protocol::associated_token(&creator.pubkey(), &mint);
    let before = p.token_balance(&creator_token).await.unwrap();
    let posted = net.json(&["job", "post", stale_spec.to_str().unwrap()], "creator");
    let stale = posted["job"].as_str().unwrap().to_string();
    let mut refunded = false;
    for _ in 0..60 {
        let pass = net.json(&["crank", "--once"], "admin");
        if pass["stale_jobs_refunded"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j.as_str() == Some(stale.as_str()))
        {
            refunded = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(refunded, "the crank refunds the stale job");
    let err = net.fails(&["job", "status", &stale], "creator");
    assert!(err.contains("settled and its account closed"), "{err}");
    let after = p.token_balance(&creator_token).await.unwrap();
    // The posting fee, and a waiting fee of one posting fee per day waited
    // (seconds here, so a few base units), are gone; the escrow came back.
    let fee = posted["posting_fee"].as_u64().unwrap();
    let waiting = before - after - fee;
    assert!((1..fee).contains(&waiting), "waiting fee {waiting}");

    // Unstake, then withdraw after the 20 s unbonding period.
    net.json(&["stake", "deposit", "500"], "owner");
    let unstake = net.json(&["stake", "unstake", "100"], "owner");
    assert!(unstake["unlock_at"].as_i64().unwrap() > 0);
    let err = net.fails(&["stake", "withdraw"], "owner");
    assert!(
        err.contains("the unbonding period has not ended (StillUnbonding"),
        "{err}"
    );

    // A dispute the creator wins: refund, slash, suspension; the owner re-arms.
    let hot_path = net.keypair_path("hot");
    let node = net.json(
        &[
            "node",
            "register",
            "--signer",
            hot_path.to_str().unwrap(),
            "--gpus",
            "1",
            "--model",
            "CPU",
            "--vram-mib",
            "0",
        ],
        "owner",
    )["nodes"][0]["node"]
        .as_str()
        .unwrap()
        .to_string();
    let chain = RpcChain::new(&net.url, CommitmentConfig::confirmed());
    airdrop(&chain, &hot.pubkey(), 1_000_000_000).await;
    wait_until_armable(&p, &node).await;
    let ready = p.node_ready(&hot.pubkey()).await.unwrap();
    send_instructions(p.chain.as_ref(), &hot, &[], &[ready], Fees::default())
        .await
        .unwrap();
    let job = net.json(&["job", "post", spec.to_str().unwrap()], "creator")["job"]
        .as_str()
        .unwrap()
        .to_string();
    let job_key = job.parse().unwrap();
    // One second of work (200 micro-USD: 401 base units charged).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let result = ake_sdk::ake_market::state::JobResult {
        commitment: [1; 32],
        output_uri: "file:///x".into(),
        usage: ake_sdk::ake_market::state::UsageReceipt {
            wall_secs: 1,
            gpu_secs: 1,
            energy_mj: 0,
        },
        sealed_digest: [0; 32],
        sealed_salt: [0; ake_sdk::ake_market::state::SEALED_SALT_LEN],
    };
    let due = {
        let job = p.job(&job_key).await.unwrap().unwrap();
        p.submit_due_pick(&job).await.unwrap()
    };
    let submit = ake_sdk::instructions::submit_result(
        hot.pubkey(),
        owner.pubkey(),
        (job_key, ake_sdk::pda::market(0), None),
        result,
        ake_sdk::instructions::AfterSubmit::StayIdle,
        due,
    );
    send_instructions(p.chain.as_ref(), &hot, &[], &[submit], Fees::default())
        .await
        .unwrap();
    // The 100 AKE bond is more than the creator holds: the token program's error, explained.
    let err = net.fails(&["job", "dispute", &job], "creator");
    assert!(err.contains("too few tokens"), "{err}");
    net.json(&["localnet", "faucet", "100"], "creator");
    net.json(&["job", "dispute", &job], "creator");
    assert_eq!(
        net.json(&["job", "status", &job], "creator")["state"],
        "disputed"
    );
    let err = net.fails(
        &["admin", "resolve-dispute", &job, "--creator-wins"],
        "creator",
    );
    assert!(err.contains("NotArbiter"), "{err}");
    net.json(
        &["admin", "resolve-dispute", &job, "--creator-wins"],
        "admin",
    );
    let shown = net.json(&["node", "show", &node], "owner");
    assert_eq!(
        (
            shown["suspended"].as_bool(),
            shown["jobs_disputed"].as_u64()
        ),
        (Some(true), Some(1))
    );
    let err = net.fails(&["node", "rearm", &node], "creator");
    assert!(err.contains("NotNodeOperator"), "{err}");
    // The owner names an operator key; it re-arms (waiting out the 2 s
    // cooldown: a refusal before it says why) and can hold the node out.
    let (_, operator) = net.wallet("operator");
    airdrop(&chain, &operator.pubkey(), 1_000_000_000).await;
    let err = net.fails(&["node", "operator", "not-a-key"], "owner");
    assert!(
        err.contains("not a public key (or `none` to revoke)"),
        "{err}"
    );
    net.json(
        &["node", "operator", &operator.pubkey().to_string()],
        "owner",
    );
    let early = net.run(&["node", "rearm", &node], "operator");
    if !early.status.success() {
        let err = String::from_utf8_lossy(&early.stderr);
        assert!(err.contains("NodeCoolingDown"), "{err}");
        wait_until_armable(&p, &node).await;
        net.json(&["node", "rearm", &node], "operator");
    }
    assert_eq!(
        net.json(&["node", "show", &node], "owner")["suspended"],
        false
    );
    net.json(&["node", "hold", &node], "operator");
    assert_eq!(net.json(&["node", "show", &node], "owner")["held"], true);
    net.json(&["node", "rearm", &node], "operator");
    assert_eq!(net.json(&["node", "show", &node], "owner")["held"], false);
    net.json(&["node", "operator", "none"], "owner");
    let err = net.fails(&["node", "hold", &node], "operator");
    assert!(err.contains("NotNodeSigner"), "{err}");
    // Only the job's result collateral (2 x 401) is slashed, never the rest of the stake.
    assert_eq!(
        net.json(&["stake", "show"], "owner")["staked"],
        400_000_000 - 802
    );

    std::thread::sleep(std::time::Duration::from_secs(21));
    let w = net.json(&["stake", "withdraw"], "owner");
    assert_eq!(w["amount"], 100_000_000, "unbonding stake is never slashed");

    // The owner moves the idle node to a new hot key: the record moves with it.
    let (new_hot, new_key) = net.wallet("hot2");
    let rotated = net.json(
        &[
            "node",
            "rotate-key",
            &node,
            "--new-signer",
            new_hot.to_str().unwrap(),
        ],
        "owner",
    );
    let new_node = rotated["node"].as_str().unwrap().to_string();
    assert_eq!(new_node, ake_sdk::pda::node(&new_key.pubkey()).to_string());
    let shown = net.json(&["node", "show", &new_node], "owner");
    assert_eq!(
        (shown["jobs_disputed"].as_u64(), shown["signer"].as_str()),
        (Some(1), Some(new_key.pubkey().to_string().as_str()))
    );
    let err = net.fails(&["node", "show", &node], "owner");
    assert!(err.contains("no node at"), "{err}");
    // Closing: the stake account only once empty, the node whenever idle.
    let err = net.fails(&["stake", "close"], "owner");
    assert!(err.contains("StakeNotEmpty"), "{err}");
    net.json(&["node", "close", &new_node], "owner");
    let err = net.fails(&["node", "show", &new_node], "owner");
    assert!(err.contains("no node at"), "{err}");

    // Dozens of refused transactions later, the programs' log lines went to
    // the local chain's standard error, never into its standard output.
    let out = net.out();
    assert!(
        !out.contains("AnchorError") && !out.contains("Program log"),
        "{out}"
    );
    assert!(
        net.log().contains("AnchorError"),
        "the logs are kept on stderr"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_is_posted_listed_cancelled_and_closed_from_the_cli() {
    let net = Net::start();
    let (creator, owner) = creator_and_staked_owner(&net, "400");
    let (_, hot) = net.wallet("hot");
    let p = protocol(&net);
    let token =
        ake_sdk::protocol::associated_token(&creator.pubkey(), &p.config().await.unwrap().mint);
    let before = p.token_balance(&token).await.unwrap();

    // 240 frames take one command; `frames` out of range is refused first.
    let example = repo_root().join("client/examples/render-batch.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    let bad = net.dir.path().join("bad-frames.toml");
    std::fs::write(&bad, text.replace("1-240", "5-1")).unwrap();
    let err = net.fails(&["job", "post", bad.to_str().unwrap()], "creator");
    assert!(
        err.contains("frames") && err.contains("before the first"),
        "{err}"
    );
    // The rent of the frames out at once (about 2.1 SOL for all 240) is
    // checked before anything is sent; the faucet's 1 SOL is not enough.
    let all_at_once = [
        "job",
        "post",
        example.to_str().unwrap(),
        "--parallelism",
        "240",
    ];
    let err = net.fails(&all_at_once, "creator");
    assert!(
        err.contains("posting 240 frames 240 at a time holds 2.09")
            && err.contains("lower --parallelism"),
        "{err}"
    );
    let mut too_many = all_at_once;
    too_many[4] = "241";
    let err = net.fails(&too_many, "creator");
    assert!(err.contains("keeps 1 to 240 out at once"), "{err}");
    assert_eq!(
        p.token_balance(&token).await.unwrap(),
        before,
        "nothing taken"
    );
    // By default 64 frames go out at once: 0.56 SOL of rent, which 1 SOL covers.
    let chain = RpcChain::new(&net.url, CommitmentConfig::confirmed());
    let posted = net.json(&["job", "post", example.to_str().unwrap()], "creator");
    let batch = posted["batch"].as_str().unwrap().to_string();
    assert_eq!(posted["frame_count"], 240);
    assert_eq!(posted["parallelism"], 64);
    let escrow_per_frame = posted["escrow_per_frame"].as_u64().unwrap();
    let list = net.json(&["job", "list", "--batch", &batch], "creator");
    assert_eq!(list["frames"].as_array().unwrap().len(), 240);
    assert_eq!(list["frames"][0]["frame"], 1);
    assert_eq!(list["frames"][239]["state"], "waiting");

    // A node arms (as the daemon does) and takes frame 1.
    let hot_path = net.keypair_path("hot");
    let node = register_gpu_node(&net, &hot_path);
    airdrop(&chain, &hot.pubkey(), 1_000_000_000).await;
    wait_until_armable(&p, &node).await;
    let ready = p.node_ready(&hot.pubkey()).await.unwrap();
    send_instructions(p.chain.as_ref(), &hot, &[], &[ready], Fees::default())
        .await
        .unwrap();
    let list = net.json(&["job", "list", "--batch", &batch], "creator");
    assert_eq!(list["frames"][0]["state"], "assigned");
    assert_eq!(list["frames"][0]["node"], node);
    assert_eq!(list["frames_waiting"], 239);

    // The rest is cancelled: 239 frames' escrow back at once.
    let err = net.fails(&["job", "cancel", &batch], "owner");
    assert!(err.contains("belongs to"), "{err}");
    net.json(&["job", "cancel", &batch], "creator");
    let list = net.json(&["job", "list", "--batch", &batch], "creator");
    assert_eq!(list["frames"][1]["state"], "cancelled");
    // Frame 1 still runs: the batch cannot close yet.
    let err = net.fails(&["job", "close-batch", &batch], "creator");
    assert!(err.contains("BatchNotFinished"), "{err}");

    // The node submits frame 1 and takes nothing (nothing waits: it queues).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let frame1: solana_sdk::pubkey::Pubkey =
        list["frames"][0]["job"].as_str().unwrap().parse().unwrap();
    let result = ake_sdk::ake_market::state::JobResult {
        commitment: [3; 32],
        output_uri: "file:///frame-1".into(),
        usage: ake_sdk::ake_market::state::UsageReceipt {
            wall_secs: 1,
            gpu_secs: 1,
            energy_mj: 0,
        },
        sealed_digest: [0; 32],
        sealed_salt: [0; ake_sdk::ake_market::state::SEALED_SALT_LEN],
    };
    let (due, frame_batch) = {
        let job = p.job(&frame1).await.unwrap().unwrap();
        (p.submit_due_pick(&job).await.unwrap(), job.batch())
    };
    let submit = ake_sdk::instructions::submit_result(
        hot.pubkey(),
        owner.pubkey(),
        (frame1, ake_sdk::pda::market(0), frame_batch),
        result,
        ake_sdk::instructions::AfterSubmit::Rearm(None),
        due,
    );
    send_instructions(p.chain.as_ref(), &hot, &[], &[submit], Fees::default())
        .await
        .unwrap();
    assert_eq!(
        net.json(&["node", "show", &node], "owner")["status"],
        "waiting for a job"
    );
    net.json(&["job", "accept", &frame1.to_string()], "creator");
    // Settled: its account is closed, its result is read from its history.
    let from_history = p.submitted_result(&frame1).await.unwrap().unwrap();
    assert!(!from_history.disputed_away);
    assert_eq!(from_history.result.commitment, [3; 32]);
    assert_eq!(from_history.result.output_uri, "file:///frame-1");
    let fetch_all_fails = |into: &str| {
        let dir = net.dir.path().join(into);
        net.fails(
            &[
                "job",
                "results",
                "--batch",
                &batch,
                "--out",
                dir.to_str().unwrap(),
            ],
            "creator",
        )
    };
    let err = fetch_all_fails("frames");
    assert!(
        err.contains("frame-1"),
        "the settled frame's URI, from its history: {err}"
    );
    assert!(
        !net.dir.path().join("frames/frame-000001").exists(),
        "a frame that failed leaves no folder, so a re-run fetches it again"
    );
    let closed = net.json(&["job", "close-batch", &batch], "creator");
    assert_eq!(closed["transactions"], 1);
    let err = net.fails(&["job", "list", "--batch", &batch], "creator");
    assert!(err.contains("no batch at"), "{err}");
    // Closed, its frames are still found from its history: frame 1's
    // result (its URI holds nothing here, so it does not verify), the 239
    // cancelled frames without one.
    let err = fetch_all_fails("closed");
    assert!(
        err.contains("1 of 240 frame(s) could not be fetched or did NOT verify")
            && err.contains("frame 1 ("),
        "{err}"
    );
    // Tokens: one posting fee and frame 1's charge; every other frame refunded.
    let spent = before - p.token_balance(&token).await.unwrap();
    assert!(spent < escrow_per_frame, "{spent}");
}

/// Sends `ix` signed (and paid) by `signer`; it must land.
async fn send_signed(
    p: &Protocol,
    signer: &solana_sdk::signature::Keypair,
    ix: solana_sdk::instruction::Instruction,
) {
    send_instructions(p.chain.as_ref(), signer, &[], &[ix], Fees::default())
        .await
        .unwrap();
}

/// A new node waits the re-arm cooldown (2 s on localnet) before its first job.
async fn wait_until_armable(p: &Protocol, node: &str) {
    let node: solana_sdk::pubkey::Pubkey = node.parse().unwrap();
    let armable_at = p.node(&node).await.unwrap().unwrap().armable_at;
    while p.chain.clock().await.unwrap().unix_timestamp < armable_at {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// `getTransactionCount` on the local chain.
async fn transaction_count(url: &str) -> u64 {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "getTransactionCount"});
    let reply: serde_json::Value = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["result"].as_u64().unwrap()
}

/// Issue 17's count, on the local chain with `getTransactionCount`: every
/// transaction a 100-frame batch costs (the post, the nodes arming, one
/// submit per frame that re-arms its node, the crank's packed finalizes
/// and any matches, the batch close, the epoch close and the claims),
/// per frame.
#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_frames_cost_under_two_and_a_half_transactions_each() {
    use ake_sdk::ake_market::state::{JobResult, NodeStatus, UsageReceipt};
    use ake_sdk::instructions::{submit_result, AfterSubmit};
    let net = Net::start();
    let (creator, owner) = creator_and_staked_owner(&net, "900");
    let p = protocol(&net);
    let chain = RpcChain::new(&net.url, CommitmentConfig::confirmed());
    airdrop(&chain, &creator.pubkey(), 2_000_000_000).await;
    let mut nodes = Vec::new();
    for name in ["hot1", "hot2"] {
        let (path, hot) = net.wallet(name);
        let node: solana_sdk::pubkey::Pubkey = register_gpu_node(&net, &path).parse().unwrap();
        airdrop(&chain, &hot.pubkey(), 1_000_000_000).await;
        nodes.push((name, hot, node));
    }
    for (_, _, node) in &nodes {
        wait_until_armable(&p, &node.to_string()).await;
    }

    let before = transaction_count(&net.url).await;
    let text = std::fs::read_to_string(repo_root().join("client/examples/render-batch.toml"))
        .unwrap()
        .replace("1-240", "1-100");
    let spec = net.dir.path().join("hundred.toml");
    std::fs::write(&spec, text).unwrap();
    let batch = net.json(&["job", "post", spec.to_str().unwrap()], "creator")["batch"]
        .as_str()
        .unwrap()
        .to_string();
    let batch_key: solana_sdk::pubkey::Pubkey = batch.parse().unwrap();
    // The nodes work as ake-node does (arm when idle; each submit names the
    // best queued work to re-arm onto); the crank runs as operators run it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    let mut last_crank = std::time::Instant::now();
    loop {
        for (_, hot, key) in &nodes {
            let node = p.node(key).await.unwrap().unwrap();
            let ix = if node.current_job != solana_sdk::pubkey::Pubkey::default() {
                // The seconds it held the frame, by the chain's clock.
                let job = p.job(&node.current_job).await.unwrap().unwrap();
                let now = p.chain.clock().await.unwrap().unix_timestamp;
                let held = u64::try_from(now - job.assigned_at).unwrap_or(0);
                if held == 0 {
                    continue; // still rendering: a result reports at least a second
                }
                let result = JobResult {
                    commitment: [7; 32],
                    output_uri: "file:///frames".into(),
                    usage: UsageReceipt {
                        wall_secs: held,
                        gpu_secs: held,
                        energy_mj: 0,
                    },
                    sealed_digest: [0; 32],
                    sealed_salt: [0; ake_sdk::ake_market::state::SEALED_SALT_LEN],
                };
                let next = p.next_work_for(&node).await.unwrap();
                let due = p.submit_due_pick(&job).await.unwrap();
                submit_result(
                    hot.pubkey(),
                    owner.pubkey(),
                    (node.current_job, ake_sdk::pda::market(0), job.batch()),
                    result,
                    AfterSubmit::Rearm(next),
                    due,
                )
            } else if node.status == NodeStatus::Idle {
                p.node_ready(&hot.pubkey()).await.unwrap()
            } else {
                continue;
            };
            send_instructions(p.chain.as_ref(), hot, &[], &[ix], Fees::default())
                .await
                .unwrap();
        }
        if last_crank.elapsed() > std::time::Duration::from_secs(2) {
            net.json(&["crank", "--once"], "creator");
            last_crank = std::time::Instant::now();
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let (_, frames) = p.batch_frames(&batch_key).await.unwrap();
        if frames
            .iter()
            .all(|f| matches!(f.state, ake_sdk::protocol::FrameState::Settled))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the batch did not settle"
        );
    }
    net.json(&["job", "close-batch", &batch], "creator");
    // The epochs the work spanned close (the crank), and each node claims
    // every one it worked in.
    let emissions = p.emissions().await.unwrap();
    let last = p.current_epoch(&emissions).await.unwrap();
    while p.current_epoch(&emissions).await.unwrap() == last {
        assert!(
            std::time::Instant::now() < deadline,
            "the epoch never ended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    net.json(&["crank", "--once"], "creator");
    let mut completed = 0;
    for (name, _, node) in &nodes {
        let claimed = net.json(&["node", "claim", &node.to_string()], name);
        assert!(
            !claimed["epochs"].as_array().unwrap().is_empty(),
            "{claimed}"
        );
        completed += net.json(&["node", "show", &node.to_string()], "owner")["jobs_completed"]
            .as_u64()
            .unwrap();
    }
    assert_eq!(completed, 100, "every frame settled with its result");
    let transactions = transaction_count(&net.url).await - before;
    let per_frame = transactions as f64 / 100.0;
    eprintln!("100 frames, 2 nodes: {transactions} transactions, {per_frame:.2} per frame");
    assert!(
        per_frame <= 2.5,
        "{transactions} transactions for 100 frames"
    );
}

/// `ake job status` says where a queued job stands and why no waiting node
/// takes it: none waiting, then a node with too few GPUs; `ake node show`
/// says why a node is idle, and its place once it waits.
#[tokio::test(flavor = "multi_thread")]
async fn a_queued_job_says_why_no_waiting_node_takes_it() {
    let net = Net::start();
    creator_and_staked_owner(&net, "400");
    let spec = repo_root().join("client/examples/render-job.toml");
    let two = net.dir.path().join("two-gpus.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&two, text.replace("gpus = 1", "gpus = 2")).unwrap();
    let post = || {
        let posted = net.json(&["job", "post", two.to_str().unwrap()], "creator");
        posted["job"].as_str().unwrap().to_string()
    };
    let status = |job: &str| net.json(&["job", "status", job], "creator");
    // What a person reads (the command succeeds).
    let human = |args: &[&str], signer: &str| {
        let out = net.run(args, signer);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let first = post();
    let shown = status(&first);
    assert_eq!(shown["state"], "queued");
    assert_eq!(
        (
            &shown["waiting"]["ahead"],
            &shown["waiting"]["waiting_nodes"]
        ),
        (&serde_json::json!(0), &serde_json::json!(0)),
        "{shown}"
    );
    let text = human(&["job", "status", &first], "creator");
    assert!(
        text.contains("waits: 0 of 1 queue entries ahead of it; 0 nodes waiting: no node is waiting for work in this market"),
        "{text}"
    );
    // A one-GPU node arms and waits: it is named as too small for both.
    let (hot_path, hot) = net.wallet("hot");
    let node = register_gpu_node(&net, &hot_path);
    let p = protocol(&net);
    let chain = RpcChain::new(&net.url, CommitmentConfig::confirmed());
    airdrop(&chain, &hot.pubkey(), 1_000_000_000).await;
    wait_until_armable(&p, &node).await;
    // Idle, the node says why: nothing on-chain, its daemon has not armed it.
    let shown = net.json(&["node", "show", &node], "owner");
    assert!(shown["ahead"].is_null(), "{shown}");
    assert_eq!(
        shown["idle_because"],
        serde_json::json!([{"reason": "not_armed"}]),
        "{shown}"
    );
    let text = human(&["node", "show", &node], "owner");
    assert!(
        text.contains("idle        nothing on-chain keeps it out: its daemon has not armed it"),
        "{text}"
    );
    let ready = p.node_ready(&hot.pubkey()).await.unwrap();
    send_instructions(p.chain.as_ref(), &hot, &[], &[ready], Fees::default())
        .await
        .unwrap();
    let shown = net.json(&["node", "show", &node], "owner");
    assert_eq!(
        (&shown["ahead"], &shown["waiting_nodes"]),
        (&serde_json::json!(0), &serde_json::json!(1)),
        "{shown}"
    );
    let text = human(&["node", "show", &node], "owner");
    assert!(
        text.contains("place       0 of 1 waiting nodes ahead of it"),
        "{text}"
    );
    let second = post();
    let shown = status(&second);
    let waiting = &shown["waiting"];
    assert_eq!(waiting["ahead"], 1, "{shown}");
    assert_eq!(waiting["queued"], 2, "{shown}");
    assert_eq!(waiting["waiting_nodes"], 1, "{shown}");
    assert_eq!(waiting["too_few_gpus"], 1, "{shown}");
    assert_eq!(waiting["able"], 0, "{shown}");
    let text = human(&["job", "status", &second], "creator");
    assert!(
        text.contains(
            "1 of 2 queue entries ahead of it; 1 node waiting: 1 node with fewer than its 2 GPUs"
        ),
        "{text}"
    );
    // A one-GPU job asking reputation the new node has not earned waits too.
    let picky = net.dir.path().join("picky.toml");
    let spec_text = std::fs::read_to_string(&spec).unwrap();
    let asks = spec_text.replace("gpus = 1", "gpus = 1\nmin_reputation_bps = 100");
    std::fs::write(&picky, asks).unwrap();
    let posted = net.json(&["job", "post", picky.to_str().unwrap()], "creator");
    let shown = status(posted["job"].as_str().unwrap());
    assert_eq!(shown["state"], "queued", "{shown}");
    assert_eq!(shown["waiting"]["reputation_too_low"], 1, "{shown}");
    assert_eq!(shown["waiting"]["too_few_gpus"], 0, "{shown}");
    let text_shown = human(
        &["job", "status", posted["job"].as_str().unwrap()],
        "creator",
    );
    assert!(
        text_shown.contains("1 node below the 100 bps reputation it asks"),
        "{text_shown}"
    );
    // A one-GPU job goes to the node at once: an assigned job does not wait.
    let posted = net.json(&["job", "post", spec.to_str().unwrap()], "creator");
    let shown = status(posted["job"].as_str().unwrap());
    assert_eq!(shown["state"], "assigned", "{shown}");
    assert!(shown["waiting"].is_null(), "{shown}");
}

/// Every reason a node is idle, and a job's waiting reasons the other test
/// does not reach, as `ake node show` and `ake job status` give them.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_node_and_a_waiting_job_name_each_reason() {
    use ake_sdk::ake_market::state::ReleaseReason;
    let net = Net::start();
    creator_and_staked_owner(&net, "400");
    let p = protocol(&net);
    let chain = RpcChain::new(&net.url, CommitmentConfig::confirmed());
    let (hot_path, hot) = net.wallet("hot");
    let node = register_gpu_node(&net, &hot_path);
    airdrop(&chain, &hot.pubkey(), 1_000_000_000).await;
    let reasons = |node: &str| -> Vec<String> {
        let shown = net.json(&["node", "show", node], "owner");
        shown["idle_because"]
            .as_array()
            .unwrap_or_else(|| panic!("{shown}"))
            .iter()
            .map(|r| r["reason"].as_str().unwrap().to_string())
            .collect()
    };
    let send = |ix| send_signed(&p, &hot, ix);

    // Held by its owner.
    net.json(&["node", "hold", &node], "owner");
    assert!(reasons(&node).contains(&"held".to_string()));
    net.json(&["node", "rearm", &node], "owner");

    // Left the queue by its daemon: cooling down, for how long.
    wait_until_armable(&p, &node).await;
    send(p.node_ready(&hot.pubkey()).await.unwrap()).await;
    let n = p.node(&node.parse().unwrap()).await.unwrap().unwrap();
    send(ake_sdk::instructions::node_unready(
        hot.pubkey(),
        hot.pubkey(),
        n.owner,
        n.market,
    ))
    .await;
    let shown = net.json(&["node", "show", &node], "owner");
    let cooling = &shown["idle_because"][0];
    assert_eq!(cooling["reason"], "cooling_down", "{shown}");
    assert!(cooling["secs"].as_i64().unwrap() > 0, "{shown}");

    // The markets paused: the node and a posted job both say so.
    net.json(&["admin", "pause"], "admin");
    assert!(reasons(&node).contains(&"paused".to_string()));
    net.json(&["admin", "unpause"], "admin");

    // An owner whose free stake cannot cover a waiting node's lock.
    let (_, poor) = net.wallet("poor");
    net.json(&["localnet", "faucet", "100"], "poor");
    net.json(&["stake", "deposit", "1"], "poor");
    let (poor_hot_path, _) = net.wallet("poor-hot");
    let out = net.json(
        &[
            "node",
            "register",
            "--signer",
            poor_hot_path.to_str().unwrap(),
            "--gpus",
            "1",
            "--model",
            "NVIDIA RTX 4090",
            "--vram-mib",
            "24576",
        ],
        "poor",
    );
    let poor_node = out["nodes"][0]["node"].as_str().unwrap().to_string();
    let shown = net.json(&["node", "show", &poor_node], "poor");
    let short = shown["idle_because"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reason"] == "stake_short")
        .unwrap_or_else(|| panic!("{shown}"));
    assert_eq!(short["free"], 1_000_000, "{shown}");
    assert!(short["lock"].as_u64().unwrap() > 1_000_000, "{shown}");
    let _ = poor;

    // A job its owner's node handed back: that node waits, and is named.
    wait_until_armable(&p, &node).await;
    send(p.node_ready(&hot.pubkey()).await.unwrap()).await;
    let spec = repo_root().join("client/examples/render-job.toml");
    let posted = net.json(&["job", "post", spec.to_str().unwrap()], "creator");
    let job: solana_sdk::pubkey::Pubkey = posted["job"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        p.job(&job).await.unwrap().unwrap().node.to_string(),
        node,
        "assigned to the waiting node"
    );
    send(
        p.release(&job, &hot.pubkey(), ReleaseReason::ImageUnavailable)
            .await
            .unwrap(),
    )
    .await;
    wait_until_armable(&p, &node).await;
    send(p.node_ready(&hot.pubkey()).await.unwrap()).await;
    let shown = net.json(&["job", "status", &job.to_string()], "creator");
    assert_eq!(shown["state"], "queued", "{shown}");
    assert_eq!(
        (
            &shown["waiting"]["waiting_nodes"],
            &shown["waiting"]["owner_handed_back"]
        ),
        (&serde_json::json!(1), &serde_json::json!(1)),
        "{shown}"
    );
    let out = net.run(&["job", "status", &job.to_string()], "creator");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 node of owners that handed it back"),
        "{text}"
    );

    // Paused, the job says so too.
    net.json(&["admin", "pause"], "admin");
    let shown = net.json(&["job", "status", &job.to_string()], "creator");
    assert_eq!(shown["waiting"]["paused"], true, "{shown}");
    let out = net.run(&["job", "status", &job.to_string()], "creator");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("the market is paused"), "{text}");
}

/// The crank carries an audit from its draw to its settlement, as operators
/// run it: it draws the submitted exact job, judges the round once the
/// three nodes (each of another owner) revealed, settles the paid runs and
/// finalizes the job; `ake job events` tells the audit.
#[tokio::test(flavor = "multi_thread")]
async fn the_crank_draws_judges_and_settles_an_audit() {
    use ake_sdk::ake_market::audit::seal;
    use ake_sdk::ake_market::state::{AuditPhase, JobResult, UsageReceipt, SEALED_SALT_LEN};
    use ake_sdk::instructions::{reveal_digest, submit_result, AfterSubmit};
    use solana_sdk::pubkey::Pubkey;
    // Every exact job is drawn (1 % by default).
    let net = Net::start_with(|params| {
        assert!(params.contains("p_min_bps = 100 "), "{params}");
        params.replace("p_min_bps = 100 ", "p_min_bps = 10_000 ")
    });
    let p = protocol(&net);
    let chain = RpcChain::new(&net.url, CommitmentConfig::confirmed());
    net.wallet("creator");
    net.json(&["localnet", "faucet", "100"], "creator");
    let mut nodes = Vec::new();
    for at in 1..=3 {
        let (owner, hot) = (format!("owner{at}"), format!("hot{at}"));
        let (_, owner_key) = net.wallet(&owner);
        let (hot_path, hot_key) = net.wallet(&hot);
        net.json(&["localnet", "faucet", "1000"], &owner);
        net.json(&["stake", "deposit", "900"], &owner);
        let registered = register_gpu_nodes_as(&net, &owner, &[&hot_path]);
        let node: Pubkey = registered["nodes"][0]["node"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        airdrop(&chain, &hot_key.pubkey(), 1_000_000_000).await;
        wait_until_armable(&p, &node.to_string()).await;
        nodes.push((owner_key, hot_key, node));
    }
    let digest = [0xA1; 32];
    let salt_of = |hot: &solana_sdk::signature::Keypair| hot.pubkey().to_bytes();
    // Node 1 waits and takes the exact job; it submits its sealed digest.
    let ready = p.node_ready(&nodes[0].1.pubkey()).await.unwrap();
    send_signed(&p, &nodes[0].1, ready).await;
    let text = std::fs::read_to_string(repo_root().join("client/examples/render-job.toml"))
        .unwrap()
        .replace(
            "ake/render:local",
            &format!("ake/render@sha256:{}", "ab".repeat(32)),
        )
        .replace("gpus = 1", "gpus = 1\nverify = \"exact\"");
    let spec = net.dir.path().join("exact.toml");
    std::fs::write(&spec, text).unwrap();
    let posted = net.json(&["job", "post", spec.to_str().unwrap()], "creator");
    let job: Pubkey = posted["job"].as_str().unwrap().parse().unwrap();
    let submit = |at: usize, key: Pubkey| {
        let (owner, hot, _) = &nodes[at];
        let p = &p;
        async move {
            let j = p.job(&key).await.unwrap().unwrap();
            // A result reports at least a second, by the chain's clock.
            while p.chain.clock().await.unwrap().unix_timestamp < j.assigned_at + 1 {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            let result = JobResult {
                commitment: [7; 32],
                output_uri: "file:///frame".into(),
                usage: UsageReceipt {
                    wall_secs: 1,
                    gpu_secs: 1,
                    energy_mj: 0,
                },
                sealed_digest: seal(&key, &digest, &salt_of(hot)),
                sealed_salt: [0; SEALED_SALT_LEN],
            };
            let due = p.submit_due_pick(&j).await.unwrap();
            let accounts = (key, j.market, j.batch());
            let after = AfterSubmit::StayIdle;
            let ix = submit_result(hot.pubkey(), owner.pubkey(), accounts, result, after, due);
            send_signed(p, hot, ix).await;
        }
    };
    assert_eq!(p.job(&job).await.unwrap().unwrap().node, nodes[0].2);
    submit(0, job).await;
    // The two other nodes wait: the draw picks them for its runs.
    for (_, hot, _) in &nodes[1..] {
        send_signed(&p, hot, p.node_ready(&hot.pubkey()).await.unwrap()).await;
    }
    let mut reports = Vec::new();
    let mut crank_until = |done: &dyn Fn(&serde_json::Value) -> bool, what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let report = net.json(&["crank", "--once"], "creator");
            assert_eq!(report["failures"], serde_json::json!([]), "{report}");
            reports.push(report.clone());
            if done(&report) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the crank never {what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    };
    let names = |list: &serde_json::Value, key: &Pubkey| {
        list.as_array()
            .unwrap()
            .iter()
            .any(|k| k == &key.to_string())
    };
    // Once its draw's slots are past (40 slots after the submit).
    crank_until(&|r| names(&r["audits_drawn"], &job), "drew the audit");
    let audited = p.job(&job).await.unwrap().unwrap();
    assert_eq!(audited.audit.phase, AuditPhase::Auditing);
    let mut parties = vec![(job, 0)];
    for run in audited.audit.runs {
        let taker = p.job(&run).await.unwrap().unwrap().node;
        let at = nodes.iter().position(|(_, _, n)| *n == taker);
        assert!(
            matches!(at, Some(1 | 2)),
            "run {run} went to another owner's node"
        );
        parties.push((run, at.unwrap()));
    }
    for (run, at) in &parties[1..] {
        submit(*at, *run).await;
    }
    // The three reveal equal digests: the audit passes.
    let audited = p.job(&job).await.unwrap().unwrap();
    for (key, at) in &parties {
        let hot = &nodes[*at].1;
        let ix = reveal_digest(hot.pubkey(), *key, (job, &audited), (digest, salt_of(hot)));
        send_signed(&p, hot, ix).await;
    }
    crank_until(&|r| names(&r["audits_judged"], &job), "judged the audit");
    assert_eq!(
        p.job(&job).await.unwrap().unwrap().audit.phase,
        AuditPhase::Passed
    );
    // The runs are settled (paid) and the job finalized once its window is over.
    let gone = |key: Pubkey| {
        let chain = &chain;
        async move { chain.account(&key).await.unwrap().is_none() }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let mut open = Vec::new();
        for (key, _) in &parties {
            if !gone(*key).await {
                open.push(*key);
            }
        }
        if open.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{open:?} never settled"
        );
        crank_until(&|_| true, "ran");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let done_in = |field: &str, key: &Pubkey| reports.iter().any(|r| names(&r[field], key));
    assert!(done_in("jobs_finalized", &job));
    for (run, _) in &parties[1..] {
        assert!(
            done_in("audits_settled", run),
            "the crank settled run {run}"
        );
    }
    // Each node's work counts once: the job and both runs were paid.
    for (_, _, node) in &nodes {
        let shown = net.json(&["node", "show", &node.to_string()], "creator");
        assert_eq!(shown["jobs_completed"], 1, "{shown}");
    }
    let events = net.json(&["job", "events", &job.to_string()], "creator");
    let told: Vec<&str> = events["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["event"].as_str().unwrap())
        .collect();
    for event in ["AuditDrawn", "DigestRevealed", "AuditJudged", "JobSettled"] {
        assert!(told.contains(&event), "{event} in {told:?}");
    }
}
