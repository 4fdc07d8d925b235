//! The OpenAPI 3.0 document of the emulated and admin APIs (`GET /openapi.json`) and a
//! self-contained page that browses it (`GET /_palisade/docs`; no CDN, the emulator runs offline).
//!
//! The document is built from one table of operations, plus the operations of families added in
//! the configuration (`crate::families`). Entity shapes come from the OData schemas
//! the list endpoints execute, and request bodies from the `request_body!` declarations the
//! extractors parse, so neither can drift from the code; `components.schemas` holds every entity
//! the table names, so no reference dangles. Failures are declared in the format each contract
//! answers: the Defender envelope (`Error`), or Entra's OAuth2 body (`EntraError`) for sign-in and
//! discovery. The same table answers a 405's `Allow` ([`allowed_methods`]), since the router
//! cannot: `findbyip(...)` shares the `/api/machines/{id}` route.
//!
//! Three tests hold the table to the code: an `insta` snapshot pins the whole document (any change
//! shows as a reviewed diff); a unit test holds the list of what the router builder registers
//! ([`crate::routing::Routes`]) against this table in both directions; an API test calls every
//! operation listed here and fails if the running server does not route it.

use crate::admin::{self, faults};
use crate::api::graph::alerts as graph_alerts;
use crate::api::graph::hunting as graph_hunting;
use crate::api::graph::incidents as graph_incidents;
use crate::api::mde::{actions, alerts, indicators, machines};
use crate::api::xdr::{hunting, incidents};
use crate::extract::{Origin, RequestBody};
use crate::families::RouteFamily;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use palisade_model::graph::{GRAPH_ALERTS, GRAPH_INCIDENTS};
use palisade_model::schemas::{
    ALERTS, INCIDENTS, INDICATORS, INVESTIGATIONS, LIBRARY_FILES, MACHINES, MACHINE_ACTIONS, USERS,
};
use palisade_odata::{EntitySchema, PropType};
use serde_json::{json, Map, Value};

/// What an operation takes besides its path parameters.
pub enum Input {
    None,
    /// The OData query options of a collection.
    ListOptions(&'static EntitySchema),
    /// `$filter` only (`/$count`).
    CountFilter,
    /// Query-string parameters: `(name, required, description)`.
    Query(&'static [(&'static str, bool, &'static str)]),
    /// A JSON object body, from its `request_body!` declaration.
    Json(&'static [(&'static str, bool)], &'static [&'static str]),
    /// A form body (sign-in): `(name, required)`.
    Form(&'static [(&'static str, bool)]),
    /// A `multipart/form-data` body: `(name, required)`; a field named `File` is the file.
    Multipart(&'static [(&'static str, bool)]),
    /// A JSON body described in words (admin endpoints with free-form bodies).
    FreeJson(&'static str),
}

