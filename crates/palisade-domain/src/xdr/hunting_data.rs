//! Rows of the hunting tables, consistent with the tenant's entities, for the demo tenant, `palisade
//! seed` and the data loader.
//!
//! - [`machine_rows`]: a `DeviceInfo` and a `DeviceNetworkInfo` snapshot per machine (what the
//!   sensor reports; a changed machine reports again).
//! - [`alert_rows`]: per alert, its `AlertInfo` row, one `AlertEvidence` row per evidence item plus
//!   the device, and the events that make the evidence findable where it happened: a
//!   `DeviceProcessEvents` and a `DeviceFileEvents` row (and the file's certificate) per file, a
//!   `DeviceNetworkEvents` row per IP address and URL, a `DeviceLogonEvents` row per account, a
//!   `DeviceRegistryEvents` row per registry value, on the alert's device at the evidence's time.
//! - [`user_rows`]: an `IdentityInfo` row per account.
//! - [`background_events`]: ordinary activity on the tenant's devices over the last 30 days
//!   (process, network, file, logon, registry, image-load and other device events), event `i`
//!   a function of the seed and `i` only, so large volumes are produced in batches and the same
//!   seed gives the same rows.
//!
//! Every row has every column of its table; columns the generator has nothing for are `""` for
//! strings and null otherwise, as in the service.

use crate::control::demo::Rng;
use chrono::{DateTime, TimeDelta, Utc};
use palisade_kql::{datetime_to_ticks, Catalog, KqlType, TableSchema, Value};
use palisade_model::entities::{Alert, Evidence, Machine, User};
use palisade_store::HuntingRow;
use std::collections::BTreeMap;

/// Generated rows, by hunting table.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HuntingRows {
    pub tables: BTreeMap<&'static str, Vec<HuntingRow>>,
}

impl HuntingRows {
    pub fn len(&self) -> usize {
        self.tables.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, row: RowBuilder) {
        self.tables.entry(row.table).or_default().push(row.values);
    }
}

/// One row under construction: every column at its empty value, then the ones set.
struct RowBuilder {
    table: &'static str,
    schema: &'static TableSchema,
    values: Vec<Value>,
}

fn schema(table: &str) -> (&'static str, &'static TableSchema) {
    let schema = Catalog::defender_hunting_shared()
        .table(table)
        .unwrap_or_else(|| panic!("{table} is a hunting table"));
    (schema.name.as_str(), schema)
}

impl RowBuilder {
    fn new(table: &str) -> Self {
        let (table, schema) = schema(table);
        let values = schema
            .columns
            .iter()
            .map(|(_, ty)| {
                if *ty == KqlType::String {
                    Value::str("")
                } else {
                    Value::Null
                }
            })
            .collect();
        RowBuilder { table, schema, values }
    }

    /// Sets a column; the value is converted to the column's type (strings, longs, ...).
    fn set(mut self, column: &str, value: impl Into<Cell>) -> Self {
        let (index, ty) = self
            .schema
            .column(column)
            .unwrap_or_else(|| panic!("{}.{column} is a hunting column", self.table));
        self.values[index] = value.into().typed(ty);
        self
    }

    fn time(self, column: &str, at: DateTime<Utc>) -> Self {
        self.set(column, Cell(Value::DateTime(datetime_to_ticks(at))))
    }
}

/// A value on its way into a column.
struct Cell(Value);

impl Cell {
    fn typed(self, ty: KqlType) -> Value {
        match (self.0, ty) {
            (Value::Null, KqlType::String) => Value::str(""),
            (Value::Long(i), KqlType::Bool) => Value::Bool(i != 0),
            (Value::String(s), KqlType::Dynamic) => {
                Value::Dynamic(serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s)))
            }
            (v, _) => v,
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell(Value::str(s))
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell(Value::String(s))
    }
}
impl From<&String> for Cell {
    fn from(s: &String) -> Self {
        Cell(Value::String(s.clone()))
    }
}
impl From<Option<&str>> for Cell {
    fn from(s: Option<&str>) -> Self {
        Cell(Value::str(s.unwrap_or("")))
    }
}
impl From<i64> for Cell {
    fn from(i: i64) -> Self {
        Cell(Value::Long(i))
    }
}
impl From<bool> for Cell {
    fn from(b: bool) -> Self {
        Cell(Value::Bool(b))
    }
}
impl From<serde_json::Value> for Cell {
    fn from(j: serde_json::Value) -> Self {
        Cell(Value::Dynamic(j))
    }
}

