//! Saved segments: segments kept under an id so that others can include or exclude them. Every reference must
//! name a saved segment when it is read or saved, and saved segments never refer to each other in a cycle.

use std::collections::{BTreeMap, BTreeSet};

use crate::field_error::FieldError;

use super::Segment;
use super::parse::join;

/// One saved segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedSegment {
    /// The name people see; several segments may share one.
    pub name: String,
    pub segment: Segment,
}

/// The saved segments by id. Only [`SavedSegments::save`] adds or changes one, and it refuses references to
/// unknown ids and cycles, so every saved segment resolves to a finite tree.
#[derive(Debug, Clone, Default)]
pub struct SavedSegments {
    by_id: BTreeMap<String, SavedSegment>,
}

impl SavedSegments {
    pub fn new() -> SavedSegments {
        SavedSegments::default()
    }

    pub fn get(&self, id: &str) -> Option<&SavedSegment> {
        self.by_id.get(id)
    }

    /// Every saved segment, by id in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SavedSegment)> {
        self.by_id.iter().map(|(id, saved)| (id.as_str(), saved))
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Checks that every `include_segment` / `exclude_segment` in `segment` names a saved segment; the error
    /// names the field (`all[1].include_segment`). [`Segment::parse`] does this; call it for a segment
    /// deserialized with serde or built in code.
    pub fn check(&self, segment: &Segment) -> Result<(), FieldError> {
        for (path, id) in references(segment) {
            if !self.by_id.contains_key(id) {
                return Err(FieldError::new(path, format!("no saved segment has id {id:?}{}", self.known())));
            }
        }
        Ok(())
    }

    /// Saves `segment` under `id` (replacing what was saved there). Refused, naming the field, when a reference
    /// names an unknown segment, the segment itself, or a segment that leads back to it.
    pub fn save(&mut self, id: &str, name: &str, segment: Segment) -> Result<(), FieldError> {
        if id.trim().is_empty() {
            return Err(FieldError::new("id", "must be a non-empty string"));
        }
        for (path, reference) in references(&segment) {
            if reference == id {
                return Err(FieldError::new(path, format!("segment {id:?} cannot include or exclude itself")));
            }
            if !self.by_id.contains_key(reference) {
                return Err(FieldError::new(path, format!("no saved segment has id {reference:?}{}", self.known())));
            }
            let mut chain = Vec::new();
            if self.leads_to(reference, id, &mut chain, &mut BTreeSet::new()) {
                let cycle: Vec<String> =
                    std::iter::once(id).chain(chain.iter().copied()).chain([id]).map(|s| format!("{s:?}")).collect();
                return Err(FieldError::new(
                    path,
                    format!("refers back to {id:?}: {}; saved segments cannot form a cycle", cycle.join(" -> ")),
                ));
            }
        }
        self.by_id.insert(id.to_owned(), SavedSegment { name: name.to_owned(), segment });
        Ok(())
    }

    /// Whether the saved segment `from` refers, directly or not, to `target`; `chain` is then the ids on the way
    /// from `from` (included) to `target` (excluded).
    fn leads_to<'a>(
        &'a self,
        from: &'a str,
        target: &str,
        chain: &mut Vec<&'a str>,
        seen: &mut BTreeSet<&'a str>,
    ) -> bool {
        if from == target {
            return true;
        }
        if !seen.insert(from) {
            return false;
        }
        chain.push(from);
        if let Some(saved) = self.by_id.get(from) {
            for (_, next) in references(&saved.segment) {
                if self.leads_to(next, target, chain, seen) {
                    return true;
                }
            }
        }
        chain.pop();
        false
    }

    /// The ids there are, for messages.
    fn known(&self) -> String {
        const SHOWN: usize = 10;
        if self.by_id.is_empty() {
            return "; there are no saved segments".to_owned();
        }
        let ids: Vec<String> = self.by_id.keys().take(SHOWN).map(|id| format!("{id:?}")).collect();
        let more =
            if self.by_id.len() > SHOWN { format!(" and {} more", self.by_id.len() - SHOWN) } else { String::new() };
        format!("; the saved segments are {}{more}", ids.join(", "))
    }
}

/// Every `include_segment` / `exclude_segment` of a segment with the JSON path of its field, in document order.
/// CQL leaves hold none.
pub(crate) fn references(segment: &Segment) -> Vec<(String, &str)> {
    fn walk<'a>(segment: &'a Segment, path: &str, out: &mut Vec<(String, &'a str)>) {
        match segment {
            Segment::All(children) | Segment::Any(children) => {
                let key = if matches!(segment, Segment::All(_)) { "all" } else { "any" };
                for (i, child) in children.iter().enumerate() {
                    walk(child, &join(path, &format!("{key}[{i}]")), out);
                }
            }
            Segment::IncludeSegment(id) => out.push((join(path, "include_segment"), id)),
            Segment::ExcludeSegment(id) => out.push((join(path, "exclude_segment"), id)),
            Segment::Did { .. } | Segment::DidNot(_) | Segment::Profile(_) | Segment::Cql(_) => {}
        }
    }
    let mut out = Vec::new();
    walk(segment, "", &mut out);
    out
}
