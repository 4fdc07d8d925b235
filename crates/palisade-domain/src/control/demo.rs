//! The deterministic demo tenant and generated data: machines across every platform and a range of
//! sensor versions, the accounts that log on to them, alerts with evidence grouped into incidents,
//! and automated investigations of the severe ones ([`tenant_data`]); and, at scale, machines and
//! alerts drawn from skewed pools for `palisade seed` ([`generate_machines`], [`generate_alerts`]).
//! The same seed always yields the same ids, names and properties; times are laid out backwards
//! from the `now` passed in (the emulator clock's at seeding) so the data looks fresh.

use chrono::{DateTime, TimeDelta, Utc};
use palisade_model::entities::*;
use palisade_model::time::Timestamp;
use sha2::{Digest, Sha256};

/// A small deterministic generator (SplitMix64): enough variety for demo data, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A 40-hex-character id derived from a namespace and an index, like real machine ids.
pub fn hex_id(namespace: &str, index: u64) -> String {
    let digest = Sha256::digest(format!("{namespace}/{index}").as_bytes());
    digest[..20].iter().map(|b| format!("{b:02x}")).collect()
}

struct PlatformProfile {
    os_platform: &'static str,
    prefix: &'static str,
    versions: &'static [&'static str],
    builds: &'static [i64],
    agent_versions: &'static [&'static str],
    os_version: Option<&'static str>,
}

/// (profile, how many machines) — every platform the docs and real responses show.
const PLATFORMS: &[(PlatformProfile, u64)] = &[
    (
        PlatformProfile {
            os_platform: "Windows10",
            prefix: "desktop",
            versions: &["1607", "1703", "1709", "1809", "1909", "21H2", "22H2"],
            builds: &[14393, 15063, 16299, 17763, 18363, 19044, 19045],
            agent_versions: &[
                "10.8040.17763.1",
                "10.8295.19041.1",
                "10.8470.19041.2788",
                "10.8760.19041.3636",
            ],
            os_version: None,
        },
        10,
    ),
    (
        PlatformProfile {
            os_platform: "Windows11",
            prefix: "laptop",
            versions: &["21H2", "22H2", "23H2", "24H2"],
            builds: &[22000, 22621, 22631, 26100],
            agent_versions: &["10.8470.22621.2788", "10.8760.22631.3636", "10.8805.26100.1"],
            os_version: None,
        },
        8,
    ),
    (
        PlatformProfile {
            os_platform: "WindowsServer2019",
            prefix: "srv",
            versions: &["1809"],
            builds: &[17763],
            agent_versions: &["10.8295.17763.1", "10.8470.17763.4010"],
            os_version: None,
        },
        3,
    ),
    (
        PlatformProfile {
            os_platform: "WindowsServer2022",
            prefix: "dc",
            versions: &["21H2"],
            builds: &[20348],
            agent_versions: &["10.8470.20348.1", "10.8760.20348.2031"],
            os_version: None,
        },
        3,
    ),
    (
        PlatformProfile {
            os_platform: "macOS",
            prefix: "mac",
            versions: &["12", "13", "14"],
            builds: &[],
            agent_versions: &["101.97.13", "101.98.30", "101.98.84", "101.23082.0011"],
            os_version: Some("14.1"),
        },
        4,
    ),
    (
        PlatformProfile {
            os_platform: "Linux",
            prefix: "web",
            versions: &["Ubuntu 22.04", "RHEL 9.2", "Debian 12"],
            builds: &[],
            agent_versions: &["101.97.40", "101.98.58", "101.23072.0021", "101.24022.0005"],
            os_version: Some("22.04"),
        },
        4,
    ),
    (
        PlatformProfile {
            os_platform: "iOS",
            prefix: "iphone",
            versions: &["17.1"],
            builds: &[],
            agent_versions: &["1.1.49740104"],
            os_version: Some("17.1"),
        },
        2,
    ),
    (
        PlatformProfile {
            os_platform: "Android",
            prefix: "pixel",
            versions: &["14"],
            builds: &[],
            agent_versions: &["1.0.6118.0101"],
            os_version: Some("14"),
        },
        2,
    ),
];

const GROUPS: &[(i64, &str)] = &[
    (0, "UnassignedGroup"),
    (140, "Finance"),
    (141, "Engineering"),
    (142, "Servers"),
];
const TAGS: &[&str] = &["VIP", "Finance", "Lab", "Production", "Contoso Branch (West)", "PCI"];

/// How many machines one round over [`PLATFORMS`] yields: the demo tenant is exactly one round.
pub const DEMO_MACHINES: u64 = 36;

