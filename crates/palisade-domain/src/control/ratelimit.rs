//! Rate limits as the service documents them (`shared/reference/mde-api.md` §1.8; the incidents
//! API's from `xdr-api-and-auth.md` §2.5): per API, per minute and per hour, counted per tenant +
//! calling app + API, on the emulator's clock. The counters live in the store
//! ([`RateWindowStore::count_call`]: one atomic operation per call), so every process on one
//! store shares them and none admits more than the limit; with rate limits off (the server's
//! `--no-rate-limits`, or a tenant's switch) nothing touches the store.
//!
//! **Windows**: fixed windows that open at the first call counted in them. A window of length L
//! opened at t admits `limit` calls during `[t, t + L)`; the next call at or after `t + L` opens a
//! new one. So a burst of 100 calls gets its 101st refused with `Retry-After` = the whole seconds
//! left until `t + L` (rounded up), and a call made that many seconds later is admitted: the
//! `Retry-After` is exact, and a frozen clock makes it deterministic. Refused calls are not counted
//! (a client that retries too early gets 429 again, but does not push the window's end out).
//! Chosen over a sliding log for its constant memory (two counters per key) and because the one
//! observed 429 body ("maximum allowed 45 per 00:01:00") reads as a quota per period.
//!
//! **What counts**: every authenticated API call the limit applies to, whatever its outcome (a 400
//! or 404 answer is still a call). Unauthenticated calls are refused before they are counted.

use crate::control::faults::pattern_matches;
use crate::{Core, DomainResult};
use palisade_error::ApiError;
pub use palisade_model::tenant::RateLimitSettings;
use palisade_store::{Admission, RateWindowStore, StoreError, WindowLimit};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A counting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Minute,
    Hour,
}

impl Window {
    pub const fn millis(self) -> i64 {
        match self {
            Window::Minute => 60_000,
            Window::Hour => 3_600_000,
        }
    }

    /// As the service writes it in its 429 message (`HH:MM:SS`).
    pub const fn as_period(self) -> &'static str {
        match self {
            Window::Minute => "00:01:00",
            Window::Hour => "01:00:00",
        }
    }
}

/// The documented limits of one API. `name` keys the counters of table entries, so that calls
/// which share an axum route but are different APIs (e.g. `getPackageUri` and
/// `GetLiveResponseResultDownloadLink`, both `machineactions/{id}/{call}`) count apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiLimit {
    /// The API's name on its documentation page (`None`: the default, keyed by route).
    pub api: Option<&'static str>,
    pub method: Option<&'static str>,
    /// A [`PathPattern`](crate::control::faults::PathPattern) over the normalised path.
    pub path: Option<&'static str>,
    pub per_minute: Option<u32>,
    pub per_hour: Option<u32>,
    /// Counted per tenant, whatever the calling app (advanced hunting's limits are the tenant's).
    pub per_tenant: bool,
}

/// "100 calls per minute and 1,500 calls per hour", which nearly every page states.
pub const DEFAULT_LIMIT: ApiLimit = ApiLimit {
    api: None,
    method: None,
    path: None,
    per_minute: Some(100),
    per_hour: Some(1500),
    per_tenant: false,
};

/// A table entry: the API `name` with its own limits (used by the family descriptors).
pub const fn api(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    minute: Option<u32>,
    hour: Option<u32>,
) -> ApiLimit {
    ApiLimit {
        api: Some(name),
        method: Some(method),
        path: Some(path),
        per_minute: minute,
        per_hour: hour,
        per_tenant: false,
    }
}

/// An API whose limits are the tenant's (every app of the tenant counts in one window).
pub const fn tenant_api(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    minute: Option<u32>,
    hour: Option<u32>,
) -> ApiLimit {
    ApiLimit {
        per_tenant: true,
        ..api(name, method, path, minute, hour)
    }
}

/// The APIs whose pages state other limits than the default, as the built-in families declare
/// them (`crate::family`). Where a page gives only a per-minute (or only a per-hour) figure, only
/// that one applies.
pub fn api_limits() -> impl Iterator<Item = &'static ApiLimit> {
    limits_of(crate::family::all(&[]))
}

