//! Files, IPs and domains (`shared/reference/mde-api.md` §6–§8): entity lookups, related alerts
//! and machines, and statistics, all derived from the tenant's alerts' evidence. The docs list no
//! URL lookups (`URL.Read.All` governs the domain routes), so there are none.
//!
//! When an alert is stored (demo data, `palisade seed --alerts`, CreateAlertByReference), each
//! distinct file hash (File and Process evidence), IP address (Ip evidence) and host (of Url
//! evidence) it mentions becomes an [`Observation`]: the key, the alert, the alert's machine and
//! the evidence's time. Lookups read those rows through indexes; no request reads alert
//! documents beyond the page it answers. Data directories from before the observations existed
//! are indexed once, when the core opens.
//!
//! Keys are validated first (`validate`): a malformed hash is `InvalidHashValue`, an IP
//! `InvalidIpAddress`, a domain `InvalidDomainName`. Then, as documented: an unknown file is
//! `ResourceNotFound` for the file and its statistics but an empty collection for its alerts and
//! machines; unknown IPs and domains have empty collections and zero statistics.

use crate::listing::Page;
use crate::mde::validate::{self, HashKind};
use crate::{Core, DomainResult};
use chrono::{DateTime, TimeDelta, Utc};
use palisade_auth::Principal;
use palisade_error::{ApiError, ErrorCode};
use palisade_model::entities::{legacy, Alert, DomainStats, Evidence, File, FileStats, IpStats};
use palisade_model::schemas::{EntityTable, ALERTS, ALERT_TABLE, MACHINE_TABLE};
use palisade_model::time::Timestamp;
use palisade_odata::{CmpOp, Expr, Literal, Operand, Query};
use palisade_store::{Observation, Observed, ObservedStats, ObservedVia, StoreError};

const FILE_ROLES: &[&str] = &["File.Read.All"];
const IP_ROLES: &[&str] = &["Ip.Read.All"];
const URL_ROLES: &[&str] = &["URL.Read.All"];
const MACHINE_READ_ROLES: &[&str] = &["Machine.Read.All", "Machine.ReadWrite.All"];
/// The current Get domain-related alerts page lists only `Alert.ReadWrite.All` (the old page also
/// allowed `Alert.Read.All`); we follow the current page, as the users routes do.
const DOMAIN_ALERT_ROLES: &[&str] = &["Alert.ReadWrite.All"];

/// `lookBackHours` when absent, and its documented maximum: 30 days.
pub const MAX_LOOKBACK_HOURS: i64 = 720;
/// The Get domain-related machines page: "Responses are limited to 500 devices".
pub const MAX_DOMAIN_MACHINES: u64 = 500;
/// How many names `topFileNames` lists (the docs' example shows one; they give no number).
pub const TOP_FILE_NAMES: u64 = 5;

/// Observation kinds.
const SHA1: &str = "sha1";
const SHA256: &str = "sha256";
const IP: &str = "ip";
const DOMAIN: &str = "domain";

/// The meta marker saying the observations were indexed from the stored alerts; a store moved
/// without it (`palisade migrate`) indexes them again on its first start.
pub const BACKFILL_META: &str = "observations_indexed";
const BACKFILL_BATCH: u64 = 5_000;

/// Parses `lookBackHours` (absent: 720): a whole number of hours from 1 to 720; anything else is
/// `InvalidInput` naming the value and the range.
pub fn lookback_hours(raw: Option<&str>) -> Result<i64, ApiError> {
    let Some(raw) = raw else {
        return Ok(MAX_LOOKBACK_HOURS);
    };
    match raw.trim().parse::<i64>() {
        Ok(hours) if (1..=MAX_LOOKBACK_HOURS).contains(&hours) => Ok(hours),
        Ok(hours) if hours > MAX_LOOKBACK_HOURS => Err(ApiError::invalid_input(
            format!("lookBackHours {hours}; the maximum is {MAX_LOOKBACK_HOURS} hours (30 days)"),
            "lookBackHours above the documented maximum",
        )),
        _ => Err(ApiError::invalid_input(
            format!("lookBackHours '{raw}'; expected a whole number of hours from 1 to {MAX_LOOKBACK_HOURS}"),
            "lookBackHours value",
        )),
    }
}

