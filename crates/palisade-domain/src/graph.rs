//! Microsoft Graph's security API (`/v1.0/security/...`, `shared/reference/xdr-api-and-auth.md`
//! §2.9) over the same data as the Defender APIs: every operation here checks Graph's application
//! permission, then runs the Defender operation it mirrors, so a change through Graph is a change
//! through Defender (same rules, same `lastUpdateTime`, same cascades between incidents and
//! alerts), and the reverse, with no second implementation:
//!
//! | Graph | permission | runs |
//! |---|---|---|
//! | `alerts_v2` | `SecurityAlert.Read.All` / `SecurityAlert.ReadWrite.All` | the `/api/alerts` operations, acting with `Alert.Read.All` / `Alert.ReadWrite.All` ([`acting_as_defender`]) |
//! | `incidents` | `SecurityIncident.Read.All` / `SecurityIncident.ReadWrite.All` | the incidents operations with [`IncidentApi::Graph`], which checks Graph's permissions itself |
//! | `runHuntingQuery` | `ThreatHunting.Read.All` | the neutral hunting query, over the window of its `Timespan` |
//!
//! Graph's enum spellings are mapped here to the Defender ones the operations parse; Graph's
//! shapes (renames, lowerCamel enums, typed evidence) are rendered from what these return by
//! `palisade_model::graph`.

use crate::control::ratelimit::tenant_api;
use crate::mde::alerts::AlertUpdate;
use crate::xdr::incidents::{Incident, IncidentApi, IncidentPage, IncidentPatch};
use crate::{Core, DomainResult};
use palisade_auth::Principal;
use palisade_error::ApiError;
use palisade_model::entities::{Alert, AlertComment, IncidentComment, Machine};
use palisade_model::graph::{defender_value, GRAPH_ALERTS};
use palisade_odata::{OrderKey, Query};
use palisade_store::StoreError;
use std::collections::HashMap;

/// The Graph security family's share of the registries (`crate::family`). Its routes are mounted
/// apart from the Defender families' (they take Graph tokens); its data is the Defender
/// families' data, so it has no table or data kind of its own.
pub const FAMILY: crate::family::Family = crate::family::Family {
    name: "graph",
    tables: &[],
    data_kinds: &[],
    // Graph's runHuntingQuery: its limits page repeats the XDR numbers. One API under its four
    // paths (v1.0 and beta, plain and namespace-qualified), so one pattern: the only POST routes
    // of three segments under `/{version}/security/` are these four.
    limits: &[tenant_api(
        "runHuntingQuery",
        "POST",
        "/{version}/security/{action}",
        Some(45),
        Some(1500),
    )],
    roles: &[
        "SecurityIncident.Read.All",
        "SecurityIncident.ReadWrite.All",
        "SecurityAlert.Read.All",
        "SecurityAlert.ReadWrite.All",
        "ThreatHunting.Read.All",
    ],
    // `incidents` is the incidents family's word.
    path_words: &[
        "v1.0",
        "beta",
        "security",
        "alerts_v2",
        "comments",
        "runHuntingQuery",
        "microsoft.graph.security.runHuntingQuery",
    ],
};

pub const ALERT_READ: &[&str] = &["SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"];
pub const ALERT_WRITE: &[&str] = &["SecurityAlert.ReadWrite.All"];
pub const HUNTING: &[&str] = &["ThreatHunting.Read.All"];

/// Each Graph alert permission and the Defender role it stands for.
const STANDS_FOR: &[(&str, &str)] = &[
    ("SecurityAlert.Read.All", "Alert.Read.All"),
    ("SecurityAlert.ReadWrite.All", "Alert.ReadWrite.All"),
];

/// The caller as the Defender operations see it: the same tenant and app, holding the Defender
/// roles its Graph permissions stand for (and nothing else).
pub fn acting_as_defender(caller: &Principal) -> Principal {
    let roles = caller
        .roles
        .iter()
        .filter_map(|held| STANDS_FOR.iter().find(|(graph, _)| graph == held))
        .map(|(_, defender)| defender.to_string())
        .collect();
    Principal {
        tenant_id: caller.tenant_id.clone(),
        app_id: caller.app_id.clone(),
        roles,
        api: palisade_auth::Api::Defender,
    }
}

