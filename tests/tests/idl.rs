//! The committed Anchor IDL (idl/*.json) is what the programs generate:
//! a change to an instruction, account, event or error without a
//! regenerated IDL fails here. The generator builds the programs with
//! Anchor's `idl-build` feature in target/idl (a separate build, which
//! downloads the few crates only that feature uses).

use std::process::Command;

use anchor_lang::Discriminator;
use serde_json::Value;

#[test]
fn the_committed_idl_is_what_the_programs_generate() {
    let out = Command::new(env!("CARGO_BIN_EXE_ake-idl"))
        .arg("--check")
        .output()
        .expect("run ake-idl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn idl(file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../idl")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read the IDL")).expect("JSON")
}

fn discriminator(idl: &Value, kind: &str, name: &str) -> Vec<u8> {
    let item = idl[kind]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not among the IDL's {kind}"));
    serde_json::from_value(item["discriminator"].clone()).unwrap()
}

#[test]
fn the_idl_names_what_the_sdk_uses() {
    use ake_market::{instruction as ix, state};
    let market = idl("ake_market.json");
    assert_eq!(
        market["address"],
        ake_sdk::pda::MARKET_PROGRAM_ID.to_string()
    );
    for (name, expected) in [
        ("Job", state::Job::DISCRIMINATOR),
        ("Batch", state::Batch::DISCRIMINATOR),
        ("Market", state::Market::DISCRIMINATOR),
        ("Node", state::Node::DISCRIMINATOR),
        ("Stake", state::Stake::DISCRIMINATOR),
        ("Config", state::Config::DISCRIMINATOR),
    ] {
        assert_eq!(discriminator(&market, "accounts", name), expected, "{name}");
    }
    for (name, expected) in [
        ("post_job", ix::PostJob::DISCRIMINATOR),
        ("post_batch", ix::PostBatch::DISCRIMINATOR),
        ("node_ready", ix::NodeReady::DISCRIMINATOR),
        ("submit_result", ix::SubmitResult::DISCRIMINATOR),
        ("release_job", ix::ReleaseJob::DISCRIMINATOR),
        ("finalize_job", ix::FinalizeJob::DISCRIMINATOR),
    ] {
        assert_eq!(
            discriminator(&market, "instructions", name),
            expected,
            "{name}"
        );
    }
    let events: Vec<&str> = market["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for event in [
        "JobPosted",
        "ResultSubmitted",
        "JobSettled",
        "BatchPosted",
        "JobReleased",
    ] {
        assert!(events.contains(&event), "{event} missing from {events:?}");
    }
    let errors = market["errors"].as_array().unwrap();
    let queue_full = errors.iter().find(|e| e["name"] == "JobQueueFull").unwrap();
    assert_eq!(
        queue_full["code"],
        6000 + ake_market::errors::MarketError::JobQueueFull as u32
    );
    let emissions = idl("ake_emissions.json");
    assert_eq!(
        emissions["address"],
        ake_sdk::pda::EMISSIONS_PROGRAM_ID.to_string()
    );
    assert_eq!(
        discriminator(&emissions, "instructions", "claim"),
        ake_emissions::instruction::Claim::DISCRIMINATOR
    );
}

