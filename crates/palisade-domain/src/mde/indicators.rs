//! Custom indicators (`shared/reference/mde-api.md` §5): list, submit-or-update, import, delete and
//! batch delete, with the value rules of [`crate::mde::validate`].
//!
//! Rules (and choices where the docs are silent, also in the README):
//! - Roles: `Ti.ReadWrite` sees and changes only the indicators its own app created;
//!   `Ti.ReadWrite.All` all of the tenant's. Another app's indicator is `ResourceNotFound` to a
//!   `Ti.ReadWrite` caller, and submitting its value is `DisallowedOperation`.
//! - Only active indicators (no `expirationTime`, or one still ahead on the emulator clock) are
//!   listed and count toward the tenant's 15,000; an expired one revives when its value is
//!   submitted again.
//! - The value is stored in canonical form (lower-case hashes, lower-case ASCII domain without the
//!   trailing dot, RFC 5952 IPv6, URL with lower-case scheme and host), and (type, value) is the
//!   submit-or-update key, so two spellings of one value are one indicator.
//! - Check order: role → body → enum values → action allowed for the type → value → other
//!   properties → tenant feature → ownership → the 15,000 cap.

use crate::listing::{narrowed, text_eq, text_in, Page};
use crate::mde::validate;
use crate::{Core, DomainResult};
use chrono::{DateTime, Utc};
use palisade_auth::Principal;
use palisade_error::{ApiError, ErrorCode};
use palisade_model::entities::{
    Indicator, IndicatorAction, IndicatorSeverity, IndicatorSourceType, IndicatorType, Machine,
};
use palisade_model::schemas::{INDICATORS, INDICATOR_TABLE, MACHINE_TABLE};
use palisade_model::tenant::TenantFeatures;
use palisade_model::time::Timestamp;
use palisade_odata::{CmpOp, Expr, Literal, Operand, Query};
use palisade_store::StoreError;
use serde::Serialize;
use std::collections::HashMap;

const ROLES: &[&str] = &["Ti.ReadWrite", "Ti.ReadWrite.All"];
/// The role that sees and changes every app's indicators.
const ALL_APPS_ROLE: &str = "Ti.ReadWrite.All";

/// Most indicators one import takes (documented).
pub const MAX_IMPORT: usize = 500;
/// Most ids one batch delete takes (documented).
pub const MAX_BATCH_DELETE: usize = 500;
/// Active indicators a tenant may have (documented; "increase not supported").
pub const MAX_ACTIVE_INDICATORS: u64 = 15_000;
/// Longest title, description and recommended actions (the docs name none; bounds the store).
const MAX_TEXT_CHARS: usize = 4_000;

/// One indicator as submitted (`POST /api/indicators`, or one element of an import's
/// `Indicators`): required properties present, types as JSON gave them, nothing validated yet.
#[derive(Debug, Clone, Default)]
pub struct IndicatorSubmission {
    pub indicator_value: String,
    pub indicator_type: String,
    pub action: String,
    pub application: Option<String>,
    pub title: String,
    pub description: String,
    pub expiration_time: Option<String>,
    pub severity: Option<String>,
    pub recommended_actions: Option<String>,
    /// A JSON array of names, or the comma-separated string the property table describes.
    pub rbac_group_names: Option<serde_json::Value>,
    pub educate_url: Option<String>,
    /// A JSON boolean, or the `"True"`/`"False"` the property table describes.
    pub generate_alert: Option<serde_json::Value>,
    pub external_id: Option<String>,
}

/// A submission whose values passed every rule.
#[derive(Debug, Clone)]
struct Valid {
    value: String,
    kind: IndicatorType,
    action: IndicatorAction,
    application: Option<String>,
    title: String,
    description: String,
    expiration: Option<DateTime<Utc>>,
    severity: Option<IndicatorSeverity>,
    recommended_actions: Option<String>,
    rbac_group_names: Vec<String>,
    educate_url: Option<String>,
    generate_alert: bool,
    external_id: Option<String>,
}

/// One line of an import's answer, in the documented shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    pub id: Option<String>,
    pub indicator: Option<String>,
    pub is_failed: bool,
    pub failure_reason: Option<String>,
}