fn timestamp(micros: Option<i64>) -> Option<Timestamp> {
    micros.and_then(DateTime::<Utc>::from_timestamp_micros).map(Timestamp)
}

/// The observations one alert contributes: one per distinct (kind, key).
pub fn observations_of(alert: &Alert) -> Vec<Observation> {
    let fallback = alert.first_event_time.unwrap_or(alert.alert_creation_time);
    let mut out: Vec<Observation> = Vec::new();
    let mut push = |kind: &str, key: String, evidence: &Evidence, file: bool| {
        if out.iter().any(|o| o.kind == kind && o.key == key) {
            return;
        }
        out.push(Observation {
            kind: kind.to_string(),
            key,
            alert_id: alert.id.clone(),
            machine_id: alert.machine_id.clone(),
            seen: evidence.evidence_creation_time.unwrap_or(fallback).micros(),
            file_name: file.then(|| evidence.file_name.clone()).flatten(),
            sha1: file
                .then(|| evidence.sha1.as_deref().map(str::to_ascii_lowercase))
                .flatten(),
            sha256: file
                .then(|| evidence.sha256.as_deref().map(str::to_ascii_lowercase))
                .flatten(),
            threat_name: file.then(|| alert.threat_name.clone()).flatten(),
        });
    };
    for evidence in &alert.evidence {
        match evidence.entity_type.as_str() {
            "File" | "Process" => {
                if let Some(sha1) = evidence.sha1.as_deref().filter(|h| validate::sha1(h).is_ok()) {
                    push(SHA1, sha1.to_ascii_lowercase(), evidence, true);
                }
                if let Some(sha256) = evidence.sha256.as_deref().filter(|h| validate::sha256(h).is_ok()) {
                    push(SHA256, sha256.to_ascii_lowercase(), evidence, true);
                }
            }
            "Ip" => {
                if let Some(ip) = evidence
                    .ip_address
                    .as_deref()
                    .and_then(|ip| validate::ip_address(ip).ok())
                {
                    push(IP, ip.to_string(), evidence, false);
                }
            }
            "Url" => {
                let host = evidence.url.as_deref().and_then(crate::mde::alerts::url_host);
                if let Some(host) = host.and_then(|h| validate::domain_name(&h).ok()) {
                    push(DOMAIN, host, evidence, false);
                }
            }
            _ => {}
        }
    }
    out
}

/// `Pua` for potentially unwanted applications, `Malware` for any other threat, else `Unknown`.
fn determination_type(threat_name: Option<&str>) -> &'static str {
    match threat_name {
        Some(t) if t.len() >= 4 && t[..4].eq_ignore_ascii_case("PUA:") => "Pua",
        Some(_) => "Malware",
        None => "Unknown",
    }
}

fn is_pe_file(file_name: Option<&str>) -> Option<bool> {
    const PE_EXTENSIONS: &[&str] = &["exe", "dll", "sys", "scr", "cpl", "ocx", "com", "drv", "efi"];
    let (_, ext) = file_name?.rsplit_once('.')?;
    Some(PE_EXTENSIONS.iter().any(|pe| ext.eq_ignore_ascii_case(pe)))
}

