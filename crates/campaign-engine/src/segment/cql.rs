//! CQL inside the segment model: a [`Query`] converted into the [`Segment`] that selects the same users, and the
//! `"cql"` leaf that keeps the query as written.

use serde_json::Value;

use crate::field_error::FieldError;
use crate::query::Query;

use super::{EventRule, Segment, Window};

impl From<&Query> for Segment {
    /// `all` of the query's profile filters and, with a base query, `did` the event `between` its `from` and
    /// `to` with its event filters. A query without filters is `{"all": []}`: everyone. Filter groups a query
    /// accepts but does not evaluate ([`Query::unsupported_filters`]) are left out here too.
    fn from(query: &Query) -> Segment {
        let mut all: Vec<Segment> = query.profile_filters().iter().cloned().map(Segment::Profile).collect();
        if let (Some(event), Some((from, to))) = (query.event_name(), query.window()) {
            let rule = EventRule::new(event, Window::Between(from, to), query.event_filters().to_vec());
            all.push(Segment::Did { rule, measure: None });
        }
        Segment::All(all)
    }
}

/// A CQL query used as a segment leaf (`{"cql": {...}}`): evaluated as the segment it converts into, written
/// back as it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Cql {
    json: Value,
    query: Query,
    segment: Box<Segment>,
}

impl Cql {
    /// Reads a CQL query ([`Query::parse`]); errors name the field inside the query.
    pub fn parse(json: &Value) -> Result<Cql, FieldError> {
        let query = Query::parse(json)?;
        Ok(Cql { json: json.clone(), segment: Box::new(Segment::from(&query)), query })
    }

    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The query as it was given.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// What the query selects, as a segment.
    pub fn segment(&self) -> &Segment {
        &self.segment
    }
}
