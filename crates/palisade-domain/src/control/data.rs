//! Data in and out of a tenant, in the API's own shapes: load entities from a JSON document,
//! export a tenant as the same document, reset a tenant (empty or demo) or the whole store.
//!
//! The document is `{"machines": [...], "alerts": [...], ...}`: one array per kind of
//! the families' [`DataKind`]s (`crate::family`, in family order), each entity exactly as the API
//! serialises it (alerts with their `evidence`), plus `logons`, the machine ↔ user relation the
//! entities do not carry (`logonusers`, `/users/{id}/machines`), and `hunting`, the
//! advanced-hunting tables' rows (`crate::xdr::take_hunting`). A family adds a kind by declaring it
//! in its descriptor.

use crate::control::demo;
use crate::{to_docs, Core, DomainResult};
use palisade_error::ApiError;
use palisade_model::entities::Alert;
use palisade_model::links::{user_key, MACHINE_USERS, USER_ALERTS, USER_MACHINES};
use palisade_model::schemas::EntityTable;
use palisade_model::{links, schemas};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A relation as `(kind, from key, to key)`; see [`palisade_model::links`].
pub type Link = (&'static str, String, String);

/// One kind of entity a data document may hold.
#[derive(Debug)]
pub struct DataKind {
    /// The property of the document holding this kind (`machines`).
    pub name: &'static str,
    pub table: EntityTable,
    /// Deserialises one entity into its type and serialises it back: the stored form. The error
    /// names the property that failed.
    pub canonical: fn(Value) -> Result<Value, String>,
    /// The relations an entity of this kind implies (an alert's related user, ...).
    pub links: fn(&Value) -> Vec<Link>,
    /// What else storing entities of this kind entails (indexing alerts' evidence, ...).
    pub after_store: fn(&Core, &str, &[Value]) -> DomainResult<()>,
}

/// The document property holding machine ↔ user logons.
pub const LOGONS: &str = "logons";

/// A user who logged on to a machine (`userId` is the User entity's id, `domain\name`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logon {
    pub machine_id: String,
    pub user_id: String,
}

pub fn canonical<T: DeserializeOwned + Serialize>(value: Value) -> Result<Value, String> {
    let entity: T = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("property '{path}': {}", e.into_inner())
        }
    })?;
    let stored = serde_json::to_value(&entity).map_err(|e| e.to_string())?;
    // Serde ignores properties the type does not know; a misspelt one would vanish silently.
    if let Some(unknown) = unknown_property(&value, &stored, String::new()) {
        return Err(format!("unknown property '{unknown}'"));
    }
    Ok(stored)
}

/// The first property of `given` that `stored` (its canonical form) lacks, as a path.
fn unknown_property(given: &Value, stored: &Value, path: String) -> Option<String> {
    match (given, stored) {
        (Value::Object(given), Value::Object(stored)) => given.iter().find_map(|(key, value)| {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match stored.get(key) {
                None => Some(here),
                Some(kept) => unknown_property(value, kept, here),
            }
        }),
        (Value::Array(given), Value::Array(stored)) => given
            .iter()
            .zip(stored)
            .enumerate()
            .find_map(|(n, (value, kept))| unknown_property(value, kept, format!("{path}[{n}]"))),
        _ => None,
    }
}

pub fn no_links(_: &Value) -> Vec<Link> {
    Vec::new()
}

/// A user's most and least prevalent machines are machines it logged on to.
pub fn user_links(user: &Value) -> Vec<Link> {
    let (Some(id), Some(name)) = (user["id"].as_str(), user["accountName"].as_str()) else {
        return Vec::new();
    };
    ["mostPrevalentMachineId", "leastPrevalentMachineId"]
        .iter()
        .filter_map(|key| user[*key].as_str())
        .flat_map(|machine| logon_links(machine, id, name))
        .collect()
}

/// An alert's related user has the alert among its alerts.
pub fn alert_links(alert: &Value) -> Vec<Link> {
    match (alert["relatedUser"]["userName"].as_str(), alert["id"].as_str()) {
        (Some(user), Some(id)) => vec![(USER_ALERTS, user_key(user), id.to_string())],
        _ => Vec::new(),
    }
}

fn logon_links(machine_id: &str, user_id: &str, account_name: &str) -> [Link; 2] {
    [
        (MACHINE_USERS, machine_id.to_string(), user_id.to_string()),
        (USER_MACHINES, user_key(account_name), machine_id.to_string()),
    ]
}

