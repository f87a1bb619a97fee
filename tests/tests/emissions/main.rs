//! ake-emissions beside ake-market in a real bank.