/// Actions each indicator family supports (the "Create indicators" product page), plus the legacy
/// `Alert`/`AlertAndBlock` the API pages still list, for the families that predate certificates.
fn allowed_actions(kind: IndicatorType) -> &'static [IndicatorAction] {
    use IndicatorAction::*;
    match kind {
        IndicatorType::CertificateThumbprint => &[Allowed, BlockAndRemediate],
        IndicatorType::FileSha1 | IndicatorType::FileSha256 | IndicatorType::FileMd5 => {
            &[Allowed, Audit, Warn, Block, BlockAndRemediate, Alert, AlertAndBlock]
        }
        IndicatorType::IpAddress | IndicatorType::DomainName | IndicatorType::Url => {
            &[Allowed, Audit, Warn, Block, Alert, AlertAndBlock]
        }
    }
}

/// The canonical value, or the contract error of the type's validator.
fn canonical_value(kind: IndicatorType, value: &str) -> Result<String, ApiError> {
    Ok(match kind {
        IndicatorType::FileSha1 => validate::sha1(value).map(|()| value.to_ascii_lowercase())?,
        IndicatorType::FileSha256 => validate::sha256(value).map(|()| value.to_ascii_lowercase())?,
        IndicatorType::FileMd5 => validate::md5(value).map(|()| value.to_ascii_lowercase())?,
        IndicatorType::CertificateThumbprint => {
            validate::certificate_thumbprint(value).map(|()| value.to_ascii_lowercase())?
        }
        // "Only external IPs can be added to the indicator list."
        IndicatorType::IpAddress => validate::public_ip_address(value)?.to_string(),
        IndicatorType::DomainName => validate::domain_name(value)?,
        IndicatorType::Url => validate::url(value)?.canonical(),
    })
}

fn optional_text(property: &str, value: &Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(text) if text.chars().count() > MAX_TEXT_CHARS => Err(ApiError::invalid_input(
            format!(
                "{property} ({} characters); the maximum is {MAX_TEXT_CHARS}",
                text.chars().count()
            ),
            "indicator text length",
        )),
        other => Ok(other.clone()),
    }
}

fn required_text(property: &str, value: &str) -> Result<String, ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid_input(
            format!("{property} '{value}'; it must not be empty"),
            "empty indicator text",
        ));
    }
    Ok(optional_text(property, &Some(value.to_string()))?.unwrap_or_default())
}

fn group_names(value: &Option<serde_json::Value>) -> Result<Vec<String>, ApiError> {
    let refuse = || {
        ApiError::invalid_request_body(
            "property 'rbacGroupNames': expected an array of strings or a comma-separated string",
            "rbacGroupNames type",
        )
    };
    let names: Vec<String> = match value {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::String(text)) => text.split(',').map(|n| n.trim().to_string()).collect(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(|s| s.trim().to_string()).ok_or_else(refuse))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(refuse()),
    };
    let mut unique: Vec<String> = Vec::with_capacity(names.len());
    for name in names.into_iter().filter(|n| !n.is_empty()) {
        if !unique.iter().any(|u| u.eq_ignore_ascii_case(&name)) {
            unique.push(name);
        }
    }
    Ok(unique)
}

fn generate_alert(value: &Option<serde_json::Value>) -> Result<Option<bool>, ApiError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::invalid_input(
            format!("generateAlert {other}; allowed values are: true, false"),
            "generateAlert value",
        )),
    }
}