/// An alert with the machine it was raised on (for Graph's `deviceEvidence`), when it still exists.
#[derive(Debug, Clone)]
pub struct AlertWithDevice {
    pub alert: Alert,
    pub machine: Option<Machine>,
}

/// One page of a Graph collection.
#[derive(Debug, Clone)]
pub struct GraphPage<T> {
    pub items: Vec<T>,
    pub count: Option<u64>,
    pub next_skip: Option<u64>,
}

/// The triage changes of `PATCH /security/alerts_v2/{id}` in Graph's spelling (`inProgress`,
/// `truePositive`, `compromisedAccount`); `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct GraphAlertUpdate {
    pub status: Option<String>,
    pub assigned_to: Option<String>,
    pub classification: Option<String>,
    pub determination: Option<String>,
}

/// A Graph enum value for a Defender operation. Graph's `unknown` is "unset", which an update
/// cannot ask for (Defender has no way to clear a classification), and `unknownFutureValue` is
/// Graph's sentinel; both are named in the refusal.
fn graph_enum(property: &str, value: Option<&String>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.eq_ignore_ascii_case("unknownFutureValue") {
        return Err(ApiError::invalid_input(
            format!("{property} '{value}'; unknownFutureValue is Graph's evolvable-enum sentinel, not a value to set"),
            "graph enum sentinel",
        ));
    }
    match defender_value(value) {
        Some(defender) => Ok(Some(defender.to_string())),
        None if property == "status" => Ok(Some("Unknown".into())),
        None => Err(ApiError::invalid_input(
            format!("{property} '{value}'; '{value}' means unset, and a set {property} cannot be unset"),
            "graph enum unset",
        )),
    }
}

/// A `Timespan` of `runHuntingQuery` as the window `(start, end)` it names at `now`, in the forms
/// the page lists: `P30D` (back from now), `start/end`, `P30D/end`, `start/P30D`, and a lone
/// `start` (until now). Durations are ISO 8601 (`PnW`, `PnDTnHnMnS`; a year counts 365 days and a
/// month 30, the usual reading where the docs give no calendar).
pub fn hunting_window(
    timespan: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), ApiError> {
    let refuse = |why: &str| {
        ApiError::invalid_input(
            format!(
                "Timespan '{timespan}': {why}; use an ISO 8601 duration (P30D), start/end, duration/end, start/duration or a start time"
            ),
            "graph hunting timespan",
        )
    };
    let instant = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.to_utc())
            .map_err(|_| refuse(&format!("'{s}' is neither a date-time nor a duration")))
    };
    let is_duration = |s: &str| s.trim().starts_with(['P', 'p']);
    let duration =
        |s: &str| iso_duration(s.trim()).ok_or_else(|| refuse(&format!("'{s}' is not an ISO 8601 duration")));
    let (start, end) = match timespan.split_once('/') {
        None if is_duration(timespan) => (now - duration(timespan)?, now),
        None => (instant(timespan)?, now),
        Some((a, b)) if is_duration(a) && is_duration(b) => return Err(refuse("two durations name no window")),
        Some((a, b)) if is_duration(a) => {
            let end = instant(b)?;
            (end - duration(a)?, end)
        }
        Some((a, b)) if is_duration(b) => {
            let start = instant(a)?;
            (start, start + duration(b)?)
        }
        Some((a, b)) => (instant(a)?, instant(b)?),
    };
    if start >= end {
        return Err(refuse("the window ends before it starts"));
    }
    Ok((start, end))
}