/// The demo machines of a tenant. `namespace` keeps ids distinct between tenants.
pub fn machines(namespace: &str, now: DateTime<Utc>) -> Vec<Machine> {
    generate_machines(
        &Generation {
            namespace,
            seed: 42,
            name_prefix: "",
        },
        now,
        0,
        DEMO_MACHINES,
    )
}

/// What makes a generated population distinct and repeatable.
pub struct Generation<'a> {
    /// Keeps ids distinct between tenants and runs.
    pub namespace: &'a str,
    pub seed: u64,
    /// Prepended to computer names (`seed42-desktop-000123.contoso.local`).
    pub name_prefix: &'a str,
}

/// Machines `first..first+count` of a deterministic population: the same generation and index
/// always give the same machine, so large populations can be produced in batches.
pub fn generate_machines(generation: &Generation<'_>, now: DateTime<Utc>, first: u64, count: u64) -> Vec<Machine> {
    let round: u64 = PLATFORMS.iter().map(|(_, n)| n).sum();
    let mut out = Vec::with_capacity(count as usize);
    for index in first + 1..=first + count {
        // Position within a round picks the platform; the round number numbers the names.
        let (rounds, mut at) = ((index - 1) / round, (index - 1) % round);
        let mut chosen = &PLATFORMS[0];
        for entry in PLATFORMS {
            if at < entry.1 {
                chosen = entry;
                break;
            }
            at -= entry.1;
        }
        let (profile, per_round) = chosen;
        let n = rounds * per_round + at;
        let mut rng = Rng::new(generation.seed ^ index.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let windows = profile.os_platform.starts_with("Windows");
        // Round-robin rather than random, so even the small demo tenant has every OS version and
        // sensor version of its platform profile (the action rules depend on them).
        let version_at = (n % profile.versions.len() as u64) as usize;
        let (group_id, group_name) = *rng.pick(GROUPS);
        let last_seen = now - TimeDelta::minutes(rng.below(60 * 24 * 3) as i64 + 5);
        let first_seen = last_seen - TimeDelta::days(rng.below(400) as i64 + 30);
        let health = match rng.below(10) {
            0 => HealthStatus::Inactive,
            1 => HealthStatus::ImpairedCommunication,
            2 if !windows => HealthStatus::NoSensorData,
            _ => HealthStatus::Active,
        };
        let mut tags: Vec<String> = Vec::new();
        for _ in 0..rng.below(3) {
            let tag = rng.pick(TAGS).to_string();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let mac = format!("{:012X}", rng.next_u64() & 0xFFFF_FFFF_FFFF);
        let aad = windows && rng.below(2) == 0;
        out.push(Machine {
            id: hex_id(generation.namespace, index),
            merged_into_machine_id: None,
            is_potential_duplication: false,
            is_excluded: false,
            exclusion_reason: None,
            computer_dns_name: if generation.name_prefix.is_empty() {
                format!("{}-{:02}.contoso.local", profile.prefix, n + 1)
            } else {
                format!(
                    "{}-{}-{:06}.contoso.local",
                    generation.name_prefix,
                    profile.prefix,
                    n + 1
                )
            },
            first_seen: Timestamp(first_seen),
            last_seen: Timestamp(last_seen),
            os_platform: profile.os_platform.to_string(),
            os_version: profile.os_version.map(str::to_string),
            os_processor: "x64".into(),
            version: Some(profile.versions[version_at].to_string()),
            last_ip_address: Some(ip(group_id, index)),
            last_external_ip_address: Some(format!("203.0.113.{}", 1 + rng.below(250))),
            agent_version: Some(profile.agent_versions[(n % profile.agent_versions.len() as u64) as usize].to_string()),
            os_build: profile.builds.get(version_at).copied(),
            health_status: health,
            device_value: Some(*rng.pick(&[
                DeviceValue::Normal,
                DeviceValue::Normal,
                DeviceValue::Low,
                DeviceValue::High,
            ])),
            rbac_group_id: group_id,
            rbac_group_name: Some(group_name.to_string()),
            risk_score: Some(*rng.pick(&[
                RiskScore::None,
                RiskScore::Informational,
                RiskScore::Low,
                RiskScore::Medium,
                RiskScore::High,
            ])),
            exposure_level: Some(*rng.pick(&[
                ExposureLevel::None,
                ExposureLevel::Low,
                ExposureLevel::Medium,
                ExposureLevel::High,
            ])),
            is_aad_joined: aad,
            aad_device_id: aad.then(|| {
                uuid::Uuid::new_v5(
                    &uuid::Uuid::NAMESPACE_OID,
                    hex_id(generation.namespace, index).as_bytes(),
                )
                .to_string()
            }),
            machine_tags: tags,
            defender_av_status: Some(if windows { "Updated" } else { "NotSupported" }.into()),
            onboarding_status: OnboardingStatus::Onboarded,
            os_architecture: Some("64-bit".into()),
            managed_by: Some(if windows { "Intune" } else { "Unknown" }.into()),
            managed_by_status: Some("Unknown".into()),
            ip_addresses: vec![IpAddress {
                ip_address: ip(group_id, index),
                mac_address: Some(mac),
                kind: "Ethernet".into(),
                operational_status: "Up".into(),
            }],
            vm_metadata: None,
        });
    }
    out
}

/// A private address unique per index within a device group's /16.
fn ip(group_id: i64, index: u64) -> String {
    format!("10.{}.{}.{}", group_id % 250, (index / 250) % 256, index % 250 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_machines_are_deterministic_and_cover_every_platform() {
        let now = palisade_model::time::fixed_now();
        let a = machines("tenant-a", now);
        let b = machines("tenant-a", now);
        assert_eq!(a, b);
        assert_eq!(a.len(), 36);
        for platform in [
            "Windows10",
            "Windows11",
            "WindowsServer2019",
            "WindowsServer2022",
            "macOS",
            "Linux",
            "iOS",
            "Android",
        ] {
            assert!(a.iter().any(|m| m.os_platform == platform), "{platform}");
        }
        let ids: std::collections::HashSet<_> = a.iter().map(|m| &m.id).collect();
        assert_eq!(ids.len(), a.len());
        assert!(a
            .iter()
            .all(|m| m.id.len() == 40 && m.id.chars().all(|c| c.is_ascii_hexdigit())));
        let other = machines("tenant-b", now);
        assert_ne!(a[0].id, other[0].id, "ids differ between tenants");
    }

    #[test]
    fn demo_tenant_data_is_consistent() {
        let now = palisade_model::time::fixed_now();
        let data = tenant_data("tenant-a", now);
        assert_eq!(data, tenant_data("tenant-a", now), "deterministic");
        assert_eq!(data.alerts.len() as u64, DEMO_ALERTS);
        let machine_ids: std::collections::HashSet<_> = data.machines.iter().map(|m| &m.id).collect();
        assert!(data.alerts.iter().all(|a| machine_ids.contains(&a.machine_id)));
        let alert_ids: std::collections::HashSet<_> = data.alerts.iter().map(|a| &a.id).collect();
        assert_eq!(alert_ids.len(), data.alerts.len(), "alert ids are unique");
        assert!(data.alerts.iter().all(|a| !a.evidence.is_empty()));
        assert!(!data.investigations.is_empty());
        for inv in &data.investigations {
            let alert = data
                .alerts
                .iter()
                .find(|a| Some(&a.id) == inv.triggering_alert_id.as_ref())
                .unwrap();
            assert_eq!(alert.investigation_id.map(|i| i.to_string()), Some(inv.id.clone()));
        }
        let incidents: std::collections::HashSet<_> = data.alerts.iter().map(|a| a.incident_id).collect();
        assert!(
            incidents.len() > 5 && incidents.len() < data.alerts.len(),
            "alerts share incidents"
        );
        for status in [AlertStatus::New, AlertStatus::InProgress, AlertStatus::Resolved] {
            assert!(data.alerts.iter().any(|a| a.status == status), "{status}");
        }
        assert!(
            data.users.iter().all(|u| u.log_on_machines_count > 0),
            "every account logged on somewhere"
        );
    }

    #[test]
    fn generated_alerts_compose_from_batches_and_point_at_generated_machines() {
        let now = palisade_model::time::fixed_now();
        let g = Generation {
            namespace: "t",
            seed: 7,
            name_prefix: "seed7",
        };
        let population = AlertPopulation {
            alerts: 30,
            machines: 50,
        };
        let whole = generate_alerts(&g, "t", now, population, 0, 30);
        let later = generate_alerts(&g, "t", now + TimeDelta::hours(1), population, 0, 30);
        assert!(
            whole.iter().zip(&later).all(|(a, b)| a.id == b.id),
            "ids do not depend on the time of seeding"
        );
        let mut parts = generate_alerts(&g, "t", now, population, 0, 12);
        parts.extend(generate_alerts(&g, "t", now, population, 12, 18));
        assert_eq!(whole, parts);
        let machines: std::collections::HashSet<String> =
            generate_machines(&g, now, 0, 50).into_iter().map(|m| m.id).collect();
        assert!(whole.iter().all(|a| machines.contains(&a.machine_id)));
        let ids: std::collections::HashSet<_> = whole.iter().map(|a| &a.id).collect();
        assert_eq!(ids.len(), whole.len());
        assert!(whole
            .windows(2)
            .all(|w| w[0].alert_creation_time <= w[1].alert_creation_time));
    }

    #[test]
    fn generated_evidence_spreads_over_many_files_addresses_and_hosts() {
        let g = Generation {
            namespace: "t",
            seed: 42,
            name_prefix: "seed42",
        };
        let population = AlertPopulation {
            alerts: 8_000,
            machines: 500,
        };
        let alerts = generate_alerts(&g, "t", palisade_model::time::fixed_now(), population, 0, 8_000);
        let mut files: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let (mut ips, mut hosts) = (std::collections::HashSet::new(), std::collections::HashSet::new());
        for alert in &alerts {
            for e in &alert.evidence {
                if e.entity_type == "File" {
                    *files.entry(e.sha1.as_deref().unwrap()).or_default() += 1;
                }
                if let Some(ip) = &e.ip_address {
                    assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{ip}");
                    ips.insert(ip.clone());
                }
                if let Some(url) = &e.url {
                    hosts.insert(url.split('/').nth(2).unwrap().to_string());
                }
            }
        }
        // 8 templates alone would give 8 files, 2 addresses and 3 hosts.
        assert!(files.len() > 200, "{} files", files.len());
        assert!(
            ips.len() > 50 && hosts.len() > 50,
            "{} ips, {} hosts",
            ips.len(),
            hosts.len()
        );
        // Skewed, not uniform: the commonest file is far above the average, yet no single file
        // stands in most alerts.
        let commonest = files.values().max().copied().unwrap();
        assert!(commonest > 3 * alerts.len() / files.len(), "{commonest}");
        assert!(commonest < alerts.len() / 4, "{commonest}");
    }

    #[test]
    fn batches_compose_into_the_same_population() {
        let now = palisade_model::time::fixed_now();
        let g = Generation {
            namespace: "t",
            seed: 7,
            name_prefix: "seed7",
        };
        let whole = generate_machines(&g, now, 0, 100);
        let mut parts = generate_machines(&g, now, 0, 40);
        parts.extend(generate_machines(&g, now, 40, 60));
        assert_eq!(whole, parts);
        let names: std::collections::HashSet<_> = whole.iter().map(|m| &m.computer_dns_name).collect();
        assert_eq!(names.len(), 100, "computer names are unique");
    }
}

/// Everything the demo tenant holds besides its registration.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoData {
    pub machines: Vec<Machine>,
    pub users: Vec<User>,
    pub alerts: Vec<Alert>,
    pub investigations: Vec<Investigation>,
    /// `(relation kind, pairs)`; see [`palisade_model::links`].
    pub links: Vec<(&'static str, Vec<(String, String)>)>,
}

/// Accounts of the demo domain: (name, domain admin, network-only).
const ACCOUNTS: &[(&str, bool, bool)] = &[
    ("jdoe", false, false),
    ("asmith", false, false),
    ("mgarcia", false, false),
    ("lchen", false, false),
    ("kpatel", false, false),
    ("bwilson", false, false),
    ("admin-ops", true, false),
    ("svc-backup", false, true),
];
const DOMAIN: &str = "CONTOSO";

/// An alert template: title, category, severity, detection source, MITRE techniques, threat family,
/// the process behind it and the network indicators it touched.
struct AlertTemplate {
    title: &'static str,
    category: &'static str,
    severity: AlertSeverity,
    detection_source: &'static str,
    mitre: &'static [&'static str],
    threat_family: Option<&'static str>,
    file: (&'static str, &'static str),
    command_line: &'static str,
    ip: Option<&'static str>,
    url: Option<&'static str>,
}

const ALERT_TEMPLATES: &[AlertTemplate] = &[
    AlertTemplate {
        title: "Low-reputation arbitrary code executed by signed executable",
        category: "Execution",
        severity: AlertSeverity::Low,
        detection_source: "WindowsDefenderAtp",
        mitre: &["T1064", "T1085", "T1220"],
        threat_family: None,
        file: ("suspicious.dll", "c:\\temp"),
        command_line: "rundll32.exe  c:\\temp\\suspicious.dll,RepeatAfterMe",
        ip: None,
        url: None,
    },
    AlertTemplate {
        title: "Suspicious 'Meterpreter' behavior was detected",
        category: "Malware",
        severity: AlertSeverity::High,
        detection_source: "WindowsDefenderAv",
        mitre: &["T1055"],
        threat_family: Some("Meterpreter"),
        file: ("payload.exe", "C:\\Users\\Public\\Downloads"),
        command_line: "payload.exe -connect 198.51.100.23:4444",
        ip: Some("198.51.100.23"),
        url: None,
    },
    AlertTemplate {
        title: "Suspicious PowerShell command line",
        category: "Execution",
        severity: AlertSeverity::Medium,
        detection_source: "WindowsDefenderAtp",
        mitre: &["T1059.001"],
        threat_family: None,
        file: ("invoke-update.ps1", "C:\\ProgramData\\Updates"),
        command_line: "powershell.exe -nop -w hidden -enc SQBFAFgA",
        ip: None,
        url: Some("http://update-check.fabrikam-cdn.net/payload"),
    },
    AlertTemplate {
        title: "Connection to a custom network indicator",
        category: "CommandAndControl",
        severity: AlertSeverity::Medium,
        detection_source: "CustomTi",
        mitre: &["T1071"],
        threat_family: None,
        file: ("beacon.exe", "C:\\Windows\\Temp"),
        command_line: "beacon.exe --interval 60",
        ip: Some("203.0.113.77"),
        url: Some("https://c2.tailspin-analytics.com/beacon"),
    },
    AlertTemplate {
        title: "Ransomware behavior detected in the file system",
        category: "Ransomware",
        severity: AlertSeverity::High,
        detection_source: "WindowsDefenderAtp",
        mitre: &["T1486"],
        threat_family: Some("Wannacry"),
        file: ("tasksche.exe", "C:\\ProgramData"),
        command_line: "tasksche.exe /i",
        ip: None,
        url: None,
    },
    AlertTemplate {
        title: "Credential dumping activity observed",
        category: "CredentialAccess",
        severity: AlertSeverity::High,
        detection_source: "WindowsDefenderAtp",
        mitre: &["T1003", "T1003.001"],
        threat_family: Some("Mimikatz"),
        file: ("mimi.exe", "C:\\Users\\Public"),
        command_line: "mimi.exe privilege::debug sekurlsa::logonpasswords",
        ip: None,
        url: None,
    },
    AlertTemplate {
        title: "Suspicious process discovery",
        category: "Discovery",
        severity: AlertSeverity::Informational,
        detection_source: "WindowsDefenderAtp",
        mitre: &["T1057"],
        threat_family: None,
        file: ("tasklist.exe", "C:\\Windows\\System32"),
        command_line: "tasklist.exe /v",
        ip: None,
        url: None,
    },
    AlertTemplate {
        title: "'EICAR_Test_File' malware was detected",
        category: "Malware",
        severity: AlertSeverity::Informational,
        detection_source: "WindowsDefenderAv",
        mitre: &[],
        threat_family: Some("EICAR_Test_File"),
        file: ("eicar.com", "C:\\Users\\Public\\Downloads"),
        command_line: "explorer.exe",
        ip: None,
        url: Some("https://secure.eicar.org/eicar.com"),
    },
];

/// How many alerts the demo tenant gets: enough for paging, incidents and every template.
pub const DEMO_ALERTS: u64 = 60;

/// The demo tenant's data: machines, accounts that log on to them, alerts with evidence grouped
/// into incidents, and automated investigations of the severe ones.
pub fn tenant_data(namespace: &str, now: DateTime<Utc>) -> DemoData {
    let machines = machines(namespace, now);
    let mut rng = Rng::new(0xA1E2_7500);
    let users: Vec<User> = ACCOUNTS
        .iter()
        .enumerate()
        .map(|(n, (name, admin, network_only))| User {
            id: format!("{}\\{name}", DOMAIN.to_lowercase()),
            account_name: (*name).into(),
            account_domain: DOMAIN.to_lowercase(),
            account_sid: Some(format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1101 + n)),
            first_seen: Timestamp(now - TimeDelta::days(200 + n as i64 * 7)),
            last_seen: Timestamp(now - TimeDelta::hours(1 + n as i64)),
            most_prevalent_machine_id: None,
            least_prevalent_machine_id: None,
            logon_types: if *network_only { "Network" } else { "Interactive" }.into(),
            log_on_machines_count: 0,
            is_domain_admin: *admin,
            is_only_network_user: *network_only,
        })
        .collect();
    // Who logged on where: every non-mobile machine has one or two accounts.
    let mut machine_users = Vec::new();
    let mut user_machines = Vec::new();
    let mut seen_on: Vec<Vec<String>> = vec![Vec::new(); users.len()];
    for (m, machine) in machines.iter().enumerate() {
        if matches!(machine.os_platform.as_str(), "iOS" | "Android") {
            continue;
        }
        let first = m % users.len();
        let mut accounts = vec![first];
        if rng.below(2) == 0 {
            accounts.push((first + 1 + rng.below(users.len() as u64 - 1) as usize) % users.len());
        }
        for u in accounts {
            machine_users.push((machine.id.clone(), users[u].id.clone()));
            user_machines.push((
                palisade_model::links::user_key(&users[u].account_name),
                machine.id.clone(),
            ));
            seen_on[u].push(machine.id.clone());
        }
    }
    let users: Vec<User> = users
        .into_iter()
        .zip(&seen_on)
        .map(|(mut user, on)| {
            user.log_on_machines_count = on.len() as i64;
            user.most_prevalent_machine_id = on.first().cloned();
            user.least_prevalent_machine_id = on.last().cloned();
            user
        })
        .collect();

    let mut alerts = Vec::new();
    let mut investigations = Vec::new();
    let mut user_alerts = Vec::new();
    let mut incident = 1000;
    for n in 0..DEMO_ALERTS {
        // Alerts come in small stories: a machine gets two or three related alerts in one incident.
        if n % 3 == 0 || rng.below(4) == 0 {
            incident += 1;
        }
        let machine = &machines[((incident - 1001) * 7 % machines.len() as i64) as usize];
        let template = &ALERT_TEMPLATES[(n as usize * 5 + rng.below(3) as usize) % ALERT_TEMPLATES.len()];
        let logged_on: Vec<&(String, String)> = machine_users.iter().filter(|(m, _)| *m == machine.id).collect();
        let user = logged_on
            .first()
            .and_then(|(_, uid)| users.iter().find(|u| &u.id == uid));
        let created = now - TimeDelta::minutes((DEMO_ALERTS - n) as i64 * 11 * 60 + rng.below(600) as i64);
        let first_event = created - TimeDelta::seconds(60 + rng.below(600) as i64);
        let last_event = first_event + TimeDelta::seconds(rng.below(120) as i64);
        let (status, resolved) = match rng.below(6) {
            0 => (AlertStatus::Resolved, Some(Timestamp(created + TimeDelta::hours(4)))),
            1 => (AlertStatus::InProgress, None),
            _ => (AlertStatus::New, None),
        };
        let id = alert_id(created, rng.next_u64());
        let evidence = evidence(template, user, machine, created, 0, &mut rng);
        let investigated = template.severity == AlertSeverity::High;
        let (investigation_id, investigation_state) = if investigated {
            let inv_id = 5000 + investigations.len() as i64;
            let state = *rng.pick(&[
                InvestigationState::Running,
                InvestigationState::PendingApproval,
                InvestigationState::SuccessfullyRemediated,
                InvestigationState::Benign,
            ]);
            investigations.push(Investigation {
                id: inv_id.to_string(),
                start_time: Timestamp(created + TimeDelta::seconds(30)),
                end_time: matches!(
                    state,
                    InvestigationState::SuccessfullyRemediated | InvestigationState::Benign
                )
                .then(|| Timestamp(created + TimeDelta::minutes(42))),
                cancelled_by: None,
                state,
                status_details: None,
                machine_id: machine.id.clone(),
                computer_dns_name: machine.computer_dns_name.clone(),
                triggering_alert_id: Some(id.clone()),
            });
            (Some(inv_id), Some(state))
        } else {
            (None, Some(InvestigationState::Queued))
        };
        if let Some(user) = user {
            user_alerts.push((palisade_model::links::user_key(&user.account_name), id.clone()));
        }
        alerts.push(Alert {
            id,
            incident_id: Some(incident),
            investigation_id,
            assigned_to: (status != AlertStatus::New).then(|| "secop@palisade-demo.onmicrosoft.com".to_string()),
            severity: template.severity,
            status,
            classification: resolved.map(|_| Classification::TruePositive),
            determination: resolved.map(|_| Determination::Malware),
            investigation_state,
            detection_source: template.detection_source.into(),
            detector_id: Some(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, template.title.as_bytes()).to_string()),
            category: template.category.into(),
            threat_family_name: template.threat_family.map(str::to_string),
            title: template.title.into(),
            description: format!(
                "{} on {}. Review the evidence and the process tree, then decide on a response.",
                template.title, machine.computer_dns_name
            ),
            alert_creation_time: Timestamp(created),
            first_event_time: Some(Timestamp(first_event)),
            last_event_time: Some(Timestamp(last_event)),
            last_update_time: Timestamp(resolved.map(|t| t.0).unwrap_or(created + TimeDelta::seconds(2))),
            resolved_time: resolved,
            machine_id: machine.id.clone(),
            computer_dns_name: machine.computer_dns_name.clone(),
            rbac_group_name: machine.rbac_group_name.clone(),
            aad_tenant_id: namespace.to_string(),
            threat_name: template.threat_family.map(|f| format!("Trojan:Win32/{f}")),
            mitre_techniques: template.mitre.iter().map(|t| t.to_string()).collect(),
            related_user: user.map(|u| RelatedUser {
                user_name: u.account_name.clone(),
                domain_name: DOMAIN.into(),
            }),
            comments: Vec::new(),
            evidence,
        });
    }
    DemoData {
        machines,
        users,
        alerts,
        investigations,
        links: vec![
            (palisade_model::links::MACHINE_USERS, machine_users),
            (palisade_model::links::USER_MACHINES, user_machines),
            (palisade_model::links::USER_ALERTS, user_alerts),
        ],
    }
}

