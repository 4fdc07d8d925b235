//! Microsoft Graph's security API (`/v1.0/security/...`, `shared/reference/xdr-api-and-auth.md`
//! §2.9) over the same data as the Defender APIs: every operation here checks Graph's application
//! permission, then calls the Defender operation it mirrors, acting with the Defender role that
//! permission stands for. So a change through Graph is a change through Defender (same rules, same
//! journal of `lastUpdateTime`, same cascades), and the reverse, with no second implementation.
//!
//! | Graph permission | acts as |
//! |---|---|
//! | `SecurityAlert.Read.All` / `SecurityAlert.ReadWrite.All` | `Alert.Read.All` / `Alert.ReadWrite.All` |
//! | `SecurityIncident.Read.All` / `SecurityIncident.ReadWrite.All` | `Incident.Read.All` / `Incident.ReadWrite.All` |
//! | `ThreatHunting.Read.All` | `AdvancedHunting.Read.All` |
//!
//! Graph's shapes (renames, lowerCamel enums, typed evidence) are rendered from what these return
//! by `palisade_model::graph`.

use crate::mde::alerts::AlertUpdate;
use crate::{Core, DomainResult};
use palisade_auth::Principal;
use palisade_error::ApiError;
use palisade_model::entities::{Alert, AlertComment, Machine};
use palisade_model::graph::{defender_value, GRAPH_ALERTS};
use palisade_odata::{OrderKey, Query};
use palisade_store::StoreError;
use std::collections::HashMap;

pub const ALERT_READ: &[&str] = &["SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"];
pub const ALERT_WRITE: &[&str] = &["SecurityAlert.ReadWrite.All"];
pub const INCIDENT_READ: &[&str] = &["SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"];
pub const INCIDENT_WRITE: &[&str] = &["SecurityIncident.ReadWrite.All"];
pub const HUNTING: &[&str] = &["ThreatHunting.Read.All"];

/// Each Graph permission and the Defender role it stands for.
const STANDS_FOR: &[(&str, &str)] = &[
    ("SecurityAlert.Read.All", "Alert.Read.All"),
    ("SecurityAlert.ReadWrite.All", "Alert.ReadWrite.All"),
    ("SecurityIncident.Read.All", "Incident.Read.All"),
    ("SecurityIncident.ReadWrite.All", "Incident.ReadWrite.All"),
    ("ThreatHunting.Read.All", "AdvancedHunting.Read.All"),
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

impl Core {
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
