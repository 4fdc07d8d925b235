//! Fault injection: rules that make matching requests fail with any contract error code, or wait
//! first, on chosen calls, so a client's error handling can be exercised on demand.
//!
//! A rule matches by path pattern (required), HTTP method, calling app (`clientId`) and tenant
//! (`tenantId`). Its effect is an error, a delay, or both; *when* it fires is set by `afterCalls`
//! (skip the first n matching calls), `times` (a budget of firings), `probability` with a `seed`
//! (a repeatable pseudo-random sequence) and `expiresInSeconds` (on the emulator's clock).
//!
//! **Shared by every process on the store.** The rule set, with its counters, is one stored value
//! (meta key [`FAULTS_META`], with a version). Each process keeps a copy, refreshed every
//! [`CLOCK_REFRESH`](crate::control::clock::CLOCK_REFRESH) by the same thread that follows the
//! clock, and uses it only to decide that a call meets no rule (most calls, at no store cost). A
//! call that may meet a rule, and every change, takes the store lock `faults`, reads the stored
//! set, applies itself (counting the call, firing rules) and stores the set back: so `times`,
//! `afterCalls` and a seeded `probability` count calls across processes exactly. A rule created
//! in another process is seen here within that refresh period; a rule removed elsewhere can
//! only cost one store read here (the stored set decides). Exhausted and expired rules stay
//! listed, with their state, until deleted, so "why did my rule stop firing?" has an answer.
//!
//! Evaluation order: rules are evaluated in creation order; a firing delay-only rule adds its delay
//! and evaluation goes on; the first firing rule with an error answers, and later rules do not see
//! the call.

use crate::{Core, DomainResult};
use chrono::{DateTime, TimeDelta, Utc};
use palisade_error::{ApiError, ErrorCode};
use palisade_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Longest delay a rule may add (ten minutes): long enough for any client timeout.
pub const MAX_DELAY_MS: u64 = 600_000;
/// Default `Retry-After` of an injected `TooManyRequests`.
pub const DEFAULT_INJECTED_RETRY_AFTER: u64 = 1;
/// HTTP methods a rule may name.
const METHODS: &[&str] = &["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"];

/// A path pattern, matched segment by segment against the normalised request path (`/api/v1.0`
/// already folded into `/api`). Syntax:
/// - a literal segment matches case-insensitively (`isolate` matches `Isolate`);
/// - `*` or `{anything}` matches exactly one segment;
/// - `*` inside a segment matches any run of characters in it (`findbyip*`);
/// - `**` matches any number of segments, none included.
///
/// The query string is not part of the match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PathPattern(String);

