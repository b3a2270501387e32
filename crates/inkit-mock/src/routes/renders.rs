//! `POST /generate`, `POST /render` and the render routes: list, get, PDF, delete.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{StatusCode, header};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::history::{HistoryEntry, Status};
use crate::json_body::{Fields, parse_object, type_name};
use crate::listing::{ListQuery, MAX_PAGE_SIZE, SortValue};
use crate::merge_parameters::MergeParameters;
use crate::pdf::PdfDocument;
use crate::state::{Caller, Inkit, NewRender};

/// Creates one render. A CleverTap webhook test request (`is_test: true` and no `template_id`) is answered
/// 200 and recorded as a test, so a CleverTap-style webhook can be saved against the mock.
///
/// This is the general path. An ordinary request usually takes `routes::fast` instead, which answers the
/// same; tests compare the two.
pub async fn create(State(inkit): State<Arc<Inkit>>, caller: Caller, body: Bytes) -> Result<Json<Value>, ApiError> {
    create_general(&inkit, &caller, &body).await
}

pub async fn create_general(inkit: &Inkit, caller: &Caller, body: &[u8]) -> Result<Json<Value>, ApiError> {
    let body = parse_object(body)?;
    if body.get("is_test") == Some(&Value::Bool(true)) && body.get("template_id").is_none_or(Value::is_null) {
        let entry = inkit.accept_test(body, caller).await?;
        return Ok(Json(json!({
            "id": entry.id, "is_test": true, "message": "CleverTap webhook test request received",
        })));
    }
    let render = parse_render(body, true)?;
    let (entries, _) = inkit.accept_renders(vec![render], None, caller).await?;
    Ok(Json(json!({"id": entries[0].id, "document_id": entries[0].document_id})))
}

/// Validates one render request (or, with `with_template` false, one item of a batch).
pub fn parse_render(mut body: Map<String, Value>, with_template: bool) -> Result<NewRender, ApiError> {
    let f = Fields::new(&body);
    let template_id = if with_template { f.str("template_id")?.to_owned() } else { String::new() };
    let merge_parameters = f.object("merge_parameters")?;
    for (key, value) in merge_parameters {
        if matches!(value, Value::Object(_) | Value::Array(_)) {
            let field = format!("merge_parameters.{key}");
            return Err(ApiError::invalid(
                field.clone(),
                format!("{field} must be a string, number, boolean or null, not {}", type_name(value)),
            ));
        }
    }
    let destinations = match f.opt_object("destinations")? {
        None => false,
        Some(d) => {
            validate_destinations(d)?;
            true
        }
    };
    let name = f.opt_str("name")?.map(str::to_owned);
    let description = f.opt_str("description")?.map(str::to_owned);
    // Validated above: take the values rather than copy them.
    let merge_parameters = match body.get("merge_parameters") {
        Some(Value::Object(m)) => MergeParameters::from_map(m),
        _ => MergeParameters::default(),
    };
    let destinations = if destinations { body.remove("destinations") } else { None };
    Ok(NewRender { template_id, name, description, merge_parameters, destinations })
}

/// Checks `destinations.inkit_storage`, the one destination the mock knows.
fn validate_destinations(d: &Map<String, Value>) -> Result<(), ApiError> {
    if let Some(storage) = d.get("inkit_storage").filter(|v| !v.is_null()) {
        let Value::Object(storage) = storage else {
            return Err(crate::json_body::wrong_type("destinations.inkit_storage", "an object", storage));
        };
        let s = Fields::new(storage);
        let within = |e: ApiError| e.within("destinations.inkit_storage");
        s.opt_str("name").map_err(within)?;
        s.opt_str("folder_id").map_err(within)?;
        s.opt_str("description").map_err(within)?;
        s.opt_object("retain_for").map_err(within)?;
        if let Some(n) = s.opt_f64("expire_after_n_views").map_err(within)?
            && (n < 1.0 || n.fract() != 0.0)
        {
            let field = "destinations.inkit_storage.expire_after_n_views";
            return Err(ApiError::invalid(field, format!("{field} must be a whole number of at least 1")));
        }
    }
    Ok(())
}