/// What a successful call answers.
pub enum Answer {
    Collection(&'static EntitySchema),
    Entity(&'static EntitySchema),
    /// A bare integer (`/$count`).
    Count,
    /// No body.
    Empty,
    /// Some JSON, described in words.
    Json(&'static str),
    /// A file download.
    File,
    /// An HTML page.
    Html,
    /// Plain text, described in words (Prometheus metrics).
    Text(&'static str),
}

pub struct Operation {
    pub method: &'static str,
    /// The path as the router spells it, with `{name}` parameters.
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Application roles, any of which admits the call; empty for open and admin endpoints.
    pub roles: &'static [&'static str],
    pub input: Input,
    pub status: u16,
    pub answer: Answer,
}

impl Operation {
    /// The entity schemas the operation takes or answers (for `components.schemas`).
    fn entities(&self) -> impl Iterator<Item = &'static EntitySchema> {
        let input = match self.input {
            Input::ListOptions(schema) => Some(schema),
            _ => None,
        };
        let answer = match self.answer {
            Answer::Collection(schema) | Answer::Entity(schema) => Some(schema),
            _ => None,
        };
        input.into_iter().chain(answer)
    }
}

/// The methods the table documents for the operation path that `path` (as routed, after
/// normalisation) is an instance of, upper-case, for a 405's `Allow`. The most literal template
/// wins, so `/api/machines/findbyip(...)` is its own operation, not `/api/machines/{id}` (which
/// the router shares with it because the function call sits where a machine id would).
pub fn allowed_methods(path: &str, extra: &[&'static RouteFamily]) -> Option<Vec<String>> {
    let operations = all_operations(extra);
    let best = operations
        .iter()
        .filter(|o| template_matches(o.path, path))
        .map(|o| (literal_length(o.path), o.path))
        .max()?;
    let mut methods: Vec<String> = operations
        .iter()
        .filter(|o| o.path == best.1)
        .map(|o| o.method.to_ascii_uppercase())
        .collect();
    if let Some(get) = methods.iter().position(|m| m == "GET") {
        // axum answers HEAD wherever it answers GET (and lists it next to GET).
        methods.insert(get + 1, "HEAD".into());
    }
    Some(methods)
}

/// The characters of `template` outside its `{name}` parameters.
fn literal_length(template: &str) -> usize {
    let mut inside = false;
    template
        .chars()
        .filter(|&c| {
            let literal = !inside && c != '{';
            inside = (inside || c == '{') && c != '}';
            literal
        })
        .count()
}

/// Whether `path` is an instance of `template`: segment by segment, literal text compared without
/// regard to case, each `{name}` standing for one or more characters other than `/`.
fn template_matches(template: &str, path: &str) -> bool {
    let template: Vec<&str> = template.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    template.len() == path.len() && template.iter().zip(&path).all(|(t, p)| segment_matches(t, p))
}

fn segment_matches(template: &str, segment: &str) -> bool {
    match template.split_once('{') {
        None => template.eq_ignore_ascii_case(segment),
        Some((literal, rest)) => {
            let Some(head) = segment.get(..literal.len()) else {
                return false;
            };
            if !head.eq_ignore_ascii_case(literal) {
                return false;
            }
            let rest_template = rest.split_once('}').map_or("", |(_, after)| after);
            let segment = &segment[literal.len()..];
            // The parameter takes at least one character; try every split (segments are short).
            (1..=segment.len())
                .filter(|&n| segment.is_char_boundary(n))
                .any(|n| segment_matches(rest_template, &segment[n..]))
        }
    }
}

/// The JSON body of `T`, as its extractor parses it.
pub const fn json_body<T: RequestBody>() -> Input {
    Input::Json(T::PROPERTIES, T::RUST_TYPES)
}

const MACHINE_READ: &[&str] = &["Machine.Read.All", "Machine.ReadWrite.All"];
const MACHINE_WRITE: &[&str] = &["Machine.ReadWrite.All"];
const ALERT_READ: &[&str] = &["Alert.Read.All", "Alert.ReadWrite.All"];
const ALERT_WRITE: &[&str] = &["Alert.ReadWrite.All"];
const ACTION_ROLES: &[&str] = &[
    "Machine.Isolate",
    "Machine.RestrictExecution",
    "Machine.Scan",
    "Machine.CollectForensics",
    "Machine.Offboard",
    "Machine.StopAndQuarantine",
    "Machine.LiveResponse",
];
const TI: &[&str] = &["Ti.ReadWrite", "Ti.ReadWrite.All"];
const INCIDENT_READ: &[&str] = &["Incident.Read.All", "Incident.ReadWrite.All"];
const INCIDENT_WRITE: &[&str] = &["Incident.ReadWrite.All"];
const NO_ROLES: &[&str] = &[];
const LOOK_BACK: Input = Input::Query(&[("lookBackHours", false, "1–720, default 720 (30 days)")]);

const MDE: &str = "Defender for Endpoint";
const GRAPH: &str = "Microsoft Graph security";
const GRAPH_ALERT_READ: &[&str] = palisade_domain::graph::ALERT_READ;
const GRAPH_ALERT_WRITE: &[&str] = palisade_domain::graph::ALERT_WRITE;
const GRAPH_INCIDENT_READ: &[&str] = &["SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"];
const GRAPH_INCIDENT_WRITE: &[&str] = &["SecurityIncident.ReadWrite.All"];
const XDR: &str = "Defender XDR";
const SIGN_IN: &str = "Sign-in";
const ADMIN: &str = "Emulator control (/_palisade)";

/// Shorthand for the table below.
#[allow(clippy::too_many_arguments)]
const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    roles: &'static [&'static str],
    input: Input,
    status: u16,
    answer: Answer,
) -> Operation {
    Operation {
        method,
        path,
        tag,
        summary,
        roles,
        input,
        status,
        answer,
    }
}

/// Every operation the server routes. One line each: a table reads better than rustfmt's layout.
#[rustfmt::skip]
pub fn operations() -> Vec<Operation> {
    use Answer as A;
    use Input as I;
    vec![
        // Machines
        op("get", "/api/machines", MDE, "List machines", MACHINE_READ, I::ListOptions(&MACHINES), 200, A::Collection(&MACHINES)),
        op("get", "/api/machines/$count", MDE, "Count machines", MACHINE_READ, I::CountFilter, 200, A::Count),
        op("get", "/api/machines/{id}", MDE, "Get a machine by id or computer name", MACHINE_READ, I::None, 200, A::Entity(&MACHINES)),
        op("patch", "/api/machines/{id}", MDE, "Update a machine's tags and device value", MACHINE_WRITE, json_body::<machines::UpdateMachineRequest>(), 200, A::Entity(&MACHINES)),
        op("get", "/api/machines/findbyip(ip='{ip}',timestamp={timestamp})", MDE, "Find machines that had an IP address around a time (±15 min)", MACHINE_READ, I::None, 200, A::Collection(&MACHINES)),
        op("get", "/api/machines/find(timestamp={timestamp},key='{ip}')", MDE, "Find machines by IP (legacy form, ±16 min, 404 when none)", MACHINE_READ, I::None, 200, A::Collection(&MACHINES)),
        op("get", "/api/machines/findbytag", MDE, "Find machines by tag", MACHINE_READ, I::Query(&[("tag", true, "the tag"), ("useStartsWithFilter", false, "true: prefix match")]), 200, A::Collection(&MACHINES)),
        op("get", "/api/machines/{id}/logonusers", MDE, "Users logged on to a machine", &["User.Read.All"], I::None, 200, A::Collection(&USERS)),
        op("get", "/api/machines/{id}/alerts", MDE, "A machine's alerts", ALERT_READ, I::ListOptions(&ALERTS), 200, A::Collection(&ALERTS)),
        op("get", "/api/machines/{id}/alerts/$count", MDE, "Count a machine's alerts", ALERT_READ, I::CountFilter, 200, A::Count),
        op("post", "/api/machines/{id}/tags", MDE, "Add or remove a machine tag", MACHINE_WRITE, json_body::<machines::TagRequest>(), 200, A::Entity(&MACHINES)),
        op("post", "/api/machines/{id}/setDeviceValue", MDE, "Set a machine's device value", MACHINE_WRITE, json_body::<machines::DeviceValueRequest>(), 200, A::Entity(&MACHINES)),
        op("post", "/api/machines/AddOrRemoveTagForMultipleMachines", MDE, "Tag up to 500 machines (all or nothing)", MACHINE_WRITE, json_body::<machines::MultiTagRequest>(), 200, A::Collection(&MACHINES)),
        // Incidents (Defender XDR)
        op("get", "/api/incidents", XDR, "List incidents with their alerts (most recent first; $top ≤ 100; $filter on lastUpdateTime, createdTime, status, assignedTo)", INCIDENT_READ, I::ListOptions(&INCIDENTS), 200, A::Collection(&INCIDENTS)),
        op("get", "/api/incidents/{id}", XDR, "Get an incident with its alerts, devices and entities", INCIDENT_READ, I::None, 200, A::Entity(&INCIDENTS)),
        op("patch", "/api/incidents/{id}", XDR, "Update an incident (status, assignedTo, classification, determination, tags, comment)", INCIDENT_WRITE, json_body::<incidents::UpdateRequest>(), 200, A::Entity(&INCIDENTS)),
        // Alerts
        op("get", "/api/alerts", MDE, "List alerts", ALERT_READ, I::ListOptions(&ALERTS), 200, A::Collection(&ALERTS)),
        op("get", "/api/alerts/$count", MDE, "Count alerts", ALERT_READ, I::CountFilter, 200, A::Count),
        op("get", "/api/alerts/{id}", MDE, "Get an alert (with evidence)", ALERT_READ, I::None, 200, A::Entity(&ALERTS)),
        op("patch", "/api/alerts/{id}", MDE, "Update an alert", ALERT_WRITE, json_body::<alerts::UpdateRequest>(), 200, A::Entity(&ALERTS)),
        op("post", "/api/alerts/batchUpdate", MDE, "Update up to 500 alerts (all or nothing)", ALERT_WRITE, json_body::<alerts::BatchUpdateRequest>(), 200, A::Empty),
        op("post", "/api/alerts/CreateAlertByReference", MDE, "Create an alert from an event", ALERT_WRITE, json_body::<alerts::CreateByReferenceRequest>(), 200, A::Entity(&ALERTS)),
        op("get", "/api/alerts/{id}/domains", MDE, "Domains in an alert's evidence", &["URL.Read.All"], I::None, 200, A::Json("{value: [{host}]}")),
        op("get", "/api/alerts/{id}/files", MDE, "Files in an alert's evidence", &["File.Read.All"], I::None, 200, A::Json("{value: [File]}")),
        op("get", "/api/alerts/{id}/ips", MDE, "IP addresses in an alert's evidence", &["Ip.Read.All"], I::None, 200, A::Json("{value: [{id}]}")),
        op("get", "/api/alerts/{id}/machine", MDE, "The alert's machine", MACHINE_READ, I::None, 200, A::Entity(&MACHINES)),
        op("get", "/api/alerts/{id}/user", MDE, "The alert's user", &["User.Read.All"], I::None, 200, A::Entity(&USERS)),
        // Microsoft Graph security (the same operations answer under /beta/security/)
        op("get", "/v1.0/security/alerts_v2", GRAPH, "List alerts (Graph)", GRAPH_ALERT_READ, I::ListOptions(&GRAPH_ALERTS), 200, A::Collection(&GRAPH_ALERTS)),
        op("get", "/v1.0/security/alerts_v2/{id}", GRAPH, "Get an alert (Graph)", GRAPH_ALERT_READ, I::None, 200, A::Entity(&GRAPH_ALERTS)),
        op("patch", "/v1.0/security/alerts_v2/{id}", GRAPH, "Update an alert (Graph)", GRAPH_ALERT_WRITE, json_body::<graph_alerts::UpdateAlertRequest>(), 200, A::Entity(&GRAPH_ALERTS)),
        op("post", "/v1.0/security/alerts_v2/{id}/comments", GRAPH, "Comment on an alert (Graph); answers every comment", GRAPH_ALERT_WRITE, json_body::<graph_alerts::CommentRequest>(), 200, A::Json("{value: [alertComment]}")),
        op("get", "/beta/security/alerts_v2", GRAPH, "List alerts (Graph beta)", GRAPH_ALERT_READ, I::ListOptions(&GRAPH_ALERTS), 200, A::Collection(&GRAPH_ALERTS)),
        op("get", "/beta/security/alerts_v2/{id}", GRAPH, "Get an alert (Graph beta)", GRAPH_ALERT_READ, I::None, 200, A::Entity(&GRAPH_ALERTS)),
        op("patch", "/beta/security/alerts_v2/{id}", GRAPH, "Update an alert (Graph beta)", GRAPH_ALERT_WRITE, json_body::<graph_alerts::UpdateAlertRequest>(), 200, A::Entity(&GRAPH_ALERTS)),
        op("post", "/beta/security/alerts_v2/{id}/comments", GRAPH, "Comment on an alert (Graph beta)", GRAPH_ALERT_WRITE, json_body::<graph_alerts::CommentRequest>(), 200, A::Json("{value: [alertComment]}")),
        op("get", "/v1.0/security/incidents", GRAPH, "List incidents (Graph); $expand=alerts", GRAPH_INCIDENT_READ, I::ListOptions(&GRAPH_INCIDENTS), 200, A::Collection(&GRAPH_INCIDENTS)),
        op("get", "/v1.0/security/incidents/{id}", GRAPH, "Get an incident (Graph); $expand=alerts", GRAPH_INCIDENT_READ, I::ListOptions(&GRAPH_INCIDENTS), 200, A::Entity(&GRAPH_INCIDENTS)),
        op("patch", "/v1.0/security/incidents/{id}", GRAPH, "Update an incident (Graph)", GRAPH_INCIDENT_WRITE, json_body::<graph_incidents::UpdateIncidentRequest>(), 200, A::Entity(&GRAPH_INCIDENTS)),
        op("post", "/v1.0/security/incidents/{id}/comments", GRAPH, "Comment on an incident (Graph); answers every comment", GRAPH_INCIDENT_WRITE, json_body::<graph_incidents::IncidentCommentRequest>(), 200, A::Json("{value: [alertComment]}")),
        op("get", "/beta/security/incidents", GRAPH, "List incidents (Graph beta)", GRAPH_INCIDENT_READ, I::ListOptions(&GRAPH_INCIDENTS), 200, A::Collection(&GRAPH_INCIDENTS)),
        op("get", "/beta/security/incidents/{id}", GRAPH, "Get an incident (Graph beta)", GRAPH_INCIDENT_READ, I::ListOptions(&GRAPH_INCIDENTS), 200, A::Entity(&GRAPH_INCIDENTS)),
        op("patch", "/beta/security/incidents/{id}", GRAPH, "Update an incident (Graph beta)", GRAPH_INCIDENT_WRITE, json_body::<graph_incidents::UpdateIncidentRequest>(), 200, A::Entity(&GRAPH_INCIDENTS)),
        op("post", "/beta/security/incidents/{id}/comments", GRAPH, "Comment on an incident (Graph beta)", GRAPH_INCIDENT_WRITE, json_body::<graph_incidents::IncidentCommentRequest>(), 200, A::Json("{value: [alertComment]}")),
        op("post", "/v1.0/security/runHuntingQuery", GRAPH, "Run an advanced hunting query (Graph), over its Timespan (default 30 days)", palisade_domain::graph::HUNTING, json_body::<graph_hunting::RunHuntingQueryRequest>(), 200, A::Json("huntingQueryResults: {schema: [{name, type}], results: [{column: value}]}")),
        op("post", "/v1.0/security/microsoft.graph.security.runHuntingQuery", GRAPH, "runHuntingQuery under its namespace-qualified name (what the Graph SDKs call)", palisade_domain::graph::HUNTING, json_body::<graph_hunting::RunHuntingQueryRequest>(), 200, A::Json("huntingQueryResults: {schema: [{name, type}], results: [{column: value}]}")),
        op("post", "/beta/security/runHuntingQuery", GRAPH, "Run an advanced hunting query (Graph beta)", palisade_domain::graph::HUNTING, json_body::<graph_hunting::RunHuntingQueryRequest>(), 200, A::Json("huntingQueryResults: {schema: [{name, type}], results: [{column: value}]}")),
        op("post", "/beta/security/microsoft.graph.security.runHuntingQuery", GRAPH, "runHuntingQuery, namespace-qualified (Graph beta)", palisade_domain::graph::HUNTING, json_body::<graph_hunting::RunHuntingQueryRequest>(), 200, A::Json("huntingQueryResults: {schema: [{name, type}], results: [{column: value}]}")),
        // Advanced hunting (Defender XDR, and Defender for Endpoint's advanced queries)
        op("post", "/api/advancedhunting/run", XDR, "Run an advanced hunting query (KQL) over the last 30 days", &["AdvancedHunting.Read.All"], json_body::<hunting::HuntingRequest>(), 200, A::Json("{Stats, Schema: [{Name, Type}], Results: [{column: value}]}; at most 100,000 rows")),
        op("post", "/api/advancedqueries/run", MDE, "Run an advanced hunting query (KQL), Defender for Endpoint's route", &["AdvancedQuery.Read.All"], json_body::<hunting::HuntingRequest>(), 200, A::Json("{Stats, Schema: [{Name, Type}], Results: [{column: value}]}; at most 100,000 rows")),
        // Users, investigations
        op("get", "/api/users/{id}/alerts", MDE, "A user's alerts", ALERT_READ, I::ListOptions(&ALERTS), 200, A::Collection(&ALERTS)),
        op("get", "/api/users/{id}/machines", MDE, "Machines a user logged on to", MACHINE_WRITE, I::ListOptions(&MACHINES), 200, A::Collection(&MACHINES)),
        op("get", "/api/investigations", MDE, "List automated investigations", ALERT_READ, I::ListOptions(&INVESTIGATIONS), 200, A::Collection(&INVESTIGATIONS)),
        op("get", "/api/investigations/$count", MDE, "Count investigations", ALERT_READ, I::CountFilter, 200, A::Count),
        op("get", "/api/investigations/{id}", MDE, "Get an investigation (or by triggering alert id)", ALERT_READ, I::None, 200, A::Entity(&INVESTIGATIONS)),
        op("post", "/api/machines/{id}/startInvestigation", MDE, "Start an automated investigation", ALERT_WRITE, json_body::<actions::CommentRequest>(), 201, A::Entity(&INVESTIGATIONS)),
        // Machine actions
        op("get", "/api/machineactions", MDE, "List machine actions", MACHINE_READ, I::ListOptions(&MACHINE_ACTIONS), 200, A::Collection(&MACHINE_ACTIONS)),
        op("get", "/api/machineactions/$count", MDE, "Count machine actions", MACHINE_READ, I::CountFilter, 200, A::Count),
        op("get", "/api/machineactions/{id}", MDE, "Get a machine action", MACHINE_READ, I::None, 200, A::Entity(&MACHINE_ACTIONS)),
        op("post", "/api/machineactions/{id}/cancel", MDE, "Cancel a pending machine action", ACTION_ROLES, json_body::<actions::CommentRequest>(), 200, A::Entity(&MACHINE_ACTIONS)),
        op("get", "/api/machineactions/{id}/getPackageUri", MDE, "Download link of a collected investigation package", MACHINE_READ, I::None, 200, A::Json("{value: url}")),
        op("get", "/api/machineactions/{id}/GetLiveResponseResultDownloadLink(index={index})", MDE, "Download link of a live-response command's result (30 min)", MACHINE_READ, I::None, 200, A::Json("{value: url}")),
        op("post", "/api/machines/{id}/isolate", MDE, "Isolate a machine", &["Machine.Isolate"], json_body::<actions::IsolateRequest>(), 201, A::Entity(&MACHINE_ACTIONS)),
        op("post", "/api/machines/{id}/unisolate", MDE, "Release a machine from isolation", &["Machine.Isolate"], json_body::<actions::CommentRequest>(), 201, A::Entity(&MACHINE_ACTIONS)),
        op("post", "/api/machines/{id}/restrictCodeExecution", MDE, "Restrict app execution", &["Machine.RestrictExecution"], json_body::<actions::CommentRequest>(), 201, A::Entity(&MACHINE_ACTIONS)),
        op("post", "/api/machines/{id}/unrestrictCodeExecution", MDE, "Remove app restriction", &["Machine.RestrictExecution"], json_body::<actions::CommentRequest>(), 201, A::Entity(&MACHINE_ACTIONS)),
        op("post", "/api/machines/{id}/runAntiVirusScan", MDE, "Run an antivirus scan", &["Machine.Scan"], json_body::<actions::ScanRequest>(), 201, A::Entity(&MACHINE_ACTIONS)),
        op("post", "/api/machines/{id}/collectInvestigationPackage", MDE, "Collect an investigation package", &["Machine.CollectForensics"], json_body::<actions::CommentRequest>(), 201, A::Entity(&MACHINE_ACTIONS)),
        op("post", "/api/machines/{id}/offboard", MDE, "Offboard a machine", &["Machine.Offboard"], json_body::<actions::CommentRequest>(), 201, A::Entity(&MACHINE_ACTIONS)),
        op("post", "/api/machines/{id}/StopAndQuarantineFile", MDE, "Stop and quarantine a file", &["Machine.StopAndQuarantine"], json_body::<actions::QuarantineRequest>(), 201, A::Entity(&MACHINE_ACTIONS)),
        op("post", "/api/machines/{id}/runliveresponse", MDE, "Run live-response commands", &["Machine.LiveResponse"], json_body::<actions::LiveResponseRequest>(), 201, A::Entity(&MACHINE_ACTIONS)),
        // Indicators
        op("get", "/api/indicators", MDE, "List active indicators (Ti.ReadWrite: its own app's)", TI, I::ListOptions(&INDICATORS), 200, A::Collection(&INDICATORS)),
        op("get", "/api/indicators/$count", MDE, "Count active indicators", TI, I::CountFilter, 200, A::Count),
        op("post", "/api/indicators", MDE, "Submit or update an indicator", TI, json_body::<indicators::SubmitRequest>(), 200, A::Entity(&INDICATORS)),
        op("post", "/api/indicators/import", MDE, "Import up to 500 indicators (per-element results)", TI, json_body::<indicators::ImportRequest>(), 200, A::Json("{value: [{id, indicator, isFailed, failureReason}]}")),
        op("delete", "/api/indicators/{id}", MDE, "Delete an indicator", TI, I::None, 204, A::Empty),
        op("post", "/api/indicators/BatchDelete", MDE, "Delete up to 500 indicators (all or nothing)", TI, json_body::<indicators::BatchDeleteRequest>(), 204, A::Empty),
        // Files, IPs, domains, live-response library
        op("get", "/api/files/{id}", MDE, "Get a file by SHA-1 or SHA-256", &["File.Read.All"], I::None, 200, A::Json("File")),
        op("get", "/api/files/{id}/stats", MDE, "A file's statistics in the organisation", &["File.Read.All"], LOOK_BACK, 200, A::Json("InOrgFileStats")),
        op("get", "/api/files/{id}/alerts", MDE, "Alerts related to a file (SHA-1)", ALERT_READ, I::ListOptions(&ALERTS), 200, A::Collection(&ALERTS)),
        op("get", "/api/files/{id}/machines", MDE, "Machines related to a file (SHA-1)", MACHINE_READ, I::ListOptions(&MACHINES), 200, A::Collection(&MACHINES)),
        op("get", "/api/ips/{ip}/stats", MDE, "An IP address's statistics in the organisation", &["Ip.Read.All"], LOOK_BACK, 200, A::Json("InOrgIPStats")),
        op("get", "/api/ips/{ip}/alerts", MDE, "Alerts related to an IP address", ALERT_READ, I::ListOptions(&ALERTS), 200, A::Collection(&ALERTS)),
        op("get", "/api/domains/{domain}/stats", MDE, "A domain's statistics in the organisation", &["URL.Read.All"], LOOK_BACK, 200, A::Json("InOrgDomainStats")),
        op("get", "/api/domains/{domain}/alerts", MDE, "Alerts related to a domain", ALERT_WRITE, I::ListOptions(&ALERTS), 200, A::Collection(&ALERTS)),
        op("get", "/api/domains/{domain}/machines", MDE, "Machines related to a domain (at most 500)", MACHINE_READ, I::ListOptions(&MACHINES), 200, A::Collection(&MACHINES)),
        op("get", "/api/libraryfiles", MDE, "List the live-response library", &["Library.Manage"], I::ListOptions(&LIBRARY_FILES), 200, A::Collection(&LIBRARY_FILES)),
        op("post", "/api/libraryfiles", MDE, "Upload a file to the library (≤ 20 MB)", &["Library.Manage"], I::Multipart(&[("File", true), ("Description", false), ("ParametersDescription", false), ("HasParameters", false), ("OverrideIfExists", false)]), 200, A::Entity(&LIBRARY_FILES)),
        op("delete", "/api/libraryfiles/{name}", MDE, "Delete a library file", &["Library.Manage"], I::None, 204, A::Empty),
        // Sign-in
        op("post", "/{tenant}/oauth2/token", SIGN_IN, "Token (v1: resource=)", NO_ROLES, I::Form(&[("grant_type", true), ("client_id", true), ("client_secret", true), ("resource", true)]), 200, A::Json("{token_type, expires_in, access_token, ...}")),
        op("post", "/{tenant}/oauth2/v2.0/token", SIGN_IN, "Token (v2: scope=<resource>/.default)", NO_ROLES, I::Form(&[("grant_type", true), ("client_id", true), ("client_secret", true), ("scope", true)]), 200, A::Json("{token_type, expires_in, access_token}")),
        op("get", "/{tenant}/.well-known/openid-configuration", SIGN_IN, "OpenID configuration (v1)", NO_ROLES, I::None, 200, A::Json("OpenID provider metadata")),
        op("get", "/{tenant}/v2.0/.well-known/openid-configuration", SIGN_IN, "OpenID configuration (v2)", NO_ROLES, I::None, 200, A::Json("OpenID provider metadata")),
        op("get", "/{tenant}/discovery/keys", SIGN_IN, "Signing keys (v1)", NO_ROLES, I::None, 200, A::Json("JWKS")),
        op("get", "/{tenant}/discovery/v2.0/keys", SIGN_IN, "Signing keys (v2)", NO_ROLES, I::None, 200, A::Json("JWKS")),
        op("get", "/{tenant}/discovery/instance", SIGN_IN, "Instance discovery (MSAL)", NO_ROLES, I::None, 200, A::Json("instance discovery metadata")),
        // Admin
        op("get", "/_palisade/health", ADMIN, "Readiness (open to all)", NO_ROLES, I::None, 200, A::Json("{status: ok}")),
        op("get", "/_palisade/docs", ADMIN, "This documentation, as a page (open to all)", NO_ROLES, I::None, 200, A::Html),
        op("get", "/openapi.json", ADMIN, "This document (open to all)", NO_ROLES, I::None, 200, A::Json("OpenAPI 3.0")),
        op("get", "/_palisade/errors/{target}", ADMIN, "The journal record of an error response", NO_ROLES, I::None, 200, A::Json("{target, time, tenantId, appId, method, path, status, code, message, cause}")),
        op("post", "/_palisade/tokens", ADMIN, "Mint a token with chosen claims", NO_ROLES, json_body::<admin::MintRequest>(), 200, A::Json("{access_token, ...}")),
        op("post", "/_palisade/tenants", ADMIN, "Create a tenant with one app", NO_ROLES, json_body::<admin::CreateTenantRequest>(), 201, A::Json("{tenantId, clientId, clientSecret}")),
        op("get", "/_palisade/credentials", ADMIN, "The dev credentials", NO_ROLES, I::None, 200, A::Json("{tenantId, clientId, clientSecret, caBundle}")),
        op("get", "/_palisade/clock", ADMIN, "The emulator's clock", NO_ROLES, I::None, 200, A::Json("{now, frozen, offsetSeconds}")),
        op("post", "/_palisade/clock", ADMIN, "Reset, freeze, set or advance the clock", NO_ROLES, json_body::<admin::ClockChange>(), 200, A::Json("{now, frozen, offsetSeconds}")),
        op("get", "/_palisade/tenants", ADMIN, "List tenants", NO_ROLES, I::None, 200, A::Json("{value: [tenant]}")),
        op("get", "/_palisade/tenants/{tenant}", ADMIN, "Get a tenant", NO_ROLES, I::None, 200, A::Json("the tenant")),
        op("delete", "/_palisade/tenants/{tenant}", ADMIN, "Delete a tenant with its apps and data (their tokens stop working)", NO_ROLES, I::None, 204, A::Empty),
        op("post", "/_palisade/tenants/{tenant}/apps", ADMIN, "Register an app with chosen roles", NO_ROLES, json_body::<admin::RegisterAppRequest>(), 201, A::Json("{clientId, clientSecret, roles}")),
        op("get", "/_palisade/tenants/{tenant}/apps", ADMIN, "List a tenant's apps (no secrets)", NO_ROLES, I::None, 200, A::Json("{value: [app]}")),
        op("get", "/_palisade/tenants/{tenant}/apps/{client}", ADMIN, "Get an app (no secret)", NO_ROLES, I::None, 200, A::Json("the app")),
        op("patch", "/_palisade/tenants/{tenant}/apps/{client}", ADMIN, "Change an app's roles or name (new tokens only)", NO_ROLES, json_body::<admin::UpdateAppRequest>(), 200, A::Json("the app")),
        op("delete", "/_palisade/tenants/{tenant}/apps/{client}", ADMIN, "Delete an app (its tokens stop working)", NO_ROLES, I::None, 204, A::Empty),
        op("post", "/_palisade/tenants/{tenant}/apps/{client}/secrets", ADMIN, "Rotate an app's secret (the old one stops working)", NO_ROLES, I::None, 200, A::Json("{clientId, clientSecret}")),
        op("post", "/_palisade/tenants/{tenant}/data", ADMIN, "Load entities in the API's shapes (all or nothing; upsert by id)", NO_ROLES, I::FreeJson("{machines, users, alerts, investigations, machineActions, ..., logons}: arrays of entities as the API serialises them"), 200, A::Json("counts per kind")),
        op("post", "/_palisade/tenants/{tenant}/incidents/{id}/merge", ADMIN, "Merge an incident into another (its alerts move; it becomes Redirected)", NO_ROLES, json_body::<admin::MergeIncidentRequest>(), 200, A::Entity(&INCIDENTS)),
        op("get", "/_palisade/tenants/{tenant}/export", ADMIN, "Export a tenant's data (the shape the loader takes)", NO_ROLES, I::None, 200, A::Json("{machines, users, alerts, ...}")),
        op("post", "/_palisade/tenants/{tenant}/reset", ADMIN, "Empty a tenant's data, or restore its demo population", NO_ROLES, json_body::<admin::ResetTenantRequest>(), 204, A::Empty),
        op("post", "/_palisade/reset", ADMIN, "Back to a first start: demo tenant and dev app only, journals emptied, clock reset", NO_ROLES, I::None, 204, A::Empty),
        op("get", "/_palisade/requests", ADMIN, "The request journal, filtered (oldest first)", NO_ROLES, I::Query(&[("method", false, "HTTP method"), ("path", false, "normalised path, exact"), ("pathPrefix", false, "path prefix"), ("status", false, "HTTP status"), ("code", false, "error code"), ("clientId", false, "app"), ("tenantId", false, "tenant"), ("bodyContains", false, "text in the request body"), ("since", false, "ISO time"), ("after", false, "sequence number"), ("limit", false, "newest N")]), 200, A::Json("{value: [request]}")),
        op("delete", "/_palisade/requests", ADMIN, "Empty the request journal", NO_ROLES, I::None, 200, A::Json("{cleared: N}")),
        op("get", "/metrics", ADMIN, "Prometheus metrics: requests by route and status, errors by code, latency histograms", NO_ROLES, I::None, 200, A::Text("Prometheus text format 0.0.4")),
        op("post", "/_palisade/faults", ADMIN, "Create a fault-injection rule", NO_ROLES, json_body::<faults::FaultRuleBody>(), 201, A::Json("the rule")),
        op("get", "/_palisade/faults", ADMIN, "List fault rules with their counters and state", NO_ROLES, I::None, 200, A::Json("{value: [rule]}")),
        op("delete", "/_palisade/faults", ADMIN, "Remove every fault rule", NO_ROLES, I::None, 204, A::Empty),
        op("get", "/_palisade/faults/{id}", ADMIN, "Get a fault rule", NO_ROLES, I::None, 200, A::Json("the rule")),
        op("delete", "/_palisade/faults/{id}", ADMIN, "Remove a fault rule", NO_ROLES, I::None, 204, A::Empty),
        op("get", "/_palisade/ratelimits", ADMIN, "The rate-limit table and whether limits are on", NO_ROLES, I::None, 200, A::Json("the limits")),
        op("delete", "/_palisade/ratelimits", ADMIN, "Reset every rate-limit counter", NO_ROLES, I::None, 204, A::Empty),
        op("get", "/_palisade/tenants/{tenant}/ratelimits", ADMIN, "A tenant's rate-limit switch", NO_ROLES, I::None, 200, A::Json("{enabled}")),
        op("patch", "/_palisade/tenants/{tenant}/ratelimits", ADMIN, "Switch a tenant's rate limits on or off", NO_ROLES, json_body::<faults::TenantRateLimitsBody>(), 200, A::Json("{enabled}")),
        op("get", "/_palisade/tenants/{tenant}/features", ADMIN, "A tenant's features", NO_ROLES, I::None, 200, A::Json("{liveResponse, automatedInvestigation, customNetworkIndicators, allowOrBlockFile}")),
        op("patch", "/_palisade/tenants/{tenant}/features", ADMIN, "Switch a tenant's features", NO_ROLES, I::FreeJson("any of the feature flags, as booleans"), 200, A::Json("the features")),
        op("get", "/_palisade/tenants/{tenant}/libraryfiles/{fileName}", ADMIN, "The bytes of a live-response library file, as uploaded", NO_ROLES, I::None, 200, A::File),
        op("get", "/_palisade/tenants/{tenant}/machines/{id}/state", ADMIN, "A machine's derived response state", NO_ROLES, I::None, 200, A::Json("{isolation, codeExecutionRestricted, offboarded, pendingActions}")),
        op("get", "/_palisade/whoami", ADMIN, "What the presented bearer token says", NO_ROLES, I::None, 200, A::Json("{tenantId, appId, roles}")),
        op("post", "/_palisade/debug/panic", ADMIN, "Panic on purpose (shows the InternalServerError path)", NO_ROLES, I::None, 500, A::Empty),
        op("get", "/_palisade/downloads/{tenant}/{action}/package", ADMIN, "Signed download of an investigation package (link from getPackageUri)", NO_ROLES, I::Query(&[("se", true, "link expiry (unix seconds)"), ("sig", true, "link signature")]), 200, A::File),
        op("get", "/_palisade/downloads/{tenant}/{action}/results/{index}", ADMIN, "Signed download of a live-response result", NO_ROLES, I::Query(&[("se", true, "link expiry (unix seconds)"), ("sig", true, "link signature")]), 200, A::File),
    ]
}

/// The main table's operations, then the `extra` families' own.
pub fn all_operations(extra: &[&'static RouteFamily]) -> Vec<Operation> {
    let mut operations = operations();
    operations.extend(crate::families::operations(extra));
    operations
}

/// The OpenAPI document, with `origin` (the scheme, host and port the client called) as server,
/// of every operation, the `extra` families' too.
pub fn document(origin: &str, extra: &[&'static RouteFamily]) -> Value {
    let operations = all_operations(extra);
    let mut paths = Map::new();
    for operation in &operations {
        let entry = paths.entry(operation.path.to_string()).or_insert_with(|| json!({}));
        entry[operation.method] = describe(operation);
    }
    // Every entity the table names, so a referenced schema cannot be left undefined.
    let mut schemas = Map::new();
    for operation in &operations {
        for schema in operation.entities() {
            schemas
                .entry(schema.entity.to_string())
                .or_insert_with(|| entity_schema(schema));
        }
    }
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "description": "The error envelope of every failure (see the error contract): look `target` up at /_palisade/errors/{target}.",
            "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "target": {"type": "string"}
            }, "required": ["code", "message", "target"]}},
            "required": ["error"]
        }),
    );
    schemas.insert(
        "GraphError".into(),
        json!({
            "type": "object",
            "description": "Microsoft Graph's error body, which the Graph security routes answer instead of the Defender envelope; look `innerError.request-id` (also the `request-id` header) up at /_palisade/errors/{target}.",
            "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string", "description": "badRequest, InvalidAuthenticationToken, Forbidden, accessDenied, notFound, methodNotAllowed, requestEntityTooLarge, TooManyRequests, generalException, serviceNotAvailable"},
                "message": {"type": "string"},
                "innerError": {"type": "object", "properties": {
                    "date": {"type": "string"}, "request-id": {"type": "string"}, "client-request-id": {"type": "string"}
                }}
            }, "required": ["code", "message", "innerError"]}},
            "required": ["error"]
        }),
    );
    schemas.insert(
        "EntraError".into(),
        json!({
            "type": "object",
            "description": "Entra ID's OAuth2 error body, which the sign-in and discovery endpoints answer instead of the Defender envelope; look `trace_id` up at /_palisade/errors/{target}.",
            "properties": {
                "error": {"type": "string", "description": "the OAuth2 error, e.g. invalid_client"},
                "error_description": {"type": "string", "description": "AADSTSnnnnn: message, then trace id, correlation id and timestamp"},
                "error_codes": {"type": "array", "items": {"type": "integer"}},
                "timestamp": {"type": "string"},
                "trace_id": {"type": "string", "format": "uuid"},
                "correlation_id": {"type": "string", "format": "uuid"},
                "error_uri": {"type": "string"}
            },
            "required": ["error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"]
        }),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Palisade: Microsoft Defender APIs emulator",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The emulated Defender for Endpoint API, Microsoft Graph's security API (/v1.0/security/, /beta/security/; tokens for https://graph.microsoft.com), the sign-in endpoints, and the emulator's own control plane under /_palisade/ (loopback callers or X-Palisade-Admin-Key). Every /api/ path also works under /api/v1.0/."
        },
        "servers": [{"url": origin}],
        "tags": [{"name": MDE}, {"name": GRAPH}, {"name": SIGN_IN}, {"name": ADMIN}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "A token from /{tenant}/oauth2/v2.0/token (client credentials) carrying application roles"}
            }
        }
    })
}

