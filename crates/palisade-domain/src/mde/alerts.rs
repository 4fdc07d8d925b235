//! Alerts (`shared/reference/mde-api.md` §3): listing, triage updates (one or a batch), alerts
//! raised by reference to an event, and the entities an alert relates to.
//!
//! Every write moves `lastUpdateTime` to the emulator's clock and stores it as a query column, so a
//! SIEM polling `$filter=lastUpdateTime ge <last poll>` sees every change.

use crate::listing::{narrowed, text_eq, text_in, Page};
use crate::xdr::incidents::AlertChange::{Joined, Triaged};
use crate::{Core, DomainResult};
use chrono::{DateTime, TimeDelta, Utc};
use palisade_auth::Principal;
use palisade_error::{ApiError, ErrorCode};
use palisade_model::entities::{
    Alert, AlertCategory, AlertComment, AlertSeverity, AlertStatus, Classification, Determination, Evidence, File,
    InvestigationState, Machine, User,
};
use palisade_model::schemas::{ALERTS, ALERT_TABLE, USER_TABLE};
use palisade_model::time::Timestamp;
use palisade_odata::Query;
use palisade_store::StoreError;
use sha2::{Digest, Sha256};

pub(crate) const READ_ROLES: &[&str] = &["Alert.Read.All", "Alert.ReadWrite.All"];
/// The update-alert page spells it `Alerts.ReadWrite.All`, a documented typo for this role.
pub(crate) const WRITE_ROLES: &[&str] = &["Alert.ReadWrite.All"];
const MACHINE_READ_ROLES: &[&str] = &["Machine.Read.All", "Machine.ReadWrite.All"];

/// Most alert ids one `batchUpdate` accepts. The docs give no maximum; 500 matches the other batch
/// APIs and makes `MaximumBatchSizeExceeded` reachable.
pub const MAX_BATCH_UPDATE: usize = 500;
/// How far back `CreateAlertByReference` finds events: advanced hunting keeps 30 days.
pub const EVENT_RETENTION_DAYS: i64 = 30;
/// Severities an alert created by reference may have (the page lists only these three).
const REFERENCE_SEVERITIES: &[AlertSeverity] = &[AlertSeverity::Low, AlertSeverity::Medium, AlertSeverity::High];

/// The triage changes of `PATCH /api/alerts/{id}` and `batchUpdate`, as sent (validated here, so
/// both operations name bad values the same way). `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct AlertUpdate {
    pub status: Option<String>,
    pub assigned_to: Option<String>,
    pub classification: Option<String>,
    pub determination: Option<String>,
    pub comment: Option<String>,
}

/// [`AlertUpdate`] with its enum values parsed.
struct ValidUpdate {
    status: Option<AlertStatus>,
    assigned_to: Option<String>,
    classification: Option<Classification>,
    determination: Option<Determination>,
    comment: Option<String>,
}

impl AlertUpdate {
    fn validate(&self) -> Result<ValidUpdate, ApiError> {
        let comment = match &self.comment {
            Some(c) if c.trim().is_empty() => {
                return Err(ApiError::invalid_input(
                    format!("comment '{c}'; a comment must not be empty"),
                    "empty alert comment",
                ))
            }
            other => other.clone(),
        };
        Ok(ValidUpdate {
            status: self
                .status
                .as_deref()
                .map(|s| AlertStatus::parse_input("status", s))
                .transpose()?,
            assigned_to: self.assigned_to.clone(),
            classification: self
                .classification
                .as_deref()
                .map(|s| Classification::parse_input("classification", s))
                .transpose()?,
            determination: self
                .determination
                .as_deref()
                .map(|s| Determination::parse_input("determination", s))
                .transpose()?,
            comment,
        })
    }
}