/// A render request's fields, read straight from the body: no `serde_json::Value` for the whole body,
/// field names matched in place, `template_id` borrowed. Anything unusual (an unknown or repeated field,
/// a wrong type, an escaped `template_id`) fails to deserialise, and the request then takes the general
/// path, which finds the error and words it; so this never decides an error itself.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuickRender<'a> {
    #[serde(borrow)]
    template_id: Option<&'a str>,
    /// Read flat: a nested value fails, and the general path words the error.
    #[serde(default, deserialize_with = "flat_merge_parameters")]
    merge_parameters: Option<MergeParameters>,
    name: Option<String>,
    description: Option<String>,
    destinations: Option<Value>,
    /// Present (and not null): possibly a CleverTap test request, which the general path handles.
    is_test: Option<IgnoredAny>,
}

fn flat_merge_parameters<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<MergeParameters>, D::Error> {
    MergeParameters::deserialize_flat(d).map(Some)
}

/// The render `parse_object` and `parse_render` would accept from `body`, found faster; `None` when the body
/// is not an ordinary valid render request, and the general path must decide. Whenever this gives a
/// render, the general path gives the same one (a test checks).
pub fn parse_render_fast(body: &[u8]) -> Option<NewRender> {
    // serde also fills a struct from a JSON array, by position; the general path refuses those.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    // One UTF-8 check of the whole body costs less than `from_slice`'s check of each string.
    let q: QuickRender<'_> = serde_json::from_str(std::str::from_utf8(body).ok()?).ok()?;
    if q.is_test.is_some() {
        return None;
    }
    let template_id = q.template_id.filter(|t| !t.is_empty())?;
    let merge_parameters = q.merge_parameters?;
    let destinations = match q.destinations {
        None => None,
        Some(Value::Object(d)) => {
            validate_destinations(&d).ok()?;
            Some(Value::Object(d))
        }
        Some(_) => return None,
    };
    Some(NewRender {
        template_id: template_id.to_owned(),
        name: q.name,
        description: q.description,
        merge_parameters,
        destinations,
    })
}

/// The filters `GET /render`, `GET /document` and the admin History share.
pub fn entry_filter<'a>(q: &'a ListQuery, inkit: &Inkit) -> Result<impl Fn(&HistoryEntry) -> bool + 'a, ApiError> {
    let now = inkit.now();
    let ids = q.list_param("data-id");
    let template = q.param("template_id");
    let batch = q.param("batch_id");
    let destination = q.param("destination_name");
    let status = match q.param("destination_status").or(q.param("status")) {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            let key = if q.param("destination_status").is_some() { "destination_status" } else { "status" };
            ApiError::invalid(key, format!("{key} must be one of in_progress, completed, deleted, test, not {s:?}"))
        })?),
    };
    let from = time_param(q, "from")?;
    let to = time_param(q, "to")?;
    let search = q.search.clone().or_else(|| q.param("q").map(str::to_lowercase));
    Ok(move |e: &HistoryEntry| {
        ids.as_ref().is_none_or(|ids| ids.contains(&&*e.id))
            && template.is_none_or(|t| e.template_id.as_deref() == Some(t))
            && batch.is_none_or(|b| e.batch_id.as_deref() == Some(b))
            && destination.is_none_or(|d| e.destinations.as_ref().is_some_and(|ds| ds.get(d).is_some()))
            && status.is_none_or(|s| e.status(now) == s)
            && from.is_none_or(|t| e.created_at >= t)
            && to.is_none_or(|t| e.created_at <= t)
            && search.as_deref().is_none_or(|needle| e.matches_text(needle))
    })
}

fn time_param(q: &ListQuery, key: &str) -> Result<Option<clock::Timestamp>, ApiError> {
    q.param(key)
        .map(|s| {
            s.parse::<clock::Timestamp>().map_err(|_| {
                ApiError::invalid(
                    key,
                    format!("{key} must be an RFC 3339 time such as 2026-11-27T07:30:00Z, not {s:?}"),
                )
            })
        })
        .transpose()
}

pub fn entry_sort_value<'a>(e: &'a Arc<HistoryEntry>, key: &str, now: clock::Timestamp) -> SortValue<'a> {
    match key {
        "name" => SortValue::text(e.name.as_deref()),
        "status" => SortValue::Text(e.status(now).as_str()),
        "id" => SortValue::Text(&e.id),
        // Acceptance order: created_at with ties broken the way they happened.
        _ => SortValue::Num(i128::from(e.seq)),
    }
}

pub const ENTRY_SORT_KEYS: &[&str] = &["created_at", "name", "status", "id"];

