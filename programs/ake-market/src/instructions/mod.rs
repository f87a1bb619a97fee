pub mod accept_authority;
pub mod accept_result;
pub mod announce_logs;
pub mod appeal_audit;
pub mod apply_change;
pub mod cancel_batch;
pub mod cancel_change;
pub mod cancel_job;
pub mod close_batch;
pub mod close_due_page;
pub mod close_node;
pub mod close_stake;
pub mod create_market;
pub mod deposit_stake;
pub mod dispute_job;
pub mod draw_audit;
pub mod expire_dispute;
pub mod expire_job;
pub mod finalize_job;
pub mod grow_market;
pub mod initialize;
pub mod judge_audit;
pub mod match_frame;
pub mod match_job;
pub mod node_ready;
pub mod node_unready;
pub mod post_batch;
pub mod post_job;
pub mod propose_authority;
pub mod propose_change;
pub mod rearm_node;
pub mod refund_stale_job;
pub mod register_node;
pub mod release_job;
pub mod request_unstake;
pub mod requeue_batch;
pub mod resolve_appeal;
pub mod resolve_dispute;
pub mod resume_batch;
pub mod reveal_digest;
pub mod rotate_node_key;
pub mod set_guardian;
pub mod set_lookup_table;
pub mod set_operator;
pub mod set_paused;
pub mod settle_audit;
pub mod submit_result;
pub mod sweep_market;
pub mod withdraw_stake;

#[allow(ambiguous_glob_reexports)]
pub use accept_authority::*;
#[allow(ambiguous_glob_reexports)]
pub use accept_result::*;
pub use announce_logs::*;
pub use appeal_audit::*;
#[allow(ambiguous_glob_reexports)]
pub use apply_change::*;
#[allow(ambiguous_glob_reexports)]
pub use cancel_batch::*;
#[allow(ambiguous_glob_reexports)]
pub use cancel_change::*;
#[allow(ambiguous_glob_reexports)]
pub use cancel_job::*;
#[allow(ambiguous_glob_reexports)]
pub use close_batch::*;
#[allow(ambiguous_glob_reexports)]
pub use close_due_page::*;
#[allow(ambiguous_glob_reexports)]
pub use close_node::*;
#[allow(ambiguous_glob_reexports)]
pub use close_stake::*;
#[allow(ambiguous_glob_reexports)]
pub use create_market::*;
#[allow(ambiguous_glob_reexports)]
pub use deposit_stake::*;
#[allow(ambiguous_glob_reexports)]
pub use dispute_job::*;
#[allow(ambiguous_glob_reexports)]
pub use draw_audit::*;
#[allow(ambiguous_glob_reexports)]
pub use expire_dispute::*;
#[allow(ambiguous_glob_reexports)]
pub use expire_job::*;
#[allow(ambiguous_glob_reexports)]
pub use finalize_job::*;
#[allow(ambiguous_glob_reexports)]
pub use grow_market::*;
#[allow(ambiguous_glob_reexports)]
pub use initialize::*;
#[allow(ambiguous_glob_reexports)]
pub use judge_audit::*;
#[allow(ambiguous_glob_reexports)]
pub use match_frame::*;
#[allow(ambiguous_glob_reexports)]
pub use match_job::*;
#[allow(ambiguous_glob_reexports)]
pub use node_ready::*;
#[allow(ambiguous_glob_reexports)]
pub use node_unready::*;
#[allow(ambiguous_glob_reexports)]
pub use post_batch::*;
#[allow(ambiguous_glob_reexports)]
pub use post_job::*;
#[allow(ambiguous_glob_reexports)]
pub use propose_authority::*;
#[allow(ambiguous_glob_reexports)]
pub use propose_change::*;
#[allow(ambiguous_glob_reexports)]
pub use rearm_node::*;
#[allow(ambiguous_glob_reexports)]
pub use refund_stale_job::*;
#[allow(ambiguous_glob_reexports)]
pub use register_node::*;
#[allow(ambiguous_glob_reexports)]
pub use release_job::*;
#[allow(ambiguous_glob_reexports)]
pub use request_unstake::*;
#[allow(ambiguous_glob_reexports)]
pub use requeue_batch::*;
pub use resolve_appeal::*;
#[allow(ambiguous_glob_reexports)]
pub use resolve_dispute::*;
#[allow(ambiguous_glob_reexports)]
pub use resume_batch::*;
#[allow(ambiguous_glob_reexports)]
pub use reveal_digest::*;
#[allow(ambiguous_glob_reexports)]
pub use rotate_node_key::*;
#[allow(ambiguous_glob_reexports)]
pub use set_guardian::*;
#[allow(ambiguous_glob_reexports)]
pub use set_lookup_table::*;
pub use set_operator::*;
#[allow(ambiguous_glob_reexports)]
pub use set_paused::*;
#[allow(ambiguous_glob_reexports)]
pub use settle_audit::*;
#[allow(ambiguous_glob_reexports)]
pub use submit_result::*;
#[allow(ambiguous_glob_reexports)]
pub use sweep_market::*;
#[allow(ambiguous_glob_reexports)]
pub use withdraw_stake::*;