impl IndicatorSubmission {
    fn validate(&self, now: DateTime<Utc>) -> Result<Valid, ApiError> {
        let kind = IndicatorType::parse_input("indicatorType", &self.indicator_type)?;
        let action = IndicatorAction::parse_input("action", &self.action)?;
        let allowed = allowed_actions(kind);
        if !allowed.contains(&action) {
            let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
            return Err(ApiError::invalid_input(
                format!(
                    "action '{action}' for indicatorType '{kind}'; allowed actions for this type are: {}",
                    names.join(", ")
                ),
                "indicator action for type",
            ));
        }
        let value = canonical_value(kind, &self.indicator_value)?;
        let generate_alert = generate_alert(&self.generate_alert)?;
        if action == IndicatorAction::Audit && generate_alert != Some(true) {
            return Err(ApiError::invalid_input(
                "action 'Audit' without generateAlert true; the Audit action requires generateAlert to be true",
                "audit needs generateAlert",
            ));
        }
        let expiration = match self.expiration_time.as_deref() {
            None => None,
            Some(text) => {
                let parsed = DateTime::parse_from_rfc3339(text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::invalid_input(
                            format!(
                                "expirationTime '{text}'; expected an ISO-8601 date-time such as 2030-01-31T08:00:00Z"
                            ),
                            "expirationTime format",
                        )
                    })?;
                if parsed <= now {
                    return Err(ApiError::invalid_input(
                        format!(
                            "expirationTime '{text}'; it is not in the future (now is {})",
                            palisade_model::time::format_api_time(&now)
                        ),
                        "expirationTime in the past",
                    ));
                }
                Some(parsed)
            }
        };
        let severity = self
            .severity
            .as_deref()
            .map(|s| IndicatorSeverity::parse_input("severity", s))
            .transpose()?;
        let educate_url = match self.educate_url.as_deref() {
            None => None,
            Some(text) => {
                if kind != IndicatorType::Url || !matches!(action, IndicatorAction::Block | IndicatorAction::Warn) {
                    return Err(ApiError::invalid_input(
                        format!(
                            "educateUrl '{}'; it applies only to Url indicators with action Block or Warn",
                            validate::shown(text)
                        ),
                        "educateUrl scope",
                    ));
                }
                let parsed = validate::url(text)?;
                if parsed.scheme.is_none() {
                    return Err(ApiError::invalid_url(&validate::shown(text))
                        .because("educateUrl is a link users open, so it needs http:// or https://"));
                }
                Some(text.to_string())
            }
        };
        Ok(Valid {
            value,
            kind,
            action,
            application: optional_text("application", &self.application)?,
            title: required_text("title", &self.title)?,
            description: required_text("description", &self.description)?,
            expiration,
            severity,
            recommended_actions: optional_text("recommendedActions", &self.recommended_actions)?,
            rbac_group_names: group_names(&self.rbac_group_names)?,
            educate_url,
            generate_alert: generate_alert.unwrap_or(false),
            external_id: optional_text("externalID", &self.external_id)?,
        })
    }
}

/// Which tenant feature an indicator needs, by its portal switch's wire name.
fn feature_for(kind: IndicatorType, action: IndicatorAction) -> Option<&'static str> {
    if kind.is_network() {
        return Some("customNetworkIndicators");
    }
    let allows_or_blocks = matches!(
        action,
        IndicatorAction::Allowed
            | IndicatorAction::Block
            | IndicatorAction::BlockAndRemediate
            | IndicatorAction::AlertAndBlock
            | IndicatorAction::Warn
    );
    if kind == IndicatorType::CertificateThumbprint || (kind.is_file() && allows_or_blocks) {
        return Some("allowOrBlockFile");
    }
    None
}

fn feature_check(features: &TenantFeatures, wire: &str) -> Result<(), ApiError> {
    match features.describe().into_iter().find(|(name, _, _)| *name == wire) {
        Some((_, _, true)) => Ok(()),
        Some((_, portal, false)) => Err(ApiError::new(
            ErrorCode::DisabledFeature,
            format!("Tenant feature '{portal}' is not enabled for this tenant"),
            format!("tenant feature {wire} is off"),
        )),
        None => Err(ApiError::internal(format!("unknown tenant feature {wire}"))),
    }
}

fn cap_reached() -> ApiError {
    ApiError::new(
        ErrorCode::DisallowedOperation,
        format!(
            "The tenant has {MAX_ACTIVE_INDICATORS} active indicators, the maximum allowed; delete indicators or let them expire before adding more"
        ),
        "active indicator cap",
    )
}

/// `expirationTime eq null or expirationTime gt <now>`: the active indicators.
fn active_at(now: DateTime<Utc>) -> Expr {
    let expiration = INDICATORS
        .property("expirationTime")
        .unwrap_or_else(|| unreachable!("the indicator schema has expirationTime"));
    Expr::Or(vec![
        Expr::Compare {
            left: Operand::Property(expiration),
            op: CmpOp::Eq,
            right: Literal::Null,
        },
        Expr::Compare {
            left: Operand::Property(expiration),
            op: CmpOp::Gt,
            right: Literal::DateTime(now.timestamp_micros()),
        },
    ])
}

