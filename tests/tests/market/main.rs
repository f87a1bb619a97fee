//! ake-market in a real bank with the real SPL Token program.

mod audit_draw;
mod audits;
mod batches;
mod books;
mod capacity;
mod collateral;
mod governance;
mod identity;
mod lifecycle;
mod lookup_table;
mod matching;
mod price_layout;
mod priority;
mod rejections;
mod sla;