/// An ISO 8601 duration (`P1Y2M3W4DT5H6M7.5S`, any part optional but at least one).
fn iso_duration(text: &str) -> Option<chrono::TimeDelta> {
    let rest = text.strip_prefix(['P', 'p'])?;
    let (date, time) = match rest.split_once(['T', 't']) {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut seconds = 0f64;
    let mut parts = 0;
    let mut add = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let (_, scale) = units.iter().find(|(u, _)| u.eq_ignore_ascii_case(&c))?;
            seconds += number.parse::<f64>().ok()? * scale;
            number.clear();
            parts += 1;
        }
        number.is_empty().then_some(())
    };
    const DAY: f64 = 86_400.0;
    add(
        date,
        &[('Y', 365.0 * DAY), ('M', 30.0 * DAY), ('W', 7.0 * DAY), ('D', DAY)],
    )?;
    if let Some(time) = time {
        add(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    if parts == 0 || !seconds.is_finite() || seconds > 1e12 {
        return None;
    }
    chrono::TimeDelta::try_milliseconds((seconds * 1000.0) as i64)
}

/// The triage change of `PATCH /security/incidents/{id}` in Graph's spelling; `None` keeps the
/// current value.
#[derive(Debug, Clone, Default)]
pub struct GraphIncidentPatch {
    pub status: Option<String>,
    pub assigned_to: Option<String>,
    pub classification: Option<String>,
    pub determination: Option<String>,
    /// Graph's `customTags` (Defender's `tags`): replaces the list.
    pub custom_tags: Option<Vec<String>>,
    pub description: Option<String>,
}

/// A Graph enum value of an incident in the spelling the incidents domain parses. Graph's
/// `unknown` determination is Defender's `NotAvailable`; the other names parse as they are
/// (case-insensitively). `unknownFutureValue` is Graph's sentinel, and `awaitingAction` a status
/// only Microsoft's Defender Experts set: both are refused, naming the value.
fn graph_incident_value(property: &str, value: Option<&String>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let refuse = |why: &str| {
        Err(ApiError::invalid_input(
            format!("{property} '{value}'; {why}"),
            "graph incident enum value",
        ))
    };
    if value.eq_ignore_ascii_case("unknownFutureValue") {
        return refuse("unknownFutureValue is Graph's evolvable-enum sentinel, not a value to set");
    }
    if property == "status" && value.eq_ignore_ascii_case("awaitingAction") {
        return refuse("only Microsoft Defender Experts set awaitingAction");
    }
    if property == "determination" && value.eq_ignore_ascii_case("unknown") {
        return Ok(Some("NotAvailable".into()));
    }
    Ok(Some(value.clone()))
}

impl Core {
    /// `GET /security/incidents`: the incidents of `/api/incidents` under Graph's permissions
    /// (`query` names the incident table's columns through Graph's property names).
    pub fn graph_list_incidents(
        &self,
        caller: &Principal,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<IncidentPage> {
        self.list_incidents(caller, IncidentApi::Graph, query, page_size)
    }

    /// `GET /security/incidents/{id}`.
    pub fn graph_get_incident(&self, caller: &Principal, id: &str) -> DomainResult<Incident> {
        self.get_incident(caller, IncidentApi::Graph, id)
    }

    /// `PATCH /security/incidents/{id}`: `PATCH /api/incidents/{id}` with Graph's names and
    /// spellings (and `description`, which only Graph has).
    pub fn graph_update_incident(
        &self,
        caller: &Principal,
        id: &str,
        patch: &GraphIncidentPatch,
    ) -> DomainResult<Incident> {
        let defender = IncidentPatch {
            status: graph_incident_value("status", patch.status.as_ref())?,
            assigned_to: patch.assigned_to.clone(),
            classification: graph_incident_value("classification", patch.classification.as_ref())?,
            determination: graph_incident_value("determination", patch.determination.as_ref())?,
            tags: patch.custom_tags.clone(),
            comment: None,
            description: patch.description.clone(),
        };
        self.update_incident(caller, IncidentApi::Graph, id, &defender)
    }

    /// `POST /security/incidents/{id}/comments`: appends the comment (as the XDR PATCH's
    /// `comment` does) and answers every comment of the incident.
    pub fn graph_comment_incident(
        &self,
        caller: &Principal,
        id: &str,
        comment: &str,
    ) -> DomainResult<Vec<IncidentComment>> {
        let patch = IncidentPatch {
            comment: Some(comment.to_string()),
            ..IncidentPatch::default()
        };
        Ok(self
            .update_incident(caller, IncidentApi::Graph, id, &patch)?
            .record
            .comments)
    }

    /// `POST /security/runHuntingQuery`: the query over the window its `Timespan` names (30 days
    /// back from now when absent), never reaching past the data the tables keep (the hunting
    /// settings' look-back before now); a window ending in the future ends now. Runs through
    /// [`Core::hunting_query_until`], the operation every hunting API shares.
    pub fn graph_run_hunting(
        &self,
        caller: &Principal,
        query: &str,
        timespan: Option<&str>,
    ) -> DomainResult<palisade_kql::QueryResult> {
        caller.require_any(HUNTING)?;
        if query.trim().is_empty() {
            return Err(ApiError::missing_parameter("Query", Some("the query is empty")).into());
        }
        let now = self.clock.now();
        let settings = self.hunting_settings();
        let kept = chrono::TimeDelta::from_std(settings.lookback).unwrap_or(chrono::TimeDelta::MAX);
        let (start, end) = match timespan.filter(|t| !t.trim().is_empty()) {
            Some(timespan) => hunting_window(timespan, now)?,
            None => (now - chrono::TimeDelta::days(30), now),
        };
        let end = end.min(now);
        let start = start.max(now - kept);
        let lookback = (end - start).to_std().unwrap_or_default();
        let settings = crate::xdr::hunting::HuntingSettings { lookback, ..settings };
        self.hunting_query_until(&caller.tenant_id, query, &settings, end)
    }

    /// `GET /security/alerts_v2`: the alerts of `/api/alerts`, most recent first unless `$orderby`
    /// says otherwise (the page: "The most recent alerts are displayed at the top of the list").
    pub fn graph_list_alerts(
        &self,
        caller: &Principal,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<GraphPage<AlertWithDevice>> {
        caller.require_any(ALERT_READ)?;
        let mut query = query.clone();
        if query.orderby.is_empty() {
            if let Some(created) = GRAPH_ALERTS.property("createdDateTime") {
                query.orderby.push(OrderKey {
                    property: created,
                    descending: true,
                });
            }
        }
        let page = self.list_alerts(&acting_as_defender(caller), &query, page_size)?;
        let alerts: Vec<Alert> = page
            .docs
            .iter()
            .map(|doc| serde_json::from_str(doc))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)?;
        Ok(GraphPage {
            items: self.with_devices(caller, alerts)?,
            count: page.count,
            next_skip: page.next_skip,
        })
    }

    /// `GET /security/alerts_v2/{id}`.
    pub fn graph_get_alert(&self, caller: &Principal, id: &str) -> DomainResult<AlertWithDevice> {
        caller.require_any(ALERT_READ)?;
        let alert = self.get_alert(&acting_as_defender(caller), id)?;
        Ok(self.with_devices(caller, vec![alert])?.remove(0))
    }

    /// `PATCH /security/alerts_v2/{id}`: `PATCH /api/alerts/{id}` with Graph's enum spellings.
    pub fn graph_update_alert(
        &self,
        caller: &Principal,
        id: &str,
        update: &GraphAlertUpdate,
    ) -> DomainResult<AlertWithDevice> {
        caller.require_any(ALERT_WRITE)?;
        let defender = AlertUpdate {
            status: graph_enum("status", update.status.as_ref())?,
            assigned_to: update.assigned_to.clone(),
            classification: graph_enum("classification", update.classification.as_ref())?,
            determination: graph_enum("determination", update.determination.as_ref())?,
            comment: None,
        };
        let alert = self.update_alert(&acting_as_defender(caller), id, &defender)?;
        Ok(self.with_devices(caller, vec![alert])?.remove(0))
    }

    /// `POST /security/alerts_v2/{id}/comments`: appends the comment (as `PATCH /api/alerts/{id}`
    /// with `comment` does) and answers every comment of the alert.
    pub fn graph_comment_alert(&self, caller: &Principal, id: &str, comment: &str) -> DomainResult<Vec<AlertComment>> {
        caller.require_any(ALERT_WRITE)?;
        let update = AlertUpdate {
            comment: Some(comment.to_string()),
            ..AlertUpdate::default()
        };
        Ok(self.update_alert(&acting_as_defender(caller), id, &update)?.comments)
    }

    /// Pairs alerts with their machines, reading each machine once.
    fn with_devices(&self, caller: &Principal, alerts: Vec<Alert>) -> DomainResult<Vec<AlertWithDevice>> {
        let mut machines: HashMap<String, Option<Machine>> = HashMap::new();
        let mut out = Vec::with_capacity(alerts.len());
        for alert in alerts {
            let machine = match machines.get(&alert.machine_id) {
                Some(known) => known.clone(),
                None => {
                    let found = match self.find_machine(caller, &alert.machine_id) {
                        Ok(machine) => Some(machine),
                        Err(crate::DomainError::Rule(_)) => None,
                        Err(store) => return Err(store),
                    };
                    machines.insert(alert.machine_id.clone(), found.clone());
                    found
                }
            };
            out.push(AlertWithDevice { alert, machine });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_permissions_stand_for_their_defender_roles_only() {
        let caller = Principal {
            tenant_id: "t".into(),
            app_id: "a".into(),
            roles: vec!["SecurityAlert.Read.All".into(), "Machine.Isolate".into()],
            api: palisade_auth::Api::Graph,
        };
        let acting = acting_as_defender(&caller);
        assert_eq!(acting.roles, vec!["Alert.Read.All".to_string()]);
        assert_eq!(acting.api, palisade_auth::Api::Defender);
    }

    #[test]
    fn timespans_name_the_documented_windows() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-02-20T00:00:00Z")
            .unwrap()
            .to_utc();
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let day = chrono::TimeDelta::days(1);
        assert_eq!(hunting_window("P30D", now).unwrap(), (now - day * 30, now));
        assert_eq!(
            hunting_window("2024-02-01T08:00:00Z/2024-02-15T08:00:00Z", now).unwrap(),
            (at("2024-02-01T08:00:00Z"), at("2024-02-15T08:00:00Z"))
        );
        assert_eq!(
            hunting_window("P1D/2024-02-15T08:00:00Z", now).unwrap(),
            (at("2024-02-14T08:00:00Z"), at("2024-02-15T08:00:00Z"))
        );
        assert_eq!(
            hunting_window("2024-02-01T08:00:00Z/PT12H", now).unwrap(),
            (at("2024-02-01T08:00:00Z"), at("2024-02-01T20:00:00Z"))
        );
        assert_eq!(
            hunting_window("2024-02-19T00:00:00Z", now).unwrap(),
            (at("2024-02-19T00:00:00Z"), now)
        );
        assert_eq!(iso_duration("P1W").unwrap(), day * 7);
        for bad in [
            "P",
            "PT",
            "P1X",
            "yesterday",
            "P1D/P2D",
            "2024-02-15T00:00:00Z/2024-02-01T00:00:00Z",
        ] {
            let refusal = hunting_window(bad, now).unwrap_err();
            assert!(
                refusal.message.contains(bad.split('/').next().unwrap()),
                "{bad}: {}",
                refusal.message
            );
        }
    }

    #[test]
    fn graph_enum_values_reach_the_domain_in_defender_spelling() {
        let v = |s: &str| graph_enum("determination", Some(&s.to_string()));
        assert_eq!(v("compromisedAccount").unwrap().as_deref(), Some("CompromisedUser"));
        assert_eq!(v("malware").unwrap().as_deref(), Some("malware"));
        assert!(v("unknown").is_err());
        assert!(v("unknownFutureValue").is_err());
        assert_eq!(
            graph_enum("status", Some(&"unknown".to_string())).unwrap().as_deref(),
            Some("Unknown")
        );
    }
}