/// Every instruction of both programs as the SDK builds it (the addresses
/// the programs check, proven by the program tests), with the values its
/// seeds read from arguments and from other accounts' data.
struct Built {
    name: &'static str,
    ix: solana_sdk::instruction::Instruction,
    /// `args.nonce`, `epoch`, `node.owner`, ...: the bytes a seed path names.
    values: Vec<(&'static str, Vec<u8>)>,
}

/// Every instruction as the SDK builds it, and every PDA among their
/// accounts (the addresses a client must be able to derive).
fn built() -> (
    Vec<Built>,
    std::collections::HashSet<solana_sdk::pubkey::Pubkey>,
) {
    use ake_market::state::{Change, Job, JobSpec, ReleaseReason};
    use ake_sdk::instructions::{self as ixs, emissions as eix};
    use ake_sdk::pda;
    use solana_sdk::pubkey::Pubkey;
    let key = Pubkey::new_unique;
    let (a, b, c, mint, treasury) = (key(), key(), key(), key(), key());
    let (creator, owner, signer, node) = (key(), key(), key(), pda::node(&key()));
    let market = pda::market(3);
    let mut job: Job = {
        let mut data = Job::DISCRIMINATOR.to_vec();
        data.resize(4096, 0);
        ake_sdk::accounts::decode(&data).unwrap()
    };
    job.creator = creator;
    job.market = market;
    job.node = node;
    job.node_owner = owner;
    job.due_page = pda::due_page(&market, 9, 0);
    let due = ake_market::due::DuePick {
        bucket: 9,
        shard: 0,
    };
    let mut page = {
        use ake_market::state::DuePage;
        let mut data = DuePage::DISCRIMINATOR.to_vec();
        data.resize(DuePage::SPACE, 0);
        ake_sdk::accounts::decode_due_page(&data).unwrap()
    };
    (page.market, page.bucket, page.payer) = (market, 9, a);
    job.spec = JobSpec::Frame(ake_market::state::FrameRef {
        batch: key(),
        frame: 4,
    });
    let settle = ixs::SettleKeys {
        mint,
        creator_token: c,
        payer: a,
        epoch: 9,
        market_index: 0,
    };
    let owner_of = |n: &Pubkey| ("node.owner", n.to_bytes().to_vec());
    let ledger_of = |m: &Pubkey| ("ledger.market", m.to_bytes().to_vec());
    let nonce = |n: u64| ("args.nonce", n.to_le_bytes().to_vec());
    let candidate = ixs::Candidate {
        node: key(),
        owner: key(),
    };
    let post = |nonce| ake_market::instructions::PostJobArgs {
        nonce,
        gpus: 1,
        max_duration_secs: 600,
        min_reputation_bps: 0,
        max_tokens: u64::MAX,
        spec: ake_tests::render_spec(),
        verify: ake_market::state::Verify::Exact,
    };
    let batch = |nonce| ake_market::instructions::PostBatchArgs {
        nonce,
        first_frame: 1,
        frame_count: 4,
        parallelism: 2,
        gpus: 1,
        max_duration_secs: 600,
        min_reputation_bps: 0,
        max_tokens: u64::MAX,
        spec: ake_tests::render_spec(),
    };
    let emissions_change = ake_emissions::state::EmissionsChange {
        epoch_secs: 86_400,
        decay_bps: 48,
        floor_emission: 0,
        emission_cap: 1,
        rewards: ake_tests::default_rewards(),
        breaker: ake_tests::default_breaker(),
        timelock_secs: 60,
    };
    let next = Some(ixs::NextWork::Frame {
        batch: key(),
        frame_job: key(),
    });
    let market_change = Change::Market {
        index: 3,
        args: ake_tests::default_market(),
    };
    let report = ake_emissions::instructions::WorkReport {
        epoch: 7,
        market_index: 2,
        node,
        node_owner: owner,
        work_micro_usd: 1,
        burned_tokens: 1,
        burned_micro_usd: 1,
        gpu_secs: 1,
    };
    let e = |name, ix| Built {
        name,
        ix,
        values: vec![],
    };
    let v = |name, ix, values| Built { name, ix, values };
    let audited = key();
    let mut under_audit = job.clone();
    under_audit.audit.runs = [pda::audit_run(&audited, 1), pda::audit_run(&audited, 2)];
    let derived = [
        pda::audit_run(&audited, 1),
        pda::audit_run(&audited, 2),
        pda::due_page(&market, 9, 0),
        pda::due_page(&market, 9, 1),
        pda::config(),
        pda::stake_vault(),
        pda::emissions_config(),
        pda::mint_authority(),
        pda::reporter(),
        market,
        pda::escrow_vault(&market),
        pda::epoch_summary(9),
        pda::epoch_summary(7),
        pda::node_work(9, &node),
        pda::node_work(7, &node),
        pda::event_authority(&ake_market::ID),
        pda::event_authority(&ake_emissions::ID),
        pda::market_pending_change(&market),
        pda::emissions_pending_change(),
        pda::stake(&owner),
        pda::stake(&candidate.owner),
        pda::stake(&creator),
        pda::node(&signer),
        pda::creator(&creator),
        pda::job(&creator, 12),
        pda::batch(&creator, 13),
    ]
    .into_iter()
    .collect();
    let all = vec![
        // ake-market
        e(
            "initialize",
            ixs::initialize(a, mint, treasury, ake_tests::default_params(), b),
        ),
        e(
            "propose_change",
            ixs::propose_change(a, b, market_change.clone()),
        ),
        v(
            "apply_change",
            ixs::apply_change(market, b),
            vec![("pending.target", market.to_bytes().to_vec())],
        ),
        v(
            "cancel_change",
            ixs::cancel_change(a, market, b),
            vec![("pending.target", market.to_bytes().to_vec())],
        ),
        e("set_guardian", ixs::set_guardian(a, b)),
        v(
            "set_lookup_table",
            ixs::set_lookup_table(a, 3, b),
            vec![("index", 3u16.to_le_bytes().to_vec())],
        ),
        e("propose_authority", ixs::propose_authority(a, b)),
        e("accept_authority", ixs::accept_authority(a)),
        e("set_paused", ixs::set_paused(a, true)),
        v(
            "create_market",
            ixs::create_market(a, mint, 3, ake_tests::default_market()),
            vec![("index", 3u16.to_le_bytes().to_vec())],
        ),
        v(
            "grow_market",
            ixs::grow_market(a, 3, ake_tests::TEST_CAPACITY),
            vec![("index", 3u16.to_le_bytes().to_vec())],
        ),
        e("deposit_stake", ixs::deposit_stake(owner, mint, c, 5)),
        e("request_unstake", ixs::request_unstake(owner, 5)),
        e("withdraw_stake", ixs::withdraw_stake(owner, mint, c)),
        e(
            "register_node",
            ixs::register_node(owner, signer, market, 1, ake_tests::profile()),
        ),
        v(
            "node_ready",
            ixs::node_ready(signer, owner, market, next),
            vec![owner_of(&owner)],
        ),
        e(
            "announce_logs",
            ixs::announce_logs(signer, key(), "s3://logs/jobs/j-1/live".into()),
        ),
        v(
            "node_unready",
            ixs::node_unready(signer, signer, owner, market),
            vec![
                owner_of(&owner),
                ("node.signer", signer.to_bytes().to_vec()),
            ],
        ),
        v(
            "post_job",
            ixs::post_job(
                ixs::PostJobAccounts {
                    creator,
                    market,
                    mint,
                    creator_token: c,
                    price_update: b,
                    creator_staked: true,
                    candidate_node: Some(candidate),
                },
                post(12),
            ),
            vec![nonce(12)],
        ),
        e(
            "cancel_job",
            ixs::cancel_job(creator, key(), creator, market, mint, c),
        ),
        v(
            "submit_result",
            ixs::submit_result(
                signer,
                owner,
                (key(), market, job.batch()),
                ake_tests::result_of(1),
                ixs::AfterSubmit::Rearm(next),
                due,
            ),
            vec![owner_of(&owner)],
        ),
        v(
            "post_batch",
            ixs::post_batch(
                ixs::PostBatchAccounts {
                    creator,
                    market,
                    mint,
                    creator_token: c,
                    price_update: b,
                    creator_staked: true,
                },
                batch(13),
            ),
            vec![nonce(13)],
        ),
        v(
            "match_frame",
            ixs::match_frame(a, market, key(), 4, candidate),
            vec![owner_of(&candidate.owner)],
        ),
        e("requeue_batch", ixs::requeue_batch(a, market, key())),
        v(
            "sweep_market",
            ixs::sweep_market(a, market, mint, treasury),
            vec![ledger_of(&market)],
        ),
        v(
            "match_job",
            ixs::match_job(a, market, key(), candidate),
            vec![owner_of(&candidate.owner)],
        ),
        v(
            "cancel_batch",
            ixs::cancel_batch(
                a,
                &ixs::BatchKeys {
                    batch: key(),
                    creator,
                    market,
                    mint,
                    creator_token: c,
                },
            ),
            vec![("batch.creator", creator.to_bytes().to_vec())],
        ),
        e("resume_batch", ixs::resume_batch(creator, market, key())),
        e("close_batch", ixs::close_batch(key(), creator, &[key()])),
        v(
            "accept_result",
            ixs::accept_result(key(), &job, &settle),
            vec![owner_of(&owner), ledger_of(&job.market)],
        ),
        v(
            "finalize_job",
            ixs::finalize_job(key(), &job, &settle),
            vec![owner_of(&owner), ledger_of(&job.market)],
        ),
        v(
            "draw_audit",
            ixs::draw_audit(a, key(), &job, &[]),
            vec![("job.node_owner", owner.to_bytes().to_vec())],
        ),
        e(
            "reveal_digest",
            ixs::reveal_digest(signer, audited, (audited, &under_audit), ([1; 32], [2; 32])),
        ),
        v(
            "judge_audit",
            ixs::judge_audit(a, audited, &under_audit),
            vec![
                ("job.node_owner", owner.to_bytes().to_vec()),
                ("job.market", under_audit.market.to_bytes().to_vec()),
                ("job.spec_hash", under_audit.spec_hash.to_vec()),
            ],
        ),
        v(
            "settle_audit",
            ixs::settle_audit(key(), &job, &settle),
            vec![owner_of(&owner), ledger_of(&job.market)],
        ),
        v(
            "appeal_audit",
            ixs::appeal_audit(signer, audited, &under_audit),
            vec![("job.node_owner", owner.to_bytes().to_vec())],
        ),
        v(
            "resolve_appeal",
            ixs::resolve_appeal(a, audited, &under_audit, true),
            vec![
                ("job.node_owner", owner.to_bytes().to_vec()),
                ("job.market", under_audit.market.to_bytes().to_vec()),
                ("job.spec_hash", under_audit.spec_hash.to_vec()),
            ],
        ),
        v(
            "expire_job",
            ixs::expire_job(
                key(),
                &job,
                ixs::ExpireKeys {
                    caller: a,
                    caller_token: b,
                    mint,
                    creator_token: c,
                    candidate_node: Some(candidate),
                },
            ),
            vec![owner_of(&owner)],
        ),
        v(
            "release_job",
            ixs::release_job(
                signer,
                key(),
                &job,
                ixs::ReleaseKeys {
                    mint,
                    creator_token: c,
                    candidate_node: Some(candidate),
                },
                ReleaseReason::SpecInvalid,
            ),
            vec![
                owner_of(&owner),
                ("job.creator", creator.to_bytes().to_vec()),
            ],
        ),
        v(
            "dispute_job",
            ixs::dispute_job(key(), &job, (mint, c), due),
            vec![ledger_of(&job.market)],
        ),
        e("close_due_page", ixs::close_due_page(a, &page)),
        v(
            "resolve_dispute",
            ixs::resolve_dispute(key(), &job, &settle, true),
            vec![owner_of(&owner), ledger_of(&job.market)],
        ),
        v(
            "expire_dispute",
            ixs::expire_dispute(key(), &job, &settle),
            vec![owner_of(&owner), ledger_of(&job.market)],
        ),
        v(
            "rearm_node",
            ixs::rearm_node(owner, node, owner),
            vec![owner_of(&owner)],
        ),
        e("set_operator", ixs::set_operator(owner, key())),
        e("rotate_node_key", ixs::rotate_node_key(owner, node, key())),
        v(
            "close_node",
            ixs::close_node(owner, node),
            vec![owner_of(&owner)],
        ),
        e("close_stake", ixs::close_stake(owner)),
        e(
            "refund_stale_job",
            ixs::refund_stale_job(key(), &job, mint, c),
        ),
        // ake-emissions
        e(
            "initialize",
            eix::initialize(
                a,
                mint,
                ake_tests::default_schedule(0),
                ake_tests::default_rewards(),
                ake_tests::default_breaker(),
                60,
            ),
        ),
        e(
            "propose_change",
            eix::propose_change(a, b, emissions_change),
        ),
        e("apply_change", eix::apply_change(b)),
        e("cancel_change", eix::cancel_change(a, b)),
        e("propose_spend", eix::propose_spend(a, b, c, 7)),
        e("apply_spend", eix::apply_spend(b, c)),
        e("cancel_spend", eix::cancel_spend(a, b)),
        e("propose_authority", eix::propose_authority(a, b)),
        e("accept_authority", eix::accept_authority(a)),
        e("set_guardian", eix::set_guardian(a, b)),
        e("set_paused", eix::set_paused(a, true)),
        v(
            "close_epoch",
            eix::close_epoch(
                a,
                b,
                9,
                &eix::EpochTally {
                    first: 0,
                    records: vec![(pda::market_epoch(9, 0), a)],
                    reaches_end: true,
                },
            ),
            vec![("epoch", 9u64.to_le_bytes().to_vec())],
        ),
        v(
            "claim",
            eix::claim(a, 9, &node, b, c, mint),
            vec![
                ("epoch", 9u64.to_le_bytes().to_vec()),
                ("node_work.node", node.to_bytes().to_vec()),
            ],
        ),
        v(
            "report_work",
            solana_sdk::instruction::Instruction {
                program_id: ake_emissions::ID,
                accounts: anchor_lang::ToAccountMetas::to_account_metas(
                    &ake_emissions::accounts::ReportWork {
                        reporter: pda::reporter(),
                        payer: a,
                        config: pda::emissions_config(),
                        market_epoch: pda::market_epoch(7, 2),
                        node_work: pda::node_work(7, &node),
                        system_program: anchor_lang::system_program::ID,
                        event_authority: pda::event_authority(&ake_emissions::ID),
                        program: ake_emissions::ID,
                    },
                    None,
                ),
                data: anchor_lang::InstructionData::data(&ake_emissions::instruction::ReportWork {
                    report,
                }),
            },
            vec![
                ("report.epoch", 7u64.to_le_bytes().to_vec()),
                ("report.market_index", 2u16.to_le_bytes().to_vec()),
                ("report.node", node.to_bytes().to_vec()),
            ],
        ),
    ];
    (all, derived)
}

/// PDAs the programs check by a stored address, by the account's own
/// fields or through a CPI callee rather than by seeds of their own, so the
/// IDL names no seeds for them. A client takes them from `ake market show`
/// or `akeDeployment`, or derives them as the README says. Any other PDA
/// without seeds or an address in the IDL fails the test below.
const UNRESOLVED_BY_DESIGN: [&str; 17] = [
    // The waiting node's owner's stake (checked against the node in the handler).
    "candidate_owner_stake",
    // Due pages: PDA ["due", market, bucket u32 LE, shard u16 LE] from the
    // `due` argument (the spill is the next shard), checked in `index_due`;
    // a job's own (`due_page`) is stored in it; `close_due_page` takes the
    // page by its data and checks the next shard in the handler.
    "dispute_page",
    "dispute_spill",
    "due_page",
    "due_spill",
    // A settlement's emissions accounts: ake-emissions checks their seeds in the CPI.
    "emissions_config",
    "emissions_event_authority",
    // `address = market.escrow_vault` (or `ledger.escrow_vault`) (stored at creation).
    "escrow_vault",
    // An audit's runs: PDA ["audit", audited job, 1 or 2], created by the
    // draw and stored in the audited job (`audit.runs`), which the reveal
    // and the verdict check them against.
    "first_run",
    // A market named by the caller: PDA ["market", index u16 LE]; checked
    // by its discriminator and config (its index is its data, not an argument).
    "market",
    "next_shard",
    // A settlement's work record: ake-emissions checks its seeds in the CPI.
    "node_work",
    "page",
    // ake-market's pending change: its seeds come from the change's target.
    "pending",
    // ake-market's reporter signs report_work through CPI (seeds checked there).
    "reporter",
    "second_run",
    // `has_one = stake_vault` on the config.
    "stake_vault",
];

/// The IDL's accounts flattened in instruction order, each with the names
/// its seeds may refer to (its own composite's first, then the top level).
fn flatten<'a>(accounts: &'a Value, scope: &str, out: &mut Vec<(String, &'a Value)>) {
    for account in accounts.as_array().unwrap() {
        let name = account["name"].as_str().unwrap();
        if account.get("accounts").is_some() {
            flatten(&account["accounts"], &format!("{scope}{name}."), out);
        } else {
            out.push((format!("{scope}{name}"), account));
        }
    }
}

/// A client that knows only the IDL derives every PDA the IDL gives, in
/// every instruction of both programs, and gets the address the program
/// checks (grow_market's and set_lookup_table's market once came out wrong:
/// Anchor's builder turned the market's stored index into an account seed).
#[test]
fn every_pda_the_idl_gives_is_the_address_the_program_uses() {
    use solana_sdk::pubkey::Pubkey;
    let idls = [idl("ake_market.json"), idl("ake_emissions.json")];
    let (built, derived) = built();
    let mut checked = 0;
    let mut unresolved = std::collections::BTreeSet::new();
    for program in &idls {
        let program_id: Pubkey = program["address"].as_str().unwrap().parse().unwrap();
        for ix in program["instructions"].as_array().unwrap() {
            let name = ix["name"].as_str().unwrap();
            let b = built
                .iter()
                .find(|b| b.name == name && b.ix.program_id == program_id)
                .unwrap_or_else(|| {
                    panic!("{name}: add it to built() (every instruction is checked)")
                });
            let mut accounts = Vec::new();
            flatten(&ix["accounts"], "", &mut accounts);
            // Remaining accounts (close_batch's frames) come after the IDL's.
            assert!(
                accounts.len() <= b.ix.accounts.len(),
                "{name}: account count"
            );
            let key_of = |scope: &str, path: &str| -> Vec<u8> {
                if let Some((_, bytes)) = b.values.iter().find(|(p, _)| *p == path) {
                    return bytes.clone();
                }
                let position = accounts
                    .iter()
                    .position(|(n, _)| *n == format!("{scope}{path}"))
                    .or_else(|| accounts.iter().position(|(n, _)| n == path))
                    .unwrap_or_else(|| {
                        panic!("{name}: seed path {path} names no account or value")
                    });
                b.ix.accounts[position].pubkey.to_bytes().to_vec()
            };
            for (i, (full, account)) in accounts.iter().enumerate() {
                let actual = b.ix.accounts[i].pubkey;
                if let Some(address) = account["address"].as_str() {
                    assert_eq!(address, actual.to_string(), "{name}.{full}: address");
                    checked += 1;
                }
                let Some(pda) = account.get("pda") else {
                    if account["address"].is_null() && derived.contains(&actual) {
                        let account_name = full.rsplit('.').next().unwrap().to_string();
                        unresolved.insert(account_name);
                    }
                    continue;
                };
                // An optional account left out is passed as the program id.
                if account["optional"] == true && actual == program_id {
                    continue;
                }
                let scope = full
                    .rsplit_once('.')
                    .map_or(String::new(), |(s, _)| format!("{s}."));
                let seeds: Vec<Vec<u8>> = pda["seeds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|seed| match seed["kind"].as_str().unwrap() {
                        "const" => serde_json::from_value(seed["value"].clone()).unwrap(),
                        _ => key_of(&scope, seed["path"].as_str().unwrap()),
                    })
                    .collect();
                let owner = match pda.get("program") {
                    Some(p) => Pubkey::try_from(
                        serde_json::from_value::<Vec<u8>>(p["value"].clone())
                            .unwrap()
                            .as_slice(),
                    )
                    .unwrap(),
                    None => program_id,
                };
                let refs: Vec<&[u8]> = seeds.iter().map(Vec::as_slice).collect();
                let (derived, _) = Pubkey::find_program_address(&refs, &owner);
                assert_eq!(
                    derived, actual,
                    "{name}.{full}: the IDL's seeds give another address"
                );
                checked += 1;
            }
        }
    }
    // Every event_authority and program of the 47 instructions, and the rest.
    assert!(checked >= 47 * 2 + 60, "only {checked} addresses checked");
    let unresolved: Vec<&str> = unresolved.iter().map(String::as_str).collect();
    assert_eq!(
        unresolved, UNRESOLVED_BY_DESIGN,
        "PDAs the IDL gives no seeds or address for"
    );
}

