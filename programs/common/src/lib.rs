//! Code both AKE programs share.

pub mod account_creation;
pub mod timelock;
