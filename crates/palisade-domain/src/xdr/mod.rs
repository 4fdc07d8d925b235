//! Microsoft Defender XDR (`https://api.security.microsoft.com/api/...`): one module per API
//! family, as under [`crate::mde`]. [`incidents`]: incidents over the tenant's MDE alerts;
//! [`hunting`]: advanced hunting (also served as Defender for Endpoint's advanced queries);
//! [`hunting_data`]: the hunting tables' rows for demo and seeded tenants.

pub mod hunting;
pub mod hunting_data;
pub mod incidents;

use crate::{Core, DomainResult};
use chrono::{DateTime, Utc};
use hunting_data::HuntingRows;
use palisade_model::entities::{Alert, Machine};

/// Background process events of the demo tenant (plus the other event tables in
/// [`hunting_data::background_mix`] proportions).
pub const DEMO_PROCESS_EVENTS: u64 = 1_000;

impl Core {
    /// Appends generated hunting rows to a tenant's tables.
    pub fn append_hunting_rows(&self, tenant_id: &str, rows: &HuntingRows) -> DomainResult<()> {
        for (table, rows) in &rows.tables {
            self.store.append_hunting_rows(tenant_id, table, rows)?;
        }
        Ok(())
    }

    /// The hunting rows machines and alerts imply (device snapshots reported at `at`; alert and
    /// evidence rows at the alerts' times), appended to the tenant's tables. Called wherever
    /// machines or alerts are created or loaded, so the tables stay consistent with them.
    pub(crate) fn record_hunting_entities(
        &self,
        tenant_id: &str,
        machines: &[Machine],
        alerts: &[Alert],
        at: DateTime<Utc>,
    ) -> DomainResult<()> {
        let mut rows = HuntingRows::default();
        hunting_data::machine_rows(machines, at, &mut rows);
        hunting_data::alert_rows(alerts, &mut rows);
        self.append_hunting_rows(tenant_id, &rows)
    }

    /// Background events `first..first+count` of a population of `process_events` process events
    /// (and the other tables in proportion, [`hunting_data::background_mix`]) on `machines`.
    pub fn seed_hunting_events(
        &self,
        tenant_id: &str,
        machines: &[Machine],
        seed: u64,
        process_events: u64,
        first: u64,
        count: u64,
    ) -> DomainResult<u64> {
        let activity = hunting_data::Activity {
            machines,
            seed,
            now: self.clock.now(),
        };
        let mut rows = HuntingRows::default();
        for (table, total) in hunting_data::background_mix(process_events) {
            // Each table's share of this batch, in proportion.
            let share = |at: u64| {
                (at.min(process_events) * total)
                    .checked_div(process_events)
                    .unwrap_or(0)
            };
            let (from, to) = (share(first), share(first + count));
            hunting_data::background_events(&activity, table, total, from, to - from, &mut rows);
        }
        self.append_hunting_rows(tenant_id, &rows)?;
        Ok(rows.len() as u64)
    }
}

impl Core {
    /// The demo population's hunting rows: device snapshots, alert rows and evidence events,
    /// accounts, and [`DEMO_PROCESS_EVENTS`] of background activity.
    pub(crate) fn record_demo_hunting(
        &self,
        tenant_id: &str,
        data: &crate::control::demo::DemoData,
    ) -> DomainResult<()> {
        let now = self.clock.now();
        let mut rows = HuntingRows::default();
        hunting_data::machine_rows(&data.machines, now, &mut rows);
        hunting_data::alert_rows(&data.alerts, &mut rows);
        hunting_data::user_rows(&data.users, tenant_id, now, &mut rows);
        self.append_hunting_rows(tenant_id, &rows)?;
        self.seed_hunting_events(
            tenant_id,
            &data.machines,
            42,
            DEMO_PROCESS_EVENTS,
            0,
            DEMO_PROCESS_EVENTS,
        )?;
        Ok(())
    }
}

