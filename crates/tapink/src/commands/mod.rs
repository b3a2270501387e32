//! One module per `tapink` subcommand.

pub mod bench;
pub mod demo;
pub mod dlq;
pub mod engine;
pub mod inkit;
pub mod preview;
pub mod run;
pub mod test_send;
pub mod trace;
pub mod up;