fn limits_of(
    families: impl Iterator<Item = &'static crate::family::Family>,
) -> impl Iterator<Item = &'static ApiLimit> {
    families.flat_map(|family| family.limits.iter())
}

/// The limits of the API a call belongs to, among the built-in families'.
pub fn limit_for(method: &str, path: &str) -> &'static ApiLimit {
    limit_among(api_limits(), method, path)
}

fn limit_among(mut limits: impl Iterator<Item = &'static ApiLimit>, method: &str, path: &str) -> &'static ApiLimit {
    limits
        .find(|limit| {
            limit.method.is_some_and(|m| m.eq_ignore_ascii_case(method))
                && limit.path.is_some_and(|p| pattern_matches(p, path))
        })
        .unwrap_or(&DEFAULT_LIMIT)
}

impl Core {
    /// The limits of the API a call belongs to, among every family's (added ones too).
    pub fn limit_for(&self, method: &str, path: &str) -> &'static ApiLimit {
        limit_among(limits_of(self.families()), method, path)
    }

    /// Every table entry, added families' too (`GET /_palisade/ratelimits`).
    pub fn api_limits(&self) -> Vec<&'static ApiLimit> {
        limits_of(self.families()).collect()
    }
}

/// A refused call: which limit, and how long until a call would be admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    pub limit: u32,
    pub window: Window,
    /// Whole seconds (rounded up) until the blocking window(s) close.
    pub retry_after: u64,
}

impl Throttle {
    /// The `TooManyRequests` answer: the observed message shape, the wait, and `Retry-After`.
    pub fn to_error(&self, api: &str, tenant_id: &str, app_id: &str) -> ApiError {
        let mut error = ApiError::too_many_requests(
            self.limit.into(),
            self.window.as_period(),
            self.retry_after,
            format!(
                "rate limit of {api}: {} calls per {} for app {app_id} in tenant {tenant_id}",
                self.limit,
                self.window.as_period()
            ),
        );
        error
            .message
            .push_str(&format!(" for {api}. Try again in {} seconds.", self.retry_after));
        error
    }
}

/// The store key of a call's counters: tenant, app and API (calls under the default limit are
/// keyed by `method` and `route`, the route template, e.g. `/api/machines/{id}`).
fn counter_key(tenant_id: &str, app_id: &str, limit: &ApiLimit, method: &str, route: &str) -> String {
    // A tenant's limit (advanced hunting) counts every app of the tenant in one window.
    let app_id = if limit.per_tenant { "*" } else { app_id };
    let mut key = String::with_capacity(tenant_id.len() + app_id.len() + route.len() + 16);
    let app_id = if limit.per_tenant { "*" } else { app_id };
    for part in [tenant_id, "\u{0}", app_id, "\u{0}"] {
        key.push_str(part);
    }
    match limit.api {
        Some(api) => key.push_str(api),
        None => {
            key.push_str(method);
            key.push(' ');
            key.push_str(route);
        }
    }
    key
}

/// Counts a call of `limit`'s API in the store's shared windows, or says why not. `now_ms`: the
/// emulator's clock, Unix milliseconds.
pub fn admit_in(
    store: &dyn RateWindowStore,
    tenant_id: &str,
    app_id: &str,
    limit: &ApiLimit,
    method: &str,
    route: &str,
    now_ms: i64,
) -> Result<Result<(), Throttle>, StoreError> {
    let mut windows: Vec<(Window, WindowLimit)> = Vec::with_capacity(2);
    for (max, window) in [(limit.per_minute, Window::Minute), (limit.per_hour, Window::Hour)] {
        if let Some(max) = max {
            windows.push((
                window,
                WindowLimit {
                    length_ms: window.millis(),
                    limit: max,
                },
            ));
        }
    }
    let limits: Vec<WindowLimit> = windows.iter().map(|(_, w)| *w).collect();
    let key = counter_key(tenant_id, app_id, limit, method, route);
    Ok(match store.count_call(&key, &limits, now_ms)? {
        Admission::Admitted => Ok(()),
        Admission::Refused { window, retry_after_ms } => {
            let (window, limit) = windows[window];
            Err(Throttle {
                limit: limit.limit,
                window,
                retry_after: (retry_after_ms.max(0) as u64).div_ceil(1000),
            })
        }
    })
}

