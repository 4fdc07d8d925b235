//! The family descriptor: what one API family (machines, alerts, ...) adds to the emulator's
//! registries, declared in one place. [`FAMILIES`] lists the built-in families; a server may add
//! more at start (`Settings::extra_families`, how a test registers a toy family). Every registry
//! that used to be a separate list is read from the families: the store's entity tables (created
//! for added families by [`palisade_store::DocStore::ensure_table`]), the data document's kinds
//! (load and export), the rate-limit table, the application roles and the path words the server
//! normalises. The routes and OpenAPI operations pair with a family on the server side
//! (`palisade_server::families`).
//!
//! The tests below fail when a registry has an entry no family declares, or one declared twice.
//! Demo data stays in `control::demo` (it is one population spanning families, not per family).

use crate::control::data::{self, DataKind};
use crate::control::ratelimit::{api, tenant_api, ApiLimit};
use palisade_model::entities::{Alert, IncidentRecord, Indicator, Investigation, Machine, MachineAction, User};
use palisade_model::schemas::{
    EntityTable, ALERT_TABLE, INCIDENT_TABLE, INDICATOR_TABLE, INVESTIGATION_TABLE, LIBRARY_FILE_TABLE,
    MACHINE_ACTION_TABLE, MACHINE_TABLE, USER_TABLE,
};

/// One API family's share of every registry.
#[derive(Debug)]
pub struct Family {
    /// A short name, unique among families (`machines`).
    pub name: &'static str,
    /// The store's entity tables the family owns.
    pub tables: &'static [EntityTable],
    /// The kinds of the data document (load, export) the family owns.
    pub data_kinds: &'static [DataKind],
    /// Its APIs whose pages state other limits than the default (`ratelimit::DEFAULT_LIMIT`).
    pub limits: &'static [ApiLimit],
    /// The application roles its operations check.
    pub roles: &'static [&'static str],
    /// The fixed words of its paths, in the router's spelling: clients may send them in any case.
    pub path_words: &'static [&'static str],
}

