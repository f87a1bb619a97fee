//! Instruction builders. Each takes the keys a caller knows and derives the rest.

pub mod emissions;
pub mod market;

pub use market::*;
