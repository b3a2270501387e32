//! Inkit's list envelope (`items`, `metadata.pagination`, `metadata.sort`) and the common list parameters
//! `page`, `page_size`, `sort` (`-` for descending) and `search`.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::error::ApiError;

/// The largest `page_size` the API accepts. Inkit's is undocumented; 100 is the published third-party
/// figure, and the admin History allows more so a dashboard can show a long run.
pub const MAX_PAGE_SIZE: usize = 100;
pub const MAX_ADMIN_PAGE_SIZE: usize = 1000;
pub const DEFAULT_PAGE_SIZE: usize = 25;

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub page: usize,
    pub page_size: usize,
    pub sort_key: String,
    pub descending: bool,
    /// Lower-cased.
    pub search: Option<String>,
    /// All query parameters, with `data_x` spelled `data-x` (the SDKs send `data-id`; people type either).
    pub params: HashMap<String, String>,
}

impl ListQuery {
    /// Parses and validates the list parameters; `sortable` are the keys `sort` may name.
    pub fn parse(raw: HashMap<String, String>, sortable: &[&str], max_page_size: usize) -> Result<Self, ApiError> {
        let params: HashMap<String, String> = raw
            .into_iter()
            .map(|(k, v)| match k.strip_prefix("data_") {
                Some(rest) => (format!("data-{rest}"), v),
                None => (k, v),
            })
            .collect();
        let number = |key: &str, default: usize, max: usize| -> Result<usize, ApiError> {
            match params.get(key).map(|s| s.trim()) {
                None | Some("") => Ok(default),
                Some(s) => match s.parse::<usize>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => {
                        Err(ApiError::invalid(key, format!("{key} must be a whole number from 1 to {max}, not {s:?}")))
                    }
                },
            }
        };
        let page = number("page", 1, usize::MAX)?;
        let page_size = number("page_size", DEFAULT_PAGE_SIZE, max_page_size)?;
        let (sort_key, descending) = match params.get("sort").map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => ("created_at".to_owned(), true),
            Some(s) => {
                let (key, desc) = match s.strip_prefix('-') {
                    Some(k) => (k, true),
                    None => (s.strip_prefix('+').unwrap_or(s), false),
                };
                if !sortable.contains(&key) {
                    return Err(ApiError::invalid(
                        "sort",
                        format!("sort must be one of {} (prefix - for descending), not {s:?}", sortable.join(", ")),
                    ));
                }
                (key.to_owned(), desc)
            }
        };
        let search = params.get("search").map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        Ok(Self { page, page_size, sort_key, descending, search, params })
    }

    /// A parameter's value, if given and not blank.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// A comma-separated parameter such as `data-id=rend_1,rend_2`.
    pub fn list_param(&self, key: &str) -> Option<Vec<&str>> {
        self.param(key).map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
    }

    /// Sorts `items` by the requested key; `value` gives an item's value for a key.
    pub fn sort<T>(&self, items: &mut [T], value: impl for<'a> Fn(&'a T, &str) -> SortValue<'a>) {
        items.sort_by(|a, b| {
            let o = value(a, &self.sort_key).cmp(&value(b, &self.sort_key));
            if self.descending { o.reverse() } else { o }
        });
    }

    /// One page of `items` (already filtered and sorted) in the envelope.
    pub fn page<T>(&self, items: &[T], show: impl Fn(&T) -> Value) -> Value {
        let total = items.len();
        let start = (self.page - 1).saturating_mul(self.page_size).min(total);
        let end = start.saturating_add(self.page_size).min(total);
        let shown: Vec<Value> = items[start..end].iter().map(show).collect();
        self.envelope(shown, total)
    }

    pub fn envelope(&self, items: Vec<Value>, total: usize) -> Value {
        let page_count = total.div_ceil(self.page_size);
        json!({
            "items": items,
            "metadata": {
                "pagination": {
                    "page_size": self.page_size,
                    "current_page": self.page,
                    "next_page": if self.page < page_count { self.page + 1 } else { 0 },
                    "prev_page": self.page - 1,
                    "page_count": page_count,
                    "total_count": total,
                },
                "sort": {"key": self.sort_key, "order": if self.descending { -1 } else { 1 }},
            }
        })
    }
}

/// A value to sort by; missing values sort first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortValue<'a> {
    None,
    Num(i128),
    Text(&'a str),
}

impl<'a> SortValue<'a> {
    pub fn text(s: Option<&'a str>) -> Self {
        s.map_or(SortValue::None, SortValue::Text)
    }
}

/// Compares two optional texts case-insensitively (for `search`-like filters).
pub fn contains_ci(haystack: Option<&str>, needle: &str) -> bool {
    haystack.is_some_and(|h| h.to_lowercase().contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
        let raw = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ListQuery::parse(raw, &["created_at", "name"], MAX_PAGE_SIZE)
    }

    #[test]
    fn defaults_are_page_1_of_25_newest_first() {
        let q = query(&[]).unwrap();
        assert_eq!((q.page, q.page_size, q.sort_key.as_str(), q.descending), (1, 25, "created_at", true));
    }

    #[test]
    fn bad_page_size_and_sort_key_name_the_parameter() {
        assert_eq!(query(&[("page_size", "0")]).unwrap_err().field.as_deref(), Some("page_size"));
        assert_eq!(query(&[("page_size", "101")]).unwrap_err().field.as_deref(), Some("page_size"));
        assert_eq!(query(&[("page", "x")]).unwrap_err().field.as_deref(), Some("page"));
        assert_eq!(query(&[("sort", "-color")]).unwrap_err().field.as_deref(), Some("sort"));
    }

    #[test]
    fn data_underscore_keys_are_read_as_data_dash() {
        let q = query(&[("data_id", "rend_1, rend_2")]).unwrap();
        assert_eq!(q.list_param("data-id").unwrap(), ["rend_1", "rend_2"]);
    }

    #[test]
    fn the_envelope_counts_pages() {
        let q = query(&[("page", "2"), ("page_size", "2")]).unwrap();
        let v = q.page(&[1, 2, 3, 4, 5], |n| json!(n));
        assert_eq!(v["items"], json!([3, 4]));
        let p = &v["metadata"]["pagination"];
        assert_eq!(
            (p["page_count"].as_u64(), p["next_page"].as_u64(), p["prev_page"].as_u64()),
            (Some(3), Some(3), Some(1))
        );
        assert_eq!(v["metadata"]["sort"], json!({"key": "created_at", "order": -1}));
    }
}