/// A report id unique enough within a tenant: a hash of what the row is about.
fn report_id(parts: &[&str]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (h >> 12) as i64
}

/// `DeviceInfo` and `DeviceNetworkInfo` snapshots of machines, reported at `at`.
pub fn machine_rows(machines: &[Machine], at: DateTime<Utc>, out: &mut HuntingRows) {
    for m in machines {
        // A snapshot cannot be newer than the device's last report.
        let at = at.min(m.last_seen.0);
        let report = report_id(&["DeviceInfo", &m.id]);
        let tags = serde_json::to_string(&m.machine_tags).unwrap_or_default();
        out.push(
            RowBuilder::new("DeviceInfo")
                .time("Timestamp", at)
                .set("DeviceId", &m.id)
                .set("DeviceName", &m.computer_dns_name)
                .set("ClientVersion", m.agent_version.as_deref())
                .set("PublicIP", m.last_external_ip_address.as_deref())
                .set("OSArchitecture", m.os_architecture.as_deref())
                .set("OSPlatform", m.os_platform.as_str())
                .set("OSBuild", Cell(m.os_build.map_or(Value::Null, Value::Long)))
                .set("IsAzureADJoined", m.is_aad_joined)
                .set("JoinType", if m.is_aad_joined { "AAD joined" } else { "Domain joined" })
                .set("AadDeviceId", m.aad_device_id.as_deref())
                .set("OSVersion", m.version.as_deref())
                .set("MachineGroup", m.rbac_group_name.as_deref())
                .set("ReportId", report)
                .set("OnboardingStatus", m.onboarding_status.to_string())
                .set("DeviceCategory", "Endpoint")
                .set("DeviceType", device_type(&m.os_platform))
                .set("OSDistribution", m.os_platform.as_str())
                .set("IsExcluded", m.is_excluded)
                .set("ExclusionReason", m.exclusion_reason.as_deref())
                .set(
                    "ExposureLevel",
                    m.exposure_level.map(|e| e.to_string()).unwrap_or_default(),
                )
                .set("AssetValue", m.device_value.map(|v| v.to_string()).unwrap_or_default())
                .set("DeviceManualTags", tags)
                .set("SensorHealthState", m.health_status.to_string())
                .set("AdditionalFields", serde_json::json!({})),
        );
        for (n, address) in m.ip_addresses.iter().enumerate() {
            out.push(
                RowBuilder::new("DeviceNetworkInfo")
                    .time("Timestamp", at)
                    .set("DeviceId", &m.id)
                    .set("DeviceName", &m.computer_dns_name)
                    .set("NetworkAdapterName", format!("Ethernet{n}"))
                    .set("MacAddress", address.mac_address.as_deref())
                    .set("NetworkAdapterType", address.kind.as_str())
                    .set("NetworkAdapterStatus", address.operational_status.as_str())
                    .set("IPAddresses", serde_json::json!([{"IPAddress": address.ip_address, "SubnetPrefix": 24, "AddressType": "Private"}]))
                    .set("ReportId", report_id(&["DeviceNetworkInfo", &m.id, &address.ip_address]))
                    .set("NetworkAdapterVendor", "Intel Corporation"),
            );
        }
    }
}

fn device_type(platform: &str) -> &'static str {
    match platform {
        "iOS" | "Android" => "MobileDevice",
        p if p.contains("Server") => "Server",
        _ => "Workstation",
    }
}

/// The host of a URL (`https://a.example/x` → `a.example`).
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', ':', '?', '#']).next().unwrap_or(rest)
}

fn evidence_time(alert: &Alert, e: &Evidence) -> DateTime<Utc> {
    e.evidence_creation_time
        .as_ref()
        .or(alert.first_event_time.as_ref())
        .unwrap_or(&alert.alert_creation_time)
        .0
}

