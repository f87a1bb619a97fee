//! ake-market in a real bank with the real SPL Token program.

mod lifecycle;