/// The account name of a user id (`contoso\jdoe` → `jdoe`).
fn account_of(user_id: &str) -> &str {
    user_id.rsplit('\\').next().unwrap_or(user_id)
}

/// How many entities of each kind a load stored (document order, `logons` last).
pub type LoadCounts = Map<String, Value>;

fn invalid(what: String) -> ApiError {
    ApiError::invalid_request_body(what, "data document validation")
}

/// Checks a whole document before anything is written: the stored form of each entity per kind,
/// and the relations they imply.
/// A checked document: the stored form of each kind's entities, the relations they imply, and
/// the counts to answer.
#[derive(Debug)]
struct Checked {
    batches: Vec<(&'static DataKind, Vec<Value>)>,
    links: Vec<Link>,
    counts: LoadCounts,
}

fn validate(document: Value, kinds: &[&'static DataKind]) -> Result<Checked, ApiError> {
    let Value::Object(mut document) = document else {
        return Err(invalid(format!(
            "expected a JSON object with arrays named {}, {LOGONS}",
            kind_names(kinds)
        )));
    };
    if let Some(unknown) = document
        .keys()
        .find(|key| *key != LOGONS && !kinds.iter().any(|kind| kind.name == key.as_str()))
    {
        return Err(invalid(format!(
            "unknown kind '{unknown}'; known kinds are: {}, {LOGONS}",
            kind_names(kinds)
        )));
    }
    let mut batches = Vec::new();
    let mut links = Vec::new();
    let mut counts = Map::new();
    for &kind in kinds {
        let entities = match document.remove(kind.name) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(entities)) => entities,
            Some(_) => return Err(invalid(format!("'{}' must be an array", kind.name))),
        };
        let mut stored = Vec::with_capacity(entities.len());
        for (index, entity) in entities.into_iter().enumerate() {
            let entity = (kind.canonical)(entity).map_err(|why| invalid(format!("{}[{index}]: {why}", kind.name)))?;
            links.extend((kind.links)(&entity));
            stored.push(entity);
        }
        counts.insert(kind.name.to_string(), stored.len().into());
        batches.push((kind, stored));
    }
    if let Some(logons) = document.remove(LOGONS).filter(|v| !v.is_null()) {
        let logons: Vec<Logon> = serde_path_to_error::deserialize(logons).map_err(|e| {
            invalid(format!(
                "{LOGONS}{}: {}",
                if e.path().to_string() == "." {
                    String::new()
                } else {
                    e.path().to_string()
                },
                e.into_inner()
            ))
        })?;
        for logon in &logons {
            links.extend(logon_links(
                &logon.machine_id,
                &logon.user_id,
                account_of(&logon.user_id),
            ));
        }
        counts.insert(LOGONS.to_string(), logons.len().into());
    }
    Ok(Checked { batches, links, counts })
}

pub fn nothing_after(_: &Core, _: &str, _: &[Value]) -> DomainResult<()> {
    Ok(())
}