/// `AlertInfo`, `AlertEvidence` and the device events behind each alert's evidence.
pub fn alert_rows(alerts: &[Alert], out: &mut HuntingRows) {
    for a in alerts {
        let at = a.alert_creation_time.0;
        let techniques = serde_json::to_string(&a.mitre_techniques).unwrap_or_default();
        let severity = a.severity.to_string();
        let service = "Microsoft Defender for Endpoint";
        let detection = a.detection_source.as_str();
        out.push(
            RowBuilder::new("AlertInfo")
                .time("Timestamp", at)
                .set("AlertId", &a.id)
                .set("Title", &a.title)
                .set("Category", &a.category)
                .set("Severity", severity.as_str())
                .set("ServiceSource", service)
                .set("DetectionSource", detection)
                .set("AttackTechniques", techniques.as_str()),
        );
        let evidence_row = |entity: &str| {
            RowBuilder::new("AlertEvidence")
                .time("Timestamp", at)
                .set("AlertId", &a.id)
                .set("Title", &a.title)
                .set("Categories", serde_json::json!([a.category]))
                .set("AttackTechniques", techniques.as_str())
                .set("ServiceSource", service)
                .set("DetectionSource", detection)
                .set("EntityType", entity)
                .set("Severity", severity.as_str())
                .set("DeviceId", &a.machine_id)
                .set("DeviceName", &a.computer_dns_name)
        };
        out.push(evidence_row("Machine").set("EvidenceRole", "Impacted"));
        for (n, e) in a.evidence.iter().enumerate() {
            let when = evidence_time(a, e);
            let report = report_id(&[&a.id, &n.to_string()]);
            let on_device = |table: &str| {
                RowBuilder::new(table)
                    .time("Timestamp", when)
                    .set("DeviceId", &a.machine_id)
                    .set("DeviceName", &a.computer_dns_name)
                    .set("ReportId", report)
            };
            let mut row = evidence_row(e.entity_type.as_str()).set(
                "EvidenceRole",
                if e.entity_type == "User" { "Impacted" } else { "Related" },
            );
            let folder = e.file_path.clone().unwrap_or_default();
            let file_name = e.file_name.clone().unwrap_or_default();
            if e.sha1.is_some() || e.sha256.is_some() || e.file_name.is_some() {
                let full = if folder.is_empty() {
                    file_name.clone()
                } else {
                    format!("{folder}\\{file_name}")
                };
                row = row
                    .set("FileName", &file_name)
                    .set("FolderPath", full.as_str())
                    .set("SHA1", e.sha1.as_deref())
                    .set("SHA256", e.sha256.as_deref())
                    .set("ThreatFamily", a.threat_family_name.as_deref());
                out.push(
                    on_device("DeviceFileEvents")
                        .set("ActionType", "FileCreated")
                        .set("FileName", &file_name)
                        .set("FolderPath", full.as_str())
                        .set("SHA1", e.sha1.as_deref())
                        .set("SHA256", e.sha256.as_deref())
                        .set(
                            "InitiatingProcessFileName",
                            e.parent_process_file_name.as_deref().or(Some("explorer.exe")),
                        )
                        .set("InitiatingProcessAccountName", e.account_name.as_deref()),
                );
                out.push(
                    on_device("DeviceProcessEvents")
                        .time("Timestamp", when + TimeDelta::seconds(1))
                        .set("ActionType", "ProcessCreated")
                        .set("FileName", &file_name)
                        .set("FolderPath", full.as_str())
                        .set("SHA1", e.sha1.as_deref())
                        .set("SHA256", e.sha256.as_deref())
                        .set("ProcessId", e.process_id.unwrap_or(4000 + n as i64))
                        .set(
                            "ProcessCommandLine",
                            e.process_command_line
                                .clone()
                                .unwrap_or_else(|| format!("\"{file_name}\"")),
                        )
                        .time("ProcessCreationTime", when + TimeDelta::seconds(1))
                        .set("AccountName", e.account_name.as_deref())
                        .set("AccountDomain", e.domain_name.as_deref())
                        .set(
                            "InitiatingProcessFileName",
                            e.parent_process_file_name.as_deref().or(Some("explorer.exe")),
                        )
                        .set("InitiatingProcessId", e.parent_process_id.unwrap_or(1200)),
                );
                if let Some(sha1) = e.sha1.as_deref() {
                    out.push(
                        on_device("DeviceFileCertificateInfo")
                            .set("SHA1", sha1)
                            .set("IsSigned", false)
                            .set("IsTrusted", false)
                            .set("IsRootSignerMicrosoft", false),
                    );
                }
            }
            if let Some(ip) = e.ip_address.as_deref() {
                row = row.set("RemoteIP", ip);
                out.push(
                    on_device("DeviceNetworkEvents")
                        .set("ActionType", "ConnectionSuccess")
                        .set("RemoteIP", ip)
                        .set("RemotePort", 443)
                        .set("Protocol", "Tcp")
                        .set("RemoteIPType", "Public")
                        .set("InitiatingProcessFileName", "powershell.exe"),
                );
            }
            if let Some(url) = e.url.as_deref() {
                row = row.set("RemoteUrl", url);
                out.push(
                    on_device("DeviceNetworkEvents")
                        .set("ActionType", "ConnectionSuccess")
                        .set("RemoteUrl", url_host(url))
                        .set("RemotePort", 443)
                        .set("Protocol", "Tcp")
                        .set("RemoteIPType", "Public")
                        .set("InitiatingProcessFileName", "msedge.exe"),
                );
            }
            if let Some(account) = e.account_name.as_deref() {
                row = row
                    .set("AccountName", account)
                    .set("AccountDomain", e.domain_name.as_deref())
                    .set("AccountSid", e.user_sid.as_deref())
                    .set("AccountUpn", e.user_principal_name.as_deref());
                if e.entity_type == "User" {
                    out.push(
                        on_device("DeviceLogonEvents")
                            .set("ActionType", "LogonSuccess")
                            .set("LogonType", "Interactive")
                            .set("AccountName", account)
                            .set("AccountDomain", e.domain_name.as_deref())
                            .set("AccountSid", e.user_sid.as_deref())
                            .set("Protocol", "Kerberos"),
                    );
                }
            }
            if let Some(key) = e.registry_key.as_deref() {
                row = row
                    .set("RegistryKey", key)
                    .set("RegistryValueData", e.registry_value.as_deref());
                out.push(
                    on_device("DeviceRegistryEvents")
                        .set("ActionType", "RegistryValueSet")
                        .set("RegistryKey", key)
                        .set("RegistryValueType", e.registry_value_type.as_deref())
                        .set("RegistryValueData", e.registry_value.as_deref()),
                );
            }
            if let Some(cmd) = e.process_command_line.as_deref() {
                row = row.set("ProcessCommandLine", cmd);
            }
            out.push(row);
        }
    }
}