/// Reads `fields` (IDL primitive types) from `data` in order: borsh and the
/// C layout of `Slot` agree, since every field of it is naturally aligned.
fn read_fields(idl: &Value, type_name: &str, data: &[u8]) -> (Vec<(String, Vec<u8>)>, usize) {
    let ty = idl["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == type_name)
        .unwrap_or_else(|| panic!("{type_name} is not among the IDL's types"));
    let mut at = 0;
    let mut out = Vec::new();
    for f in ty["type"]["fields"].as_array().unwrap() {
        let size = match f["type"].as_str().unwrap() {
            "pubkey" => 32,
            "u64" | "i64" => 8,
            "u32" => 4,
            "u16" => 2,
            "u8" => 1,
            other => panic!("{type_name}: no reader for {other}"),
        };
        out.push((
            f["name"].as_str().unwrap().to_string(),
            data[at..at + size].to_vec(),
        ));
        at += size;
    }
    (out, at)
}

/// A client holding only the IDL reads the Creator counter (to post its
/// next job) and the market's slot pool (the queues), and finds what the
/// program wrote.
#[tokio::test]
async fn an_idl_only_client_reads_the_creator_counter_and_the_market_pool() {
    use ake_sdk::pda;
    use ake_tests::{Chain, AKE};
    let idl = idl("ake_market.json");
    let mut chain = Chain::start().await;
    let creator = chain.user(10 * AKE).await;
    let job = chain.post_job(&creator, 2, 600).await.unwrap();
    chain.post_job(&creator, 1, 600).await.unwrap();

    let counter = chain
        .raw_account(&pda::creator(&creator.pubkey()))
        .await
        .unwrap();
    assert_eq!(
        counter.data[..8],
        discriminator(&idl, "accounts", "Creator")[..],
        "Creator's discriminator"
    );
    let (fields, len) = read_fields(&idl, "Creator", &counter.data[8..]);
    assert_eq!(8 + len, ake_market::state::Creator::SPACE);
    assert_eq!(
        fields[0],
        ("creator".into(), creator.pubkey().to_bytes().to_vec())
    );
    assert_eq!(
        fields[1],
        ("next_nonce".into(), 2u64.to_le_bytes().to_vec())
    );

    let market = chain.raw_account(&pda::market(0)).await.unwrap();
    let slot_doc = idl["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Slot")
        .unwrap()["docs"][0]
        .as_str()
        .unwrap()
        .to_string();
    let start: usize = slot_doc
        .split("from byte ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the Slot docs say where the pool starts");
    let (_, slot_len) = read_fields(&idl, "Slot", &[0; 128]);
    assert_eq!(slot_len, std::mem::size_of::<ake_market::state::Slot>());
    let waiting: Vec<Vec<(String, Vec<u8>)>> = market.data[start..]
        .chunks_exact(slot_len)
        .map(|slot| read_fields(&idl, "Slot", slot).0)
        .filter(|f| f[0].1 == job.to_bytes())
        .collect();
    assert_eq!(waiting.len(), 1, "the job waits in one slot");
    let field = |name: &str| {
        waiting[0]
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(field("kind"), vec![1], "a waiting job");
    assert_eq!(field("gpus"), 2u16.to_le_bytes().to_vec());
}
