//! `tapink preview`: render a webhook body for one profile, as CleverTap's "Preview and Test" does, without
//! sending it.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Map, Value};
use webhook_dispatcher::body::{BodyTemplate, ContentFormat, RenderInput};

/// Render a webhook body (CleverTap's Liquid) for a profile and print it.
#[derive(Debug, Args)]
#[command(after_help = r#"Examples:
  tapink preview --body fixtures/bodies/seed.json --profile '{"Name": "Ada", "Email": "ada@example.com"}'
  tapink preview --body body.json --profile @profile.json --event '{"Amount": 30}'
  tapink preview --body note.txt --content-type text --profile '{}'

The rendered body goes to stdout. A Liquid syntax error, {% abort %}, or a JSON body that does not come
out as valid JSON is reported on stderr with its line and column, and the exit status is 1."#)]
pub struct PreviewArgs {
    /// The body's Liquid source.
    #[arg(long, value_name = "FILE")]
    body: PathBuf,
    /// The profile's properties as a JSON object, or @FILE to read it from a file.
    #[arg(long, value_name = "JSON")]
    profile: String,
    /// The triggering event's properties (live campaigns), as a JSON object or @FILE.
    #[arg(long, value_name = "JSON")]
    event: Option<String>,
    /// The campaign, as a JSON object or @FILE, e.g. '{"campaignId": 1700000001, "name": "Spring"}'.
    #[arg(long, value_name = "JSON")]
    campaign: Option<String>,
    /// How the body is sent: json (checked to stay valid JSON) or text.
    #[arg(long, default_value = "json", value_parser = ["json", "text"])]
    content_type: String,
}

/// A JSON object given inline or as @FILE, with an error that names the option and the position.
pub fn json_object(option: &str, text: &str) -> anyhow::Result<Map<String, Value>> {
    let (source, origin) = match text.strip_prefix('@') {
        Some(path) => {
            (std::fs::read_to_string(path).with_context(|| format!("--{option}: cannot read {path}"))?, path.to_owned())
        }
        None => (text.to_owned(), format!("--{option}")),
    };
    match serde_json::from_str::<Value>(&source) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => bail!("{origin}: expected a JSON object"),
        Err(e) => {
            let message = e.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
            bail!("{origin}: invalid JSON at line {} column {}: {message}", e.line(), e.column())
        }
    }
}

impl PreviewArgs {
    /// The body rendered for the given profile, event and campaign, and its format.
    pub fn render(&self) -> anyhow::Result<(String, ContentFormat)> {
        let source = std::fs::read_to_string(&self.body)
            .with_context(|| format!("cannot read the body {}", self.body.display()))?;
        let format = if self.content_type == "text" { ContentFormat::Text } else { ContentFormat::Json };
        let profile = json_object("profile", &self.profile)?;
        let event = self.event.as_deref().map(|e| json_object("event", e)).transpose()?;
        let campaign = self.campaign.as_deref().map(|c| json_object("campaign", c)).transpose()?.map(Value::Object);
        let body = BodyTemplate::compile(&source, format).with_context(|| format!("{}", self.body.display()))?;
        let campaign = campaign.unwrap_or(Value::Null);
        let input = RenderInput { profile: &profile, event: event.as_ref(), campaign: &campaign };
        let rendered = body.render(&input).with_context(|| format!("{} did not render", self.body.display()))?;
        Ok((rendered, format))
    }
}

pub fn run(args: PreviewArgs) -> anyhow::Result<()> {
    let (rendered, _) = args.render()?;
    // The body as rendered, ending with exactly one line break.
    println!("{}", rendered.strip_suffix('\n').unwrap_or(&rendered));
    Ok(())
}
