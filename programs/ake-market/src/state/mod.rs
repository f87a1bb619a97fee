pub mod batch;
pub mod config;
pub mod creator;
pub mod job;
pub mod market;
pub mod node;
pub mod pending_change;
pub mod stake;

pub use batch::*;
pub use config::*;
pub use creator::*;
pub use job::*;
pub use market::*;
pub use node::*;
pub use pending_change::*;
pub use stake::*;