pub async fn list(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    list_live(&inkit, raw, |e| e.name.as_deref(), HistoryEntry::render_json)
}

/// Lists live renders, or their documents: filtered, sorted (`name` meaning the name `name_of` gives, the
/// one the listed view shows) and paged, each item shown by `show`.
pub fn list_live(
    inkit: &Inkit,
    raw: HashMap<String, String>,
    name_of: fn(&HistoryEntry) -> Option<&str>,
    show: fn(&HistoryEntry, clock::Timestamp) -> Value,
) -> Result<Json<Value>, ApiError> {
    let q = ListQuery::parse(raw, ENTRY_SORT_KEYS, MAX_PAGE_SIZE)?;
    let keep = entry_filter(&q, inkit)?;
    let now = inkit.now();
    let mut items = inkit.entries_where(|e| e.is_live_render() && keep(e));
    q.sort(&mut items, |e, k| match k {
        "name" => SortValue::text(name_of(e)),
        _ => entry_sort_value(e, k, now),
    });
    Ok(Json(q.page(&items, |e| show(e, now))))
}

pub async fn get(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(inkit.live_render(&id)?.render_json(inkit.now())))
}

pub async fn delete(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let entry = inkit.live_render(&id)?;
    inkit.delete(&entry).await?;
    Ok(no_content())
}

/// 204 with `Content-Type: application/json`: the Python SDK reads the header of every response.
pub fn no_content() -> Response {
    (StatusCode::NO_CONTENT, [(header::CONTENT_TYPE, "application/json")]).into_response()
}

pub async fn pdf(
    State(inkit): State<Arc<Inkit>>,
    _caller: Caller,
    Path(id): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let entry = inkit.live_render(&id)?;
    let page = match raw.get("page").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<usize>()
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| ApiError::invalid("page", format!("page must be a whole number from 1, not {s:?}")))?,
        ),
    };
    pdf_response(&inkit, &entry, page)
}

/// The document's PDF, or 404 while it is still being processed (the SDKs poll on 404).
pub fn pdf_response(inkit: &Inkit, entry: &HistoryEntry, page: Option<usize>) -> Result<Response, ApiError> {
    match entry.status(inkit.now()) {
        Status::Completed => {}
        Status::InProgress => {
            return Err(ApiError::not_found(format!("render {} is still in progress; try again shortly", entry.id)));
        }
        Status::Deleted | Status::Test => return Err(ApiError::unknown("render", &entry.id)),
    }
    let document = PdfDocument::from_html(entry.name.as_deref().unwrap_or(&entry.id), &merged_html(inkit, entry));
    let bytes = match page {
        None => document.to_pdf(),
        Some(n) => document.page_pdf(n).ok_or_else(|| {
            ApiError::not_found(format!("page {n} not found; the document has {} page(s)", document.page_count()))
        })?,
    };
    let filename = format!("inline; filename=\"{}.pdf\"", entry.document_id.as_deref().unwrap_or(&entry.id));
    Ok(([(header::CONTENT_TYPE, "application/pdf".to_owned()), (header::CONTENT_DISPOSITION, filename)], bytes)
        .into_response())
}