/// `IdentityInfo` rows of accounts, reported at `at`.
pub fn user_rows(users: &[User], tenant_id: &str, at: DateTime<Utc>, out: &mut HuntingRows) {
    for u in users {
        let upn = format!("{}@{}.com", u.account_name, u.account_domain.to_lowercase());
        out.push(
            RowBuilder::new("IdentityInfo")
                .time("Timestamp", at.min(u.last_seen.0.max(at - TimeDelta::days(1))))
                .set("ReportId", report_id(&["IdentityInfo", &u.id]).to_string())
                .set("AccountUpn", upn.as_str())
                .set("OnPremSid", u.account_sid.as_deref())
                .set("AccountDisplayName", u.account_name.as_str())
                .set("AccountName", u.account_name.as_str())
                .set("AccountDomain", u.account_domain.as_str())
                .set("Type", "User")
                .set("EmailAddress", upn.as_str())
                .set("IsAccountEnabled", true)
                .time("CreatedDateTime", u.first_seen.0)
                .set("TenantId", tenant_id)
                .set("SourceProviders", serde_json::json!(["ActiveDirectory"])),
        );
    }
}

/// What a background event can be: (file, folder, command line, signer company).
const PROCESSES: &[(&str, &str, &str, &str)] = &[
    (
        "svchost.exe",
        "C:\\Windows\\System32",
        "svchost.exe -k netsvcs -p",
        "Microsoft Corporation",
    ),
    (
        "chrome.exe",
        "C:\\Program Files\\Google\\Chrome\\Application",
        "chrome.exe --type=renderer",
        "Google LLC",
    ),
    (
        "msedge.exe",
        "C:\\Program Files (x86)\\Microsoft\\Edge\\Application",
        "msedge.exe --single-argument",
        "Microsoft Corporation",
    ),
    (
        "powershell.exe",
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0",
        "powershell.exe -NoProfile -Command Get-Process",
        "Microsoft Corporation",
    ),
    (
        "cmd.exe",
        "C:\\Windows\\System32",
        "cmd.exe /c whoami",
        "Microsoft Corporation",
    ),
    (
        "OUTLOOK.EXE",
        "C:\\Program Files\\Microsoft Office\\root\\Office16",
        "OUTLOOK.EXE /recycle",
        "Microsoft Corporation",
    ),
    (
        "Teams.exe",
        "C:\\Users\\Public\\AppData\\Local\\Microsoft\\Teams",
        "Teams.exe --system-initiated",
        "Microsoft Corporation",
    ),
    (
        "conhost.exe",
        "C:\\Windows\\System32",
        "conhost.exe 0xffffffff -ForceV1",
        "Microsoft Corporation",
    ),
    ("python3", "/usr/bin", "python3 /opt/app/worker.py", ""),
    ("bash", "/bin", "bash -c uptime", ""),
];