impl PathPattern {
    /// Checks the syntax; the message says what is wrong.
    pub fn parse(text: &str) -> Result<PathPattern, String> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err("it must start with '/'".into());
        };
        if text.contains('?') || text.contains('#') {
            return Err("the query string is not part of the match; remove it".into());
        }
        for segment in rest.split('/') {
            if segment.is_empty() {
                return Err("it has an empty segment ('//' or a trailing '/')".into());
            }
            let braced = segment.starts_with('{') && segment.ends_with('}') && segment.len() > 2;
            if !braced && (segment.contains('{') || segment.contains('}')) {
                return Err(format!(
                    "segment '{segment}': braces must enclose a whole segment, like {{id}}"
                ));
            }
            if segment.contains("**") && segment != "**" {
                return Err(format!("segment '{segment}': '**' must be a whole segment"));
            }
        }
        Ok(PathPattern(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `path` (normalised, without query) matches.
    pub fn matches(&self, path: &str) -> bool {
        pattern_matches(&self.0, path)
    }
}

/// Matches a pattern's text against a path without allocating (both are split lazily).
pub(crate) fn pattern_matches(pattern: &str, path: &str) -> bool {
    match (pattern.strip_prefix('/'), path.strip_prefix('/')) {
        (Some(pattern), Some(path)) => segments_match(pattern.split('/'), path.split('/')),
        _ => false,
    }
}

fn segments_match(mut pattern: std::str::Split<'_, char>, mut path: std::str::Split<'_, char>) -> bool {
    loop {
        match pattern.next() {
            None => return path.next().is_none(),
            Some("**") => loop {
                if segments_match(pattern.clone(), path.clone()) {
                    return true;
                }
                if path.next().is_none() {
                    return false;
                }
            },
            Some(wanted) => match path.next() {
                Some(segment) if segment_matches(wanted, segment) => {}
                _ => return false,
            },
        }
    }
}

fn segment_matches(wanted: &str, segment: &str) -> bool {
    if wanted == "*" || (wanted.starts_with('{') && wanted.ends_with('}')) {
        return true;
    }
    if wanted.contains('*') {
        return glob_matches(wanted.as_bytes(), segment.as_bytes());
    }
    wanted.eq_ignore_ascii_case(segment)
}

/// `*` matches any run of bytes; everything else compares ASCII case-insensitively. Linear-time
/// two-pointer matching (backtracks only to the last star).
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p].eq_ignore_ascii_case(&text[t]) {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// SplitMix64: tiny, and its sequence for a seed never changes with a dependency's version, which
/// is the point of a seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A rule as the admin API receives it (wire names in the server's body type).
#[derive(Debug, Clone, Default)]
pub struct FaultRuleSpec {
    pub method: Option<String>,
    pub path: String,
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
    pub error: Option<String>,
    pub message: Option<String>,
    pub delay_ms: Option<u64>,
    pub after_calls: Option<u64>,
    pub times: Option<u64>,
    pub probability: Option<f64>,
    pub seed: Option<u64>,
    pub expires_in_seconds: Option<f64>,
    pub retry_after_seconds: Option<u64>,
}

/// Whether a rule can still fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RuleState {
    Active,
    /// Its `times` budget is spent.
    Exhausted,
    /// Its expiry passed on the emulator's clock.
    Expired,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FaultRule {
    id: String,
    method: Option<String>,
    path: PathPattern,
    client_id: Option<String>,
    tenant_id: Option<String>,
    error: Option<ErrorCode>,
    message: Option<String>,
    delay_ms: u64,
    after_calls: u64,
    times: Option<u64>,
    probability: Option<f64>,
    seed: Option<u64>,
    rng: SplitMix64,
    expires_at: Option<DateTime<Utc>>,
    retry_after_seconds: Option<u64>,
    created_at: DateTime<Utc>,
    matched: u64,
    fired: u64,
}

/// A rule as the admin API shows it: its definition, its counters and its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRuleView {
    pub id: String,
    pub method: Option<String>,
    pub path: String,
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
    pub error: Option<ErrorCode>,
    pub message: Option<String>,
    pub delay_ms: u64,
    pub after_calls: u64,
    pub times: Option<u64>,
    pub probability: Option<f64>,
    /// The seed in use (drawn at random when none was given, so a run can be repeated).
    pub seed: Option<u64>,
    pub expires_at: Option<String>,
    pub retry_after_seconds: Option<u64>,
    pub created_at: String,
    /// Matching calls the rule has seen (including those skipped by `afterCalls`).
    pub matched: u64,
    /// Calls the rule acted on.
    pub fired: u64,
    /// Firings left (`null`: unlimited).
    pub remaining: Option<u64>,
    pub state: RuleState,
}

/// The facts of a request a rule matches on.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub method: &'a str,
    /// Normalised path, without the query.
    pub path: &'a str,
    /// Known on authenticated API routes; `None` on sign-in routes.
    pub tenant_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
}

/// What the firing rules decided for one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Wait this long first (the sum of every firing rule's delay).
    pub delay: Duration,
    /// Then answer this instead of serving the call.
    pub error: Option<ApiError>,
}

impl FaultRule {
    fn state(&self, now: DateTime<Utc>) -> RuleState {
        if self.expires_at.is_some_and(|at| now >= at) {
            RuleState::Expired
        } else if self.times.is_some_and(|times| self.fired >= times) {
            RuleState::Exhausted
        } else {
            RuleState::Active
        }
    }