/// File, IP and domain lookups read what alerts' evidence observed.
pub fn index_loaded_alerts(core: &Core, tenant_id: &str, docs: &[Value]) -> DomainResult<()> {
    let alerts = docs
        .iter()
        .map(|d| serde_json::from_value::<Alert>(d.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(palisade_store::StoreError::from)?;
    core.index_alerts(tenant_id, &alerts)
}

/// Loaded indicator ids must never be handed out again by a later submit.
pub fn reserve_loaded_indicator_ids(core: &Core, _: &str, docs: &[Value]) -> DomainResult<()> {
    match docs.iter().filter_map(|d| d["id"].as_str()?.parse::<u64>().ok()).max() {
        Some(highest) => core.reserve_indicator_ids_through(highest),
        None => Ok(()),
    }
}

fn kind_names(kinds: &[&DataKind]) -> String {
    kinds.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

impl Core {
    /// Every kind a data document may hold (added families' too), in document order.
    pub fn data_kinds(&self) -> Vec<&'static DataKind> {
        crate::family::data_kinds(self.families()).collect()
    }

    /// Loads a data document into a tenant: every entity is checked first (nothing is written
    /// when one fails), then upserted by id, with the relations the entities imply.
    pub fn load_data(&self, tenant_id: &str, mut document: Value) -> DomainResult<LoadCounts> {
        let tenant = self.tenant(tenant_id)?;
        let hunting = crate::xdr::take_hunting(&mut document)?;
        let Checked {
            batches,
            links,
            mut counts,
        } = validate(document, &self.data_kinds())?;
        for (kind, docs) in &batches {
            self.store.upsert_docs(kind.table, &tenant.id, docs)?;
            (kind.after_store)(self, &tenant.id, docs)?;
        }
        self.file_loaded_alerts(&tenant.id, &batches)?;
        let loaded = |name: &str| {
            batches
                .iter()
                .find(|(k, _)| k.name == name)
                .map_or(&[][..], |(_, d)| &d[..])
        };
        if let Some(n) = self.load_hunting(&tenant.id, hunting, loaded("machines"), loaded("alerts"))? {
            counts.insert(crate::xdr::HUNTING.to_string(), n.into());
        }
        for relation in [MACHINE_USERS, USER_MACHINES, USER_ALERTS] {
            let pairs: Vec<(String, String)> = links
                .iter()
                .filter(|(kind, _, _)| *kind == relation)
                .map(|(_, from, to)| (from.clone(), to.clone()))
                .collect();
            self.store.add_links(&tenant.id, relation, &pairs)?;
        }
        Ok(counts)
    }

    /// Every loaded alert's incident exists afterwards, and loaded incidents agree with their
    /// alerts (see `xdr::incidents`).
    fn file_loaded_alerts(&self, tenant_id: &str, batches: &[(&'static DataKind, Vec<Value>)]) -> DomainResult<()> {
        let mut alerts = Vec::new();
        let mut incident_ids = Vec::new();
        for (kind, docs) in batches {
            match kind.name {
                "alerts" => {
                    alerts = docs
                        .iter()
                        .map(|d| serde_json::from_value::<Alert>(d.clone()))
                        .collect::<Result<_, _>>()
                        .map_err(palisade_store::StoreError::from)?
                }
                "incidents" => incident_ids.extend(docs.iter().filter_map(|d| d["incidentId"].as_i64())),
                _ => {}
            }
        }
        self.file_stored_alerts(tenant_id, &alerts, &incident_ids)
    }

    /// A tenant's data as a document [`Core::load_data`] takes back: every kind in key order.
    pub fn export_data(&self, tenant_id: &str) -> DomainResult<Value> {
        let tenant = self.tenant(tenant_id)?;
        let mut document = Map::new();
        let everything = palisade_odata::Query::default();
        for kind in self.data_kinds() {
            let docs = self
                .store
                .query_docs(kind.table, &tenant.id, &everything, 0, u64::MAX)?;
            let entities = docs
                .iter()
                .map(|doc| serde_json::from_str::<Value>(doc))
                .collect::<Result<Vec<_>, _>>()
                .map_err(palisade_store::StoreError::from)?;
            document.insert(kind.name.to_string(), Value::Array(entities));
        }
        let logons: Vec<Value> = self
            .store
            .all_links(&tenant.id, MACHINE_USERS)?
            .into_iter()
            .map(|(machine_id, user_id)| serde_json::json!({"machineId": machine_id, "userId": user_id}))
            .collect();
        document.insert(LOGONS.to_string(), Value::Array(logons));
        document.insert(crate::xdr::HUNTING.to_string(), self.export_hunting(&tenant.id)?);
        Ok(Value::Object(document))
    }

    /// Empties a tenant's data (its registration, settings and apps stay), then optionally puts
    /// the demo population back.
    pub fn reset_tenant(&self, tenant_id: &str, demo_data: bool) -> DomainResult<()> {
        let tenant = self.tenant(tenant_id)?;
        self.store.clear_tenant_data(&tenant.id)?;
        if demo_data {
            let data = crate::control::demo::tenant_data(&tenant.id, self.clock.now());
            self.store_demo_data(&tenant.id, &data)?;
        }
        Ok(())
    }

    /// Back to a first start: only the demo tenant (with its data) and the development app; the
    /// error journal, fault rules and rate-limit counters emptied. The signing key stays, so the CA
    /// and issued tokens of the dev app keep working.
    pub fn reset_all(&self) -> DomainResult<()> {
        self.with_journal_cleared(|| Ok(self.store.clear_all()?))?;
        self.registrations.forget_all();
        self.clear_fault_rules()?;
        self.store.clear_rate_windows()?;
        self.rate_limits.forget_tenants();
        self.install_demo_tenant()
    }

    /// Refreshes the store's query statistics, after bulk loads (`palisade load`, `palisade seed`).
    pub fn analyze(&self) -> DomainResult<()> {
        Ok(self.store.analyze()?)
    }
}

impl Core {
    /// Stores generated data: every entity family and the relations between them.
    pub fn store_demo_data(&self, tenant_id: &str, data: &demo::DemoData) -> DomainResult<()> {
        self.store
            .upsert_docs(schemas::MACHINE_TABLE, tenant_id, &to_docs(&data.machines)?)?;
        self.store
            .upsert_docs(schemas::USER_TABLE, tenant_id, &to_docs(&data.users)?)?;
        self.store
            .upsert_docs(schemas::ALERT_TABLE, tenant_id, &to_docs(&data.alerts)?)?;
        self.index_alerts(tenant_id, &data.alerts)?;
        self.file_stored_alerts(tenant_id, &data.alerts, &[])?;
        self.store
            .upsert_docs(schemas::INVESTIGATION_TABLE, tenant_id, &to_docs(&data.investigations)?)?;
        for (kind, pairs) in &data.links {
            self.store.add_links(tenant_id, kind, pairs)?;
        }
        self.record_demo_hunting(tenant_id, data)
    }

    /// Adds machines `first..first+count` of a generated population to a tenant (`palisade seed`).
    pub fn seed_machines(
        &self,
        tenant_id: &str,
        generation: &demo::Generation<'_>,
        first: u64,
        count: u64,
    ) -> DomainResult<()> {
        if self.store.find_tenant(tenant_id)?.is_none() {
            return Err(ApiError::resource_not_found("Tenant", tenant_id).into());
        }
        let machines = demo::generate_machines(generation, self.clock.now(), first, count);
        self.store
            .upsert_docs(schemas::MACHINE_TABLE, tenant_id, &to_docs(&machines)?)?;
        self.record_hunting_entities(tenant_id, &machines, &[], self.clock.now())
    }

    /// Adds alerts `first..first+count` of a generated population (`palisade seed --alerts`).
    pub fn seed_alerts(
        &self,
        tenant_id: &str,
        generation: &demo::Generation<'_>,
        population: demo::AlertPopulation,
        first: u64,
        count: u64,
    ) -> DomainResult<()> {
        if self.store.find_tenant(tenant_id)?.is_none() {
            return Err(ApiError::resource_not_found("Tenant", tenant_id).into());
        }
        let alerts = demo::generate_alerts(generation, tenant_id, self.clock.now(), population, first, count);
        let links: Vec<(String, String)> = alerts
            .iter()
            .filter_map(|a| {
                a.related_user
                    .as_ref()
                    .map(|u| (links::user_key(&u.user_name), a.id.clone()))
            })
            .collect();
        self.store
            .upsert_docs(schemas::ALERT_TABLE, tenant_id, &to_docs(&alerts)?)?;
        self.index_alerts(tenant_id, &alerts)?;
        self.file_seeded_alerts(tenant_id, &alerts)?;
        self.record_hunting_entities(tenant_id, &[], &alerts, self.clock.now())?;
        Ok(self.store.add_links(tenant_id, links::USER_ALERTS, &links)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_model::entities::Machine;

    fn builtin_kinds() -> Vec<&'static DataKind> {
        crate::family::data_kinds(crate::family::all(&[])).collect()
    }

    #[test]
    fn misspelt_and_mistyped_properties_are_named() {
        let machines = crate::control::demo::machines("t", palisade_model::time::fixed_now());
        let mut machine = serde_json::to_value(&machines[0]).unwrap();
        assert_eq!(canonical::<Machine>(machine.clone()).unwrap(), machine);
        machine["healthStatus"] = "Sleepy".into();
        let why = canonical::<Machine>(machine.clone()).unwrap_err();
        assert!(why.contains("healthStatus"), "{why}");
        machine["healthStatus"] = "Active".into();
        machine["computerDNSName"] = "x".into();
        assert_eq!(
            canonical::<Machine>(machine).unwrap_err(),
            "unknown property 'computerDNSName'"
        );
    }

    #[test]
    fn a_document_is_checked_whole_with_kind_and_index() {
        let e = validate(serde_json::json!({"machines": [], "widgets": []}), &builtin_kinds()).unwrap_err();
        assert!(e.message.contains("'widgets'") && e.message.contains("machineActions"));
        let e = validate(serde_json::json!({"users": [{"id": 1}]}), &builtin_kinds()).unwrap_err();
        assert!(e.message.contains("users[0]: property 'id'"), "{}", e.message);
    }
}