const REMOTE_HOSTS: &[(&str, &str)] = &[
    ("13.107.42.14", "login.microsoftonline.com"),
    ("52.96.166.130", "outlook.office365.com"),
    ("142.250.74.46", "www.google.com"),
    ("140.82.121.4", "github.com"),
    ("151.101.1.69", "stackoverflow.com"),
    ("10.1.0.10", ""),
    ("10.1.0.53", ""),
];

const ACCOUNTS: &[&str] = &["alice", "bob", "carol", "dave", "svc-backup", "system"];

/// How many rows of each event table accompany `process_events` process events.
pub fn background_mix(process_events: u64) -> [(&'static str, u64); 7] {
    [
        ("DeviceProcessEvents", process_events),
        ("DeviceNetworkEvents", process_events / 2),
        ("DeviceFileEvents", process_events / 5),
        ("DeviceLogonEvents", process_events / 10),
        ("DeviceRegistryEvents", process_events / 10),
        ("DeviceImageLoadEvents", process_events / 20),
        ("DeviceEvents", process_events / 20),
    ]
}

fn hash_hex(seed: u64, what: &str, chars: usize) -> String {
    let mut rng = Rng::new(seed ^ report_id(&[what]) as u64);
    let mut s = String::with_capacity(chars);
    while s.len() < chars {
        s.push_str(&format!("{:016x}", rng.next_u64()));
    }
    s.truncate(chars);
    s
}

/// Whose background activity, from which seed, up to when.
#[derive(Debug, Clone, Copy)]
pub struct Activity<'a> {
    pub machines: &'a [Machine],
    pub seed: u64,
    pub now: DateTime<Utc>,
}