/// An alert id in the service's shape: `da` + .NET ticks of the creation time + `_` + a number.
pub fn alert_id(created: DateTime<Utc>, salt: u64) -> String {
    const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;
    let ticks = created.timestamp_micros() * 10 + UNIX_EPOCH_TICKS;
    format!("da{ticks}_{}", salt % 2_000_000_000)
}

/// Hex digest of `text` cut to `chars` characters: stable fake hashes for demo files.
fn fake_hash(text: &str, chars: usize) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..chars].to_string()
}

/// About how many generated alerts share one evidence variant on average.
const EVIDENCE_VARIANT_SPREAD: u64 = 40;

/// A template's IP address, or for `variant` > 0 another public address derived from both.
fn variant_ip(ip: &str, variant: u64) -> String {
    if variant == 0 {
        return ip.to_string();
    }
    let h = Sha256::digest(format!("ip:{ip}:{variant}").as_bytes());
    format!("20.{}.{}.{}", h[0], h[1], h[2].max(1))
}

/// A template's URL, or for `variant` > 0 the same path on a numbered sub-domain of its host.
fn variant_url(url: &str, variant: u64) -> String {
    match (variant, url.split_once("://")) {
        (0, _) | (_, None) => url.to_string(),
        (_, Some((scheme, rest))) => format!("{scheme}://v{variant}.{rest}"),
    }
}