fn sees_all(caller: &Principal) -> bool {
    caller.has_role(ALL_APPS_ROLE)
}

fn is_active(indicator: &Indicator, now: DateTime<Utc>) -> bool {
    indicator.expiration_time.is_none_or(|t| t.0 > now)
}

/// What one submission will do to the store, decided before anything is written.
enum Plan {
    Update(Indicator),
    Create(Indicator),
}

/// The meta key under which the store keeps the last indicator id handed out (see
/// `Store::next_sequence`).
const INDICATOR_SEQUENCE_META: &str = "sequence:indicator";

impl Core {
    /// Moves the indicator id sequence past `highest`, so ids loaded from a data document are
    /// never handed out again.
    pub(crate) fn reserve_indicator_ids_through(&self, highest: u64) -> DomainResult<()> {
        let current = self
            .store
            .get_meta(INDICATOR_SEQUENCE_META)?
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if highest > current {
            self.store.next_sequence("indicator", highest - current)?;
        }
        Ok(())
    }

    /// The query of what the caller may see: active indicators, only its own app's without
    /// `Ti.ReadWrite.All`.
    fn visible(&self, caller: &Principal, query: &Query) -> Query {
        let mut scoped = narrowed(query, active_at(self.clock.now()));
        if !sees_all(caller) {
            scoped = narrowed(&scoped, text_eq(&INDICATORS, "createdBy", &caller.app_id));
        }
        scoped
    }

    /// `GET /api/indicators`.
    pub fn list_indicators(&self, caller: &Principal, query: &Query, page_size: u32) -> DomainResult<Page> {
        caller.require_any(ROLES)?;
        self.list_page(
            INDICATOR_TABLE,
            &caller.tenant_id,
            &self.visible(caller, query),
            page_size,
        )
    }

    /// `GET /api/indicators/$count`.
    pub fn count_indicators(&self, caller: &Principal, query: &Query) -> DomainResult<u64> {
        caller.require_any(ROLES)?;
        self.count(INDICATOR_TABLE, &caller.tenant_id, &self.visible(caller, query))
    }

    /// `POST /api/indicators`: creates the indicator, or updates the one with the same type and value.
    pub fn submit_indicator(&self, caller: &Principal, submission: &IndicatorSubmission) -> DomainResult<Indicator> {
        caller.require_any(ROLES)?;
        let mut results = self.submit_many(caller, vec![Ok(submission.clone())])?;
        match results.pop() {
            Some(Ok(indicator)) => Ok(indicator),
            Some(Err(e)) => Err(e),
            None => Err(ApiError::internal("submit produced no result").into()),
        }
    }

    /// `POST /api/indicators/import`: each element is stored or reported on its own; the answer has
    /// one result per element, in order. `items` are the elements as the body layer parsed them.
    pub fn import_indicators(
        &self,
        caller: &Principal,
        items: Vec<Result<IndicatorSubmission, ApiError>>,
    ) -> DomainResult<Vec<ImportResult>> {
        caller.require_any(ROLES)?;
        if items.is_empty() {
            return Err(ApiError::invalid_input(
                format!("Indicators []; give between 1 and {MAX_IMPORT} indicators"),
                "empty indicator import",
            )
            .into());
        }
        if items.len() > MAX_IMPORT {
            return Err(ApiError::batch_too_large(items.len(), MAX_IMPORT).into());
        }
        let values: Vec<Option<String>> = items
            .iter()
            .map(|item| item.as_ref().ok().map(|s| s.indicator_value.clone()))
            .collect();
        let outcomes = self.submit_many(caller, items)?;
        Ok(outcomes
            .into_iter()
            .zip(values)
            .map(|(outcome, value)| match outcome {
                Ok(indicator) => ImportResult {
                    id: Some(indicator.id),
                    indicator: Some(indicator.indicator_value),
                    is_failed: false,
                    failure_reason: None,
                },
                Err(e) => ImportResult {
                    id: None,
                    indicator: value,
                    is_failed: true,
                    failure_reason: Some(match e {
                        crate::DomainError::Rule(api) => format!("{}: {}", api.code, api.message),
                        // Store failures end the whole call (below); this arm is not reached.
                        crate::DomainError::Store(s) => s.to_string(),
                    }),
                },
            })
            .collect())
    }

