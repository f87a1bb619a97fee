pub mod config;
pub mod epoch_summary;
pub mod node_work;

pub use config::*;
pub use epoch_summary::*;
pub use node_work::*;