/// How long a tenant's switch read from the store is trusted: another process's change to it
/// is seen here at most this late.
pub const SWITCH_CACHE_TTL: Duration = Duration::from_secs(2);

/// Each tenant's rate-limit switch, read from the store and kept for [`SWITCH_CACHE_TTL`], so a
/// call costs a hash lookup, not a query, to know whether it is limited. The counters themselves
/// live in the store ([`RateWindowStore`]), shared by every process on it.
#[derive(Debug, Default)]
pub struct RateLimiter {
    tenants: Mutex<HashMap<String, (bool, Instant)>>,
}

impl RateLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (bool, Instant)>> {
        self.tenants.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The tenant's switch if it was read from the store less than [`SWITCH_CACHE_TTL`] ago.
    pub fn cached_tenant(&self, tenant_id: &str) -> Option<bool> {
        self.lock()
            .get(tenant_id)
            .filter(|(_, read)| read.elapsed() < SWITCH_CACHE_TTL)
            .map(|(enabled, _)| *enabled)
    }

    fn remember_tenant(&self, tenant_id: &str, enabled: bool) {
        let mut tenants = self.lock();
        // Bounded by the number of tenants in practice; start afresh if it ever grows.
        if tenants.len() > 10_000 {
            tenants.clear();
        }
        tenants.insert(tenant_id.to_string(), (enabled, Instant::now()));
    }

    /// Drops the cached tenant switches, so each is read from the store again. Anything that
    /// rewrites, deletes or recreates tenants (a tenant reset, a data load) calls it, so this
    /// process sees its own change at once; other processes see it within [`SWITCH_CACHE_TTL`].
    pub fn forget_tenants(&self) {
        self.lock().clear();
    }
}

impl Core {
    /// Whether the tenant's calls are rate limited (an unknown tenant, e.g. of a minted token: yes).
    pub fn rate_limits_enabled(&self, tenant_id: &str) -> DomainResult<bool> {
        if let Some(enabled) = self.rate_limits.cached_tenant(tenant_id) {
            return Ok(enabled);
        }
        let enabled = self
            .store
            .find_tenant(tenant_id)?
            .is_none_or(|tenant| tenant.rate_limits.enabled);
        self.rate_limits.remember_tenant(tenant_id, enabled);
        Ok(enabled)
    }

    /// Counts a call against its API's limits in the store's shared windows (see [`admit_in`]).
    pub fn admit_call(
        &self,
        tenant_id: &str,
        app_id: &str,
        limit: &ApiLimit,
        method: &str,
        route: &str,
        now_ms: i64,
    ) -> DomainResult<Result<(), Throttle>> {
        Ok(admit_in(
            self.store.as_ref(),
            tenant_id,
            app_id,
            limit,
            method,
            route,
            now_ms,
        )?)
    }

    /// Forgets every rate-limit window, in every process on the store (the admin reset).
    pub fn reset_rate_limits(&self) -> DomainResult<()> {
        Ok(self.store.clear_rate_windows()?)
    }

    /// `GET /_palisade/tenants/{tenant}/ratelimits`.
    pub fn tenant_rate_limits(&self, tenant_id: &str) -> DomainResult<RateLimitSettings> {
        let tenant = self
            .store
            .find_tenant(tenant_id)?
            .ok_or_else(|| ApiError::resource_not_found("Tenant", tenant_id))?;
        Ok(tenant.rate_limits)
    }

    /// `PATCH /_palisade/tenants/{tenant}/ratelimits`: persisted with the tenant.
    pub fn set_tenant_rate_limits(&self, tenant_id: &str, enabled: bool) -> DomainResult<RateLimitSettings> {
        let mut tenant = self
            .store
            .find_tenant(tenant_id)?
            .ok_or_else(|| ApiError::resource_not_found("Tenant", tenant_id))?;
        tenant.rate_limits.enabled = enabled;
        self.store.update_tenant(&tenant)?;
        // The cache may hold the tenant under another spelling of its id: start afresh.
        self.rate_limits.forget_tenants();
        Ok(tenant.rate_limits)
    }
}