/// The data document's property holding hunting rows, by table.
pub const HUNTING: &str = "hunting";

/// Removes and checks the data document's `hunting` property (before the entities are checked):
/// `None` when the document has none.
pub(crate) fn take_hunting(document: &mut serde_json::Value) -> DomainResult<Option<HuntingRows>> {
    let Some(value) = document.as_object_mut().and_then(|d| d.remove(HUNTING)) else {
        return Ok(None);
    };
    if value.is_null() {
        return Ok(None);
    }
    hunting_data::rows_from_document(&value)
        .map(Some)
        .map_err(|why| palisade_error::ApiError::invalid_request_body(why, "data document validation").into())
}

impl Core {
    /// Hunting rows of a loaded document. With a `hunting` property its rows are taken as they are
    /// (so an export loads back exactly, without the rows its machines and alerts imply twice);
    /// without one, the loaded machines and alerts bring their rows as everywhere else. Answers how
    /// many rows were written when the document had hunting rows.
    pub(crate) fn load_hunting(
        &self,
        tenant_id: &str,
        hunting: Option<HuntingRows>,
        machines: &[serde_json::Value],
        alerts: &[serde_json::Value],
    ) -> DomainResult<Option<u64>> {
        if let Some(rows) = hunting {
            self.append_hunting_rows(tenant_id, &rows)?;
            return Ok(Some(rows.len() as u64));
        }
        fn decode<T: serde::de::DeserializeOwned>(
            docs: &[serde_json::Value],
        ) -> Result<Vec<T>, palisade_store::StoreError> {
            docs.iter()
                .map(|d| serde_json::from_value(d.clone()).map_err(palisade_store::StoreError::from))
                .collect()
        }
        let machines: Vec<Machine> = decode(machines)?;
        let alerts: Vec<Alert> = decode(alerts)?;
        self.record_hunting_entities(tenant_id, &machines, &alerts, self.clock.now())?;
        Ok(None)
    }

    /// Every hunting row of a tenant, by table (tables without rows left out), in the data
    /// document's shape. Read through the engine, whole: exports hold everything anyway.
    pub(crate) fn export_hunting(&self, tenant_id: &str) -> DomainResult<serde_json::Value> {
        let everything = hunting::HuntingSettings {
            max_rows: usize::MAX,
            timeout: std::time::Duration::from_secs(3600),
            max_result_bytes: usize::MAX,
            lookback: std::time::Duration::from_secs(100 * 365 * 24 * 3600),
        };
        let mut tables = serde_json::Map::new();
        for schema in &palisade_kql::Catalog::defender_hunting_shared().tables {
            if self.store.count_hunting_rows(tenant_id, &schema.name)? == 0 {
                continue;
            }
            let mut result = self.hunting_query(tenant_id, &schema.name, &everything)?;
            // In value order, whatever order the store reads them in, so exports compare equal.
            result.rows.sort_by(|a, b| {
                a.iter()
                    .zip(b)
                    .map(|(x, y)| palisade_kql::total_cmp(x, y))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            tables.insert(
                schema.name.clone(),
                hunting_data::rows_to_document(&schema.name, &result.rows),
            );
        }
        Ok(serde_json::Value::Object(tables))
    }
}

impl Core {
    /// A tenant's machines, for generating events on them (`palisade seed --events`); refuses an
    /// unknown tenant.
    pub fn machines_of(&self, tenant_id: &str) -> DomainResult<Vec<Machine>> {
        if self.store.find_tenant(tenant_id)?.is_none() {
            return Err(palisade_error::ApiError::resource_not_found("Tenant", tenant_id).into());
        }
        let docs = self.store.query_docs(
            palisade_model::schemas::MACHINE_TABLE,
            tenant_id,
            &palisade_odata::Query::default(),
            0,
            u64::MAX,
        )?;
        docs.iter()
            .map(|d| serde_json::from_str(d).map_err(|e| palisade_store::StoreError::from(e).into()))
            .collect()
    }
}