fn describe(operation: &Operation) -> Value {
    let mut parameters: Vec<Value> = path_parameters(operation.path)
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    let mut body = None;
    match &operation.input {
        Input::None => {}
        Input::ListOptions(schema) => parameters.extend(list_parameters(schema)),
        Input::CountFilter => parameters.push(query_parameter("$filter", "OData filter expression")),
        Input::Query(list) => parameters.extend(list.iter().map(|(name, required, description)| {
            json!({"name": name, "in": "query", "required": required, "description": description, "schema": {"type": "string"}})
        })),
        Input::Json(properties, types) => {
            body = Some(json!({"required": true, "content": {"application/json": {"schema": body_schema(properties, types)}}}));
        }
        Input::Form(fields) => {
            let properties: Map<String, Value> = fields
                .iter()
                .map(|(name, _)| (name.to_string(), json!({"type": "string"})))
                .collect();
            let required: Vec<&str> = fields.iter().filter(|(_, r)| *r).map(|(n, _)| *n).collect();
            body = Some(json!({"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
                "type": "object", "properties": properties, "required": required}}}}));
        }
        Input::Multipart(fields) => {
            let properties: Map<String, Value> = fields
                .iter()
                .map(|(name, _)| {
                    let schema = if *name == "File" {
                        json!({"type": "string", "format": "binary"})
                    } else {
                        json!({"type": "string"})
                    };
                    (name.to_string(), schema)
                })
                .collect();
            let required: Vec<&str> = fields.iter().filter(|(_, r)| *r).map(|(n, _)| *n).collect();
            body = Some(json!({"required": true, "content": {"multipart/form-data": {"schema": {
                "type": "object", "properties": properties, "required": required}}}}));
        }
        Input::FreeJson(description) => {
            body = Some(json!({"required": true, "description": description,
                "content": {"application/json": {"schema": {"type": "object"}}}}));
        }
    }
    let success = match &operation.answer {
        Answer::Collection(schema) => {
            json!({"description": "a page of the collection", "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {
                "@odata.context": {"type": "string"},
                "@odata.count": {"type": "integer", "description": "with $count=true"},
                "@odata.nextLink": {"type": "string", "description": "present while more results remain"},
                "value": {"type": "array", "items": {"$ref": format!("#/components/schemas/{}", schema.entity)}}
            }}}}})
        }
        Answer::Entity(schema) => json!({"description": schema.entity, "content": {"application/json": {"schema": {
            "$ref": format!("#/components/schemas/{}", schema.entity)}}}}),
        Answer::Count => {
            json!({"description": "the number of matching entities", "content": {"text/plain": {"schema": {"type": "integer"}}}})
        }
        Answer::Empty => json!({"description": "no body"}),
        Answer::Json(description) => {
            json!({"description": description, "content": {"application/json": {"schema": {"type": "object"}}}})
        }
        Answer::File => {
            json!({"description": "the file", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}})
        }
        Answer::Html => {
            json!({"description": "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}})
        }
        Answer::Text(description) => {
            json!({"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}})
        }
    };
    // Sign-in and discovery answer failures as Entra does, not with the Defender envelope.
    let failure = if operation.tag == SIGN_IN {
        json!({"description": "Entra's OAuth2 error body (AADSTS code, trace and correlation ids)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EntraError"}}}})
    } else if operation.tag == GRAPH {
        json!({"description": "Microsoft Graph's error body (code, message, innerError with request-id)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GraphError"}}}})
    } else {
        json!({"description": "an error envelope with the contract's code and status",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    };
    let mut description = String::new();
    if !operation.roles.is_empty() {
        description = format!("Application roles (any of): {}.", operation.roles.join(", "));
    }
    let mut out = json!({
        "tags": [operation.tag],
        "summary": operation.summary,
        "operationId": operation_id(operation),
        "parameters": parameters,
        "responses": {
            operation.status.to_string(): success,
            "default": failure
        }
    });
    if !description.is_empty() {
        out["description"] = json!(description);
        out["x-roles"] = json!(operation.roles);
    }
    if operation.tag == MDE || operation.tag == GRAPH {
        out["security"] = json!([{"bearer": []}]);
    }
    if let Some(body) = body {
        out["requestBody"] = body;
    }
    out
}

fn operation_id(operation: &Operation) -> String {
    let mut id = operation.method.to_string();
    for c in operation.path.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.ends_with('_') {
            id.push('_');
        }
    }
    id.trim_end_matches('_').to_string()
}