    fn matches(&self, call: &Call<'_>) -> bool {
        let same = |wanted: &Option<String>, got: Option<&str>| {
            wanted
                .as_deref()
                .is_none_or(|wanted| got.is_some_and(|got| got.eq_ignore_ascii_case(wanted)))
        };
        same(&self.method, Some(call.method))
            && same(&self.client_id, call.client_id)
            && same(&self.tenant_id, call.tenant_id)
            && self.path.matches(call.path)
    }

    fn injected_error(&self, code: ErrorCode) -> ApiError {
        let message = self
            .message
            .clone()
            .unwrap_or_else(|| format!("{code} injected by Palisade fault rule {}", self.id));
        let mut error = ApiError::new(code, message, format!("injected by fault rule {}", self.id));
        if code == ErrorCode::TooManyRequests {
            error.retry_after = Some(self.retry_after_seconds.unwrap_or(DEFAULT_INJECTED_RETRY_AFTER));
        }
        error
    }

    fn view(&self, now: DateTime<Utc>) -> FaultRuleView {
        FaultRuleView {
            id: self.id.clone(),
            method: self.method.clone(),
            path: self.path.as_str().to_string(),
            client_id: self.client_id.clone(),
            tenant_id: self.tenant_id.clone(),
            error: self.error,
            message: self.message.clone(),
            delay_ms: self.delay_ms,
            after_calls: self.after_calls,
            times: self.times,
            probability: self.probability,
            seed: self.seed,
            expires_at: self.expires_at.map(|at| palisade_model::time::format_api_time(&at)),
            retry_after_seconds: self.retry_after_seconds,
            created_at: palisade_model::time::format_api_time(&self.created_at),
            matched: self.matched,
            fired: self.fired,
            remaining: self.times.map(|times| times.saturating_sub(self.fired)),
            state: self.state(now),
        }
    }
}

/// The meta key of the shared rule set.
pub const FAULTS_META: &str = "fault_rules";

/// The rule set as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredRules {
    version: u64,
    rules: Vec<FaultRule>,
}

/// This process's copy of the shared rule set (see the module doc).
#[derive(Debug, Default)]
pub struct FaultRules {
    rules: Mutex<Vec<FaultRule>>,
    /// How many rules exist, read without the lock: most requests meet no rule at all.
    count: AtomicUsize,
    /// The version of the stored set the copy holds.
    version: std::sync::atomic::AtomicU64,
}

fn invalid(what: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_input(what, "fault rule validation")
}

impl FaultRules {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        // Counters only: a panic elsewhere leaves nothing half-written worth refusing for.
        self.rules.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Validates and adds a rule; `InvalidInput` / `MissingRequiredParameter` name what is wrong.
    pub fn add(&self, spec: FaultRuleSpec, now: DateTime<Utc>) -> Result<FaultRuleView, ApiError> {
        let rule = validate(spec, now)?;
        let view = rule.view(now);
        let mut rules = self.lock();
        rules.push(rule);
        self.count.store(rules.len(), Ordering::Release);
        Ok(view)
    }

    pub fn list(&self, now: DateTime<Utc>) -> Vec<FaultRuleView> {
        self.lock().iter().map(|rule| rule.view(now)).collect()
    }

    pub fn get(&self, id: &str, now: DateTime<Utc>) -> Result<FaultRuleView, ApiError> {
        self.lock()
            .iter()
            .find(|rule| rule.id.eq_ignore_ascii_case(id))
            .map(|rule| rule.view(now))
            .ok_or_else(|| ApiError::resource_not_found("Fault rule", id))
    }

    pub fn remove(&self, id: &str) -> Result<(), ApiError> {
        let mut rules = self.lock();
        let before = rules.len();
        rules.retain(|rule| !rule.id.eq_ignore_ascii_case(id));
        self.count.store(rules.len(), Ordering::Release);
        if rules.len() == before {
            return Err(ApiError::resource_not_found("Fault rule", id));
        }
        Ok(())
    }

    /// Removes every rule; returns how many there were.
    pub fn clear(&self) -> usize {
        let mut rules = self.lock();
        let removed = rules.len();
        rules.clear();
        self.count.store(0, Ordering::Release);
        removed
    }

