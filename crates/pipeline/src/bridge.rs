//! Between the engine and the dispatcher: a campaign's content registered with the dispatcher the first
//! time one of its deliveries is handed over, the engine's deliveries turned into the dispatcher's, and
//! every final outcome told back to the engine, whose reports and `Webhook Delivered` events follow; after a
//! restart, the outcomes the outbox kept are handed to the engine as it opens ([`settled_outcomes`]).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use campaign_engine::Engine;
use campaign_engine::campaign::Campaign;
use campaign_engine::campaign::content::{BodyFormat, Content as EngineContent};
use campaign_engine::delivery::Delivery as EngineDelivery;
use campaign_engine::runner::{Outcome, SettledOutcome};
use clock::Clock;
use webhook_dispatcher::body::ContentFormat;
use webhook_dispatcher::delivery::{Delivery, DeliveryState};
use webhook_dispatcher::dispatcher::{CampaignContent, DispatchError, Dispatcher, OutcomeSink};
use webhook_dispatcher::outbox::{Outbox, OutboxError};
use webhook_dispatcher::payload::ProfileFields;
use webhook_dispatcher::webhook::Content;

/// The engine, shared by the API, the bridge and the pipeline's loop.
pub type SharedEngine = Arc<Mutex<Engine>>;

/// Locks the engine; a panic elsewhere while it was held leaves it usable (each operation is complete or
/// not started).
pub fn lock(engine: &SharedEngine) -> MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The dispatcher's form of a campaign's content.
pub fn campaign_content(campaign: &Campaign) -> CampaignContent {
    let content = match &campaign.content {
        EngineContent::CustomBody { body, format } => Content::CustomBody {
            source: body.clone(),
            format: match format {
                BodyFormat::Json => ContentFormat::Json,
                BodyFormat::Text => ContentFormat::Text,
            },
        },
        EngineContent::KeyValues { key_values } => {
            Content::KeyValues { key_values: key_values.clone(), fields: ProfileFields::default() }
        }
    };
    CampaignContent {
        campaign_id: campaign.id,
        name: campaign.name.clone(),
        webhook: campaign.webhook.clone(),
        content,
    }
}

/// The dispatcher's form of an engine delivery.
pub fn dispatcher_delivery(d: EngineDelivery) -> Delivery {
    Delivery {
        id: d.id,
        trace_id: d.trace_id,
        object_id: d.object_id,
        identity: d.identity,
        webhook: d.webhook,
        campaign_id: d.campaign_id,
        campaign_name: d.campaign_name,
        profile: d.profile,
        event: d.event,
        created_at: d.created_at,
    }
}

/// The engine's word for a delivery's final state (`None` while it is pending).
pub fn engine_outcome(state: &DeliveryState) -> Option<Outcome> {
    match state {
        DeliveryState::Delivered { .. } => Some(Outcome::Delivered),
        DeliveryState::DeadLetter { reason, .. } => Some(Outcome::Failed(reason.clone())),
        DeliveryState::NotSent { reason, .. } => Some(Outcome::NotSent(reason.clone())),
        DeliveryState::Pending { .. } => None,
    }
}

/// Every outcome the outbox keeps, with its instant, for the engine to settle again while it replays its
/// journal (`Engine::open_with_account`): the reports after a restart are those before it.
pub fn settled_outcomes(outbox: &dyn Outbox) -> Result<Vec<SettledOutcome>, OutboxError> {
    Ok(outbox
        .final_states()?
        .into_iter()
        .filter_map(|(delivery_id, state)| {
            let at = match &state {
                DeliveryState::Delivered { at, .. }
                | DeliveryState::DeadLetter { at, .. }
                | DeliveryState::NotSent { at, .. } => *at,
                DeliveryState::Pending { .. } => return None,
            };
            Some(SettledOutcome { delivery_id, outcome: engine_outcome(&state)?, at })
        })
        .collect())
}

/// Hands the engine's deliveries to the dispatcher.
pub struct Bridge {
    engine: SharedEngine,
    dispatcher: Arc<Dispatcher>,
    /// Campaigns whose content the dispatcher has.
    registered: Mutex<HashSet<u64>>,
    /// Rung when the engine may have new deliveries due now (see [`Bridge::engine_changed`]).
    changed: tokio::sync::Notify,
}

impl Bridge {
    pub fn new(engine: SharedEngine, dispatcher: Arc<Dispatcher>) -> Self {
        Bridge { engine, dispatcher, registered: Mutex::new(HashSet::new()), changed: tokio::sync::Notify::new() }
    }