/// The template's HTML with this entry's parameters merged in. If the template is gone, a plain page of
/// the parameters stands in, so the record stays readable.
pub fn merged_html(inkit: &Inkit, entry: &HistoryEntry) -> String {
    match entry.template_id.as_deref().and_then(|id| inkit.template(id)) {
        Some(t) => t.merge(&entry.merge_parameters.to_map()),
        None => {
            let mut html = String::from("<html><body><h1>Merge parameters</h1>");
            for (k, v) in &entry.merge_parameters.to_map() {
                html.push_str("<p>");
                crate::merge::escape_html_into(k, &mut html);
                html.push_str(": ");
                crate::merge::escape_html_into(&crate::merge::display_value(v), &mut html);
                html.push_str("</p>");
            }
            html.push_str("</body></html>");
            html
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the general path makes of a body: `parse_object`, then `parse_render`.
    fn general(body: &str) -> Result<NewRender, ApiError> {
        parse_object(body.as_bytes()).and_then(|map| parse_render(map, true))
    }

    const SEED: &str = r#"{
 "merge_parameters": {"Name": "Ada Lovelace", "email": "ada@example.com", "phone number": "+14155550100"},
 "template_id": "tmpl_SeedLetter000000000001",
 "description": "test"
}"#;

    /// Bodies the general path accepts and the fast path should take too.
    const ORDINARY: &[&str] = &[
        SEED,
        r#"{"template_id":"tmpl_x","merge_parameters":{}}"#,
        r#"  {"template_id":"tmpl_x","merge_parameters":{"a":1,"b":1.5,"c":-0,"d":1e3,"e":true,"f":null,"g":"é ✓"}}  "#,
        r#"{"template_id":"tmpl_x","merge_parameters":{"big":18446744073709551616,"neg":-9223372036854775809}}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{"k":"v1","k":"v2"},"name":"Letter","description":null}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{"q":"a\"b\\c\u00e9\ud83d\ude00"},"name":"a\nb"}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"destinations":null,"name":null,"is_test":null}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"destinations":{}}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"destinations":{"inkit_storage":null,"other":[1]}}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"destinations":{"inkit_storage":{"name":"n",
            "folder_id":"fold_1","description":"d","retain_for":{"days":3},"expire_after_n_views":2}}}"#,
    ];

    /// Bodies the fast path leaves to the general path: errors, and valid but unusual requests.
    const UNUSUAL: &[&str] = &[
        "",
        "   \n",
        "{",
        r#"{"template_id":"tmpl_x","merge_parameters":{}} x"#,
        r#"["tmpl_x",{},null,null,null,null]"#,
        r#""tmpl_x""#,
        r#"{"merge_parameters":{}}"#,
        r#"{"template_id":null,"merge_parameters":{}}"#,
        r#"{"template_id":"","merge_parameters":{}}"#,
        r#"{"template_id":7,"merge_parameters":{}}"#,
        r#"{"template_id":["tmpl_x"],"merge_parameters":{}}"#,
        r#"{"template_id":"tmpl\u005fx","merge_parameters":{}}"#,
        r#"{"template_id":"tmpl_x"}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":null}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":"Name=Ada"}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{"a":{"b":1}}}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{"a":[1]}}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{"a":1e999}}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{"a":"\ud800"}}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"name":5}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"description":{}}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"destinations":"inkit_storage"}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"destinations":{"inkit_storage":"yes"}}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"destinations":{"inkit_storage":{"expire_after_n_views":0}}}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"destinations":{"inkit_storage":{"folder_id":7}}}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"is_test":true}"#,
        r#"{"is_test":true,"profiles":[]}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"html":"<p>"}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"x":1e999}"#,
        r#"{"template_id":"tmpl_x","merge_parameters":{},"x":"\ud800"}"#,
        r#"{"template_id":"tmpl_y","template_id":"tmpl_x","merge_parameters":{}}"#,
        "{\"template_id\":\"tmpl_x\",\"merge_parameters\":{\"a\":\"\x01\"}}",
    ];

    #[test]
    fn ordinary_requests_take_the_fast_path_and_get_what_the_general_path_gives() {
        for body in ORDINARY {
            let fast = parse_render_fast(body.as_bytes()).unwrap_or_else(|| panic!("not fast: {body}"));
            assert_eq!(Ok(fast), general(body), "{body}");
        }
    }

    #[test]
    fn unusual_requests_are_left_to_the_general_path() {
        for body in UNUSUAL {
            assert_eq!(parse_render_fast(body.as_bytes()), None, "{body}");
        }
        assert_eq!(parse_render_fast(b"{\"template_id\":\"tmpl_x\",\"merge_parameters\":{\"a\":\"\xff\"}}"), None);
    }

    #[test]
    fn the_fast_path_never_accepts_what_the_general_path_refuses() {
        // Every prefix of every body, and every body with one byte changed: whenever the fast path gives a
        // render, the general path gives the same one.
        let mut checked = 0;
        for body in ORDINARY.iter().chain(UNUSUAL) {
            let bytes = body.as_bytes();
            let mut variants: Vec<Vec<u8>> = (0..bytes.len()).map(|n| bytes[..n].to_vec()).collect();
            for i in 0..bytes.len() {
                for b in [b'"', b'{', b'}', b',', b'1', b' ', b'\\', b'[', b'n'] {
                    let mut v = bytes.to_vec();
                    v[i] = b;
                    variants.push(v);
                }
            }
            for v in variants {
                if let Some(fast) = parse_render_fast(&v) {
                    let text = std::str::from_utf8(&v).unwrap();
                    assert_eq!(Ok(fast), general(text), "{text}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "only {checked} variants took the fast path");
    }
}