    /// Whether an active rule of this copy matches the call (without counting it): `false` lets
    /// the call skip the shared set.
    pub fn might_fire(&self, call: &Call<'_>, now: DateTime<Utc>) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.lock()
            .iter()
            .any(|rule| rule.state(now) == RuleState::Active && rule.matches(call))
    }

    /// Replaces the copy with the stored set when that is newer (or `force`).
    fn load(&self, store: &dyn Store, force: bool) -> Result<(), StoreError> {
        let stored: StoredRules = match store.get_meta(FAULTS_META)? {
            Some(text) => serde_json::from_str(&text)?,
            None => StoredRules::default(),
        };
        let mut rules = self.lock();
        if force || stored.version > self.version.load(Ordering::Acquire) {
            self.count.store(stored.rules.len(), Ordering::Release);
            self.version.store(stored.version, Ordering::Release);
            *rules = stored.rules;
        }
        Ok(())
    }

    /// Follows the shared set (the refresh thread calls it).
    pub(crate) fn refresh(&self, store: &dyn Store) -> Result<(), StoreError> {
        self.load(store, false)
    }

    /// Stores the copy as the next version.
    fn save(&self, store: &dyn Store) -> Result<(), StoreError> {
        let rules = self.lock();
        let stored = StoredRules {
            version: self.version.load(Ordering::Acquire) + 1,
            rules: rules.clone(),
        };
        store.set_meta(FAULTS_META, &serde_json::to_string(&stored)?)?;
        self.version.store(stored.version, Ordering::Release);
        Ok(())
    }

    /// Counts the call against every active matching rule and says what the firing ones decided
    /// (`None`: serve the call as usual). See the module doc for the order of evaluation.
    pub fn evaluate(&self, call: &Call<'_>, now: DateTime<Utc>) -> Option<Verdict> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut rules = self.lock();
        let mut delay_ms = 0u64;
        let mut error = None;
        for rule in rules.iter_mut() {
            if rule.state(now) != RuleState::Active || !rule.matches(call) {
                continue;
            }
            rule.matched += 1;
            if rule.matched <= rule.after_calls {
                continue;
            }
            if let Some(probability) = rule.probability {
                if rule.rng.next_unit() >= probability {
                    continue;
                }
            }
            rule.fired += 1;
            delay_ms = delay_ms.saturating_add(rule.delay_ms);
            if let Some(code) = rule.error {
                error = Some(rule.injected_error(code));
                break;
            }
        }
        (delay_ms > 0 || error.is_some()).then(|| Verdict {
            delay: Duration::from_millis(delay_ms),
            error,
        })
    }
}

/// A call as [`Core::evaluate_faults`] takes it across threads.
#[derive(Debug, Clone)]
pub struct OwnedCall {
    pub method: String,
    pub path: String,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
}

impl OwnedCall {
    pub fn of(call: &Call<'_>) -> OwnedCall {
        OwnedCall {
            method: call.method.to_string(),
            path: call.path.to_string(),
            tenant_id: call.tenant_id.map(str::to_string),
            client_id: call.client_id.map(str::to_string),
        }
    }

    fn call(&self) -> Call<'_> {
        Call {
            method: &self.method,
            path: &self.path,
            tenant_id: self.tenant_id.as_deref(),
            client_id: self.client_id.as_deref(),
        }
    }
}

impl Core {
    /// Runs `change` on the shared rule set: under the store lock `faults`, from the stored set,
    /// stored back afterwards (see the module doc).
    fn with_shared_faults<T>(&self, change: impl FnOnce(&FaultRules) -> T) -> DomainResult<T> {
        let _section = self.exclusive("faults")?;
        self.faults.load(self.store.as_ref(), true)?;
        let out = change(&self.faults);
        self.faults.save(self.store.as_ref())?;
        Ok(out)
    }

    /// `POST /_palisade/faults`.
    pub fn add_fault_rule(&self, spec: FaultRuleSpec) -> DomainResult<FaultRuleView> {
        let now = self.clock.now();
        Ok(self.with_shared_faults(|rules| rules.add(spec, now))??)
    }

