//! Inkit templates: HTML with `{{key}}` merge fields, created through the API or loaded from files.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use clock::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::ids::{IdKind, stable_id};
use crate::json_body::Fields;
use crate::merge::MergeTemplate;

/// A stored template. Templates are immutable once created (Inkit versions them; the mock always serves
/// version 1), so a History entry can rebuild its merged HTML from the template at any later time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub html: String,
    pub width: f64,
    pub height: f64,
    pub unit: String,
    pub destinations: Option<Value>,
    pub created_at: Timestamp,
    pub created_by: String,
    /// Loaded from a template directory at start-up (so not stored: the files are the source).
    #[serde(default)]
    pub from_file: bool,
    #[serde(skip)]
    parsed: Option<Arc<MergeTemplate>>,
    /// The id and name once more, shared by every History entry made from this template.
    #[serde(skip)]
    shared: Option<(Arc<str>, Arc<str>)>,
}

impl Template {
    pub fn new(fields: NewTemplate, id: String, created_at: Timestamp, created_by: String) -> Self {
        let mut t = Template {
            id,
            name: fields.name,
            description: fields.description,
            html: fields.html,
            width: fields.width,
            height: fields.height,
            unit: fields.unit,
            destinations: fields.destinations,
            created_at,
            created_by,
            from_file: false,
            parsed: None,
            shared: None,
        };
        t.prepare();
        t
    }

    /// Parses the merge fields; called on creation and after loading from storage.
    pub fn prepare(&mut self) {
        self.parsed = Some(Arc::new(MergeTemplate::parse(&self.html)));
        self.shared = Some((self.id.as_str().into(), self.name.as_str().into()));
    }

    /// The id and name as History entries keep them: shared, not copied for every entry.
    pub fn shared_id_and_name(&self) -> (Arc<str>, Arc<str>) {
        match &self.shared {
            Some((id, name)) => (id.clone(), name.clone()),
            None => (self.id.as_str().into(), self.name.as_str().into()),
        }
    }

    pub fn merge_template(&self) -> Arc<MergeTemplate> {
        self.parsed.clone().unwrap_or_else(|| Arc::new(MergeTemplate::parse(&self.html)))
    }

    pub fn merge(&self, params: &Map<String, Value>) -> String {
        self.merge_template().merge(params)
    }

    /// The template as `GET /template/{id}` shows it.
    pub fn to_json(&self) -> Value {
        let created_at = clock::rfc3339(self.created_at);
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "source": "html",
            "html": self.html,
            "width": self.width,
            "height": self.height,
            "unit": self.unit,
            "merge_variables": self.merge_template().variables(),
            "destinations": self.destinations.clone().unwrap_or_else(|| json!([])),
            "version": 1,
            "version_history": [{"version": 1, "created_at": created_at,
                                 "edited_by_first_name": null, "edited_by_last_name": null}],
            "created_at": created_at,
            "updated_at": created_at,
            "created_by": {"first_name": null, "last_name": null, "name": self.created_by},
        })
    }
}

/// The validated body of `POST /template`.
#[derive(Debug, Clone)]
pub struct NewTemplate {
    pub name: String,
    pub description: Option<String>,
    pub html: String,
    pub width: f64,
    pub height: f64,
    pub unit: String,
    pub destinations: Option<Value>,
}

impl NewTemplate {
    /// Validates a `POST /template` body. `file` is the template's HTML, base64-encoded as the SDKs send it.
    pub fn from_request(body: &Map<String, Value>) -> Result<Self, ApiError> {
        let f = Fields::new(body);
        let name = f.str("name")?.to_owned();
        let description = f.opt_str("description")?.map(str::to_owned);
        match f.str("source")? {
            "html" => {}
            "docx" | "pdf" => {
                return Err(ApiError::invalid("source", "source docx and pdf are not supported by the mock; use html"));
            }
            other => {
                return Err(ApiError::invalid(
                    "source",
                    format!("source must be one of html, docx, pdf, not {other:?}"),
                ));
            }
        }
        let encoded = f.str("file")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| ApiError::invalid("file", format!("file must be base64-encoded HTML: {e}")))?;
        let html =
            String::from_utf8(bytes).map_err(|_| ApiError::invalid("file", "file must be base64 of UTF-8 HTML"))?;
        let (mut width, mut height, mut unit) = (8.5, 11.0, "in".to_owned());
        if let Some(data) = f.opt_object("data")? {
            let d = Fields::new(data);
            let size = |key: &str| -> Result<Option<f64>, ApiError> {
                match d.opt_f64(key).map_err(|e| e.within("data"))? {
                    Some(v) if !(v > 0.0 && v.is_finite()) => {
                        Err(ApiError::invalid(format!("data.{key}"), format!("data.{key} must be positive")))
                    }
                    v => Ok(v),
                }
            };
            width = size("width")?.unwrap_or(width);
            height = size("height")?.unwrap_or(height);
            if let Some(u) = d.opt_str("unit").map_err(|e| e.within("data"))? {
                if u != "in" && u != "cm" {
                    return Err(ApiError::invalid("data.unit", format!("data.unit must be in or cm, not {u:?}")));
                }
                unit = u.to_owned();
            }
        }
        let destinations = match f.raw("destinations") {
            None => None,
            Some(v @ (Value::Array(_) | Value::Object(_))) => Some(v.clone()),
            Some(other) => return Err(crate::json_body::wrong_type("destinations", "an array or an object", other)),
        };
        Ok(NewTemplate { name, description, html, width, height, unit, destinations })
    }
}

/// Options for a template file, from `NAME.toml` beside `NAME.html`; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFileOptions {
    id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    width: Option<f64>,
    height: Option<f64>,
    unit: Option<String>,
}

/// Why a template directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TemplateFileError {
    #[error("cannot read {path}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// Loads every `*.html` in `dir` as a template. Each file's id comes from `NAME.toml` (`id = "tmpl_…"`) or,
/// without one, is derived from the file name, so it stays the same from run to run.
pub fn load_dir(dir: &Path, created_at: Timestamp) -> Result<Vec<Template>, TemplateFileError> {
    let read_err = |path: &Path, source| TemplateFileError::Read { path: path.display().to_string(), source };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| read_err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .collect();
    paths.sort();
    let mut templates = Vec::new();
    for path in paths {
        let html = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("template").to_owned();
        let options_path = path.with_extension("toml");
        let options: TemplateFileOptions = match std::fs::read_to_string(&options_path) {
            Ok(text) => toml::from_str(&text).map_err(|e| TemplateFileError::Invalid {
                path: options_path.display().to_string(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => TemplateFileOptions::default(),
            Err(e) => return Err(read_err(&options_path, e)),
        };
        let invalid =
            |message: String| TemplateFileError::Invalid { path: options_path.display().to_string(), message };
        let id = options.id.unwrap_or_else(|| stable_id(IdKind::Template, &stem));
        if !id.starts_with("tmpl_") || id.len() < 6 || !id[5..].bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid(format!("id must look like tmpl_ followed by letters and digits, not {id:?}")));
        }
        let unit = options.unit.unwrap_or_else(|| "in".into());
        if unit != "in" && unit != "cm" {
            return Err(invalid(format!("unit must be in or cm, not {unit:?}")));
        }
        let fields = NewTemplate {
            name: options.name.unwrap_or_else(|| stem.clone()),
            description: options.description,
            html,
            width: options.width.unwrap_or(8.5),
            height: options.height.unwrap_or(11.0),
            unit,
            destinations: None,
        };
        let mut template = Template::new(fields, id, created_at, "template files".into());
        template.from_file = true;
        templates.push(template);
    }
    Ok(templates)
}
