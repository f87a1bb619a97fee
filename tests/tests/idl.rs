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