/// The evidence of an alert made from `template`; `variant` picks the file build (its hashes),
/// the address and the host (0: the template's own).
fn evidence(
    template: &AlertTemplate,
    user: Option<&User>,
    machine: &Machine,
    created: DateTime<Utc>,
    variant: u64,
    rng: &mut Rng,
) -> Vec<Evidence> {
    let build = if variant == 0 {
        String::new()
    } else {
        format!(":{variant}")
    };
    let at = Some(Timestamp(created + TimeDelta::seconds(1)));
    let mut out = Vec::new();
    if let Some(user) = user {
        out.push(Evidence {
            entity_type: "User".into(),
            evidence_creation_time: at,
            account_name: Some(user.account_name.clone()),
            domain_name: Some(DOMAIN.into()),
            user_sid: user.account_sid.clone(),
            aad_user_id: Some(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, user.id.as_bytes()).to_string()),
            user_principal_name: Some(format!("{}@palisade-demo.onmicrosoft.com", user.account_name)),
            ..Evidence::default()
        });
    }
    let (file_name, file_path) = template.file;
    let process_created = created - TimeDelta::seconds(90);
    out.push(Evidence {
        entity_type: "Process".into(),
        evidence_creation_time: at,
        sha1: Some(fake_hash(&format!("sha1:{file_name}{build}"), 40)),
        sha256: Some(fake_hash(&format!("sha256:{file_name}{build}"), 64)),
        file_name: Some(file_name.into()),
        file_path: Some(file_path.into()),
        process_id: Some(1000 + rng.below(9000) as i64),
        process_command_line: Some(template.command_line.into()),
        process_creation_time: Some(Timestamp(process_created)),
        parent_process_id: Some(500 + rng.below(500) as i64),
        parent_process_creation_time: Some(Timestamp(process_created - TimeDelta::seconds(3))),
        parent_process_file_name: Some("explorer.exe".into()),
        parent_process_file_path: Some("C:\\Windows".into()),
        detection_status: Some("Detected".into()),
        ..Evidence::default()
    });
    out.push(Evidence {
        entity_type: "File".into(),
        evidence_creation_time: at,
        sha1: Some(fake_hash(&format!("sha1:{file_name}{build}"), 40)),
        sha256: Some(fake_hash(&format!("sha256:{file_name}{build}"), 64)),
        file_name: Some(file_name.into()),
        file_path: Some(file_path.into()),
        detection_status: Some(if rng.below(3) == 0 { "Prevented" } else { "Detected" }.into()),
        ..Evidence::default()
    });
    if let Some(ip) = template.ip {
        out.push(Evidence {
            entity_type: "Ip".into(),
            evidence_creation_time: at,
            ip_address: Some(variant_ip(ip, variant)),
            ..Evidence::default()
        });
    }
    if let Some(url) = template.url {
        out.push(Evidence {
            entity_type: "Url".into(),
            evidence_creation_time: at,
            url: Some(variant_url(url, variant)),
            ..Evidence::default()
        });
    }
    let _ = machine;
    out
}