/// The `{name}` parameters of a path.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

fn query_parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
}

fn list_parameters(schema: &EntitySchema) -> Vec<Value> {
    let mut out = vec![
        query_parameter("$filter", "OData filter expression over the filterable properties"),
        query_parameter("$orderby", "sortable properties, each optionally `desc`"),
        query_parameter("$select", "properties to keep"),
        json!({"name": "$top", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "maximum": schema.max_top}}),
        json!({"name": "$skip", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}}),
        json!({"name": "$count", "in": "query", "required": false, "schema": {"type": "boolean"}}),
    ];
    if !schema.expandable.is_empty() {
        out.push(json!({"name": "$expand", "in": "query", "required": false, "schema": {"type": "string", "enum": schema.expandable}}));
    }
    out
}

/// An entity's JSON schema from its OData schema (property order kept).
fn entity_schema(schema: &EntitySchema) -> Value {
    let mut properties = Map::new();
    for property in schema.properties {
        let mut value = match property.ty {
            PropType::String => json!({"type": "string"}),
            PropType::Int => json!({"type": "integer"}),
            PropType::Bool => json!({"type": "boolean"}),
            PropType::DateTime => json!({"type": "string", "format": "date-time"}),
            PropType::Guid => json!({"type": "string", "format": "uuid"}),
            PropType::Enum(members) => json!({"type": "string", "enum": members}),
            PropType::StringCollection => json!({"type": "array", "items": {"type": "string"}}),
            PropType::Object => json!({"description": "nested value"}),
        };
        let mut notes = Vec::new();
        if property.filterable && (property.column.is_some() || property.ty == PropType::StringCollection) {
            notes.push("filterable");
        }
        if property.sortable && property.column.is_some() {
            notes.push("sortable");
        }
        if schema.expandable.contains(&property.name) {
            notes.push("returned in lists only with $expand");
        }
        if !notes.is_empty() {
            value["description"] = json!(notes.join(", "));
        }
        value["nullable"] = json!(true);
        properties.insert(property.json_key.to_string(), value);
    }
    json!({"type": "object", "properties": properties})
}

