pub mod claim;
pub mod close_epoch;
pub mod initialize;
pub mod report_work;
pub mod update_config;

#[allow(ambiguous_glob_reexports)]
pub use claim::*;
#[allow(ambiguous_glob_reexports)]
pub use close_epoch::*;
#[allow(ambiguous_glob_reexports)]
pub use initialize::*;
#[allow(ambiguous_glob_reexports)]
pub use report_work::*;
#[allow(ambiguous_glob_reexports)]
pub use update_config::*;