impl ValidUpdate {
    fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.assigned_to.is_none()
            && self.classification.is_none()
            && self.determination.is_none()
            && self.comment.is_none()
    }

    /// Applies the changes at `now`: Resolved stamps `resolvedTime` (kept if already resolved),
    /// any other status clears it; a comment is appended under the caller's app id.
    fn apply(&self, alert: &mut Alert, caller: &Principal, now: DateTime<Utc>) {
        if let Some(status) = self.status {
            match status {
                AlertStatus::Resolved if alert.status != AlertStatus::Resolved || alert.resolved_time.is_none() => {
                    alert.resolved_time = Some(Timestamp(now));
                }
                AlertStatus::Resolved => {}
                _ => alert.resolved_time = None,
            }
            alert.status = status;
        }
        if let Some(assigned_to) = &self.assigned_to {
            alert.assigned_to = Some(assigned_to.clone());
        }
        if let Some(classification) = self.classification {
            alert.classification = Some(classification);
        }
        if let Some(determination) = self.determination {
            alert.determination = Some(determination);
        }
        if let Some(comment) = &self.comment {
            alert.comments.push(AlertComment {
                comment: comment.clone(),
                created_by: caller.app_id.clone(),
                created_time: Timestamp(now),
            });
        }
        alert.last_update_time = Timestamp(now);
    }
}

/// The body of `POST /api/alerts/CreateAlertByReference` (every field required), as sent.
#[derive(Debug, Clone)]
pub struct AlertReference {
    pub event_time: String,
    pub report_id: String,
    pub machine_id: String,
    pub severity: String,
    pub title: String,
    pub description: String,
    pub recommended_action: String,
    pub category: String,
}

impl Core {
    /// `GET /api/alerts` with OData options (`$expand=evidence` is applied when the page is shaped).
    pub fn list_alerts(&self, caller: &Principal, query: &Query, page_size: u32) -> DomainResult<Page> {
        caller.require_any(READ_ROLES)?;
        self.list_page(ALERT_TABLE, &caller.tenant_id, query, page_size)
    }

    /// `GET /api/alerts/$count`.
    pub fn count_alerts(&self, caller: &Principal, query: &Query) -> DomainResult<u64> {
        caller.require_any(READ_ROLES)?;
        self.count(ALERT_TABLE, &caller.tenant_id, query)
    }

    /// `GET /api/alerts/{id}`, evidence included.
    pub fn get_alert(&self, caller: &Principal, id: &str) -> DomainResult<Alert> {
        caller.require_any(READ_ROLES)?;
        self.find_alert(caller, id)
    }

    pub(crate) fn find_alert(&self, caller: &Principal, id: &str) -> DomainResult<Alert> {
        let doc = self
            .store
            .find_doc(ALERT_TABLE, &caller.tenant_id, "id", id, false)?
            .ok_or_else(|| ApiError::resource_not_found("Alert", id))?;
        Ok(serde_json::from_str(&doc).map_err(StoreError::from)?)
    }

    fn save_alerts(&self, caller: &Principal, alerts: &[Alert]) -> DomainResult<()> {
        Ok(self
            .store
            .upsert_docs(ALERT_TABLE, &caller.tenant_id, &crate::to_docs(alerts)?)?)
    }

    /// `PATCH /api/alerts/{id}`. An update with no property changes nothing (not even
    /// `lastUpdateTime`) and answers the alert as it is.
    pub fn update_alert(&self, caller: &Principal, id: &str, update: &AlertUpdate) -> DomainResult<Alert> {
        caller.require_any(WRITE_ROLES)?;
        let valid = update.validate()?;
        let _section = self.tenant_section(&caller.tenant_id)?;
        let mut alert = self.find_alert(caller, id)?;
        if valid.is_empty() {
            return Ok(alert);
        }
        valid.apply(&mut alert, caller, self.clock.now());
        self.save_alerts(caller, std::slice::from_ref(&alert))?;
        self.settle_incidents(
            &caller.tenant_id,
            &alert.incident_id.into_iter().collect::<Vec<_>>(),
            Triaged,
        )?;
        Ok(alert)
    }