/// A body's JSON schema from its property table and Rust types.
fn body_schema(properties: &[(&str, bool)], types: &[&str]) -> Value {
    let mut out = Map::new();
    for ((name, _), rust) in properties.iter().zip(types) {
        out.insert(name.to_string(), json_type(rust));
    }
    let required: Vec<&str> = properties.iter().filter(|(_, r)| *r).map(|(n, _)| *n).collect();
    json!({"type": "object", "properties": out, "required": required, "additionalProperties": false})
}

/// The JSON type of a body field's Rust type (as `stringify!` spells it).
fn json_type(rust: &str) -> Value {
    let rust: String = rust.chars().filter(|c| !c.is_whitespace()).collect();
    let inner = |prefix: &str| {
        rust.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix('>'))
            .map(str::to_string)
    };
    if let Some(inner) = inner("Option<") {
        return json_type(&inner);
    }
    if let Some(inner) = inner("Vec<") {
        return json!({"type": "array", "items": json_type(&inner)});
    }
    match rust.as_str() {
        "String" | "&str" => json!({"type": "string"}),
        "bool" => json!({"type": "boolean"}),
        "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => json!({"type": "integer"}),
        "f32" | "f64" => json!({"type": "number"}),
        _ => json!({}),
    }
}

/// `GET /openapi.json`.
pub async fn serve_document(State(state): State<AppState>, origin: Origin) -> Json<Value> {
    Json(document(&origin.0, &state.config.extra_families))
}

