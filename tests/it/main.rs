//! The one integration-test binary: end-to-end tests over real loopback HTTP, real SQLite files and real
//! PDFs. Each module covers one feature, its good and bad paths.

mod bad_request_corpus;
mod bench_cli;
mod crash_recovery;
mod demo_cli;
mod dispatch;
mod dispatch_cli;
mod engine_api;
mod engine_bad_input;
mod engine_campaign_edits;
mod engine_campaigns;
mod engine_cli;
mod engine_node_client;
mod faults_survived;
mod inkit_api;
mod inkit_bad_input;
mod inkit_cli;
mod inkit_dashboard;
mod inkit_fast_path;
mod inkit_faults;
mod inkit_history;
mod inkit_journal;
mod inkit_python_sdk;
mod inkit_restart;
mod pipeline;
mod preview_cli;
mod restart_reports;
mod retry_after_storm;
mod scenarios;
mod up_cli;
