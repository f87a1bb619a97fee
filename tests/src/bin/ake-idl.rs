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

use anchor_lang_idl::build::IdlBuilder;

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
    Ok(serde_json::to_string_pretty(&idl)? + "\n")
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