/// The shape of a generated alert population: how many alerts over how many machines.
#[derive(Debug, Clone, Copy)]
pub struct AlertPopulation {
    pub alerts: u64,
    pub machines: u64,
}

/// Alerts `first..first+count` of a generated population spread over the first machines of the
/// same generation (`palisade seed --alerts`). Each alert is a function of its index and the
/// population only, so large populations are produced in batches; incidents group runs of three.
pub fn generate_alerts(
    generation: &Generation<'_>,
    tenant_id: &str,
    now: DateTime<Utc>,
    population: AlertPopulation,
    first: u64,
    count: u64,
) -> Vec<Alert> {
    let machine_count = population.machines;
    let mut out = Vec::with_capacity(count as usize);
    for index in first..first + count {
        let mut rng = Rng::new(generation.seed ^ 0x5EED_A1E7 ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let incident = 100_000 + (index / 3) as i64;
        // Alerts of one incident share a machine, as a story on one device.
        let mut machine_rng = Rng::new(generation.seed ^ (index / 3).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let machine_index = machine_rng.below(machine_count.max(1));
        let machine = generate_machines(generation, now, machine_index, 1).remove(0);
        let template = &ALERT_TEMPLATES[rng.below(ALERT_TEMPLATES.len() as u64) as usize];
        // Spread over the last 180 days, newest last.
        let age_minutes = ((population.alerts.saturating_sub(index)) * 180 * 24 * 60 / population.alerts.max(1)) as i64;
        let created = now - TimeDelta::minutes(age_minutes) - TimeDelta::seconds(rng.below(60) as i64);
        let first_event = created - TimeDelta::seconds(60 + rng.below(600) as i64);
        let (status, resolved) = match rng.below(10) {
            0..=5 => (AlertStatus::Resolved, Some(Timestamp(created + TimeDelta::hours(6)))),
            6 => (AlertStatus::InProgress, None),
            _ => (AlertStatus::New, None),
        };
        let account = ACCOUNTS[rng.below(ACCOUNTS.len() as u64) as usize].0;
        let user = User {
            id: format!("{}\\{account}", DOMAIN.to_lowercase()),
            account_name: account.into(),
            account_domain: DOMAIN.to_lowercase(),
            account_sid: Some(format!(
                "S-1-5-21-1004336348-1177238915-682003330-{}",
                1101 + rng.below(8)
            )),
            first_seen: Timestamp(created),
            last_seen: Timestamp(created),
            most_prevalent_machine_id: None,
            least_prevalent_machine_id: None,
            logon_types: "Interactive".into(),
            log_on_machines_count: 1,
            is_domain_admin: false,
            is_only_network_user: false,
        };
        // Generated populations draw each alert's file build, address and host from pools that
        // grow with the population (skewed: low variants are common), so lookups see many keys
        // of realistic fan-out rather than a few keys shared by every alert.
        let pool = (population.alerts / EVIDENCE_VARIANT_SPREAD).max(1);
        let variant = rng.below(pool) * rng.below(pool) / pool;
        let evidence = evidence(template, Some(&user), &machine, created, variant, &mut rng);
        // The id depends on the generation and the index only (not on the time of seeding), so
        // seeding again replaces rather than duplicates.
        let id_salt = u64::from_str_radix(&hex_id(generation.namespace, index)[..15], 16).unwrap_or(index);
        let id_time = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(18_000) + TimeDelta::seconds(index as i64);
        out.push(Alert {
            id: alert_id(id_time, id_salt),
            incident_id: Some(incident),
            investigation_id: None,
            assigned_to: (status != AlertStatus::New).then(|| "secop@contoso.com".to_string()),
            severity: template.severity,
            status,
            classification: resolved.map(|_| Classification::TruePositive),
            determination: resolved.map(|_| Determination::Malware),
            investigation_state: Some(InvestigationState::Queued),
            detection_source: template.detection_source.into(),
            detector_id: Some(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, template.title.as_bytes()).to_string()),
            category: template.category.into(),
            threat_family_name: template.threat_family.map(str::to_string),
            title: template.title.into(),
            description: format!("{} on {}.", template.title, machine.computer_dns_name),
            alert_creation_time: Timestamp(created),
            first_event_time: Some(Timestamp(first_event)),
            last_event_time: Some(Timestamp(first_event + TimeDelta::seconds(rng.below(120) as i64))),
            last_update_time: Timestamp(resolved.map(|t| t.0).unwrap_or(created + TimeDelta::seconds(2))),
            resolved_time: resolved,
            machine_id: machine.id.clone(),
            computer_dns_name: machine.computer_dns_name.clone(),
            rbac_group_name: machine.rbac_group_name.clone(),
            aad_tenant_id: tenant_id.to_string(),
            threat_name: template.threat_family.map(|f| format!("Trojan:Win32/{f}")),
            mitre_techniques: template.mitre.iter().map(|t| t.to_string()).collect(),
            related_user: Some(RelatedUser {
                user_name: account.into(),
                domain_name: DOMAIN.into(),
            }),
            comments: Vec::new(),
            evidence,
        });
    }
    out
}
