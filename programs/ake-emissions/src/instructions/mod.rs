pub mod accept_authority;
pub mod apply_change;
pub mod apply_spend;
pub mod cancel_change;
pub mod cancel_spend;
pub mod claim;
pub mod close_epoch;
pub mod initialize;
pub mod propose_authority;
pub mod propose_change;
pub mod propose_spend;
pub mod report_work;
pub mod set_guardian;
pub mod set_paused;

#[allow(ambiguous_glob_reexports)]
pub use accept_authority::*;
#[allow(ambiguous_glob_reexports)]
pub use apply_change::*;
#[allow(ambiguous_glob_reexports)]
pub use apply_spend::*;
#[allow(ambiguous_glob_reexports)]
pub use cancel_change::*;
#[allow(ambiguous_glob_reexports)]
pub use cancel_spend::*;
#[allow(ambiguous_glob_reexports)]
pub use claim::*;
#[allow(ambiguous_glob_reexports)]
pub use close_epoch::*;
#[allow(ambiguous_glob_reexports)]
pub use initialize::*;
#[allow(ambiguous_glob_reexports)]
pub use propose_authority::*;
#[allow(ambiguous_glob_reexports)]
pub use propose_change::*;
#[allow(ambiguous_glob_reexports)]
pub use propose_spend::*;
#[allow(ambiguous_glob_reexports)]
pub use report_work::*;
#[allow(ambiguous_glob_reexports)]
pub use set_guardian::*;
#[allow(ambiguous_glob_reexports)]
pub use set_paused::*;