/// Events `first..first+count` of the `total` events of `table`'s background activity, spread
/// over the 30 days before `now`: event `i` depends on the seed, the table and `i` only (and on
/// `now`, which the times are laid back from).
pub fn background_events(
    activity: &Activity<'_>,
    table: &str,
    total: u64,
    first: u64,
    count: u64,
    out: &mut HuntingRows,
) {
    let Activity { machines, seed, now } = *activity;
    if machines.is_empty() || total == 0 {
        return;
    }
    let span_ms = 30 * 24 * 3600 * 1000 - 60_000;
    let salt = report_id(&[table]) as u64;
    for i in first..(first + count).min(total) {
        let mut rng = Rng::new(seed ^ salt ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let m = &machines[rng.below(machines.len() as u64) as usize];
        // Evenly spread, oldest first, with jitter, never in the future.
        let age_ms = (total - i) * span_ms / total;
        let at = now - TimeDelta::milliseconds((age_ms + rng.below(1000)).min(span_ms) as i64);
        let (file, folder, command, company) = *rng.pick(PROCESSES);
        let account = *rng.pick(ACCOUNTS);
        let (ip, host) = *rng.pick(REMOTE_HOSTS);
        let sha1 = hash_hex(seed, file, 40);
        let sha256 = hash_hex(seed, file, 64);
        let pid = 1000 + rng.below(60_000) as i64;
        let parent = 500 + rng.below(5_000) as i64;
        let report = (i as i64) << 8 | (salt & 0xff) as i64;
        let base = RowBuilder::new(table)
            .time("Timestamp", at)
            .set("DeviceId", &m.id)
            .set("DeviceName", &m.computer_dns_name)
            .set("ReportId", report);
        let initiating = |r: RowBuilder| {
            r.set("InitiatingProcessFileName", "explorer.exe")
                .set("InitiatingProcessId", parent)
                .set("InitiatingProcessAccountName", account)
                .set("InitiatingProcessAccountDomain", "contoso")
                .time("InitiatingProcessCreationTime", at - TimeDelta::minutes(5))
        };
        let row = match table {
            "DeviceProcessEvents" => initiating(base)
                .set("ActionType", "ProcessCreated")
                .set("FileName", file)
                .set("FolderPath", format!("{folder}\\{file}"))
                .set("SHA1", sha1)
                .set("SHA256", sha256)
                .set("FileSize", 100_000 + rng.below(4_000_000) as i64)
                .set("ProcessVersionInfoCompanyName", company)
                .set("ProcessId", pid)
                .set("ProcessCommandLine", command)
                .time("ProcessCreationTime", at)
                .set("ProcessIntegrityLevel", "Medium")
                .set("ProcessTokenElevation", "TokenElevationTypeDefault")
                .set("AccountName", account)
                .set("AccountDomain", "contoso")
                .set("LogonId", 999 + rng.below(100_000) as i64),
            "DeviceNetworkEvents" => initiating(base)
                .set(
                    "ActionType",
                    if rng.below(10) == 0 {
                        "ConnectionFailed"
                    } else {
                        "ConnectionSuccess"
                    },
                )
                .set("RemoteIP", ip)
                .set("RemotePort", if host.is_empty() { 445 } else { 443 })
                .set("RemoteUrl", host)
                .set("LocalIP", m.last_ip_address.as_deref())
                .set("LocalPort", 49152 + rng.below(16_000) as i64)
                .set("Protocol", "Tcp")
                .set("RemoteIPType", if host.is_empty() { "Private" } else { "Public" })
                .set("InitiatingProcessFileName", file),
            "DeviceFileEvents" => initiating(base)
                .set(
                    "ActionType",
                    *rng.pick(&["FileCreated", "FileModified", "FileRenamed", "FileDeleted"]),
                )
                .set("FileName", format!("report-{}.docx", rng.below(500)))
                .set("FolderPath", format!("C:\\Users\\{account}\\Documents"))
                .set("SHA1", hash_hex(seed ^ i, "file", 40))
                .set("FileSize", rng.below(2_000_000) as i64),
            "DeviceLogonEvents" => initiating(base)
                .set(
                    "ActionType",
                    if rng.below(8) == 0 {
                        "LogonFailed"
                    } else {
                        "LogonSuccess"
                    },
                )
                .set("LogonType", *rng.pick(&["Interactive", "Network", "RemoteInteractive"]))
                .set("AccountName", account)
                .set("AccountDomain", "contoso")
                .set("Protocol", "Kerberos")
                .set("IsLocalAdmin", account == "svc-backup"),
            "DeviceRegistryEvents" => initiating(base)
                .set("ActionType", "RegistryValueSet")
                .set(
                    "RegistryKey",
                    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run",
                )
                .set("RegistryValueName", file)
                .set("RegistryValueType", "String")
                .set("RegistryValueData", format!("{folder}\\{file}")),
            "DeviceImageLoadEvents" => initiating(base)
                .set("ActionType", "ImageLoaded")
                .set(
                    "FileName",
                    *rng.pick(&["ntdll.dll", "kernel32.dll", "user32.dll", "amsi.dll"]),
                )
                .set("FolderPath", "C:\\Windows\\System32")
                .set("SHA1", hash_hex(seed, "dll", 40)),
            _ => initiating(base)
                .set(
                    "ActionType",
                    *rng.pick(&["AntivirusScanCompleted", "UsbDriveMounted", "PowerShellCommand"]),
                )
                .set("FileName", file)
                .set("AccountName", account)
                .set("AdditionalFields", serde_json::json!({"Command": command})),
        };
        out.push(row);
    }
}

/// The data document's `hunting` property (`{"DeviceProcessEvents": [{"Timestamp": "...", ...}],
/// ...}`): rows as the API's `Results` write them, checked whole. Unknown tables and columns, and
/// values of the wrong type, are refused naming `table[index].column`; absent columns are empty.
pub fn rows_from_document(document: &serde_json::Value) -> Result<HuntingRows, String> {
    let tables = document
        .as_object()
        .ok_or("'hunting' must be an object of tables, each an array of rows")?;
    let catalog = Catalog::defender_hunting_shared();
    let mut out = HuntingRows::default();
    for (name, rows) in tables {
        let schema = catalog.table(name).ok_or_else(|| {
            let known: Vec<&str> = catalog.tables.iter().map(|t| t.name.as_str()).collect();
            format!(
                "hunting: unknown table '{name}'; known tables are: {}",
                known.join(", ")
            )
        })?;
        let rows = rows
            .as_array()
            .ok_or_else(|| format!("hunting.{name} must be an array of rows"))?;
        let table: &'static str = schema.name.as_str();
        let list = out.tables.entry(table).or_default();
        for (index, row) in rows.iter().enumerate() {
            let object = row
                .as_object()
                .ok_or_else(|| format!("hunting.{name}[{index}] must be an object"))?;
            if let Some(unknown) = object.keys().find(|k| schema.column(k).is_none()) {
                return Err(format!("hunting.{name}[{index}]: unknown column '{unknown}'"));
            }
            let values = schema
                .columns
                .iter()
                .map(|(column, ty)| {
                    let json = object.get(column).unwrap_or(&serde_json::Value::Null);
                    let value = Value::from_json(json, *ty);
                    if value.is_null() && !json.is_null() {
                        return Err(format!(
                            "hunting.{name}[{index}].{column}: {json} is not a {}",
                            ty.name()
                        ));
                    }
                    Ok(value)
                })
                .collect::<Result<Vec<_>, String>>()?;
            list.push(values);
        }
    }
    Ok(out)
}

/// Rows of one table as the data document holds them: the API's `Results` shape without the empty
/// columns (`""` and null), which loading reads back as empty, so that exports stay small.
pub fn rows_to_document(table: &str, rows: &[HuntingRow]) -> serde_json::Value {
    let (_, schema) = schema(table);
    serde_json::Value::Array(
        rows.iter()
            .map(|row| {
                let mut object = serde_json::Map::new();
                for ((column, ty), v) in schema.columns.iter().zip(row) {
                    if v.is_null() || matches!(v, Value::String(s) if s.is_empty()) {
                        continue;
                    }
                    object.insert(column.clone(), palisade_kql::value_json(v, *ty));
                }
                serde_json::Value::Object(object)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_have_every_column_and_typed_values() {
        let now = palisade_model::time::fixed_now();
        let data = crate::control::demo::tenant_data("t", now);
        let mut rows = HuntingRows::default();
        machine_rows(&data.machines, now, &mut rows);
        alert_rows(&data.alerts, &mut rows);
        let activity = Activity {
            machines: &data.machines,
            seed: 7,
            now,
        };
        background_events(&activity, "DeviceProcessEvents", 100, 0, 100, &mut rows);
        let catalog = Catalog::defender_hunting();
        for (table, rows) in &rows.tables {
            let schema = catalog.table(table).unwrap();
            for row in rows {
                assert_eq!(row.len(), schema.columns.len(), "{table}");
                for ((name, ty), v) in schema.columns.iter().zip(row) {
                    if *ty == KqlType::String {
                        assert!(matches!(v, Value::String(_)), "{table}.{name} is never null: {v:?}");
                    }
                }
            }
        }
        assert_eq!(rows.tables["DeviceInfo"].len(), data.machines.len());
        assert_eq!(rows.tables["AlertInfo"].len(), data.alerts.len());
        assert!(rows.tables["DeviceProcessEvents"].len() >= 100);
    }

    #[test]
    fn background_events_depend_on_seed_and_index_only() {
        let now = palisade_model::time::fixed_now();
        let machines = crate::control::demo::machines("t", now);
        let (mut whole, mut halves, mut other) =
            (HuntingRows::default(), HuntingRows::default(), HuntingRows::default());
        let one = Activity {
            machines: &machines,
            seed: 1,
            now,
        };
        let two = Activity { seed: 2, ..one };
        background_events(&one, "DeviceNetworkEvents", 50, 0, 50, &mut whole);
        background_events(&one, "DeviceNetworkEvents", 50, 0, 20, &mut halves);
        background_events(&one, "DeviceNetworkEvents", 50, 20, 30, &mut halves);
        background_events(&two, "DeviceNetworkEvents", 50, 0, 50, &mut other);
        assert_eq!(whole, halves);
        assert_ne!(whole, other);
    }
}
