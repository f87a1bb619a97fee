//! ake-emissions beside ake-market in a real bank with the real SPL Token program.

mod bootstrap;
mod rejections;
mod scaling;
mod simulation;
mod tally;
mod wash_trade;