    /// `POST /api/alerts/batchUpdate`: all or nothing. Every id must exist (the first unknown one is
    /// named) before any alert changes; repeated ids count once; the whole batch is one store write.
    pub fn batch_update_alerts(&self, caller: &Principal, ids: &[String], update: &AlertUpdate) -> DomainResult<()> {
        caller.require_any(WRITE_ROLES)?;
        if ids.is_empty() {
            return Err(ApiError::invalid_input(
                format!("alertIds []; give between 1 and {MAX_BATCH_UPDATE} alert ids"),
                "empty alert batch",
            )
            .into());
        }
        if ids.len() > MAX_BATCH_UPDATE {
            return Err(ApiError::batch_too_large(ids.len(), MAX_BATCH_UPDATE).into());
        }
        let valid = update.validate()?;
        let mut unique: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(id) {
                unique.push(id.clone());
            }
        }
        let _section = self.tenant_section(&caller.tenant_id)?;
        let query = narrowed(&Query::default(), text_in(&ALERTS, "id", unique.clone()));
        let docs = self
            .store
            .query_docs(ALERT_TABLE, &caller.tenant_id, &query, 0, unique.len() as u64)?;
        let mut alerts: Vec<Alert> = docs
            .iter()
            .map(|d| serde_json::from_str(d))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)?;
        if let Some(missing) = unique.iter().find(|id| !alerts.iter().any(|a| &a.id == *id)) {
            return Err(ApiError::new(
                ErrorCode::ResourceNotFound,
                format!("Alert {missing} was not found; no alert of the batch was updated"),
                "Alert lookup (batch update)",
            )
            .into());
        }
        if valid.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        for alert in &mut alerts {
            valid.apply(alert, caller, now);
        }
        self.save_alerts(caller, &alerts)?;
        let incidents: Vec<i64> = alerts.iter().filter_map(|a| a.incident_id).collect();
        self.settle_incidents(&caller.tenant_id, &incidents, Triaged)
    }

    /// `POST /api/alerts/CreateAlertByReference`.
    ///
    /// There is no event store yet, so an event "exists" when its machine exists and its time lies
    /// within the last [`EVENT_RETENTION_DAYS`] days and not in the future; otherwise the documented
    /// 404 names the reportId, time and machine. An open alert with the same title on the same
    /// machine absorbs the event (its event and update times move); otherwise a new alert is made.
    pub fn create_alert_by_reference(&self, caller: &Principal, reference: &AlertReference) -> DomainResult<Alert> {
        caller.require_any(WRITE_ROLES)?;
        let severity = AlertSeverity::parse(&reference.severity)
            .filter(|s| REFERENCE_SEVERITIES.contains(s))
            .ok_or_else(|| {
                ApiError::invalid_input(
                    format!(
                        "severity '{}'; allowed values are: Low, Medium, High",
                        reference.severity
                    ),
                    "reference alert severity",
                )
            })?;
        let category = AlertCategory::parse_input("category", &reference.category)?;
        for (name, value) in [
            ("reportId", &reference.report_id),
            ("title", &reference.title),
            ("description", &reference.description),
            ("recommendedAction", &reference.recommended_action),
        ] {
            if value.trim().is_empty() {
                return Err(ApiError::invalid_input(
                    format!("{name} '{value}'; the value must not be empty"),
                    "empty reference alert field",
                )
                .into());
            }
        }
        let event_time = palisade_odata::parse_datetime(reference.event_time.trim())
            .ok()
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(|| {
                ApiError::invalid_input(
                    format!(
                        "eventTime '{}'; expected an ISO-8601 date-time such as 2021-01-26T20:33:57.7220239Z",
                        reference.event_time
                    ),
                    "reference event time",
                )
            })?;
        let machine = self.find_machine(caller, &reference.machine_id)?;
        let now = self.clock.now();
        if event_time > now || event_time < now - TimeDelta::days(EVENT_RETENTION_DAYS) {
            return Err(ApiError::new(
                ErrorCode::ResourceNotFound,
                format!(
                    "Event with reportId {} at time {} on machine {} was not found",
                    reference.report_id, reference.event_time, reference.machine_id
                ),
                format!(
                    "reference event outside the last {EVENT_RETENTION_DAYS} days (no event store; time window only)"
                ),
            )
            .into());
        }
        let _section = self.tenant_section(&caller.tenant_id)?;
        if let Some(mut open) = self.open_alert_titled(caller, &machine.id, &reference.title)? {
            let at = Timestamp(event_time);
            open.first_event_time = Some(open.first_event_time.map_or(at, |t| t.min(at)));
            open.last_event_time = Some(open.last_event_time.map_or(at, |t| t.max(at)));
            open.last_update_time = Timestamp(now);
            self.save_alerts(caller, std::slice::from_ref(&open))?;
            self.settle_incidents(
                &caller.tenant_id,
                &open.incident_id.into_iter().collect::<Vec<_>>(),
                Triaged,
            )?;
            return Ok(open);
        }
        let alert = Alert {
            id: self.fresh_alert_id(caller, now, reference)?,
            // Joins or opens an incident (see `xdr::incidents` for the grouping).
            incident_id: Some(self.incident_for_new_alert(&caller.tenant_id, &machine.id, now)?),
            investigation_id: None,
            assigned_to: None,
            severity,
            status: AlertStatus::New,
            classification: None,
            determination: None,
            investigation_state: Some(InvestigationState::Queued),
            detection_source: "CustomDetection".into(),
            detector_id: None,
            category: category.as_str().into(),
            threat_family_name: None,
            title: reference.title.clone(),
            description: reference.description.clone(),
            alert_creation_time: Timestamp(now),
            first_event_time: Some(Timestamp(event_time)),
            last_event_time: Some(Timestamp(event_time)),
            last_update_time: Timestamp(now),
            resolved_time: None,
            machine_id: machine.id.clone(),
            computer_dns_name: machine.computer_dns_name.clone(),
            rbac_group_name: machine.rbac_group_name.clone(),
            aad_tenant_id: caller.tenant_id.clone(),
            threat_name: None,
            mitre_techniques: Vec::new(),
            related_user: None,
            comments: Vec::new(),
            evidence: Vec::new(),
        };
        self.save_alerts(caller, std::slice::from_ref(&alert))?;
        // No evidence yet (there is no event store), but a new alert is indexed like any other.
        self.index_alerts(&caller.tenant_id, std::slice::from_ref(&alert))?;
        // Raised now: its AlertInfo and AlertEvidence (device) rows, for advanced hunting.
        self.record_hunting_entities(&caller.tenant_id, &[], std::slice::from_ref(&alert), now)?;
        self.settle_incidents(
            &caller.tenant_id,
            &alert.incident_id.into_iter().collect::<Vec<_>>(),
            Joined,
        )?;
        Ok(alert)
    }

    /// The first alert on `machine_id` titled exactly `title` that is not Resolved.
    fn open_alert_titled(&self, caller: &Principal, machine_id: &str, title: &str) -> DomainResult<Option<Alert>> {
        let query = narrowed(
            &narrowed(&Query::default(), text_eq(&ALERTS, "machineId", machine_id)),
            text_eq(&ALERTS, "title", title),
        );
        for doc in self
            .store
            .query_docs(ALERT_TABLE, &caller.tenant_id, &query, 0, u64::from(u32::MAX))?
        {
            let alert: Alert = serde_json::from_str(&doc).map_err(StoreError::from)?;
            if alert.status != AlertStatus::Resolved && alert.title == title {
                return Ok(Some(alert));
            }
        }
        Ok(None)
    }

    /// A new alert id in the service's shape; the salt comes from the reference, bumped past any
    /// id already taken (a frozen clock gives every call the same timestamp).
    fn fresh_alert_id(
        &self,
        caller: &Principal,
        now: DateTime<Utc>,
        reference: &AlertReference,
    ) -> DomainResult<String> {
        let digest = Sha256::digest(
            format!(
                "{}\n{}\n{}\n{}",
                reference.report_id, reference.machine_id, reference.event_time, reference.title
            )
            .as_bytes(),
        );
        let mut salt = u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]));
        loop {
            let id = crate::control::demo::alert_id(now, salt);
            if self
                .store
                .find_doc(ALERT_TABLE, &caller.tenant_id, "id", &id, false)?
                .is_none()
            {
                return Ok(id);
            }
            salt = salt.wrapping_add(1);
        }
    }

    /// `GET /api/alerts/{id}/domains`: the hosts of the alert's Url evidence, first seen first.
    pub fn alert_domains(&self, caller: &Principal, id: &str) -> DomainResult<Vec<String>> {
        caller.require_any(&["URL.Read.All"])?;
        let alert = self.find_alert(caller, id)?;
        let mut hosts: Vec<String> = Vec::new();
        for url in alert.evidence.iter().filter_map(|e| e.url.as_deref()) {
            if let Some(host) = url_host(url) {
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
            }
        }
        Ok(hosts)
    }

    /// `GET /api/alerts/{id}/ips`: the addresses of the alert's Ip evidence.
    pub fn alert_ips(&self, caller: &Principal, id: &str) -> DomainResult<Vec<String>> {
        caller.require_any(&["Ip.Read.All"])?;
        let alert = self.find_alert(caller, id)?;
        let mut ips: Vec<String> = Vec::new();
        for ip in alert.evidence.iter().filter_map(|e| e.ip_address.as_deref()) {
            if !ips.iter().any(|known| known == ip) {
                ips.push(ip.to_string());
            }
        }
        Ok(ips)
    }

    /// `GET /api/alerts/{id}/files`: one File per distinct hash among File and Process evidence,
    /// the same entity `GET /api/files/{id}` answers.
    pub fn alert_files(&self, caller: &Principal, id: &str) -> DomainResult<Vec<File>> {
        caller.require_any(&["File.Read.All"])?;
        let alert = self.find_alert(caller, id)?;
        let mut seen: Vec<&Evidence> = Vec::new();
        for evidence in alert
            .evidence
            .iter()
            .filter(|e| matches!(e.entity_type.as_str(), "File" | "Process"))
            .filter(|e| e.sha1.is_some() || e.sha256.is_some())
        {
            let known = seen.iter().any(|f| {
                (f.sha1.is_some() && f.sha1 == evidence.sha1) || (f.sha256.is_some() && f.sha256 == evidence.sha256)
            });
            if !known {
                seen.push(evidence);
            }
        }
        seen.iter()
            .map(|evidence| self.file_of_evidence(&caller.tenant_id, evidence, &alert))
            .collect()
    }

    /// `GET /api/alerts/{id}/machine`: 404 when the alert or its machine is gone.
    pub fn alert_machine(&self, caller: &Principal, id: &str) -> DomainResult<Machine> {
        caller.require_any(MACHINE_READ_ROLES)?;
        let alert = self.find_alert(caller, id)?;
        self.find_machine(caller, &alert.machine_id)
    }

    /// `GET /api/alerts/{id}/user`: 404 when the alert has no related user or the account is unknown.
    pub fn alert_user(&self, caller: &Principal, id: &str) -> DomainResult<User> {
        caller.require_any(&["User.Read.All"])?;
        let alert = self.find_alert(caller, id)?;
        let related = alert.related_user.ok_or_else(|| {
            ApiError::new(
                ErrorCode::ResourceNotFound,
                format!("User of alert {id} was not found: the alert has no related user"),
                "alert without related user",
            )
        })?;
        let user_id = format!("{}\\{}", related.domain_name, related.user_name);
        let doc = self
            .store
            .find_doc(USER_TABLE, &caller.tenant_id, "id", &user_id, true)?
            .ok_or_else(|| ApiError::resource_not_found("User", &user_id))?;
        Ok(serde_json::from_str(&doc).map_err(StoreError::from)?)
    }

    /// `GET /api/machines/{id}/alerts`: the client's OData query narrowed to the machine (by id
    /// or computer name); 404 when the machine is unknown.
    pub fn list_machine_alerts(
        &self,
        caller: &Principal,
        machine: &str,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<Page> {
        caller.require_any(READ_ROLES)?;
        let machine = self.find_machine(caller, machine)?;
        let query = narrowed(query, text_eq(&ALERTS, "machineId", &machine.id));
        self.list_page(ALERT_TABLE, &caller.tenant_id, &query, page_size)
    }

    /// `GET /api/machines/{id}/alerts/$count`.
    pub fn count_machine_alerts(&self, caller: &Principal, machine: &str, query: &Query) -> DomainResult<u64> {
        caller.require_any(READ_ROLES)?;
        let machine = self.find_machine(caller, machine)?;
        let query = narrowed(query, text_eq(&ALERTS, "machineId", &machine.id));
        self.count(ALERT_TABLE, &caller.tenant_id, &query)
    }
}

/// The host of a URL (`https://user@Host.example:8443/x?y` → `host.example`); a bare host is its
/// own host. `None` when nothing host-like remains.
pub(crate) fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::url_host;

    #[test]
    fn hosts_are_taken_from_urls() {
        assert_eq!(url_host("http://a.example/x").as_deref(), Some("a.example"));
        assert_eq!(
            url_host("https://u:p@B.Example:8443/x?y#z").as_deref(),
            Some("b.example")
        );
        assert_eq!(url_host("c.example/path").as_deref(), Some("c.example"));
        assert_eq!(url_host("http://[2001:db8::1]:80/").as_deref(), Some("2001:db8::1"));
        assert_eq!(url_host("http:///x"), None);
    }
}