/// A File entity from what the evidence knows; the global figures come from `global` (every
/// tenant's observations). Publisher, signer, size and the like are not in evidence: null.
fn file_entity(observation: &Observation, global: ObservedStats) -> File {
    File {
        sha1: observation.sha1.clone(),
        sha256: observation.sha256.clone(),
        md5: None,
        global_prevalence: Some(i64::try_from(global.devices).unwrap_or(i64::MAX)),
        global_first_observed: timestamp(global.first),
        global_last_observed: timestamp(global.last),
        size: None,
        file_type: None,
        is_pe_file: is_pe_file(observation.file_name.as_deref()),
        file_publisher: None,
        file_product_name: None,
        signer: None,
        issuer: None,
        signer_hash: None,
        is_valid_certificate: None,
        determination_type: Some(determination_type(observation.threat_name.as_deref()).to_string()),
        determination_value: observation.threat_name.clone(),
    }
}

/// The (kind, key) statistics are counted under: SHA-1 when known, as the stats answer names it.
fn file_key(observation: &Observation) -> (&'static str, String) {
    match &observation.sha1 {
        Some(sha1) => (SHA1, sha1.clone()),
        None => (SHA256, observation.key.clone()),
    }
}

impl Core {
    /// Records the observations of newly stored alerts.
    pub(crate) fn index_alerts(&self, tenant_id: &str, alerts: &[Alert]) -> DomainResult<()> {
        let rows: Vec<Observation> = alerts.iter().flat_map(observations_of).collect();
        Ok(self.store.add_observations(tenant_id, &rows)?)
    }

    /// Indexes the alerts of a data directory created before observations existed (once).
    pub(crate) fn backfill_observations(&self) -> DomainResult<()> {
        if self.store.get_meta(BACKFILL_META)?.is_some() {
            return Ok(());
        }
        let id = ALERTS
            .property("id")
            .ok_or_else(|| ApiError::internal("Alert schema lacks id"))?;
        for tenant in self.store.tenant_ids()? {
            let mut after: Option<String> = None;
            loop {
                let mut query = Query::default();
                if let Some(last) = &after {
                    query.filter = Some(Expr::Compare {
                        left: Operand::Property(id),
                        op: CmpOp::Gt,
                        right: Literal::Text(last.clone()),
                    });
                }
                let docs = self.store.query_docs(ALERT_TABLE, &tenant, &query, 0, BACKFILL_BATCH)?;
                let alerts: Vec<Alert> = docs
                    .iter()
                    .map(|d| serde_json::from_str(d))
                    .collect::<Result<_, _>>()
                    .map_err(StoreError::from)?;
                self.index_alerts(&tenant, &alerts)?;
                match alerts.last() {
                    Some(last) if alerts.len() as u64 == BACKFILL_BATCH => after = Some(last.id.clone()),
                    _ => break,
                }
            }
            tracing::info!(tenant = %tenant, "alert evidence indexed for lookups");
        }
        self.store.init_meta(BACKFILL_META, "1")?;
        Ok(())
    }

    /// A hash's latest observation in the tenant: `None` when unknown (always for MD5, which no
    /// evidence carries).
    fn observed_file(&self, tenant_id: &str, hash: &str) -> DomainResult<Option<Observation>> {
        let kind = match validate::file_hash(hash)? {
            HashKind::Sha1 => SHA1,
            HashKind::Sha256 => SHA256,
            HashKind::Md5 => return Ok(None),
        };
        Ok(self
            .store
            .latest_observation(tenant_id, kind, &hash.to_ascii_lowercase())?)
    }

    fn file_not_found(hash: &str) -> ApiError {
        ApiError::new(
            ErrorCode::ResourceNotFound,
            format!("File {hash} was not found"),
            "file lookup: no evidence of this hash in the tenant",
        )
    }

    fn global_file_stats(&self, observation: &Observation) -> DomainResult<ObservedStats> {
        let (kind, key) = file_key(observation);
        Ok(self.store.observed_stats(None, kind, &key, None, false)?)
    }

