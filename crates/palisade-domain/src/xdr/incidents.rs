//! Defender XDR incidents (`shared/reference/xdr-api-and-auth.md` §2.6): list with OData, get,
//! update, and the one truth they share with Defender for Endpoint's alerts.
//!
//! The domain API is neutral: [`Incident`] is the stored [`IncidentRecord`] with the MDE alerts
//! and machines it groups, [`IncidentPatch`] the triage change as sent, and [`IncidentApi`] says
//! which API's roles apply. Each API renders an [`Incident`] its own way (XDR through
//! [`palisade_model::entities::XdrIncident`]; Graph's `security/incidents` likewise).
//!
//! # One truth with MDE
//! - An incident groups alerts: alerts keep their `incidentId`, the incident table keeps the rest,
//!   and an incident's `alerts` are read live from the alerts table. Every write that creates or
//!   moves an alert keeps its `incidentId` naming a stored incident (demo data, `seed`, the data
//!   loader and `CreateAlertByReference` all go through [`Core::settle_incidents`]).
//! - **Grouping** (the docs are silent): a new alert joins the most recently created open
//!   (`Active`/`InProgress`) incident holding an alert on the same machine created within
//!   [`GROUPING_WINDOW_HOURS`] hours before it; otherwise it opens a new incident.
//! - **Resolved**: resolving an incident resolves its open alerts; an incident whose alerts are all
//!   resolved reads as `Resolved`; when one of them reopens (an alert PATCH, or a new alert
//!   joining), the incident is `Active` again. Setting a resolved incident `Active`/`InProgress`
//!   reopens its alerts (`New`/`InProgress`), since otherwise it would read as resolved at once.
//! - Every alert change moves its incident's `lastUpdateTime`, so a SIEM polling incidents by
//!   `lastUpdateTime` sees alert triage too. `severity` is the highest of the alerts'.
//! - **Merging** (no public operation; [`Core::merge_incidents`] behind the admin API): the
//!   source's alerts move to the target, the source becomes `Redirected` with
//!   `redirectIncidentId` naming the target.

use crate::listing::Page;
use crate::{Core, DomainResult};
use chrono::{DateTime, TimeDelta, Utc};
use palisade_auth::Principal;
use palisade_error::{ApiError, ErrorCode};
use palisade_model::entities::{
    Alert, AlertStatus, IncidentClassification, IncidentComment, IncidentDetermination, IncidentRecord,
    IncidentSeverity, IncidentStatus, Machine, XdrIncident,
};
use palisade_model::schemas::{ALERTS, ALERT_TABLE, INCIDENTS, INCIDENT_TABLE, MACHINES, MACHINE_TABLE};
use palisade_model::time::Timestamp;
use palisade_odata::{CmpOp, EntitySchema, Expr, Literal, Operand, OrderKey, Query};
use palisade_store::StoreError;
use std::collections::{BTreeMap, BTreeSet};

/// How far back a new alert looks for an open incident on its machine to join.
pub const GROUPING_WINDOW_HOURS: i64 = 24;
/// The store sequence incident ids are drawn from (its meta key is `sequence:incident`).
const INCIDENT_SEQUENCE: &str = "incident";
const INCIDENT_SEQUENCE_META: &str = "sequence:incident";
/// Ids per `IN (...)` when reading the alerts or records of many incidents.
const IDS_PER_QUERY: usize = 500;

/// Why alerts of incidents were written, which decides what their incidents take from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlertChange {
    /// A load or a seed: incidents keep their own times and names.
    Loaded,
    /// An API changed alerts' triage: `lastUpdateTime` moves.
    Triaged,
    /// An alert joined: `lastUpdateTime` moves and the name is derived again from the alerts (as
    /// the portal renames an incident that grows into a multi-stage one).
    Joined,
}

/// Which API an incident operation serves: it decides the roles checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentApi {
    /// `https://api.security.microsoft.com/api/incidents`.
    Xdr,
    /// Microsoft Graph `/v1.0/security/incidents`.
    Graph,
}