    /// `GET /_palisade/faults`: the shared set, with its counters as stored.
    pub fn list_fault_rules(&self) -> DomainResult<Vec<FaultRuleView>> {
        self.faults.load(self.store.as_ref(), true)?;
        Ok(self.faults.list(self.clock.now()))
    }

    /// `GET /_palisade/faults/{id}`.
    pub fn fault_rule(&self, id: &str) -> DomainResult<FaultRuleView> {
        self.faults.load(self.store.as_ref(), true)?;
        Ok(self.faults.get(id, self.clock.now())?)
    }

    /// `DELETE /_palisade/faults/{id}`.
    pub fn remove_fault_rule(&self, id: &str) -> DomainResult<()> {
        Ok(self.with_shared_faults(|rules| rules.remove(id))??)
    }

    /// `DELETE /_palisade/faults`: how many rules there were.
    pub fn clear_fault_rules(&self) -> DomainResult<usize> {
        self.with_shared_faults(FaultRules::clear)
    }

    /// Counts a call that [`FaultRules::might_fire`] against the shared set and says what the
    /// firing rules decided.
    pub fn evaluate_faults(&self, call: &OwnedCall) -> DomainResult<Option<Verdict>> {
        let now = self.clock.now();
        self.with_shared_faults(|rules| rules.evaluate(&call.call(), now))
    }
}

