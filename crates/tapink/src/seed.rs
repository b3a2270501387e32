//! The seed walkthrough's parts as `tapink demo` and `tapink bench` set them up: the template created in
//! Inkit, the webhook pointing at its generate route, and the body with the template's id pasted in.

use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json};
use webhook_dispatcher::client::{Answer, HttpClient, OutgoingRequest};
use webhook_dispatcher::webhook::WebhookSpec;

/// The seed walkthrough's template and body, as the project's fixtures hold them.
const TEMPLATE_HTML: &str = include_str!("../../../fixtures/templates/seed-letter.html");
const SEED_BODY: &str = include_str!("../../../fixtures/bodies/seed.json");
const SEED_TEMPLATE_ID: &str = "tmpl_SeedLetter000000000001";

/// Creates the seed's template in Inkit at `inkit` (`http://host:port`) over its API; returns its id.
pub async fn create_template(http: &HttpClient, inkit: &str, token: &str) -> anyhow::Result<String> {
    let file = base64::engine::general_purpose::STANDARD.encode(TEMPLATE_HTML);
    let body = json!({"name": "Welcome letter", "source": "html", "file": file,
                      "data": {"width": 8.5, "height": 11, "unit": "in"}});
    let request = OutgoingRequest {
        method: http::Method::POST,
        url: format!("{inkit}/v1/template"),
        headers: vec![("content-type".into(), "application/json".into()), ("x-inkit-api-token".into(), token.into())],
        body: Bytes::from(body.to_string()),
    };
    match http.send(request, Duration::from_secs(5)).await.answer {
        Answer::Response { status: 200, body, .. } => {
            let answer: Value = serde_json::from_str(&body).context("Inkit's answer is not JSON")?;
            answer["id"].as_str().map(str::to_owned).context("Inkit's answer has no template id")
        }
        other => bail!("creating the template failed: {other:?}"),
    }
}

/// The seed's webhook body (Liquid), naming `template_id`.
pub fn body(template_id: &str) -> String {
    SEED_BODY.replace(SEED_TEMPLATE_ID, template_id)
}

/// The webhook "Inkit": `POST {inkit}/v1/generate`, JSON, with the API token.
pub fn webhook(inkit: &str, token: &str) -> anyhow::Result<WebhookSpec> {
    Ok(serde_json::from_value(json!({
        "name": "Inkit", "method": "POST", "url": format!("{inkit}/v1/generate"), "content_type": "json",
        "headers": {"X-Inkit-API-Token": token}
    }))?)
}