impl IncidentApi {
    pub fn read_roles(self) -> &'static [&'static str] {
        match self {
            IncidentApi::Xdr => &["Incident.Read.All", "Incident.ReadWrite.All"],
            IncidentApi::Graph => &["SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"],
        }
    }

    pub fn write_roles(self) -> &'static [&'static str] {
        match self {
            IncidentApi::Xdr => &["Incident.ReadWrite.All"],
            IncidentApi::Graph => &["SecurityIncident.ReadWrite.All"],
        }
    }
}

/// An incident: its record and the alerts it groups (oldest first), with their machines.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub record: IncidentRecord,
    pub alerts: Vec<Alert>,
    /// The machines of the alerts that still exist, each once.
    pub machines: Vec<Machine>,
}

impl Incident {
    /// The XDR API's rendering.
    pub fn to_xdr(&self, tenant_id: &str) -> XdrIncident {
        XdrIncident::render(&self.record, tenant_id, &self.alerts, &self.machines)
    }
}

/// One page of incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentPage {
    pub incidents: Vec<Incident>,
    /// The total when the query asked for it (`$count=true`).
    pub count: Option<u64>,
    /// The `$skip` of the next page when more remain.
    pub next_skip: Option<u64>,
}

/// The triage change of an update, as sent (validated here, so every API names bad values the
/// same way). `None` keeps the current value. Enum values match case-insensitively in every
/// spelling the pages use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentPatch {
    pub status: Option<String>,
    /// `""` unassigns (a production client sends it).
    pub assigned_to: Option<String>,
    pub classification: Option<String>,
    pub determination: Option<String>,
    /// Replaces the tag list.
    pub tags: Option<Vec<String>>,
    /// Appended to `comments`.
    pub comment: Option<String>,
    /// Graph's `description`; `""` clears it.
    pub description: Option<String>,
}

struct ValidPatch {
    status: Option<IncidentStatus>,
    assigned_to: Option<String>,
    classification: Option<IncidentClassification>,
    determination: Option<IncidentDetermination>,
    tags: Option<Vec<String>>,
    comment: Option<String>,
    description: Option<String>,
}

impl IncidentPatch {
    fn validate(&self) -> Result<ValidPatch, ApiError> {
        if let Some(c) = self.comment.as_deref().filter(|c| c.trim().is_empty()) {
            return Err(ApiError::invalid_input(
                format!("comment '{c}'; a comment must not be empty"),
                "empty incident comment",
            ));
        }
        let status = self
            .status
            .as_deref()
            .map(|s| IncidentStatus::parse_input("status", s))
            .transpose()?;
        if status == Some(IncidentStatus::Redirected) {
            return Err(ApiError::invalid_input(
                "status 'Redirected'; an incident becomes Redirected when it is merged into another \
                 (Palisade: POST /_palisade/tenants/{tenant}/incidents/{id}/merge)",
                "PATCH to Redirected (no merge target)",
            ));
        }
        Ok(ValidPatch {
            status,
            assigned_to: self.assigned_to.clone(),
            classification: self
                .classification
                .as_deref()
                .map(|s| IncidentClassification::parse_input("classification", s))
                .transpose()?,
            determination: self
                .determination
                .as_deref()
                .map(|s| IncidentDetermination::parse_input("determination", s))
                .transpose()?,
            tags: self.tags.clone(),
            comment: self.comment.clone(),
            description: self.description.clone(),
        })
    }
}

impl ValidPatch {
    fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.assigned_to.is_none()
            && self.classification.is_none()
            && self.determination.is_none()
            && self.tags.is_none()
            && self.comment.is_none()
            && self.description.is_none()
    }
}

/// The incident id of a path: an integer, else `InvalidInput`.
pub fn parse_incident_id(id: &str) -> Result<i64, ApiError> {
    id.trim().parse::<i64>().map_err(|_| {
        ApiError::invalid_input(
            format!("incident id '{id}'; an incident id is an integer such as 924565"),
            "non-numeric incident id",
        )
    })
}

fn not_found(id: i64) -> ApiError {
    ApiError::resource_not_found("Incident", &id.to_string())
}

