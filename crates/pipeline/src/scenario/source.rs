//! Scenario files as read from disk: TOML turned into JSON values, with the line of every key kept, so that an
//! error found anywhere later (a bad key here, a bad campaign field in the engine, a Liquid error) names the
//! file, the line and the field.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Number, Value};
use toml::de::{DeTable, DeValue};

/// Why a scenario could not be loaded: always the file, and the line and field when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// The field as written in the file (`campaign[1].when.delivery_date_time[0]`).
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        match &self.field {
            Some(field) => write!(f, ": {field}: {}", self.message),
            None => write!(f, ": {}", self.message),
        }
    }
}

impl LoadError {
    /// An error about a whole file.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        LoadError { file: file.to_owned(), line: None, field: None, message: message.into() }
    }
}

/// One TOML file of a scenario: its path, and the line of each field by path (`step[2].at`).
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    lines: HashMap<String, usize>,
}

impl SourceFile {
    /// The folder paths in this file are relative to.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The line of `field`, or of the nearest enclosing field that has one.
    pub fn line_of(&self, field: &str) -> Option<usize> {
        let mut path = field;
        loop {
            if let Some(line) = self.lines.get(path) {
                return Some(*line);
            }
            // Drop the last segment: `a.b[2].c` → `a.b[2]` → `a.b` → `a`.
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }

    /// An error at `field` of this file.
    pub fn error(&self, field: impl Into<String>, message: impl Into<String>) -> LoadError {
        let field = field.into();
        LoadError { file: self.path.clone(), line: self.line_of(&field), field: Some(field), message: message.into() }
    }

    /// Reads a file named by this one (a path relative to this file's folder).
    pub fn read_relative(&self, field: &str, name: &str) -> Result<(PathBuf, String), LoadError> {
        let path = self.dir().join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((path, text)),
            Err(e) => Err(self.error(field, format!("cannot read {}: {e}", path.display()))),
        }
    }
}

/// Where something was written: a file and a field in it, for messages long after loading.
#[derive(Debug, Clone)]
pub struct Loc {
    pub source: Arc<SourceFile>,
    pub field: String,
}

impl Loc {
    pub fn new(source: &Arc<SourceFile>, field: impl Into<String>) -> Self {
        Loc { source: source.clone(), field: field.into() }
    }

    /// A field inside this one (`sub` is joined with a dot, or appended when it starts with `[`).
    pub fn join(&self, sub: &str) -> Loc {
        let field = if sub.is_empty() {
            self.field.clone()
        } else if sub.starts_with('[') || self.field.is_empty() {
            format!("{}{sub}", self.field)
        } else {
            format!("{}.{sub}", self.field)
        };
        Loc { source: self.source.clone(), field }
    }

    pub fn line(&self) -> Option<usize> {
        self.source.line_of(&self.field)
    }

    /// An error at this place.
    pub fn error(&self, message: impl Into<String>) -> LoadError {
        self.source.error(self.field.clone(), message)
    }
}

impl fmt::Display for Loc {
    /// `file:line: field`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source.path.display())?;
        if let Some(line) = self.line() {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        Ok(())
    }
}

/// Reads a TOML file into a JSON object, keeping the line of every field.
pub fn read_toml(path: &Path) -> Result<(Map<String, Value>, Arc<SourceFile>), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::file(path, format!("cannot read it: {e}")))?;
    parse_toml(path, &text)
}

/// Parses TOML text (from `path`, for messages) into a JSON object, keeping the line of every field.
pub fn parse_toml(path: &Path, text: &str) -> Result<(Map<String, Value>, Arc<SourceFile>), LoadError> {
    let lines = LineIndex::new(text);
    let table = DeTable::parse(text).map_err(|e| {
        let line = e.span().map(|s| lines.line(s.start));
        // toml's message is a single line here; its position is ours to give.
        LoadError {
            file: path.to_owned(),
            line,
            field: None,
            message: format!("not valid TOML: {}", e.message().trim()),
        }
    })?;
    let mut source = SourceFile { path: path.to_owned(), lines: HashMap::new() };
    let mut problems = Vec::new();
    let value = table_to_json(table.get_ref(), "", &lines, &mut source.lines, &mut problems);
    if let Some((field, message)) = problems.into_iter().next() {
        return Err(source.error(field, message));
    }
    Ok((value, Arc::new(source)))
}

