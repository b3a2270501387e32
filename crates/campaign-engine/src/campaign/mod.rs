//! Webhook campaigns: who (a segment, control group, targeting cap), what (the content), when (a schedule
//! or a live trigger) and how often (limits, caps, DND, throttle), with their lifecycle.

pub mod audience;
pub mod content;
pub mod lifecycle;
pub mod limits;
pub mod live;
pub mod throttle;