    /// `GET /api/files/{id}`: by SHA-1 or SHA-256 (an MD5 is well-formed but never known).
    pub fn get_file(&self, caller: &Principal, hash: &str) -> DomainResult<File> {
        caller.require_any(FILE_ROLES)?;
        let observation = self
            .observed_file(&caller.tenant_id, hash)?
            .ok_or_else(|| Self::file_not_found(hash))?;
        Ok(file_entity(&observation, self.global_file_stats(&observation)?))
    }

    /// `GET /api/alerts/{id}/files` answers with the same File entity; a hash the index does not
    /// know (it always should) is described from the evidence alone.
    pub(crate) fn file_of_evidence(&self, tenant_id: &str, evidence: &Evidence, alert: &Alert) -> DomainResult<File> {
        let known = match (&evidence.sha1, &evidence.sha256) {
            (Some(sha1), _) if validate::sha1(sha1).is_ok() => self.observed_file(tenant_id, sha1)?,
            (_, Some(sha256)) if validate::sha256(sha256).is_ok() => self.observed_file(tenant_id, sha256)?,
            _ => None,
        };
        Ok(match known {
            Some(observation) => file_entity(&observation, self.global_file_stats(&observation)?),
            None => {
                let observation = Observation {
                    kind: SHA1.into(),
                    key: String::new(),
                    alert_id: alert.id.clone(),
                    machine_id: alert.machine_id.clone(),
                    seen: 0,
                    file_name: evidence.file_name.clone(),
                    sha1: evidence.sha1.clone(),
                    sha256: evidence.sha256.clone(),
                    threat_name: alert.threat_name.clone(),
                };
                file_entity(&observation, ObservedStats::default())
            }
        })
    }

    /// The start of a `lookBackHours` window on the emulator clock.
    fn window_start(&self, lookback: Option<&str>) -> Result<i64, ApiError> {
        let hours = lookback_hours(lookback)?;
        Ok((self.clock.now() - TimeDelta::hours(hours)).timestamp_micros())
    }

    /// `GET /api/files/{id}/stats?lookBackHours=N`: 404 for a file the tenant never saw.
    pub fn file_stats(&self, caller: &Principal, hash: &str, lookback: Option<&str>) -> DomainResult<FileStats> {
        caller.require_any(FILE_ROLES)?;
        validate::file_hash(hash)?;
        let since = self.window_start(lookback)?;
        let observation = self
            .observed_file(&caller.tenant_id, hash)?
            .ok_or_else(|| Self::file_not_found(hash))?;
        let (kind, key) = file_key(&observation);
        let org = self
            .store
            .observed_stats(Some(&caller.tenant_id), kind, &key, Some(since), false)?;
        let global = self.store.observed_stats(None, kind, &key, None, false)?;
        Ok(FileStats {
            sha1: observation.sha1.clone(),
            organization_prevalence: org.devices,
            org_first_seen: timestamp(org.first),
            org_last_seen: timestamp(org.last),
            globally_prevalence: global.devices,
            global_first_observed: timestamp(global.first),
            global_last_observed: timestamp(global.last),
            top_file_names: self
                .store
                .top_observed_names(&caller.tenant_id, kind, &key, since, TOP_FILE_NAMES)?,
            org_prevalence: legacy::org_prevalence(org.devices),
            global_prevalence: global.devices,
        })
    }

    /// The related-alerts and related-machines routes take only a SHA-1 (their pages: "not MD5 or
    /// SHA-256").
    fn sha1_only(hash: &str) -> Result<String, ApiError> {
        match validate::file_hash(hash)? {
            HashKind::Sha1 => Ok(hash.to_ascii_lowercase()),
            other => Err(ApiError::invalid_hash(&validate::shown(hash)).because(format!(
                "this is a {} hash; this API supports only SHA-1 (40 hexadecimal characters), not MD5 or SHA-256",
                other.name()
            ))),
        }
    }

