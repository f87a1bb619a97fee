//! Human and JSON output in one place: every read command prints either.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

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

/// The CLI's own standard output once `keep_stdout_for_output` moved
/// everything else off it.
static OUTPUT: OnceLock<Mutex<std::fs::File>> = OnceLock::new();

/// For commands that run the local chain in this process: the programs'
/// `msg!` lines (native execution prints them to standard output) go to
/// standard error with the logs, and standard output keeps only what the
/// CLI prints, so `--output json` stays parseable.
pub fn keep_stdout_for_output() -> std::io::Result<()> {
    use std::os::fd::FromRawFd;
    std::io::stdout().flush()?;
    // SAFETY: plain descriptor calls on 1 and 2; the duplicate (close on
    // exec: the demo's child processes must not hold our stdout open) is
    // owned by the File from here on.
    let saved = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
    if saved < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if unsafe { libc::dup2(2, 1) } < 0 {
        // No stderr to move to: leave stdout as it is.
        unsafe { libc::close(saved) };
        return Ok(());
    }
    let file = unsafe { std::fs::File::from_raw_fd(saved) };
    let _ = OUTPUT.set(Mutex::new(file));
    Ok(())
}

fn write_line(text: &str) {
    match OUTPUT.get() {
        Some(out) => {
            let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
        None => println!("{text}"),
    }
}

/// Prints `value` as JSON, or `human` for people.
pub fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T) -> String) {
    if json {
        write_line(&serde_json::to_string_pretty(value).expect("serializable output"));
    } else {
        write_line(&human(value));
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