    /// Validates, plans and stores a batch in one write. A store failure fails the whole call;
    /// every other failure is that element's result.
    fn submit_many(
        &self,
        caller: &Principal,
        items: Vec<Result<IndicatorSubmission, ApiError>>,
    ) -> DomainResult<Vec<DomainResult<Indicator>>> {
        let now = self.clock.now();
        let features = self.features(&caller.tenant_id)?;
        let app_name = self
            .store
            .find_app(&caller.app_id)?
            .map(|app| app.display_name)
            .unwrap_or_else(|| caller.app_id.clone());
        let mut groups = GroupResolver::default();
        // Validation needs no lock; everything from the first read of existing indicators does.
        let mut valid: Vec<Result<Valid, ApiError>> = Vec::with_capacity(items.len());
        for item in items {
            let checked = item.and_then(|s| s.validate(now)).and_then(|v| {
                if let Some(feature) = feature_for(v.kind, v.action) {
                    feature_check(&features, feature)?;
                }
                Ok(v)
            });
            valid.push(checked);
        }
        let mut rbac_ids: Vec<Result<Vec<String>, ApiError>> = Vec::with_capacity(valid.len());
        for v in &valid {
            rbac_ids.push(match v {
                Ok(v) => groups.ids(self, &caller.tenant_id, &v.rbac_group_names)?,
                Err(_) => Ok(Vec::new()),
            });
        }

        let _section = self.tenant_section(&caller.tenant_id)?;
        let mut active = self.count(
            INDICATOR_TABLE,
            &caller.tenant_id,
            &narrowed(&Query::default(), active_at(now)),
        )?;
        // Planned indicators by key, so a value repeated inside one batch updates its first copy.
        let mut planned: Vec<Plan> = Vec::new();
        let mut by_key: HashMap<(IndicatorType, String), usize> = HashMap::new();
        let mut outcomes: Vec<Result<usize, ApiError>> = Vec::with_capacity(valid.len());
        for (v, ids) in valid.into_iter().zip(rbac_ids) {
            let outcome = match (v, ids) {
                (Err(e), _) | (Ok(_), Err(e)) => Err(e),
                (Ok(v), Ok(ids)) => {
                    let key = (v.kind, v.value.clone());
                    let existing = match by_key.get(&key) {
                        Some(&at) => Some(match &planned[at] {
                            Plan::Update(i) | Plan::Create(i) => (at, i.clone()),
                        }),
                        None => self
                            .find_by_value(&caller.tenant_id, v.kind, &v.value)?
                            .map(|i| (usize::MAX, i)),
                    };
                    self.plan(caller, &app_name, now, v, ids, existing, &mut active)
                        .map(|(plan, at)| match at {
                            Some(at) => {
                                planned[at] = plan;
                                at
                            }
                            None => {
                                planned.push(plan);
                                by_key.insert(key, planned.len() - 1);
                                planned.len() - 1
                            }
                        })
                }
            };
            outcomes.push(outcome);
        }

        let new_count = planned.iter().filter(|p| matches!(p, Plan::Create(_))).count() as u64;
        if new_count > 0 {
            let mut next = self.store.next_sequence("indicator", new_count)?;
            for plan in &mut planned {
                if let Plan::Create(indicator) = plan {
                    indicator.id = next.to_string();
                    next += 1;
                }
            }
        }
        let indicators: Vec<Indicator> = planned
            .into_iter()
            .map(|p| match p {
                Plan::Update(i) | Plan::Create(i) => i,
            })
            .collect();
        self.store
            .upsert_docs(INDICATOR_TABLE, &caller.tenant_id, &crate::to_docs(&indicators)?)?;
        Ok(outcomes
            .into_iter()
            .map(|o| o.map(|at| indicators[at].clone()).map_err(Into::into))
            .collect())
    }

