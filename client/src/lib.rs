//! The one place that knows AKE's account layouts, addresses and
//! instructions. The CLI, the node operator, the local chain and the tests
//! all go through it.

pub mod accounts;
pub mod cluster_params;
pub mod instructions;
pub mod pda;

pub use ake_emissions;
pub use ake_market;
pub use ake_market::state as market_state;