fn property(schema: &'static EntitySchema, name: &str) -> &'static palisade_odata::Property {
    schema
        .property(name)
        .unwrap_or_else(|| panic!("{} has no property {name}", schema.entity))
}

/// `<name> in (ids)` on an Int property.
fn int_in(schema: &'static EntitySchema, name: &str, ids: &[i64]) -> Expr {
    Expr::In {
        left: Operand::Property(property(schema, name)),
        values: ids.iter().map(|id| Literal::Int(*id)).collect(),
    }
}

/// Most recent first: the documented order of the list.
fn most_recent_first() -> Vec<OrderKey> {
    vec![
        OrderKey {
            property: property(&INCIDENTS, "createdTime"),
            descending: true,
        },
        OrderKey {
            property: property(&INCIDENTS, "incidentId"),
            descending: true,
        },
    ]
}

fn is_resolved(alert: &Alert) -> bool {
    alert.status == AlertStatus::Resolved
}

fn severity_of(alerts: &[Alert]) -> Option<IncidentSeverity> {
    alerts
        .iter()
        .filter_map(|a| IncidentSeverity::parse(a.severity.as_str()))
        .max_by_key(|s| IncidentSeverity::VALUES.iter().position(|v| *v == s.as_str()))
}

/// A severity's rank (`UnSpecified` lowest, `High` highest).
fn severity_rank(severity: IncidentSeverity) -> usize {
    IncidentSeverity::VALUES
        .iter()
        .position(|v| *v == severity.as_str())
        .unwrap_or(0)
}

/// `CommandAndControl` → `Command and control`, as the portal words categories in names.
fn words(category: &str) -> String {
    let mut out = String::new();
    for (n, c) in category.chars().enumerate() {
        if c.is_ascii_uppercase() && n > 0 {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A name in the portal's style: `'<title>' on one endpoint` for one kind of alert,
/// `Multi-stage incident involving A & B on 2 endpoints` for several.
fn incident_name(alerts: &[Alert]) -> String {
    let machines: BTreeSet<&str> = alerts.iter().map(|a| a.machine_id.as_str()).collect();
    let on = match machines.len() {
        0 | 1 => "on one endpoint".to_string(),
        n => format!("on {n} endpoints"),
    };
    let mut titles: Vec<&str> = Vec::new();
    let mut categories: Vec<String> = Vec::new();
    for alert in alerts {
        if !titles.contains(&alert.title.as_str()) {
            titles.push(&alert.title);
        }
        let category = words(&alert.category);
        if !categories.contains(&category) {
            categories.push(category);
        }
    }
    match titles.as_slice() {
        [] => "Incident".to_string(),
        [title] => format!("{title} {on}"),
        _ => format!(
            "Multi-stage incident involving {} {on}",
            categories.iter().take(3).cloned().collect::<Vec<_>>().join(" & ")
        ),
    }
}

/// A new record for alerts that name an incident no record exists for.
fn derived_record(incident_id: i64, alerts: &[Alert], now: DateTime<Utc>) -> IncidentRecord {
    let created = alerts
        .iter()
        .map(|a| a.alert_creation_time)
        .min()
        .unwrap_or(Timestamp(now));
    let updated = alerts
        .iter()
        .map(|a| a.last_update_time)
        .max()
        .unwrap_or(Timestamp(now));
    IncidentRecord {
        incident_id,
        redirect_incident_id: None,
        incident_name: incident_name(alerts),
        created_time: created,
        last_update_time: updated.max(created),
        assigned_to: None,
        classification: IncidentClassification::Unknown,
        determination: IncidentDetermination::NotAvailable,
        status: if !alerts.is_empty() && alerts.iter().all(is_resolved) {
            IncidentStatus::Resolved
        } else {
            IncidentStatus::Active
        },
        severity: severity_of(alerts).unwrap_or(IncidentSeverity::Informational),
        tags: Vec::new(),
        comments: Vec::new(),
        description: None,
    }
}

/// Brings a record in line with its alerts: the highest severity, and `Resolved` exactly when
/// every alert is. Answers whether anything changed. Redirected and alert-less incidents keep
/// their state.
fn settle(record: &mut IncidentRecord, alerts: &[Alert]) -> bool {
    if record.status == IncidentStatus::Redirected || alerts.is_empty() {
        return false;
    }
    let before = (record.status, record.severity);
    if let Some(severity) = severity_of(alerts) {
        record.severity = severity;
    }
    if alerts.iter().all(is_resolved) {
        record.status = IncidentStatus::Resolved;
    } else if record.status == IncidentStatus::Resolved {
        record.status = IncidentStatus::Active;
    }
    before != (record.status, record.severity)
}

fn decode<T: serde::de::DeserializeOwned>(docs: &[String]) -> DomainResult<Vec<T>> {
    Ok(docs
        .iter()
        .map(|d| serde_json::from_str(d))
        .collect::<Result<Vec<T>, _>>()
        .map_err(StoreError::from)?)
}

impl Core {
    /// `GET /api/incidents` (and Graph's list): the page the query selects, most recent first
    /// unless it orders otherwise. `query` is parsed against [`INCIDENTS`] or any schema whose
    /// properties name the incident table's columns.
    pub fn list_incidents(
        &self,
        caller: &Principal,
        api: IncidentApi,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<IncidentPage> {
        caller.require_any(api.read_roles())?;
        let mut query = query.clone();
        if query.orderby.is_empty() {
            query.orderby = most_recent_first();
        }
        let Page { docs, count, next_skip } = self.list_page(INCIDENT_TABLE, &caller.tenant_id, &query, page_size)?;
        let records: Vec<IncidentRecord> = decode(&docs)?;
        Ok(IncidentPage {
            incidents: self.with_alerts(&caller.tenant_id, records)?,
            count,
            next_skip,
        })
    }

    /// `GET /api/incidents/{id}`.
    pub fn get_incident(&self, caller: &Principal, api: IncidentApi, id: &str) -> DomainResult<Incident> {
        caller.require_any(api.read_roles())?;
        let id = parse_incident_id(id)?;
        let record = self
            .incident_record(&caller.tenant_id, id)?
            .ok_or_else(|| not_found(id))?;
        Ok(self.with_alerts(&caller.tenant_id, vec![record])?.remove(0))
    }

    /// `PATCH /api/incidents/{id}`: see the module documentation for what a status change does
    /// to the alerts. A determination must be one the pages list under the classification (the
    /// one sent, else the current one); changing the classification drops a determination that no
    /// longer fits (`NotAvailable`). An update that sets nothing answers the incident unchanged.
    pub fn update_incident(
        &self,
        caller: &Principal,
        api: IncidentApi,
        id: &str,
        patch: &IncidentPatch,
    ) -> DomainResult<Incident> {
        caller.require_any(api.write_roles())?;
        let id = parse_incident_id(id)?;
        let valid = patch.validate()?;
        let tenant = caller.tenant_id.as_str();
        // The tenant's section: incident writes and alert writes exclude each other.
        let _section = self.tenant_section(tenant)?;
        let mut record = self.incident_record(tenant, id)?.ok_or_else(|| not_found(id))?;
        let mut alerts = self.alerts_of(tenant, &[id])?.remove(&id).unwrap_or_default();
        if valid.is_empty() {
            return self.assemble(tenant, record, alerts);
        }
        if let (Some(status), Some(target)) = (valid.status, record.redirect_incident_id) {
            if record.status == IncidentStatus::Redirected {
                return Err(ApiError::invalid_input(
                    format!(
                        "status '{status}'; incident {id} was merged into incident {target} (status Redirected): update incident {target}"
                    ),
                    "status change of a redirected incident",
                )
                .into());
            }
        }
        let classification = valid.classification.unwrap_or(record.classification);
        match valid.determination {
            Some(determination) if !determination.fits(classification) => {
                let allowed: Vec<&str> = IncidentDetermination::for_classification(classification)
                    .iter()
                    .map(|d| d.as_str())
                    .collect();
                return Err(ApiError::invalid_input(
                    format!(
                        "determination '{determination}' with classification '{classification}'; with {classification} the determination is one of: {}",
                        allowed.join(", ")
                    ),
                    "determination outside its classification",
                )
                .into());
            }
            Some(determination) => record.determination = determination,
            None if !record.determination.fits(classification) => {
                record.determination = IncidentDetermination::NotAvailable
            }
            None => {}
        }
        record.classification = classification;
        if let Some(assigned_to) = &valid.assigned_to {
            record.assigned_to = (!assigned_to.is_empty()).then(|| assigned_to.clone());
        }
        if let Some(tags) = &valid.tags {
            record.tags = tags.clone();
        }
        if let Some(description) = &valid.description {
            record.description = (!description.is_empty()).then(|| description.clone());
        }
        let now = self.clock.now();
        if let Some(comment) = &valid.comment {
            record.comments.push(IncidentComment {
                comment: comment.clone(),
                created_by: caller.app_id.clone(),
                created_time: Timestamp(now),
            });
        }
        let mut changed_alerts = Vec::new();
        if let Some(status) = valid.status {
            changed_alerts = status_to_alerts(status, &mut alerts, now);
            record.status = status;
        }
        settle(&mut record, &alerts);
        record.last_update_time = Timestamp(now);
        if !changed_alerts.is_empty() {
            let changed: Vec<Alert> = changed_alerts.iter().map(|&n| alerts[n].clone()).collect();
            self.store
                .upsert_docs(ALERT_TABLE, tenant, &crate::to_docs(&changed)?)?;
        }
        self.save_incidents(tenant, std::slice::from_ref(&record))?;
        self.assemble(tenant, record, alerts)
    }

    /// Merges incident `source` into `target` (Palisade's admin API; the public API has none):
    /// the source's alerts move to the target, the source becomes `Redirected` naming it. Answers
    /// the target.
    pub fn merge_incidents(&self, tenant_id: &str, source: i64, target: i64) -> DomainResult<Incident> {
        let tenant = self.tenant(tenant_id)?;
        let tenant = tenant.id.as_str();
        if source == target {
            return Err(ApiError::invalid_input(
                format!("target incident {target}; an incident cannot be merged into itself"),
                "merge into itself",
            )
            .into());
        }
        let _section = self.tenant_section(tenant)?;
        let mut from = self.incident_record(tenant, source)?.ok_or_else(|| not_found(source))?;
        let mut into = self.incident_record(tenant, target)?.ok_or_else(|| not_found(target))?;
        for (record, role) in [(&from, "source"), (&into, "target")] {
            if let (IncidentStatus::Redirected, Some(to)) = (record.status, record.redirect_incident_id) {
                return Err(ApiError::invalid_input(
                    format!(
                        "{role} incident {}; it was already merged into incident {to}",
                        record.incident_id
                    ),
                    "merge of a redirected incident",
                )
                .into());
            }
        }
        let now = self.clock.now();
        let mut moved = self.alerts_of(tenant, &[source])?.remove(&source).unwrap_or_default();
        for alert in &mut moved {
            alert.incident_id = Some(target);
            alert.last_update_time = Timestamp(now);
        }
        self.store.upsert_docs(ALERT_TABLE, tenant, &crate::to_docs(&moved)?)?;
        from.status = IncidentStatus::Redirected;
        from.redirect_incident_id = Some(target);
        from.last_update_time = Timestamp(now);
        let alerts = self.alerts_of(tenant, &[target])?.remove(&target).unwrap_or_default();
        settle(&mut into, &alerts);
        into.incident_name = incident_name(&alerts);
        into.last_update_time = Timestamp(now);
        self.save_incidents(tenant, &[from, into.clone()])?;
        self.assemble(tenant, into, alerts)
    }

    /// The incident a new alert on `machine_id` created at `created` joins (see the module
    /// documentation), or a fresh id for a new one. The caller stores the alert, then calls
    /// [`Core::settle_incidents`], which creates the record of a fresh id.
    pub(crate) fn incident_for_new_alert(
        &self,
        tenant_id: &str,
        machine_id: &str,
        created: DateTime<Utc>,
    ) -> DomainResult<i64> {
        let since = created - TimeDelta::hours(GROUPING_WINDOW_HOURS);
        let query = Query {
            filter: Some(Expr::And(vec![
                crate::listing::text_eq(&ALERTS, "machineId", machine_id),
                Expr::Compare {
                    left: Operand::Property(property(&ALERTS, "alertCreationTime")),
                    op: CmpOp::Ge,
                    right: Literal::DateTime(since.timestamp_micros()),
                },
            ])),
            ..Query::default()
        };
        let nearby: Vec<Alert> = decode(&self.store.query_docs(ALERT_TABLE, tenant_id, &query, 0, 10_000)?)?;
        let ids: Vec<i64> = nearby
            .iter()
            .filter(|a| a.alert_creation_time.0 <= created)
            .filter_map(|a| a.incident_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let open = self
            .records_of(tenant_id, &ids)?
            .into_values()
            .filter(|r| matches!(r.status, IncidentStatus::Active | IncidentStatus::InProgress))
            .max_by_key(|r| (r.created_time, r.incident_id));
        match open {
            Some(record) => Ok(record.incident_id),
            None => self.fresh_incident_id(tenant_id),
        }
    }

    /// Keeps the incidents of `incident_ids` in line with their alerts after alerts were stored:
    /// creates the record of an id no record exists for (derived from its alerts), settles status
    /// and severity of the others, and does what `why` asks besides. Call inside the tenant's
    /// section (every alert write already is).
    pub(crate) fn settle_incidents(&self, tenant_id: &str, incident_ids: &[i64], why: AlertChange) -> DomainResult<()> {
        let ids: Vec<i64> = incident_ids
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let touch = why != AlertChange::Loaded;
        let mut records = self.records_of(tenant_id, &ids)?;
        let mut alerts = self.alerts_of(tenant_id, &ids)?;
        let mut changed = Vec::new();
        for id in &ids {
            let alerts = alerts.remove(id).unwrap_or_default();
            let mut record = match records.remove(id) {
                None => derived_record(*id, &alerts, now),
                Some(mut record) => {
                    if !settle(&mut record, &alerts) && !touch {
                        continue;
                    }
                    record
                }
            };
            if touch {
                record.last_update_time = Timestamp(now);
            }
            if why == AlertChange::Joined && !alerts.is_empty() {
                record.incident_name = incident_name(&alerts);
            }
            changed.push(record);
        }
        if let Some(highest) = ids.last() {
            self.reserve_incident_ids_through(*highest)?;
        }
        self.save_incidents(tenant_id, &changed)
    }

    /// After alerts were stored by a load or a seed: alerts without an incident are grouped
    /// (oldest first, each joining or opening one as a new alert would), and every incident the
    /// alerts name is created or settled.
    pub(crate) fn file_stored_alerts(&self, tenant_id: &str, alerts: &[Alert], extra_ids: &[i64]) -> DomainResult<()> {
        let _section = self.tenant_section(tenant_id)?;
        let mut ids: Vec<i64> = alerts.iter().filter_map(|a| a.incident_id).collect();
        ids.extend_from_slice(extra_ids);
        // Named ids first, so fresh ids drawn for unfiled alerts stay clear of them.
        if let Some(highest) = ids.iter().max() {
            self.reserve_incident_ids_through(*highest)?;
        }
        let mut unfiled: Vec<Alert> = alerts.iter().filter(|a| a.incident_id.is_none()).cloned().collect();
        unfiled.sort_by_key(|a| a.alert_creation_time);
        for mut alert in unfiled {
            let id = self.incident_for_new_alert(tenant_id, &alert.machine_id, alert.alert_creation_time.0)?;
            alert.incident_id = Some(id);
            self.store
                .upsert_docs(ALERT_TABLE, tenant_id, &crate::to_docs(std::slice::from_ref(&alert))?)?;
            // Its record now, so the next unfiled alert on the machine can join it.
            self.settle_incidents(tenant_id, &[id], AlertChange::Loaded)?;
            ids.push(id);
        }
        for chunk in ids.chunks(IDS_PER_QUERY * 4) {
            self.settle_incidents(tenant_id, chunk, AlertChange::Loaded)?;
        }
        Ok(())
    }

    fn incident_record(&self, tenant_id: &str, id: i64) -> DomainResult<Option<IncidentRecord>> {
        match self
            .store
            .find_doc(INCIDENT_TABLE, tenant_id, "incident_id", &id.to_string(), false)?
        {
            Some(doc) => Ok(Some(serde_json::from_str(&doc).map_err(StoreError::from)?)),
            None => Ok(None),
        }
    }

    fn save_incidents(&self, tenant_id: &str, records: &[IncidentRecord]) -> DomainResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        Ok(self
            .store
            .upsert_docs(INCIDENT_TABLE, tenant_id, &crate::to_docs(records)?)?)
    }

    /// The records of these ids that exist.
    fn records_of(&self, tenant_id: &str, ids: &[i64]) -> DomainResult<BTreeMap<i64, IncidentRecord>> {
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            let query = Query {
                filter: Some(int_in(&INCIDENTS, "incidentId", chunk)),
                ..Query::default()
            };
            let docs = self
                .store
                .query_docs(INCIDENT_TABLE, tenant_id, &query, 0, chunk.len() as u64)?;
            for record in decode::<IncidentRecord>(&docs)? {
                out.insert(record.incident_id, record);
            }
        }
        Ok(out)
    }

    /// The alerts of these incidents, oldest first.
    fn alerts_of(&self, tenant_id: &str, ids: &[i64]) -> DomainResult<BTreeMap<i64, Vec<Alert>>> {
        let mut out: BTreeMap<i64, Vec<Alert>> = BTreeMap::new();
        for chunk in ids.chunks(IDS_PER_QUERY) {
            // No `$orderby`: ordered by creation time, SQLite would walk that index through every
            // alert of the tenant; the incidents' index finds these few, sorted below.
            let query = Query {
                filter: Some(int_in(&ALERTS, "incidentId", chunk)),
                ..Query::default()
            };
            let docs = self.store.query_docs(ALERT_TABLE, tenant_id, &query, 0, u64::MAX)?;
            for alert in decode::<Alert>(&docs)? {
                if let Some(id) = alert.incident_id {
                    out.entry(id).or_default().push(alert);
                }
            }
        }
        for alerts in out.values_mut() {
            alerts.sort_by(|a, b| (a.alert_creation_time, &a.id).cmp(&(b.alert_creation_time, &b.id)));
        }
        Ok(out)
    }

    /// Records with their alerts and the alerts' machines, in the records' order.
    fn with_alerts(&self, tenant_id: &str, records: Vec<IncidentRecord>) -> DomainResult<Vec<Incident>> {
        let ids: Vec<i64> = records.iter().map(|r| r.incident_id).collect();
        let mut alerts = self.alerts_of(tenant_id, &ids)?;
        let machine_ids: Vec<String> = alerts
            .values()
            .flatten()
            .map(|a| a.machine_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut machines: Vec<Machine> = Vec::new();
        for chunk in machine_ids.chunks(IDS_PER_QUERY) {
            let query = Query {
                filter: Some(crate::listing::text_in(&MACHINES, "id", chunk.to_vec())),
                ..Query::default()
            };
            machines.extend(decode::<Machine>(&self.store.query_docs(
                MACHINE_TABLE,
                tenant_id,
                &query,
                0,
                chunk.len() as u64,
            )?)?);
        }
        Ok(records
            .into_iter()
            .map(|record| {
                let alerts = alerts.remove(&record.incident_id).unwrap_or_default();
                let machines = machines
                    .iter()
                    .filter(|m| alerts.iter().any(|a| a.machine_id == m.id))
                    .cloned()
                    .collect();
                Incident {
                    record,
                    alerts,
                    machines,
                }
            })
            .collect())
    }

    fn assemble(&self, tenant_id: &str, record: IncidentRecord, alerts: Vec<Alert>) -> DomainResult<Incident> {
        let machine_ids: Vec<String> = alerts
            .iter()
            .map(|a| a.machine_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let machines = if machine_ids.is_empty() {
            Vec::new()
        } else {
            let query = Query {
                filter: Some(crate::listing::text_in(&MACHINES, "id", machine_ids.clone())),
                ..Query::default()
            };
            decode(
                &self
                    .store
                    .query_docs(MACHINE_TABLE, tenant_id, &query, 0, machine_ids.len() as u64)?,
            )?
        };
        Ok(Incident {
            record,
            alerts,
            machines,
        })
    }

    /// A new incident id: past every id handed out or loaded (ids are unique across tenants).
    fn fresh_incident_id(&self, tenant_id: &str) -> DomainResult<i64> {
        loop {
            let id = i64::try_from(self.store.next_sequence(INCIDENT_SEQUENCE, 1)?).map_err(|_| {
                ApiError::new(
                    ErrorCode::InternalServerError,
                    "An internal error occurred",
                    "incident id sequence exhausted",
                )
            })?;
            if self.incident_record(tenant_id, id)?.is_none() {
                return Ok(id);
            }
        }
    }

    /// After a batch of generated alerts was stored (`palisade seed`, whose alerts all name their
    /// incident): their incidents, from the batch alone. A bulk load drops the alerts' secondary
    /// indexes, so reading each incident's alerts back would scan the table once per batch; an
    /// incident split across two batches is merged with its record from the first instead.
    pub(crate) fn file_seeded_alerts(&self, tenant_id: &str, alerts: &[Alert]) -> DomainResult<()> {
        let mut batch: BTreeMap<i64, Vec<Alert>> = BTreeMap::new();
        for alert in alerts {
            if let Some(id) = alert.incident_id {
                batch.entry(id).or_default().push(alert.clone());
            }
        }
        let ids: Vec<i64> = batch.keys().copied().collect();
        let _section = self.tenant_section(tenant_id)?;
        let mut existing = self.records_of(tenant_id, &ids)?;
        let now = self.clock.now();
        let records: Vec<IncidentRecord> = batch
            .iter()
            .map(|(id, alerts)| {
                let fresh = derived_record(*id, alerts, now);
                match existing.remove(id) {
                    None => fresh,
                    Some(mut record) => {
                        record.created_time = record.created_time.min(fresh.created_time);
                        record.last_update_time = record.last_update_time.max(fresh.last_update_time);
                        if severity_rank(fresh.severity) > severity_rank(record.severity) {
                            record.severity = fresh.severity;
                        }
                        if record.status == IncidentStatus::Resolved && fresh.status != IncidentStatus::Resolved {
                            record.status = IncidentStatus::Active;
                        }
                        if record.incident_name != fresh.incident_name {
                            record.incident_name = format!(
                                "Multi-stage incident involving {}",
                                record
                                    .incident_name
                                    .trim_start_matches("Multi-stage incident involving ")
                            );
                        }
                        record
                    }
                }
            })
            .collect();
        if let Some(highest) = ids.last() {
            self.reserve_incident_ids_through(*highest)?;
        }
        self.save_incidents(tenant_id, &records)
    }

    /// Moves the incident id sequence past `highest`, so stored ids are never handed out again.
    pub(crate) fn reserve_incident_ids_through(&self, highest: i64) -> DomainResult<()> {
        let Ok(highest) = u64::try_from(highest) else {
            return Ok(());
        };
        let current = self
            .store
            .get_meta(INCIDENT_SEQUENCE_META)?
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if highest > current {
            self.store.next_sequence(INCIDENT_SEQUENCE, highest - current)?;
        }
        Ok(())
    }
}

/// What an incident status asks of its alerts: Resolved resolves the open ones; Active or
/// InProgress on an incident whose alerts are all resolved reopens them. Answers the indexes of
/// the alerts changed.
fn status_to_alerts(status: IncidentStatus, alerts: &mut [Alert], now: DateTime<Utc>) -> Vec<usize> {
    let mut changed = Vec::new();
    match status {
        IncidentStatus::Resolved => {
            for (n, alert) in alerts.iter_mut().enumerate().filter(|(_, a)| !is_resolved(a)) {
                alert.status = AlertStatus::Resolved;
                alert.resolved_time = Some(Timestamp(now));
                alert.last_update_time = Timestamp(now);
                changed.push(n);
            }
        }
        IncidentStatus::Active | IncidentStatus::InProgress if !alerts.is_empty() && alerts.iter().all(is_resolved) => {
            let reopened = if status == IncidentStatus::Active {
                AlertStatus::New
            } else {
                AlertStatus::InProgress
            };
            for (n, alert) in alerts.iter_mut().enumerate() {
                alert.status = reopened;
                alert.resolved_time = None;
                alert.last_update_time = Timestamp(now);
                changed.push(n);
            }
        }
        _ => {}
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_read_as_words_in_names() {
        assert_eq!(words("CommandAndControl"), "Command and control");
        assert_eq!(words("Malware"), "Malware");
    }

    #[test]
    fn incident_ids_are_integers() {
        assert_eq!(parse_incident_id("924565").unwrap(), 924565);
        let e = parse_incident_id("abc").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("'abc'"), "{}", e.message);
    }
}