    /// Decides what one valid submission does. `existing` is the indicator with the same key,
    /// either stored (`usize::MAX`) or planned earlier in this batch (its position). Answers the
    /// plan and, for an earlier planned one, the position it replaces.
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        caller: &Principal,
        app_name: &str,
        now: DateTime<Utc>,
        v: Valid,
        rbac_group_ids: Vec<String>,
        existing: Option<(usize, Indicator)>,
        active: &mut u64,
    ) -> Result<(Plan, Option<usize>), ApiError> {
        let stamp = Timestamp(now);
        match existing {
            Some((at, mut indicator)) => {
                if !sees_all(caller) && indicator.created_by != caller.app_id {
                    return Err(ApiError::new(
                        ErrorCode::DisallowedOperation,
                        format!(
                            "Indicator {} ({} {}) was created by another application; Ti.ReadWrite changes only the indicators of its own application (Ti.ReadWrite.All changes all)",
                            indicator.id, indicator.indicator_type, indicator.indicator_value
                        ),
                        "indicator owned by another app",
                    ));
                }
                let was_active = is_active(&indicator, now);
                let will_be_active = v.expiration.is_none_or(|t| t > now);
                if !was_active && will_be_active {
                    if *active >= MAX_ACTIVE_INDICATORS {
                        return Err(cap_reached());
                    }
                    *active += 1;
                }
                // `application` is honoured only on create (documented).
                indicator.action = v.action;
                indicator.title = v.title;
                indicator.description = v.description;
                indicator.expiration_time = v.expiration.map(Timestamp);
                indicator.severity = v.severity;
                indicator.recommended_actions = v.recommended_actions;
                indicator.rbac_group_names = v.rbac_group_names;
                indicator.rbac_group_ids = rbac_group_ids;
                indicator.educate_url = v.educate_url;
                indicator.generate_alert = v.generate_alert;
                if v.external_id.is_some() {
                    indicator.external_id = v.external_id;
                }
                indicator.last_updated_by = Some(caller.app_id.clone());
                indicator.last_update_time = stamp;
                let position = (at != usize::MAX).then_some(at);
                let plan = match position {
                    // Still new: it keeps being a creation (its id is assigned later).
                    Some(_) if indicator.id.is_empty() => Plan::Create(indicator),
                    _ => Plan::Update(indicator),
                };
                Ok((plan, position))
            }
            None => {
                if *active >= MAX_ACTIVE_INDICATORS {
                    return Err(cap_reached());
                }
                *active += 1;
                Ok((
                    Plan::Create(Indicator {
                        id: String::new(),
                        indicator_value: v.value,
                        indicator_type: v.kind,
                        application: v.application,
                        action: v.action,
                        external_id: v.external_id,
                        source_type: IndicatorSourceType::AadApp,
                        created_by_source: Some(app_name.to_string()),
                        created_by: caller.app_id.clone(),
                        created_by_display_name: Some(app_name.to_string()),
                        last_updated_by: None,
                        creation_time_date_time_utc: stamp,
                        expiration_time: v.expiration.map(Timestamp),
                        last_update_time: stamp,
                        severity: v.severity,
                        title: v.title,
                        description: v.description,
                        recommended_actions: v.recommended_actions,
                        rbac_group_names: v.rbac_group_names,
                        rbac_group_ids,
                        generate_alert: v.generate_alert,
                        educate_url: v.educate_url,
                    }),
                    None,
                ))
            }
        }
    }

    fn find_by_value(&self, tenant_id: &str, kind: IndicatorType, value: &str) -> DomainResult<Option<Indicator>> {
        let query = narrowed(
            &narrowed(&Query::default(), text_eq(&INDICATORS, "indicatorValue", value)),
            text_eq(&INDICATORS, "indicatorType", kind.as_str()),
        );
        let docs = self.store.query_docs(INDICATOR_TABLE, tenant_id, &query, 0, 1)?;
        Ok(docs
            .into_iter()
            .next()
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(StoreError::from)?)
    }

    /// The stored indicators with these ids that the caller may see (others are left out).
    fn visible_by_ids(&self, caller: &Principal, ids: &[String]) -> DomainResult<Vec<Indicator>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = narrowed(&Query::default(), text_in(&INDICATORS, "id", ids.to_vec()));
        if !sees_all(caller) {
            query = narrowed(&query, text_eq(&INDICATORS, "createdBy", &caller.app_id));
        }
        let docs = self
            .store
            .query_docs(INDICATOR_TABLE, &caller.tenant_id, &query, 0, ids.len() as u64)?;
        Ok(docs
            .iter()
            .map(|d| serde_json::from_str(d))
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)?)
    }

    /// `DELETE /api/indicators/{id}`. Another app's indicator is not found for a `Ti.ReadWrite` caller.
    pub fn delete_indicator(&self, caller: &Principal, id: &str) -> DomainResult<()> {
        caller.require_any(ROLES)?;
        let _section = self.tenant_section(&caller.tenant_id)?;
        if self.visible_by_ids(caller, &[id.to_string()])?.is_empty() {
            return Err(ApiError::resource_not_found("Indicator", id).into());
        }
        self.store
            .delete_docs(INDICATOR_TABLE, &caller.tenant_id, &[id.to_string()])?;
        Ok(())
    }

    /// `POST /api/indicators/BatchDelete`: 1–500 numeric ids, all or nothing (every id must exist
    /// and be visible to the caller before any is deleted); repeated ids count once.
    pub fn batch_delete_indicators(&self, caller: &Principal, ids: &[String]) -> DomainResult<()> {
        caller.require_any(ROLES)?;
        if ids.is_empty() {
            return Err(ApiError::bad_request(
                format!("IndicatorIds is empty; give between 1 and {MAX_BATCH_DELETE} indicator ids"),
                "empty indicator batch delete",
            )
            .into());
        }
        if ids.len() > MAX_BATCH_DELETE {
            return Err(ApiError::batch_too_large(ids.len(), MAX_BATCH_DELETE).into());
        }
        let invalid: Vec<&str> = ids
            .iter()
            .filter(|id| id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()))
            .map(String::as_str)
            .collect();
        if !invalid.is_empty() {
            return Err(ApiError::bad_request(
                format!(
                    "Invalid indicator ids: {}; indicator ids are numbers such as \"995\"",
                    quoted_list(&invalid)
                ),
                "non-numeric indicator id",
            )
            .into());
        }
        let mut unique: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(id) {
                unique.push(id.clone());
            }
        }
        let _section = self.tenant_section(&caller.tenant_id)?;
        let found = self.visible_by_ids(caller, &unique)?;
        let missing: Vec<&str> = unique
            .iter()
            .filter(|id| !found.iter().any(|i| &i.id == *id))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::new(
                ErrorCode::ResourceNotFound,
                format!(
                    "Indicators {} were not found; nothing was deleted",
                    quoted_list(&missing)
                ),
                "indicator lookup",
            )
            .into());
        }
        self.store.delete_docs(INDICATOR_TABLE, &caller.tenant_id, &unique)?;
        Ok(())
    }
}

