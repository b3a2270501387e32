//! The harness the end-to-end tests share: start real servers on loopback ports, call them over real
//! HTTP, find the `tapink` binary, and tell whether optional external tools (Chromium, Python with the
//! Inkit SDK, Node with CleverTap's library) are here.

mod api;
mod bad_requests;
mod chromium;
mod client;
mod engine;
mod external;
mod inkit;
mod letters;
mod pipeline_app;
mod server_task;
mod tapink_process;

pub use api::{admin_history, assert_api_error, generate, item_ids, pdf_page_count, pdf_text, seed_params};
pub use bad_requests::{Case, Corpus, Credentials};
pub use chromium::{
    attribute_values, chromium_dump_dom, chromium_screenshot, element_by_id, element_with, temp_file, text_content,
};
pub use client::{Client, Reply};
pub use engine::{EngineClient, EngineServer, Export, Walk, assert_clevertap_error, url_encode};
pub use external::{External, require_external};
pub use inkit::{MockServer, SEED_TEMPLATE_HTML, create_template, tapink_binary};
pub use letters::{Letters, all_renders, by_delivery};
pub use pipeline_app::{APP_START, PipelineApp, fixtures, seed_body, seed_records, webhook_to};
pub use tapink_process::{TapinkProcess, free_loopback_addr, kill_hard, run_tapink, run_to_completion};
