//! ake-emissions beside ake-market in a real bank with the real SPL Token program.

mod rejections;
mod scaling;
mod simulation;