/// `"1", "2", …` for messages, at most ten named.
fn quoted_list(items: &[&str]) -> String {
    const SHOWN: usize = 10;
    let mut out: Vec<String> = items
        .iter()
        .take(SHOWN)
        .map(|i| format!("\"{}\"", validate::shown(i)))
        .collect();
    if items.len() > SHOWN {
        out.push(format!("and {} more", items.len() - SHOWN));
    }
    out.join(", ")
}

/// Device-group names → ids, from the groups of the tenant's machines, looked up once per call.
#[derive(Default)]
struct GroupResolver {
    known: HashMap<String, Option<String>>,
}

impl GroupResolver {
    fn ids(&mut self, core: &Core, tenant_id: &str, names: &[String]) -> DomainResult<Result<Vec<String>, ApiError>> {
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            let key = name.to_lowercase();
            if !self.known.contains_key(&key) {
                let id = core
                    .store
                    .find_doc(MACHINE_TABLE, tenant_id, "rbac_group_name", name, true)?
                    .map(|doc| serde_json::from_str::<Machine>(&doc))
                    .transpose()
                    .map_err(StoreError::from)?
                    .map(|m| m.rbac_group_id.to_string());
                self.known.insert(key.clone(), id);
            }
            match self.known.get(&key).cloned().flatten() {
                Some(id) => ids.push(id),
                None => {
                    return Ok(Err(ApiError::invalid_input(
                        format!("rbacGroupNames '{name}'; the tenant has no device group of that name"),
                        "unknown device group",
                    )))
                }
            }
        }
        Ok(Ok(ids))
    }
}
