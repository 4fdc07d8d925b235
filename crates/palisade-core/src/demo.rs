//! The deterministic demo tenant: a few dozen machines across every platform and a range of sensor
//! versions. The same seed always yields the same ids, names and properties; times are laid out
//! backwards from the moment of seeding so the data looks fresh.

use crate::entities::*;
use crate::time::Timestamp;
use chrono::{DateTime, TimeDelta, Utc};
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
        let version_at = rng.below(profile.versions.len() as u64) as usize;
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
            agent_version: Some(rng.pick(profile.agent_versions).to_string()),
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
        let now = Utc::now();
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
    fn batches_compose_into_the_same_population() {
        let now = Utc::now();
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