/// "Max 25 concurrently running sessions" (Run live response page), counted per tenant
/// (`Settings::max_live_response_sessions` may lower it).
pub const MAX_LIVE_RESPONSE_SESSIONS: usize = 25;

impl Core {
    /// Refuses a new live-response session with `TooManyRequests` while the tenant already has
    /// [`MAX_LIVE_RESPONSE_SESSIONS`] (or the configured number) running (a live-response action `Pending` or `InProgress`);
    /// `Retry-After` is the time until the first of them is scheduled to end. Called by
    /// `request_action` with the tenant's actions settled and the state lock held.
    pub(crate) fn check_live_response_sessions(&self, tenant_id: &str) -> DomainResult<()> {
        use crate::listing::{narrowed, text_eq, text_in};
        use palisade_model::entities::{ActionStatus, ActionType, HealthStatus, Machine, MachineAction};
        use palisade_model::schemas::{MACHINE_ACTIONS, MACHINE_ACTION_TABLE, MACHINE_TABLE};
        let running = narrowed(
            &narrowed(
                &palisade_odata::Query::default(),
                text_in(
                    &MACHINE_ACTIONS,
                    "status",
                    vec![ActionStatus::Pending.to_string(), ActionStatus::InProgress.to_string()],
                ),
            ),
            text_eq(&MACHINE_ACTIONS, "type", ActionType::LiveResponse.as_str()),
        );
        let docs = self
            .store
            .query_docs(MACHINE_ACTION_TABLE, tenant_id, &running, 0, u64::MAX)?;
        let max = self
            .settings
            .max_live_response_sessions
            .unwrap_or(MAX_LIVE_RESPONSE_SESSIONS);
        if docs.len() < max {
            return Ok(());
        }
        let pace = self.settings.action_pace;
        let mut first_end = None;
        for doc in &docs {
            let action: MachineAction = serde_json::from_str(doc).map_err(palisade_store::StoreError::from)?;
            let health = self
                .store
                .find_doc(MACHINE_TABLE, tenant_id, "id", &action.machine_id, false)?
                .map(|doc| serde_json::from_str::<Machine>(&doc).map(|m| m.health_status))
                .transpose()
                .map_err(palisade_store::StoreError::from)?
                .unwrap_or(HealthStatus::Inactive);
            // The schedule of `actions::advance`: devices that do not report time out, others finish.
            let created = action.creation_date_time_utc.0;
            let end = match health {
                HealthStatus::Inactive
                | HealthStatus::NoSensorData
                | HealthStatus::NoSensorDataImpairedCommunication => created + pace.offline_timeout,
                _ => created + pace.pickup + pace.run,
            };
            first_end = Some(first_end.map_or(end, |first: chrono::DateTime<chrono::Utc>| first.min(end)));
        }
        let wait_ms = first_end.map_or(0, |end| (end - self.clock.now()).num_milliseconds().max(0));
        let retry_after = (wait_ms as u64).div_ceil(1000).max(1);
        let mut error = ApiError::new(
            palisade_error::ErrorCode::TooManyRequests,
            format!(
                "Too many concurrently running live response sessions: maximum allowed {max}, \
                 running {}. Try again in {retry_after} seconds.",
                docs.len()
            ),
            format!(
                "live response session limit: {} running in tenant {tenant_id}",
                docs.len()
            ),
        );
        error.retry_after = Some(retry_after);
        Err(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limiter over a fresh store, as the server uses it.
    struct Limiter {
        _dir: tempfile::TempDir,
        store: palisade_store_sqlite::SqliteStore,
    }

    impl Limiter {
        fn admit(&self, t: &str, a: &str, limit: &ApiLimit, m: &str, r: &str, now: i64) -> Result<(), Throttle> {
            admit_in(&self.store, t, a, limit, m, r, now).expect("store counts")
        }

        fn reset(&self) {
            self.store.clear_rate_windows().expect("store clears");
        }
    }

    fn limiter() -> Limiter {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = palisade_store_sqlite::SqliteStore::open(&dir.path().join("p.db")).expect("store opens");
        Limiter { _dir: dir, store }
    }

    const ROUTE: &str = "/api/machines/{id}";

    #[test]
    fn the_101st_call_waits_exactly_until_the_window_closes() {
        let limiter = limiter();
        let start = 1_700_000_000_123;
        for n in 0..100 {
            assert!(limiter
                .admit("t", "a", &DEFAULT_LIMIT, "GET", ROUTE, start + n * 10)
                .is_ok());
        }
        let now = start + 12_345;
        let refused = limiter.admit("t", "a", &DEFAULT_LIMIT, "GET", ROUTE, now).unwrap_err();
        assert_eq!(refused.limit, 100);
        assert_eq!(refused.window, Window::Minute);
        // 60,000 - 12,345 ms = 47.655 s, rounded up.
        assert_eq!(refused.retry_after, 48);
        assert!(limiter
            .admit("t", "a", &DEFAULT_LIMIT, "GET", ROUTE, now + 47_000)
            .is_err());
        assert!(limiter
            .admit("t", "a", &DEFAULT_LIMIT, "GET", ROUTE, now + 48_000)
            .is_ok());
    }

    /// Every limit against the reference, written out here as literals (`shared/reference/mde-api.md`
    /// §1.8, `xdr-api-and-auth.md` §2.5), one concrete call per API: a change to the table, or a
    /// path pattern that stops matching its API, fails here.
    #[test]
    fn every_api_has_its_documented_limits() {
        let expected: &[(&str, &str, Option<u32>, Option<u32>)] = &[
            ("GET", "/api/alerts", Some(100), Some(1500)),
            ("GET", "/api/machines/abc", Some(100), Some(1500)),
            ("POST", "/api/alerts/batchUpdate", Some(10), Some(500)),
            ("POST", "/api/alerts/CreateAlertByReference", Some(15), None),
            ("POST", "/api/indicators/import", Some(30), None),
            ("POST", "/api/indicators/BatchDelete", Some(30), Some(1500)),
            ("GET", "/api/machineactions/abc/getPackageUri", Some(2), Some(120)),
            ("POST", "/api/machines/abc/runliveresponse", Some(10), None),
            ("POST", "/api/machines/abc/startInvestigation", None, Some(50)),
            ("GET", "/api/incidents", Some(50), Some(1500)),
            ("PATCH", "/api/incidents/123", Some(50), Some(1500)),
            // Get incident: its own page says 100/minute and 1,500/hour, the default.
            ("GET", "/api/incidents/123", Some(100), Some(1500)),
            // Advanced hunting, both routes: the tenant's limits.
            ("POST", "/api/advancedhunting/run", Some(45), Some(1500)),
            ("POST", "/api/advancedqueries/run", Some(45), Some(1500)),
            // Graph's runHuntingQuery, one API under four paths.
            ("POST", "/v1.0/security/runHuntingQuery", Some(45), Some(1500)),
            (
                "POST",
                "/beta/security/microsoft.graph.security.runHuntingQuery",
                Some(45),
                Some(1500),
            ),
            (
                "POST",
                "/v1.0/security/microsoft.graph.security.runHuntingQuery",
                Some(45),
                Some(1500),
            ),
            // Graph's other POST routes keep the default.
            ("POST", "/v1.0/security/alerts_v2/abc/comments", Some(100), Some(1500)),
        ];
        for &(method, path, per_minute, per_hour) in expected {
            let limit = limit_for(method, path);
            assert_eq!(
                (limit.per_minute, limit.per_hour),
                (per_minute, per_hour),
                "{method} {path}"
            );
        }
        // Twelve APIs have their own figures; no entry beyond them.
        assert_eq!(api_limits().count(), 12);
        assert!(limit_for("POST", "/api/advancedhunting/run").per_tenant);
        assert!(limit_for("POST", "/v1.0/security/runHuntingQuery").per_tenant);
        assert!(!limit_for("POST", "/api/alerts/batchUpdate").per_tenant);
    }

    #[test]
    fn keys_separate_tenants_apps_and_apis() {
        let limiter = limiter();
        let limit = limit_for("POST", "/api/alerts/batchUpdate");
        assert_eq!(limit.per_minute, Some(10));
        for _ in 0..10 {
            limiter.admit("t", "a", limit, "GET", "x", 0).unwrap();
        }
        assert!(limiter.admit("t", "a", limit, "GET", "x", 0).is_err());
        assert!(limiter.admit("t", "b", limit, "GET", "x", 0).is_ok());
        assert!(limiter.admit("u", "a", limit, "GET", "x", 0).is_ok());
        assert!(limiter.admit("t", "a", &DEFAULT_LIMIT, "GET", ROUTE, 0).is_ok());
        limiter.reset();
        assert!(limiter.admit("t", "a", limit, "GET", "x", 0).is_ok());
    }

    #[test]
    fn the_hourly_limit_outlasts_the_minute() {
        let limiter = limiter();
        let mut now = 0;
        for minute in 0..15 {
            for _ in 0..100 {
                limiter.admit("t", "a", &DEFAULT_LIMIT, "GET", ROUTE, now).unwrap();
            }
            let refused = limiter.admit("t", "a", &DEFAULT_LIMIT, "GET", ROUTE, now).unwrap_err();
            // Both block in the 15th minute: the wait is the longer one, the hour's.
            let expected = if minute < 14 { Window::Minute } else { Window::Hour };
            assert_eq!(refused.window, expected);
            now += 60_000;
        }
        // 1,500 calls in the hour opened at 0, and no minute window open.
        let refused = limiter.admit("t", "a", &DEFAULT_LIMIT, "GET", ROUTE, now).unwrap_err();
        assert_eq!(refused.limit, 1500);
        assert_eq!((refused.window, refused.retry_after), (Window::Hour, 2700));
        assert!(limiter
            .admit("t", "a", &DEFAULT_LIMIT, "GET", ROUTE, 3_599_999)
            .is_err());
        assert!(limiter.admit("t", "a", &DEFAULT_LIMIT, "GET", ROUTE, 3_600_000).is_ok());
    }

    #[test]
    fn get_package_uri_is_two_a_minute() {
        // Its 120/hour can never bind with fixed windows: 60 minute windows fill the hour.
        let limit = limit_for("GET", "/api/machineactions/abc/getPackageUri");
        assert_eq!((limit.per_minute, limit.per_hour), (Some(2), Some(120)));
        let other = limit_for(
            "GET",
            "/api/machineactions/abc/GetLiveResponseResultDownloadLink(index=0)",
        );
        assert_eq!(other, &DEFAULT_LIMIT);
    }

    #[test]
    fn start_investigation_has_only_an_hourly_limit() {
        let limiter = limiter();
        let limit = limit_for("post", "/api/machines/m/startInvestigation");
        for _ in 0..50 {
            limiter.admit("t", "a", limit, "GET", "", 0).unwrap();
        }
        let refused = limiter.admit("t", "a", limit, "GET", "", 0).unwrap_err();
        assert_eq!((refused.limit, refused.retry_after), (50, 3600));
    }

    #[test]
    fn a_clock_moved_back_reopens_the_window() {
        let limiter = limiter();
        let limit = limit_for("POST", "/api/alerts/batchUpdate");
        for _ in 0..10 {
            limiter.admit("t", "a", limit, "GET", "", 1_000_000).unwrap();
        }
        assert!(limiter.admit("t", "a", limit, "GET", "", 1_000_000).is_err());
        assert!(limiter.admit("t", "a", limit, "GET", "", 0).is_ok());
    }

    #[test]
    fn the_message_names_limit_window_and_wait() {
        let throttle = Throttle {
            limit: 100,
            window: Window::Minute,
            retry_after: 42,
        };
        let error = throttle.to_error("GET /api/alerts", "t", "a");
        assert_eq!(error.retry_after, Some(42));
        assert!(error
            .message
            .starts_with("API calls quota exceeded! maximum allowed 100 per 00:01:00"));
        assert!(error.message.contains("42 seconds"));
    }
}
