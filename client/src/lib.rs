//! The one place that knows AKE's account layouts, addresses and
//! instructions. The CLI, the node operator, the local chain and the tests
//! all go through it. The local chain (an in-process bank and its
//! JSON-RPC server) is the `ake-localnet` crate: clients never link it.

pub mod accounts;
pub mod bootstrap;
pub mod chain;
pub mod cluster_params;
pub mod earnings;
pub mod errors;
pub mod image_compare;
pub mod instructions;
pub mod job_spec;
pub mod lookup_tables;
pub mod oracle;
pub mod pda;
pub mod protocol;
pub mod seal;
pub mod sender;
pub mod timeline;
pub mod waiting;
pub mod watch;

pub use ake_emissions;
pub use ake_market;
pub use ake_market::state as market_state;
