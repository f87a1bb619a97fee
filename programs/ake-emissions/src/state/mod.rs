pub mod config;
pub mod epoch_summary;
pub mod market_epoch;
pub mod node_work;
pub mod pending_spend;

pub use config::*;
pub use epoch_summary::*;
pub use market_epoch::*;
pub use node_work::*;
pub use pending_spend::*;
