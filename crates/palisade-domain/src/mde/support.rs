//! Which devices can run which response action (`shared/reference/mde-api.md` §4.5), as one table
//! of data so the rules are read, changed and tested in one place rather than scattered in `if`s.
//!
//! Windows minima compare the machine's `osBuild` (version labels such as 1703 are ambiguous across
//! editions, builds are not); macOS and Linux minima compare `agentVersion` numerically, part by
//! part (`101.23082.0011` is above `101.98.84`). iOS and Android support nothing.

use palisade_error::{ApiError, ErrorCode};
use palisade_model::entities::Machine;
use std::cmp::Ordering;

/// What an action needs from a device; unisolate borrows the capability of the isolation it undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    IsolateFull,
    IsolateSelective,
    /// "Contain device": we do not model unmanaged devices, so any platform is accepted.
    IsolateUnmanaged,
    RestrictExecution,
    AntivirusScan,
    CollectPackage,
    Offboard,
    StopAndQuarantine,
    LiveResponse,
    StartInvestigation,
}

/// The minimum a supported platform must meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Minimum {
    Any,
    /// Windows: an OS build, with the version label people know it by.
    Build(i64, &'static str),
    /// macOS / Linux: a sensor (agent) version.
    Agent(&'static str),
}

use Minimum::{Agent, Any, Build};

const WIN10_1703: Minimum = Build(15063, "1703");
const WIN10_1709: Minimum = Build(16299, "1709");
const WIN10_1803: Minimum = Build(17134, "1803");
const WIN10_1909: Minimum = Build(18363, "1909");
const MAC_LINUX_101_98_84: Minimum = Agent("101.98.84");

/// `(capability, [(osPlatform, minimum)])`; `"*"` stands for every platform.
pub const SUPPORT: &[(Capability, &[(&str, Minimum)])] = &[
    (
        Capability::IsolateFull,
        &[
            ("Windows10", WIN10_1703),
            ("Windows11", Any),
            ("WindowsServer2019", Any),
            ("WindowsServer2022", Any),
            ("Linux", Any),
            ("macOS", MAC_LINUX_101_98_84),
        ],
    ),
    (
        Capability::IsolateSelective,
        &[
            ("Windows10", WIN10_1709),
            ("Windows11", Any),
            ("WindowsServer2019", Any),
            ("WindowsServer2022", Any),
            ("macOS", Any),
        ],
    ),
    (Capability::IsolateUnmanaged, &[("*", Any)]),
    (
        Capability::RestrictExecution,
        &[
            ("Windows10", WIN10_1709),
            ("Windows11", Any),
            ("WindowsServer2019", Any),
            ("WindowsServer2022", Any),
        ],
    ),
    (
        Capability::AntivirusScan,
        &[
            ("Windows10", WIN10_1709),
            ("Windows11", Any),
            // Choice: Defender Antivirus runs on these servers though the API page omits them.
            ("WindowsServer2019", Any),
            ("WindowsServer2022", Any),
            ("macOS", MAC_LINUX_101_98_84),
            ("Linux", MAC_LINUX_101_98_84),
        ],
    ),
    (
        Capability::CollectPackage,
        &[
            ("Windows10", Any),
            ("Windows11", Any),
            ("WindowsServer2019", Any),
            ("WindowsServer2022", Any),
            ("macOS", Any),
            ("Linux", Any),
        ],
    ),
    (
        Capability::Offboard,
        &[
            ("Windows10", WIN10_1703),
            ("Windows11", Any),
            ("WindowsServer2019", Any),
            ("WindowsServer2022", Any),
        ],
    ),
    (
        Capability::StopAndQuarantine,
        &[("Windows10", WIN10_1703), ("Windows11", Any)],
    ),
    (
        Capability::LiveResponse,
        &[
            ("Windows10", WIN10_1909),
            ("Windows11", Any),
            ("WindowsServer2019", Any),
            ("WindowsServer2022", Any),
            ("macOS", Any),
            ("Linux", Any),
        ],
    ),
    (
        Capability::StartInvestigation,
        &[
            ("Windows10", WIN10_1803),
            ("Windows11", Any),
            ("WindowsServer2019", Any),
            ("WindowsServer2022", Any),
        ],
    ),
];

fn platforms(capability: Capability) -> &'static [(&'static str, Minimum)] {
    SUPPORT
        .iter()
        .find(|(c, _)| *c == capability)
        .map(|(_, rows)| *rows)
        .unwrap_or(&[])
}

/// `Ok` when `machine` can run `action` (named in messages), else `OsPlatformNotSupported` or
/// `ClientVersionNotSupported` naming the action, the platform or both versions.
pub fn check(capability: Capability, action: &str, machine: &Machine) -> Result<(), ApiError> {
    let rows = platforms(capability);
    let platform = machine.os_platform.as_str();
    let Some((_, minimum)) = rows.iter().find(|(p, _)| *p == "*" || p.eq_ignore_ascii_case(platform)) else {
        let supported: Vec<&str> = rows.iter().map(|(p, _)| *p).collect();
        return Err(ApiError::new(
            ErrorCode::OsPlatformNotSupported,
            format!(
                "OS Platform {platform} is not supported for this action ({action} runs on {})",
                supported.join(", ")
            ),
            format!("support table: {capability:?} on {platform}"),
        ));
    };
    let too_old = |minimum: String, have: String| {
        ApiError::new(
            ErrorCode::ClientVersionNotSupported,
            format!(
                "{action} is supported on client version {minimum} and above; machine {} ({platform}) has {have}",
                machine.id
            ),
            format!("support table: {capability:?} minimum {minimum}"),
        )
    };
    match *minimum {
        Any => Ok(()),
        Build(build, label) => match machine.os_build {
            Some(have) if have >= build => Ok(()),
            have => Err(too_old(
                format!("{label} (OS build {build})"),
                format!(
                    "version {} (OS build {})",
                    machine.version.as_deref().unwrap_or("unknown"),
                    have.map_or("unknown".to_string(), |b| b.to_string())
                ),
            )),
        },
        Agent(min) => match machine.agent_version.as_deref() {
            Some(have) if compare_versions(have, min) != Ordering::Less => Ok(()),
            have => Err(too_old(
                min.to_string(),
                format!("client version {}", have.unwrap_or("unknown")),
            )),
        },
    }
}