fn validate(spec: FaultRuleSpec, now: DateTime<Utc>) -> Result<FaultRule, ApiError> {
    let path = PathPattern::parse(&spec.path).map_err(|why| invalid(format!("path '{}': {why}", spec.path)))?;
    let first_segment = path.as_str()[1..].split('/').next().unwrap_or("");
    if first_segment.eq_ignore_ascii_case("_palisade") {
        return Err(invalid(format!(
            "path '{}': admin routes (/_palisade/...) are never faulted",
            spec.path
        )));
    }
    let method = match spec.method {
        Some(method) => match METHODS.iter().find(|m| m.eq_ignore_ascii_case(&method)) {
            Some(known) => Some(known.to_string()),
            None => {
                return Err(invalid(format!(
                    "method '{method}'; expected one of {}",
                    METHODS.join(", ")
                )))
            }
        },
        None => None,
    };
    let error = match spec.error.as_deref() {
        Some(name) => Some(ErrorCode::parse(name).ok_or_else(|| {
            let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
            invalid(format!(
                "error '{name}'; expected one of the contract's codes (case-sensitive): {}",
                codes.join(", ")
            ))
        })?),
        None => None,
    };
    let delay_ms = spec.delay_ms.unwrap_or(0);
    if delay_ms > MAX_DELAY_MS {
        return Err(invalid(format!("delayMs {delay_ms}; at most {MAX_DELAY_MS}")));
    }
    if error.is_none() && delay_ms == 0 {
        return Err(ApiError::missing_parameter(
            "error",
            Some("a rule needs an effect: error, delayMs, or both"),
        ));
    }
    if spec.times == Some(0) {
        return Err(invalid("times 0; a rule fires at least once (omit times for no limit)"));
    }
    if let Some(p) = spec.probability {
        if !(0.0..=1.0).contains(&p) {
            return Err(invalid(format!("probability {p}; expected a number from 0 to 1")));
        }
    }
    if spec.seed.is_some() && spec.probability.is_none() {
        return Err(invalid(
            "seed without probability; the seed drives the probability's draws",
        ));
    }
    let expires_at = match spec.expires_in_seconds {
        Some(seconds) if seconds.is_finite() && seconds > 0.0 && seconds < 1e10 => {
            Some(now + TimeDelta::milliseconds((seconds * 1000.0).round() as i64))
        }
        Some(seconds) => {
            return Err(invalid(format!(
                "expiresInSeconds {seconds}; expected a positive number of seconds below 1e10"
            )))
        }
        None => None,
    };
    if spec.retry_after_seconds.is_some() && error != Some(ErrorCode::TooManyRequests) {
        return Err(invalid(
            "retryAfterSeconds applies only to error TooManyRequests (the only code answered with Retry-After)",
        ));
    }
    for (name, value) in [
        ("message", &spec.message),
        ("clientId", &spec.client_id),
        ("tenantId", &spec.tenant_id),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(invalid(format!("{name} ''; omit it or give a value")));
        }
    }
    let seed = spec
        .probability
        .map(|_| spec.seed.unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0));
    Ok(FaultRule {
        id: uuid::Uuid::new_v4().hyphenated().to_string(),
        method,
        path,
        client_id: spec.client_id,
        tenant_id: spec.tenant_id,
        error,
        message: spec.message,
        delay_ms,
        after_calls: spec.after_calls.unwrap_or(0),
        times: spec.times,
        probability: spec.probability,
        seed,
        rng: SplitMix64(seed.unwrap_or(0)),
        expires_at,
        retry_after_seconds: spec.retry_after_seconds,
        created_at: now,
        matched: 0,
        fired: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(method: &'a str, path: &'a str) -> Call<'a> {
        Call {
            method,
            path,
            tenant_id: Some("t1"),
            client_id: Some("app1"),
        }
    }

    fn spec(path: &str) -> FaultRuleSpec {
        FaultRuleSpec {
            path: path.into(),
            error: Some("InternalServerError".into()),
            ..FaultRuleSpec::default()
        }
    }

    #[test]
    fn patterns_match_segments_case_insensitively() {
        let p = |text: &str| PathPattern::parse(text).unwrap();
        assert!(p("/api/machines/*/isolate").matches("/api/machines/abc/isolate"));
        assert!(p("/api/machines/{id}/Isolate").matches("/api/machines/abc/isolate"));
        assert!(!p("/api/machines/*/isolate").matches("/api/machines/abc/unisolate"));
        assert!(!p("/api/machines/*/isolate").matches("/api/machines/isolate"));
        assert!(!p("/api/machines/*").matches("/api/machines/a/b"));
        assert!(p("/api/**").matches("/api"));
        assert!(p("/api/**").matches("/api/machines/a/b"));
        assert!(p("/api/**/isolate").matches("/api/machines/a/isolate"));
        assert!(!p("/api/**/isolate").matches("/api/machines/a/tags"));
        assert!(p("/api/machines/findbyip*").matches("/api/machines/findbyip(ip='1.2.3.4',timestamp=x)"));
        assert!(p("/*/oauth2/v2.0/token").matches("/contoso.com/oauth2/v2.0/token"));
        assert!(p("/**").matches("/anything/at/all"));
        assert!(glob_matches(b"a*b*c", b"aXXbYYc"));
        assert!(!glob_matches(b"a*b*c", b"aXXbYY"));
        for bad in [
            "api/machines",
            "/api//x",
            "/api/x/",
            "/api/{id",
            "/api/a{id}",
            "/api/x?y=1",
            "/api/a**",
        ] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_budget_then_exhausted() {
        let rules = FaultRules::default();
        let now = palisade_model::time::fixed_now();
        let view = rules
            .add(
                FaultRuleSpec {
                    times: Some(2),
                    ..spec("/api/machines/*/isolate")
                },
                now,
            )
            .unwrap();
        let c = call("POST", "/api/machines/m1/isolate");
        for _ in 0..2 {
            let verdict = rules.evaluate(&c, now).unwrap();
            let error = verdict.error.unwrap();
            assert_eq!(error.code, ErrorCode::InternalServerError);
            assert!(error.cause.contains(&view.id));
        }
        assert_eq!(rules.evaluate(&c, now), None);
        let listed = rules.get(&view.id, now).unwrap();
        assert_eq!((listed.fired, listed.matched, listed.remaining), (2, 2, Some(0)));
        assert_eq!(listed.state, RuleState::Exhausted);
    }

    #[test]
    fn after_calls_skips_then_fires() {
        let rules = FaultRules::default();
        let now = palisade_model::time::fixed_now();
        rules
            .add(
                FaultRuleSpec {
                    after_calls: Some(3),
                    times: Some(1),
                    ..spec("/api/alerts")
                },
                now,
            )
            .unwrap();
        let outcomes: Vec<bool> = (0..5)
            .map(|_| rules.evaluate(&call("GET", "/api/alerts"), now).is_some())
            .collect();
        assert_eq!(outcomes, [false, false, false, true, false]);
    }

    #[test]
    fn seeded_probability_repeats_its_sequence() {
        let run = |seed| {
            let rules = FaultRules::default();
            let now = palisade_model::time::fixed_now();
            rules
                .add(
                    FaultRuleSpec {
                        probability: Some(0.5),
                        seed: Some(seed),
                        ..spec("/api/alerts")
                    },
                    now,
                )
                .unwrap();
            (0..64)
                .map(|_| rules.evaluate(&call("GET", "/api/alerts"), now).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let fired = run(7).iter().filter(|f| **f).count();
        assert!((16..=48).contains(&fired), "{fired} of 64 at p=0.5");
    }

    #[test]
    fn expiry_and_matching_on_caller() {
        let rules = FaultRules::default();
        let now = palisade_model::time::fixed_now();
        rules
            .add(
                FaultRuleSpec {
                    expires_in_seconds: Some(30.0),
                    client_id: Some("APP1".into()),
                    method: Some("post".into()),
                    ..spec("/api/**")
                },
                now,
            )
            .unwrap();
        assert!(rules.evaluate(&call("POST", "/api/x"), now).is_some());
        assert!(rules.evaluate(&call("GET", "/api/x"), now).is_none());
        let other_app = Call {
            client_id: Some("app2"),
            ..call("POST", "/api/x")
        };
        assert!(rules.evaluate(&other_app, now).is_none());
        let signin = Call {
            client_id: None,
            tenant_id: None,
            ..call("POST", "/api/x")
        };
        assert!(
            rules.evaluate(&signin, now).is_none(),
            "a caller rule needs a known caller"
        );
        let later = now + TimeDelta::seconds(30);
        assert!(rules.evaluate(&call("POST", "/api/x"), later).is_none());
        assert_eq!(rules.list(later)[0].state, RuleState::Expired);
    }

    #[test]
    fn delays_add_up_and_the_first_error_wins() {
        let rules = FaultRules::default();
        let now = palisade_model::time::fixed_now();
        let delay = |ms| FaultRuleSpec {
            error: None,
            delay_ms: Some(ms),
            ..spec("/api/alerts")
        };
        rules.add(delay(100), now).unwrap();
        let first = rules.add(spec("/api/alerts"), now).unwrap();
        let second = rules.add(spec("/api/alerts"), now).unwrap();
        let verdict = rules.evaluate(&call("GET", "/api/alerts"), now).unwrap();
        assert_eq!(verdict.delay, Duration::from_millis(100));
        assert!(verdict.error.unwrap().cause.contains(&first.id));
        assert_eq!(rules.get(&second.id, now).unwrap().matched, 0);
    }

    #[test]
    fn invalid_rules_say_what_is_wrong() {
        let now = palisade_model::time::fixed_now();
        let rules = FaultRules::default();
        let err = |spec| rules.add(spec, now).unwrap_err();
        let e = err(FaultRuleSpec {
            error: Some("Boom".into()),
            ..spec("/api/x")
        });
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert!(e.message.contains("Boom") && e.message.contains("InternalServerError"));
        let e = err(FaultRuleSpec {
            error: None,
            ..spec("/api/x")
        });
        assert_eq!(e.code, ErrorCode::MissingRequiredParameter);
        for bad in [
            FaultRuleSpec {
                probability: Some(1.5),
                ..spec("/api/x")
            },
            FaultRuleSpec {
                times: Some(0),
                ..spec("/api/x")
            },
            FaultRuleSpec {
                method: Some("FETCH".into()),
                ..spec("/api/x")
            },
            FaultRuleSpec {
                expires_in_seconds: Some(-1.0),
                ..spec("/api/x")
            },
            FaultRuleSpec {
                retry_after_seconds: Some(5),
                ..spec("/api/x")
            },
            spec("/_palisade/faults"),
            spec("no-slash"),
        ] {
            assert_eq!(err(bad).code, ErrorCode::InvalidInput);
        }
    }

    #[test]
    fn splitmix_is_stable() {
        // Reference values of SplitMix64 for seed 0, so a seed means the same sequence forever.
        let mut rng = SplitMix64(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }
}