/// Families compare by name (they hold function pointers, which do not compare reliably).
impl PartialEq for Family {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Family {}

/// Path words no single family owns.
pub const SHARED_PATH_WORDS: &[&str] = &["api", "$count"];

/// Every built-in family. Adding a family is a `Family` (here, or beside its domain operations)
/// and one line in this list (and one line in the server's `families`, with its routes).
pub const FAMILIES: &[&Family] = &[
    &MACHINES,
    &ALERTS,
    &MACHINE_ACTIONS,
    &INVESTIGATIONS,
    &USERS,
    &INDICATORS,
    &LOOKUPS,
    &LIBRARY,
    &INCIDENTS,
    &HUNTING,
    &crate::graph::FAMILY,
];

const MACHINE_READ_WRITE: &[&str] = &["Machine.Read.All", "Machine.ReadWrite.All"];

pub const MACHINES: Family = Family {
    name: "machines",
    tables: &[MACHINE_TABLE],
    data_kinds: &[DataKind {
        name: "machines",
        table: MACHINE_TABLE,
        canonical: data::canonical::<Machine>,
        links: data::no_links,
        after_store: data::nothing_after,
    }],
    limits: &[],
    roles: MACHINE_READ_WRITE,
    path_words: &[
        "machines",
        "tags",
        "setDeviceValue",
        "logonusers",
        "findbytag",
        "findbyip",
        "find",
        "AddOrRemoveTagForMultipleMachines",
    ],
};

pub const ALERTS: Family = Family {
    name: "alerts",
    tables: &[ALERT_TABLE],
    data_kinds: &[DataKind {
        name: "alerts",
        table: ALERT_TABLE,
        canonical: data::canonical::<Alert>,
        links: data::alert_links,
        after_store: data::index_loaded_alerts,
    }],
    limits: &[
        api(
            "Batch update alerts",
            "POST",
            "/api/alerts/batchUpdate",
            Some(10),
            Some(500),
        ),
        api(
            "Create alert by reference",
            "POST",
            "/api/alerts/CreateAlertByReference",
            Some(15),
            None,
        ),
    ],
    roles: &["Alert.Read.All", "Alert.ReadWrite.All"],
    path_words: &["alerts", "batchUpdate", "CreateAlertByReference", "machine", "user"],
};

pub const MACHINE_ACTIONS: Family = Family {
    name: "machineActions",
    tables: &[MACHINE_ACTION_TABLE],
    data_kinds: &[DataKind {
        name: "machineActions",
        table: MACHINE_ACTION_TABLE,
        canonical: data::canonical::<MachineAction>,
        links: data::no_links,
        after_store: data::nothing_after,
    }],
    limits: &[
        api(
            "Get package SAS URI",
            "GET",
            "/api/machineactions/{id}/getPackageUri",
            Some(2),
            Some(120),
        ),
        api(
            "Run live response",
            "POST",
            "/api/machines/{id}/runliveresponse",
            Some(10),
            None,
        ),
    ],
    roles: &[
        "Machine.Isolate",
        "Machine.RestrictExecution",
        "Machine.Scan",
        "Machine.CollectForensics",
        "Machine.Offboard",
        "Machine.StopAndQuarantine",
        "Machine.LiveResponse",
    ],
    path_words: &[
        "machineactions",
        "isolate",
        "unisolate",
        "restrictCodeExecution",
        "unrestrictCodeExecution",
        "runAntiVirusScan",
        "collectInvestigationPackage",
        "offboard",
        "StopAndQuarantineFile",
        "runliveresponse",
        "cancel",
        "getPackageUri",
        "GetLiveResponseResultDownloadLink",
    ],
};

pub const INVESTIGATIONS: Family = Family {
    name: "investigations",
    tables: &[INVESTIGATION_TABLE],
    data_kinds: &[DataKind {
        name: "investigations",
        table: INVESTIGATION_TABLE,
        canonical: data::canonical::<Investigation>,
        links: data::no_links,
        after_store: data::nothing_after,
    }],
    limits: &[api(
        "Start investigation",
        "POST",
        "/api/machines/{id}/startInvestigation",
        None,
        Some(50),
    )],
    roles: &[],
    path_words: &["investigations", "startInvestigation"],
};

pub const USERS: Family = Family {
    name: "users",
    tables: &[USER_TABLE],
    data_kinds: &[DataKind {
        name: "users",
        table: USER_TABLE,
        canonical: data::canonical::<User>,
        links: data::user_links,
        after_store: data::nothing_after,
    }],
    limits: &[],
    roles: &["User.Read.All"],
    path_words: &["users"],
};

pub const INDICATORS: Family = Family {
    name: "indicators",
    tables: &[INDICATOR_TABLE],
    data_kinds: &[DataKind {
        name: "indicators",
        table: INDICATOR_TABLE,
        canonical: data::canonical::<Indicator>,
        links: data::no_links,
        after_store: data::reserve_loaded_indicator_ids,
    }],
    limits: &[
        api("Import indicators", "POST", "/api/indicators/import", Some(30), None),
        api(
            "Batch delete indicators",
            "POST",
            "/api/indicators/BatchDelete",
            Some(30),
            Some(1500),
        ),
    ],
    roles: &["Ti.ReadWrite", "Ti.ReadWrite.All"],
    path_words: &["indicators", "import", "BatchDelete"],
};

/// File, IP and domain lookups: they read what alerts' evidence observed, no table of their own.
pub const LOOKUPS: Family = Family {
    name: "lookups",
    tables: &[],
    data_kinds: &[],
    limits: &[],
    roles: &["File.Read.All", "Ip.Read.All", "URL.Read.All"],
    path_words: &["files", "ips", "domains", "stats"],
};

/// The live-response library: its files sit in the data directory, not in the data document.
pub const LIBRARY: Family = Family {
    name: "library",
    tables: &[LIBRARY_FILE_TABLE],
    data_kinds: &[],
    limits: &[],
    roles: &["Library.Manage"],
    path_words: &["libraryfiles"],
};

/// Defender XDR incidents (`xdr::incidents`; xdr-api-and-auth.md §2.5–§2.6): the terms page says
/// 50/minute for the incidents API; the get-incident page says 100/minute (the default), kept for
/// it. The data kind is an incident without its alerts (alerts name it by `incidentId`); after
/// any load, `Core::file_stored_alerts` derives the incidents loaded alerts name.
pub const INCIDENTS: Family = Family {
    name: "incidents",
    tables: &[INCIDENT_TABLE],
    data_kinds: &[DataKind {
        name: "incidents",
        table: INCIDENT_TABLE,
        canonical: data::canonical::<IncidentRecord>,
        links: data::no_links,
        after_store: data::nothing_after,
    }],
    limits: &[
        api("List incidents", "GET", "/api/incidents", Some(50), Some(1500)),
        api("Update incident", "PATCH", "/api/incidents/{id}", Some(50), Some(1500)),
    ],
    roles: &["Incident.Read.All", "Incident.ReadWrite.All"],
    path_words: &["incidents"],
};

/// Defender XDR advanced hunting, also served as Defender for Endpoint's advanced queries
/// (`xdr::hunting`). Its 13 tables are not entity tables (they are the store's `HuntingStore`, and
/// the data document's `hunting` property, see `xdr::take_hunting`). Limits (xdr-api-and-auth.md
/// §2.5): 45 calls per minute and 1,500 per hour per tenant (the observed 429 bodies: "maximum
/// allowed 45 per 00:01:00", "1500 per 01:00:00"); the two routes are two APIs with their own
/// windows.
pub const HUNTING: Family = Family {
    name: "hunting",
    tables: &[],
    data_kinds: &[],
    limits: &[
        tenant_api(
            "Advanced hunting",
            "POST",
            "/api/advancedhunting/run",
            Some(45),
            Some(1500),
        ),
        tenant_api(
            "Advanced queries",
            "POST",
            "/api/advancedqueries/run",
            Some(45),
            Some(1500),
        ),
    ],
    roles: &["AdvancedHunting.Read.All", "AdvancedQuery.Read.All"],
    path_words: &["advancedhunting", "advancedqueries", "run"],
};

/// The built-in families and then `extra`, as the registries read them.
pub fn all<'a>(extra: &'a [&'static Family]) -> impl Iterator<Item = &'static Family> + Clone + 'a {
    FAMILIES.iter().chain(extra).copied()
}

/// Every data kind of `families`, in family order.
pub fn data_kinds(families: impl Iterator<Item = &'static Family>) -> impl Iterator<Item = &'static DataKind> {
    families.flat_map(|f| f.data_kinds.iter())
}

/// Every path word of `families`, with the shared ones first.
pub fn path_words(families: impl Iterator<Item = &'static Family>) -> impl Iterator<Item = &'static str> {
    SHARED_PATH_WORDS
        .iter()
        .copied()
        .chain(families.flat_map(|f| f.path_words.iter().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Each item declared by exactly one family; the names of those declared twice.
    fn declared_twice<'a>(items: impl Iterator<Item = (&'static str, &'a str)>) -> Vec<String> {
        let mut owners: HashMap<String, Vec<&'static str>> = HashMap::new();
        for (family, item) in items {
            owners.entry(item.to_ascii_lowercase()).or_default().push(family);
        }
        let mut twice: Vec<String> = owners
            .into_iter()
            .filter(|(_, families)| families.len() > 1)
            .map(|(item, families)| format!("{item}: {families:?}"))
            .collect();
        twice.sort();
        twice
    }

    #[test]
    fn family_names_are_unique() {
        let twice = declared_twice(FAMILIES.iter().map(|f| (f.name, f.name)));
        assert!(twice.is_empty(), "{twice:?}");
    }

    /// The store creates exactly the families' tables, each owned by one family.
    #[test]
    fn every_entity_table_belongs_to_exactly_one_family() {
        let declared: Vec<&str> = FAMILIES.iter().flat_map(|f| f.tables.iter().map(|t| t.table)).collect();
        let twice = declared_twice(FAMILIES.iter().flat_map(|f| f.tables.iter().map(|t| (f.name, t.table))));
        assert!(twice.is_empty(), "tables declared twice: {twice:?}");
        let mut registered: Vec<&str> = palisade_model::schemas::ENTITY_TABLES.iter().map(|t| t.table).collect();
        let mut declared = declared;
        registered.sort();
        declared.sort();
        assert_eq!(registered, declared, "ENTITY_TABLES against the families' tables");
    }

    /// A data kind stores into a table of its own family, and kind names are unique.
    #[test]
    fn every_data_kind_belongs_to_its_family_and_table() {
        let twice = declared_twice(
            FAMILIES
                .iter()
                .flat_map(|f| f.data_kinds.iter().map(|k| (f.name, k.name))),
        );
        assert!(twice.is_empty(), "data kinds declared twice: {twice:?}");
        for family in FAMILIES {
            for kind in family.data_kinds {
                assert!(
                    family.tables.iter().any(|t| t.table == kind.table.table),
                    "{}: kind {} stores into {}, not a table of the family",
                    family.name,
                    kind.name,
                    kind.table.table
                );
            }
        }
        // Every table the loader can fill is exported back: at least the document's six kinds.
        assert!(data_kinds(all(&[])).count() >= 6);
    }

    /// Every application role the emulator knows is checked by exactly one family.
    #[test]
    fn every_role_belongs_to_exactly_one_family() {
        let twice = declared_twice(FAMILIES.iter().flat_map(|f| f.roles.iter().map(|r| (f.name, *r))));
        assert!(twice.is_empty(), "roles declared twice: {twice:?}");
        let mut declared: Vec<&str> = FAMILIES.iter().flat_map(|f| f.roles.iter().copied()).collect();
        let mut known: Vec<&str> = palisade_auth::ALL_APP_ROLES.to_vec();
        declared.sort();
        known.sort();
        assert_eq!(known, declared, "ALL_APP_ROLES against the families' roles");
    }

    /// Path words are unique across families, and every limited path is spelt with the words of
    /// its family (or shared ones), so a limit cannot name a path its family does not normalise.
    #[test]
    fn path_words_and_limits_belong_to_exactly_one_family() {
        let words = FAMILIES
            .iter()
            .flat_map(|f| f.path_words.iter().map(|w| (f.name, *w)))
            .chain(SHARED_PATH_WORDS.iter().map(|w| ("shared", *w)));
        let twice = declared_twice(words);
        assert!(twice.is_empty(), "path words declared twice: {twice:?}");
        let limits = declared_twice(
            FAMILIES
                .iter()
                .flat_map(|f| f.limits.iter().map(|l| (f.name, l.api.unwrap_or("")))),
        );
        assert!(limits.is_empty(), "limits declared twice: {limits:?}");
        let known: Vec<&str> = path_words(all(&[])).collect();
        for family in FAMILIES {
            for limit in family.limits {
                let path = limit.path.expect("a table entry has a path");
                for word in path.split('/').filter(|w| !w.is_empty() && !w.starts_with('{')) {
                    assert!(
                        known.contains(&word),
                        "{}: limit path word {word} is not declared",
                        family.name
                    );
                }
            }
        }
    }
}