/// Byte offset → 1-based line.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset).max(1)
    }
}

fn join(path: &str, key: &str) -> String {
    let key = quote(key);
    if path.is_empty() { key } else { format!("{path}.{key}") }
}

/// A key as it appears in a field path: quoted when it holds a dot, a space or a bracket
/// (`where."merge_parameters.email"`).
pub fn quote(key: &str) -> String {
    if key.contains(['.', ' ', '[', '"']) || key.is_empty() { format!("{key:?}") } else { key.to_owned() }
}

fn table_to_json(
    table: &DeTable<'_>,
    path: &str,
    lines: &LineIndex,
    out: &mut HashMap<String, usize>,
    problems: &mut Vec<(String, String)>,
) -> Map<String, Value> {
    let mut map = Map::new();
    for (key, value) in table.iter() {
        let field = join(path, key.get_ref());
        out.entry(field.clone()).or_insert_with(|| lines.line(key.span().start));
        let json = value_to_json(value.get_ref(), &field, lines, out, problems);
        map.insert(key.get_ref().to_string(), json);
    }
    map
}

fn value_to_json(
    value: &DeValue<'_>,
    path: &str,
    lines: &LineIndex,
    out: &mut HashMap<String, usize>,
    problems: &mut Vec<(String, String)>,
) -> Value {
    match value {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            match i64::from_str_radix(&digits, i.radix()) {
                Ok(n) => Value::from(n),
                Err(_) => {
                    problems.push((path.to_owned(), format!("{} is not a whole number tapink can hold", i.as_str())));
                    Value::Null
                }
            }
        }
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Value::Number(n),
            None => {
                problems.push((path.to_owned(), format!("{} is not a finite number", f.as_str())));
                Value::Null
            }
        },
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let field = format!("{path}[{i}]");
                    out.entry(field.clone()).or_insert_with(|| lines.line(item.span().start));
                    value_to_json(item.get_ref(), &field, lines, out, problems)
                })
                .collect(),
        ),
        DeValue::Table(t) => Value::Object(table_to_json(t, path, lines, out, problems)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_keeps_its_line_and_errors_fall_back_to_the_nearest_field() {
        let text = "start = 2026-12-01T09:00:00Z\n\n[[campaign]]\nname = \"A\"\nwhen = { type = \"later\", delivery_date_time = [\"x\", \"y\"] }\n\n[[campaign]]\nname = \"B\"\n\n[account]\nfrequency_cap = { max = 0x10, days = 1_0 }\n";
        let (json, source) = parse_toml(Path::new("s.toml"), text).unwrap();
        assert_eq!(json["start"], "2026-12-01T09:00:00Z");
        assert_eq!(json["account"]["frequency_cap"]["max"], 16);
        assert_eq!(json["account"]["frequency_cap"]["days"], 10);
        assert_eq!(source.line_of("campaign[0].name"), Some(4));
        assert_eq!(source.line_of("campaign[0].when.delivery_date_time[1]"), Some(5));
        assert_eq!(source.line_of("campaign[1].name"), Some(8));
        assert_eq!(source.line_of("campaign[1].content.body"), Some(7), "falls back to the element");
        assert_eq!(source.line_of("account.frequency_cap.days"), Some(11));
        let e = source.error("campaign[1].colour", "unknown field");
        assert_eq!(e.to_string(), "s.toml:7: campaign[1].colour: unknown field");
    }

    #[test]
    fn a_syntax_error_names_the_file_and_line() {
        let e = parse_toml(Path::new("bad.toml"), "name = \"x\"\nstart = \n").unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(2), None));
        assert!(e.to_string().starts_with("bad.toml:2: not valid TOML"), "{e}");
    }
}
