//! The one integration-test binary: end-to-end tests over real loopback HTTP, real SQLite files and real
//! PDFs. Each module covers one feature, its good and bad paths.

mod dispatch;
mod dispatch_cli;
mod inkit_api;
mod inkit_bad_input;
mod inkit_cli;
mod inkit_dashboard;
mod inkit_fast_path;
mod inkit_faults;
mod inkit_history;
mod inkit_journal;
mod inkit_python_sdk;
mod preview_cli;