    /// Says the engine may have deliveries due now (an upload or a campaign came in), so the real-time
    /// hand-over looks at once instead of at its next look (up to 50 ms later).
    pub fn engine_changed(&self) {
        self.changed.notify_one();
    }

    /// Waits until [`Bridge::engine_changed`] is called (at once if it was called since the last wait).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Registers (or re-registers, after an edit) a campaign's content with the dispatcher: a body that
    /// does not compile is refused here, with its line and column.
    pub fn register(&self, campaign: &Campaign) -> Result<(), DispatchError> {
        self.dispatcher.add_campaign(campaign_content(campaign))?;
        self.registered.lock().unwrap_or_else(|p| p.into_inner()).insert(campaign.id);
        Ok(())
    }

    /// Takes every delivery the engine has made by now and hands it to the dispatcher. A delivery whose
    /// campaign the dispatcher cannot take (its body does not compile, its webhook is gone) is settled at
    /// once as not sent, with the reason, so the report still adds up. Returns how many were handed over.
    pub fn pump(&self) -> Result<usize, DispatchError> {
        let (deliveries, campaigns) = {
            let mut engine = lock(&self.engine);
            let deliveries = engine.take_deliveries();
            let registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
            let mut new: Vec<Campaign> = Vec::new();
            for d in &deliveries {
                if !registered.contains(&d.campaign_id) && !new.iter().any(|c| c.id == d.campaign_id) {
                    new.extend(engine.campaign(d.campaign_id).cloned());
                }
            }
            (deliveries, new)
        };
        let mut refused: Vec<(u64, String)> = Vec::new();
        for campaign in &campaigns {
            if let Err(e) = self.register(campaign) {
                refused.push((campaign.id, e.to_string()));
            }
        }
        let (sendable, unsendable): (Vec<_>, Vec<_>) =
            deliveries.into_iter().partition(|d| !refused.iter().any(|(id, _)| *id == d.campaign_id));
        if !unsendable.is_empty() {
            let mut engine = lock(&self.engine);
            for d in unsendable {
                let reason = refused.iter().find(|(id, _)| *id == d.campaign_id).map(|(_, r)| r.clone());
                engine.settle(&d.id, &Outcome::NotSent(reason.unwrap_or_default()));
            }
        }
        let count = sendable.len();
        if count > 0 {
            self.dispatcher.submit(sendable.into_iter().map(dispatcher_delivery).collect())?;
        }
        Ok(count)
    }
}

/// Figures of the deliveries settled so far, for summaries and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct Settled {
    pub delivered: u64,
    pub failed: u64,
    pub not_sent: u64,
    /// Settled after more than one attempt.
    pub retried: u64,
    /// From the engine making the delivery to its final answer, in milliseconds, in the order settled.
    pub latencies_ms: Vec<f64>,
}

impl Settled {
    pub fn total(&self) -> u64 {
        self.delivered + self.failed + self.not_sent
    }

    /// The latency at percentile `p` (0 to 100), by nearest rank.
    pub fn latency_percentile(&self, p: f64) -> Option<f64> {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
    }
}

/// Tells the engine each delivery's final state, and keeps the figures.
pub struct EngineSink {
    engine: SharedEngine,
    clock: Arc<dyn Clock>,
    settled: Mutex<Settled>,
}

impl EngineSink {
    pub fn new(engine: SharedEngine, clock: Arc<dyn Clock>) -> Self {
        EngineSink { engine, clock, settled: Mutex::new(Settled::default()) }
    }

    /// The figures so far.
    pub fn settled(&self) -> Settled {
        self.settled.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl OutcomeSink for EngineSink {
    fn settled(&self, delivery: &Delivery, state: &DeliveryState, attempts: u32) {
        let Some(outcome) = engine_outcome(state) else { return };
        {
            let mut settled = self.settled.lock().unwrap_or_else(|p| p.into_inner());
            match outcome {
                Outcome::Delivered => settled.delivered += 1,
                Outcome::Failed(_) => settled.failed += 1,
                Outcome::NotSent(_) => settled.not_sent += 1,
            }
            if attempts > 1 {
                settled.retried += 1;
            }
            let latency = self.clock.now().duration_since(delivery.created_at).as_secs_f64() * 1000.0;
            settled.latencies_ms.push(latency.max(0.0));
        }
        lock(&self.engine).settle(&delivery.id, &outcome);
    }
}