/// Dotted numeric comparison; missing parts count as 0 and non-numeric parts as 0.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.trim().parse().unwrap_or(0)).collect() };
    let (a, b) = (parts(a), parts(b));
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(platform: &str, build: Option<i64>, agent: &str) -> Machine {
        let mut m = crate::control::demo::machines("support-test", palisade_model::time::fixed_now()).remove(0);
        m.os_platform = platform.into();
        m.os_build = build;
        m.agent_version = Some(agent.into());
        m
    }

    fn code(capability: Capability, m: &Machine) -> Option<ErrorCode> {
        check(capability, "Test", m).err().map(|e| e.code)
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("101.23082.0011", "101.98.84"), Ordering::Greater);
        assert_eq!(compare_versions("101.98.84", "101.98.84"), Ordering::Equal);
        assert_eq!(compare_versions("101.98.30", "101.98.84"), Ordering::Less);
        assert_eq!(compare_versions("101.98", "101.98.0"), Ordering::Equal);
        assert_eq!(compare_versions("x.y", "0"), Ordering::Equal);
    }

    #[test]
    fn every_capability_has_rows() {
        for (capability, rows) in SUPPORT {
            assert!(!rows.is_empty(), "{capability:?}");
        }
        assert_eq!(SUPPORT.len(), 10);
    }

    #[test]
    fn the_table_decides() {
        use Capability::*;
        use ErrorCode::{ClientVersionNotSupported as Old, OsPlatformNotSupported as Os};
        type Case = (Capability, &'static str, Option<i64>, &'static str, Option<ErrorCode>);
        let cases: &[Case] = &[
            (IsolateFull, "Windows10", Some(14393), "", Some(Old)),
            (IsolateFull, "Windows10", Some(15063), "", None),
            (IsolateFull, "Linux", None, "101.97.40", None),
            (IsolateFull, "macOS", None, "101.98.30", Some(Old)),
            (IsolateFull, "macOS", None, "101.23082.0011", None),
            (IsolateFull, "iOS", None, "1.1", Some(Os)),
            (IsolateSelective, "Windows10", Some(15063), "", Some(Old)),
            (IsolateSelective, "Linux", None, "101.24022.0005", Some(Os)),
            (IsolateSelective, "macOS", None, "101.97.13", None),
            (IsolateUnmanaged, "Android", None, "1.0", None),
            (RestrictExecution, "WindowsServer2022", Some(20348), "", None),
            (RestrictExecution, "macOS", None, "101.98.84", Some(Os)),
            (AntivirusScan, "macOS", None, "101.97.13", Some(Old)),
            (AntivirusScan, "Linux", None, "101.98.84", None),
            (AntivirusScan, "Windows10", Some(16299), "", None),
            (CollectPackage, "Linux", None, "101.97.40", None),
            (CollectPackage, "iOS", None, "1.1", Some(Os)),
            (Offboard, "macOS", None, "101.98.84", Some(Os)),
            (Offboard, "Windows10", Some(14393), "", Some(Old)),
            (StopAndQuarantine, "WindowsServer2019", Some(17763), "", Some(Os)),
            (LiveResponse, "Windows10", Some(17763), "", Some(Old)),
            (LiveResponse, "Windows10", Some(18363), "", None),
            (LiveResponse, "Android", None, "1.0", Some(Os)),
            (StartInvestigation, "Windows10", Some(16299), "", Some(Old)),
            (StartInvestigation, "Windows10", Some(17763), "", None),
            (StartInvestigation, "Windows10", None, "", Some(Old)),
            (StartInvestigation, "Linux", None, "101.24022.0005", Some(Os)),
        ];
        for (capability, platform, build, agent, expected) in cases {
            let m = machine(platform, *build, agent);
            assert_eq!(
                code(*capability, &m),
                *expected,
                "{capability:?} {platform} {build:?} {agent}"
            );
        }
    }

    #[test]
    fn messages_name_the_action_and_versions() {
        let e = check(
            Capability::AntivirusScan,
            "RunAntiVirusScan",
            &machine("macOS", None, "101.97.13"),
        )
        .unwrap_err();
        assert!(e
            .message
            .starts_with("RunAntiVirusScan is supported on client version 101.98.84 and above"));
        assert!(e.message.contains("101.97.13"), "{}", e.message);
        let e = check(Capability::Offboard, "Offboard", &machine("macOS", None, "1")).unwrap_err();
        assert!(e.message.contains("OS Platform macOS is not supported for this action"));
        assert!(e.message.contains("Offboard"), "{}", e.message);
    }
}