    /// One page of `table` restricted to what observations relate to a key.
    fn list_observed(
        &self,
        table: EntityTable,
        tenant_id: &str,
        observed: &Observed<'_>,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<Page> {
        let limit = u64::from(query.top.unwrap_or(u32::MAX).min(page_size));
        let offset = u64::from(query.skip);
        let mut docs = self
            .store
            .query_observed_docs(table, tenant_id, observed, query, offset, limit + 1)?;
        let more = docs.len() as u64 > limit;
        docs.truncate(limit as usize);
        let count = if query.count {
            Some(self.store.count_observed_docs(table, tenant_id, observed, query)?)
        } else {
            None
        };
        Ok(Page {
            // `$top=0` asks for nothing: a next page at the same `$skip` would loop a client forever.
            next_skip: (more && limit > 0).then_some(offset + limit),
            docs,
            count,
        })
    }

    fn observed_alerts(
        &self,
        caller: &Principal,
        kind: &str,
        key: &str,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<Page> {
        let observed = Observed {
            kind,
            key,
            via: ObservedVia::Alert,
            cap: None,
        };
        self.list_observed(ALERT_TABLE, &caller.tenant_id, &observed, query, page_size)
    }

    fn observed_machines(
        &self,
        caller: &Principal,
        observed: Observed<'_>,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<Page> {
        // Offboarding changes a machine's health when it completes on the emulator clock.
        self.settle_actions(&caller.tenant_id)?;
        self.list_observed(MACHINE_TABLE, &caller.tenant_id, &observed, query, page_size)
    }

    /// `GET /api/files/{sha1}/alerts`: alerts whose File or Process evidence has the hash.
    pub fn list_file_alerts(
        &self,
        caller: &Principal,
        hash: &str,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<Page> {
        caller.require_any(crate::mde::alerts::READ_ROLES)?;
        let key = Self::sha1_only(hash)?;
        self.observed_alerts(caller, SHA1, &key, query, page_size)
    }

    /// `GET /api/files/{sha1}/machines`: the machines of those alerts.
    pub fn list_file_machines(
        &self,
        caller: &Principal,
        hash: &str,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<Page> {
        caller.require_any(MACHINE_READ_ROLES)?;
        let key = Self::sha1_only(hash)?;
        let observed = Observed {
            kind: SHA1,
            key: &key,
            via: ObservedVia::Machine,
            cap: None,
        };
        self.observed_machines(caller, observed, query, page_size)
    }

    /// `GET /api/ips/{ip}/stats`: devices that connected to the address (Ip evidence of their
    /// alerts) or report it as their own (`lastIpAddress`, `lastExternalIpAddress`) within the
    /// window; an address nobody saw has prevalence 0, as documented.
    pub fn ip_stats(&self, caller: &Principal, ip: &str, lookback: Option<&str>) -> DomainResult<IpStats> {
        caller.require_any(IP_ROLES)?;
        let address = validate::ip_address(ip)?.to_string();
        let since = self.window_start(lookback)?;
        let stats = self
            .store
            .observed_stats(Some(&caller.tenant_id), IP, &address, Some(since), true)?;
        Ok(IpStats {
            ip_address: address,
            organization_prevalence: stats.devices,
            org_first_seen: timestamp(stats.first),
            org_last_seen: timestamp(stats.last),
            org_prevalence: legacy::org_prevalence(stats.devices),
        })
    }

    /// `GET /api/ips/{ip}/alerts`: alerts with Ip evidence of the address.
    pub fn list_ip_alerts(&self, caller: &Principal, ip: &str, query: &Query, page_size: u32) -> DomainResult<Page> {
        caller.require_any(crate::mde::alerts::READ_ROLES)?;
        let address = validate::ip_address(ip)?.to_string();
        self.observed_alerts(caller, IP, &address, query, page_size)
    }

    /// `GET /api/domains/{domain}/stats`: devices whose alerts' Url evidence points at the host.
    pub fn domain_stats(&self, caller: &Principal, domain: &str, lookback: Option<&str>) -> DomainResult<DomainStats> {
        caller.require_any(URL_ROLES)?;
        let host = validate::domain_name(domain)?;
        let since = self.window_start(lookback)?;
        let stats = self
            .store
            .observed_stats(Some(&caller.tenant_id), DOMAIN, &host, Some(since), false)?;
        Ok(DomainStats {
            host,
            organization_prevalence: stats.devices,
            org_first_seen: timestamp(stats.first),
            org_last_seen: timestamp(stats.last),
            org_prevalence: legacy::org_prevalence(stats.devices),
        })
    }

    /// `GET /api/domains/{domain}/alerts`.
    pub fn list_domain_alerts(
        &self,
        caller: &Principal,
        domain: &str,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<Page> {
        caller.require_any(DOMAIN_ALERT_ROLES)?;
        let host = validate::domain_name(domain)?;
        self.observed_alerts(caller, DOMAIN, &host, query, page_size)
    }

    /// `GET /api/domains/{domain}/machines`: at most 500 machines (the first in id order); the
    /// client's OData options apply within them.
    pub fn list_domain_machines(
        &self,
        caller: &Principal,
        domain: &str,
        query: &Query,
        page_size: u32,
    ) -> DomainResult<Page> {
        caller.require_any(MACHINE_READ_ROLES)?;
        let host = validate::domain_name(domain)?;
        let observed = Observed {
            kind: DOMAIN,
            key: &host,
            via: ObservedVia::Machine,
            cap: Some(MAX_DOMAIN_MACHINES),
        };
        self.observed_machines(caller, observed, query, page_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_stored_before_observations_existed_are_indexed_when_the_core_opens() {
        use crate::control::clock::Clock;
        use palisade_store::prelude::*;
        use palisade_store_sqlite::SqliteStore;
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("p.db")).unwrap());
        // A tenant whose alerts were written without observations, as an older version did.
        let tenant = palisade_model::tenant::Tenant::new("t-old", "Old", "old.example");
        store.insert_tenant(&tenant).unwrap();
        let data = crate::control::demo::tenant_data("t-old", palisade_model::time::fixed_now());
        store
            .upsert_docs(ALERT_TABLE, "t-old", &crate::to_docs(&data.alerts).unwrap())
            .unwrap();
        let expected = observations_of(&data.alerts[0]);
        assert!(!expected.is_empty());
        assert_eq!(
            store
                .latest_observation("t-old", &expected[0].kind, &expected[0].key)
                .unwrap(),
            None
        );

        let core = Core::open(store.clone(), Arc::new(Clock::new()), crate::Settings::default()).unwrap();
        for observation in &expected {
            let found = store
                .latest_observation("t-old", &observation.kind, &observation.key)
                .unwrap();
            assert!(found.is_some(), "{observation:?}");
        }
        // Once only: the marker is set.
        assert!(core.store.get_meta(BACKFILL_META).unwrap().is_some());
    }

    #[test]
    fn lookback_defaults_to_and_caps_at_720_hours() {
        assert_eq!(lookback_hours(None).unwrap(), 720);
        assert_eq!(lookback_hours(Some("48")).unwrap(), 48);
        assert_eq!(lookback_hours(Some("720")).unwrap(), 720);
        for bad in ["721", "0", "-1", "abc", "1.5", ""] {
            let e = lookback_hours(Some(bad)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
            assert!(e.message.contains("lookBackHours"), "{}", e.message);
        }
    }

    #[test]
    fn determinations_follow_the_threat_name() {
        assert_eq!(determination_type(Some("PUA:Win32/FusionCore")), "Pua");
        assert_eq!(determination_type(Some("Trojan:Win32/Meterpreter")), "Malware");
        assert_eq!(determination_type(None), "Unknown");
        assert_eq!(is_pe_file(Some("a.DLL")), Some(true));
        assert_eq!(is_pe_file(Some("a.ps1")), Some(false));
        assert_eq!(is_pe_file(Some("noext")), None);
    }
}