/// `GET /_palisade/docs`: the document, browsable.
pub async fn serve_page() -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Html(include_str!("openapi.html")),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(method, path)` of every route the server registers, from the real router builder.
    fn routed() -> Vec<(String, String)> {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config::ephemeral(dir.path());
        let core = crate::open_core(&config).unwrap();
        let (requests, metrics) = crate::layers::journal::observability(&config);
        let state = crate::state::AppState {
            core,
            config: std::sync::Arc::new(config),
            requests,
            metrics,
            blocking: crate::state::blocking_permits(),
        };
        crate::routes(state)
            .routed()
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect()
    }

    /// Segment-wise match, where a `{parameter}` segment on either side matches any segment.
    fn same_route(route: &str, documented: &str) -> bool {
        let a: Vec<&str> = route.split('/').collect();
        let b: Vec<&str> = documented.split('/').collect();
        a.len() == b.len()
            && a.iter().zip(&b).all(|(x, y)| {
                x.eq_ignore_ascii_case(y)
                    || (x.starts_with('{') && x.ends_with('}'))
                    || (y.starts_with('{') && y.ends_with('}'))
            })
    }

    #[test]
    fn every_route_is_documented() {
        let routes = routed();
        assert!(routes.len() > 40, "the route scan found only {routes:?}");
        let documented = operations();
        let missing: Vec<_> = routes
            .iter()
            .filter(|(method, path)| {
                !documented
                    .iter()
                    .any(|o| o.method == method && same_route(path, o.path))
            })
            .collect();
        assert!(missing.is_empty(), "routes missing from the OpenAPI table: {missing:?}");
        // And the other way: every documented operation has a route (the API test then calls each).
        let unrouted: Vec<_> = documented
            .iter()
            .filter(|o| !routes.iter().any(|(m, p)| m == o.method && same_route(p, o.path)))
            .map(|o| (o.method, o.path))
            .collect();
        assert!(unrouted.is_empty(), "documented but not routed: {unrouted:?}");
    }

    /// The whole document, pinned: a change to any operation, body or entity shows in review as a
    /// snapshot diff (`cargo insta review`), so the document cannot change unnoticed.
    #[test]
    fn document_snapshot() {
        let doc = document("http://palisade.test", &[]);
        insta::assert_snapshot!(serde_json::to_string_pretty(&doc).unwrap());
    }

    #[test]
    fn every_schema_reference_is_defined() {
        let doc = document("http://palisade.test", &[]);
        let text = doc.to_string();
        let defined = doc["components"]["schemas"].as_object().unwrap();
        let mut references = 0;
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(defined.contains_key(name), "{name} is referenced but not defined");
            references += 1;
        }
        assert!(references > 20, "only {references} references");
        assert!(defined.contains_key("LibraryFile"));
    }

    #[test]
    fn sign_in_failures_are_entra_errors_and_pages_are_not_json() {
        let doc = document("http://palisade.test", &[]);
        for (path, method) in [
            ("/{tenant}/oauth2/v2.0/token", "post"),
            ("/{tenant}/discovery/instance", "get"),
            ("/{tenant}/v2.0/.well-known/openid-configuration", "get"),
        ] {
            let failure = &doc["paths"][path][method]["responses"]["default"];
            assert_eq!(
                failure["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/EntraError",
                "{method} {path}"
            );
        }
        let machines = &doc["paths"]["/api/machines"]["get"]["responses"]["default"];
        assert_eq!(
            machines["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
        let page = &doc["paths"]["/_palisade/docs"]["get"]["responses"]["200"]["content"];
        assert!(page.get("text/html").is_some() && page.get("application/json").is_none());
        let metrics = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
        assert!(metrics.get("text/plain").is_some() && metrics.get("application/json").is_none());
    }

    #[test]
    fn allow_comes_from_the_most_literal_documented_path() {
        let allow = |path: &str| allowed_methods(path, &[]).map(|m| m.join(","));
        assert_eq!(
            allow("/api/machines/findbyip(ip='10.0.0.1',timestamp=2024-01-01T00:00:00Z)").as_deref(),
            Some("GET,HEAD")
        );
        assert_eq!(allow("/api/machines/abc").as_deref(), Some("GET,HEAD,PATCH"));
        assert_eq!(allow("/api/machines/findbytag").as_deref(), Some("GET,HEAD"));
        assert_eq!(allow("/api/nowhere/at/all"), None);
        assert!(template_matches("/api/machines/{id}", "/API/Machines/x"));
        assert!(!template_matches("/api/machines/{id}", "/api/machines/"));
    }

    #[test]
    fn bodies_and_entities_get_json_types() {
        assert_eq!(
            json_type("Option<Vec<String>>"),
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert_eq!(json_type("Option < i64 >"), json!({"type": "integer"}));
        let doc = document("http://127.0.0.1:8080", &[]);
        let isolate = &doc["paths"]["/api/machines/{id}/isolate"]["post"];
        let body = &isolate["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(body["required"], json!(["Comment"]));
        assert_eq!(body["properties"]["IsolationType"]["type"], "string");
        assert_eq!(isolate["x-roles"], json!(["Machine.Isolate"]));
        let machine = &doc["components"]["schemas"]["Machine"]["properties"];
        assert_eq!(machine["healthStatus"]["type"], "string");
        assert!(machine["healthStatus"]["enum"]
            .as_array()
            .is_some_and(|e| !e.is_empty()));
    }
}
