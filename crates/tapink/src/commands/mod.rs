//! One module per `tapink` subcommand.

pub mod inkit;
pub mod preview;
