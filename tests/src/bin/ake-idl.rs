//! Generates the programs' Anchor IDL (idl/ake_market.json,
//! idl/ake_emissions.json) on stable Rust, through Anchor's `idl-build`
//! feature and its own IDL builder (what `anchor idl build` runs).
//!
//!   cargo run -p ake-tests --bin ake-idl            # write idl/*.json
//!   cargo run -p ake-tests --bin ake-idl -- --check # fail if they differ
//!
//! It builds the programs in target/idl so the workspace's own build
//! cache is left alone (the IDL build compiles with other features).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anchor_lang::Discriminator;
use anchor_lang_idl::build::IdlBuilder;
use serde_json::{json, Value};

const PROGRAMS: [(&str, &str); 2] = [
    ("programs/ake-market", "idl/ake_market.json"),
    ("programs/ake-emissions", "idl/ake_emissions.json"),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The programs' IDL build goes beside the workspace's own build, in
/// `<target>/idl`: other features, so it would otherwise evict it.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("idl")
}

fn generate(root: &Path, program: &str) -> anyhow::Result<String> {
    let target = target_dir(root);
    let idl = IdlBuilder::new()
        .program_path(root.join(program))
        .cargo_args(vec![
            "--lib".into(),
            "--locked".into(),
            "--target-dir".into(),
            target.display().to_string(),
        ])
        .build()?;
    let mut idl = serde_json::to_value(&idl)?;
    complete(&mut idl);
    Ok(serde_json::to_string_pretty(&idl)? + "\n")
}

/// What Anchor 1.2.2's builder leaves out and a client holding only the IDL
/// needs (tests/tests/idl.rs checks each against the programs):
/// - `event_authority` of every `#[event_cpi]` instruction: its PDA seeds
///   (`["__event_authority"]`, the builder drops the constant) and `program`:
///   the program's own address;
/// - ake-market's `Creator` account (`post_job`/`post_batch` read the next
///   nonce from it; no instruction types it, since it is created lazily) and
///   the `Slot` type of the market's pool (after the `Market` header: the
///   header's `slot_count` slots of 72 bytes).
fn complete(idl: &mut Value) {
    let address = idl["address"].clone();
    if let Some(instructions) = idl["instructions"].as_array_mut() {
        for ix in instructions {
            complete_accounts(&mut ix["accounts"], &address);
        }
    }
    if address.as_str() == Some(&ake_market::ID.to_string()) {
        push_sorted(
            &mut idl["accounts"],
            json!({
                "name": "Creator",
                "discriminator": ake_market::state::Creator::DISCRIMINATOR,
            }),
        );
        push_sorted(&mut idl["types"], creator_type());
        push_sorted(&mut idl["types"], slot_type());
    }
}

fn complete_accounts(accounts: &mut Value, program: &Value) {
    for account in accounts.as_array_mut().into_iter().flatten() {
        if account.get("accounts").is_some() {
            complete_accounts(&mut account["accounts"], program);
            continue;
        }
        let resolvable = account.get("pda").is_some() || account.get("address").is_some();
        match account["name"].as_str() {
            Some("event_authority") if !resolvable => {
                account["pda"] =
                    json!({ "seeds": [{ "kind": "const", "value": b"__event_authority" }] });
            }
            Some("program") if !resolvable => account["address"] = program.clone(),
            _ => {}
        }
    }
}

/// Inserts `item` into a list kept sorted by name, as the builder keeps it.
fn push_sorted(list: &mut Value, item: Value) {
    let list = list
        .as_array_mut()
        .expect("the IDL lists accounts and types");
    if !list.iter().any(|i| i["name"] == item["name"]) {
        list.push(item);
        list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
}

fn field(name: &str, ty: &str, doc: &str) -> Value {
    let mut f = json!({ "name": name, "type": ty });
    if !doc.is_empty() {
        f["docs"] = json!([doc]);
    }
    f
}

/// `state::Creator` (borsh, after its 8-byte discriminator).
fn creator_type() -> Value {
    json!({
        "name": "Creator",
        "docs": [
            "Per-creator job counter, PDA `[\"creator\", creator]`: job n of a creator is",
            "PDA `[\"job\", creator, n (u64 LE)]`; `next_nonce` is the nonce `post_job` and",
            "`post_batch` expect next. Absent before the creator's first post (nonce 0)."
        ],
        "type": { "kind": "struct", "fields": [
            field("creator", "pubkey", ""),
            field("next_nonce", "u64", ""),
            field("bump", "u8", ""),
        ]}
    })
}

/// `state::Slot` (bytemuck, C layout, 72 bytes, no padding).
fn slot_type() -> Value {
    json!({
        "name": "Slot",
        "docs": [
            format!(
                "One entry of a market's pool: the market account's data from byte {} (the 8-byte",
                8 + std::mem::size_of::<ake_market::state::Market>()
            ),
            "discriminator and the `Market` header before it) holds the header's `slot_count` of these.",
            "A waiting job, batch or node, or a job in flight; lists link slots by index + 1."
        ],
        "serialization": "bytemuck",
        "repr": { "kind": "c" },
        "type": { "kind": "struct", "fields": [
            field("key", "pubkey", "The job, batch or node account."),
            field("seq", "u64", "Place in line (waiting entries)."),
            field("aux", "u64", "A job's collateral when posted; a node's owner tag."),
            field(
                "released_marks",
                "u64",
                "A waiting job's or batch's releasers: three 21-bit owner marks (see Releases).",
            ),
            field("due", "i64", "Deadline while assigned; end of the challenge window once submitted; dispute timeout while disputed."),
            field("prev", "u32", "Previous slot in its list (index + 1, 0: none)."),
            field("next", "u32", "Next slot in its list (index + 1, 0: none)."),
            field("gpus", "u16", ""),
            field("reputation_bps", "u16", "A job's minimum node reputation, or a node's reputation."),
            field("tier", "u8", ""),
            field("kind", "u8", "0 free, 1 waiting job or batch, 2 waiting node, 3 in flight."),
            field("phase", "u8", "1 assigned, 2 submitted, 3 disputed (in flight)."),
            field("band", "u8", "A waiting entry's band at enqueue."),
        ]}
    })
}

fn main() -> anyhow::Result<ExitCode> {
    let check = std::env::args().any(|a| a == "--check");
    // Anchor's builder turns a rustup-set RUSTUP_TOOLCHAIN into a
    // `cargo +toolchain` argument it does not expand, and runs whatever
    // `cargo` is first on PATH: put the cargo that runs this (set by cargo
    // run and cargo test) first instead.
    std::env::remove_var("RUSTUP_TOOLCHAIN");
    if let Some(dir) =
        std::env::var_os("CARGO").and_then(|c| PathBuf::from(c).parent().map(Path::to_path_buf))
    {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let paths = std::iter::once(dir).chain(std::env::split_paths(&path));
        std::env::set_var("PATH", std::env::join_paths(paths)?);
    }
    let root = workspace();
    let mut stale = Vec::new();
    for (program, file) in PROGRAMS {
        let json = generate(&root, program)?;
        let path = root.join(file);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(json.as_str()) {
                stale.push(file);
            }
        } else {
            std::fs::write(&path, json)?;
            println!("wrote {file}");
        }
    }
    if stale.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "the committed IDL differs from what the programs generate ({}); run `cargo run -p ake-tests --bin ake-idl` and commit the result",
        stale.join(", ")
    );
    Ok(ExitCode::FAILURE)
}
