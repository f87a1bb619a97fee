//! Human and JSON output in one place: every read command prints either.

use serde::Serialize;

use crate::context::GlobalArgs;

pub fn init_logging(g: &GlobalArgs) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{},tarpc=error,solana_metrics=off", g.log))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Prints `value` as JSON, or `human` for people.
pub fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T) -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("serializable output")
        );
    } else {
        println!("{}", human(value));
    }
}

pub fn error(g: &GlobalArgs, e: &anyhow::Error) {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    if g.json() {
        let v = serde_json::json!({ "error": chain.join(": ") });
        eprintln!("{v}");
    } else {
        eprintln!("error: {}", chain.join(": "));
    }
}
