//! Advanced hunting (`xdr-api-and-auth.md` §2.7, §2.5): run a KQL query over the tenant's hunting
//! tables. Served as `POST /api/advancedhunting/run` (Defender XDR, `AdvancedHunting.Read.All`) and
//! `POST /api/advancedqueries/run` (Defender for Endpoint, `AdvancedQuery.Read.All`); Graph's
//! `runHuntingQuery` builds on [`Core::hunting_query`], which knows no roles and no JSON.
//!
//! The engine is `palisade_kql`; the rows come from the store's [`HuntingStore`] through
//! [`StoreSource`], which adapts it to the engine's `RowSource`: small limited scans are read in one
//! call, others stream from a scan thread through a bounded channel (so a `take` stops the scan and
//! no table is ever held whole), and `summarize` push-downs become store aggregates.
//!
//! Limits (documented): 100,000 result rows (more are cut, and the result says so), data of the
//! last 30 days on the emulator's clock, 3 minutes per query ("Query exceeded the timeout
//! period."), a result-size cap ("Query execution has exceeded the allowed result size..."). The
//! call rate (45/min, 1,500/h per tenant) is counted by the rate-limit layer.
//!
//! Errors: every refusal of the query text (lex, parse, semantic: the plan step) is `BadRequest`
//! with the engine's message in Kusto's words, its position as Kusto writes it (`on line [l,c]`),
//! and a cause naming the step that failed; the timeout, the memory budget and the result size are
//! `BadRequest` too (the docs give their messages but no status; 400 is the status the result-size
//! error was observed with). A store failure is `InternalServerError`.

use crate::{Core, DomainError, DomainResult};
use palisade_auth::Principal;
use palisade_error::{ApiError, ErrorCode};
use palisade_kql::{
    AggregateRequest, Catalog, ErrorKind, ExecOptions, KqlError, QueryResult, Row, RowIter, RowSource, ScanRequest,
    SourceError, Stage, Value,
};
use palisade_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// Roles of `POST /api/advancedhunting/run` (Defender XDR).
pub const XDR_HUNTING_ROLES: &[&str] = &["AdvancedHunting.Read.All"];
/// Roles of `POST /api/advancedqueries/run` (Defender for Endpoint).
pub const MDE_HUNTING_ROLES: &[&str] = &["AdvancedQuery.Read.All"];

/// The documented message of a result over the size cap (observed with HTTP 400).
pub const RESULT_SIZE_MESSAGE: &str =
    "Query execution has exceeded the allowed result size. Optimize your query by limiting the number of results and try again.";

/// The limits one query runs under (the server's settings, lowered in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HuntingSettings {
    /// Result rows kept; more are cut (documented: 100,000).
    pub max_rows: usize,
    /// Per-query timeout (documented: 3 minutes).
    pub timeout: Duration,
    /// Largest result, in bytes of its JSON rendering (about 124 MB observed).
    pub max_result_bytes: usize,
    /// How far back the tables reach, on the emulator's clock (documented: 30 days).
    pub lookback: Duration,
}

impl Default for HuntingSettings {
    fn default() -> Self {
        HuntingSettings {
            max_rows: 100_000,
            timeout: Duration::from_secs(180),
            max_result_bytes: 124 * 1024 * 1024,
            lookback: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Above this limit a scan streams through a thread; at or below it, it is read in one call.
const READ_AT_ONCE: u64 = 10_000;
/// Rows per message from a scan thread.
const CHUNK: usize = 512;
/// Chunks a scan thread may run ahead of the engine.
const CHANNEL_CHUNKS: usize = 4;

/// The tenant's hunting tables as the engine's `RowSource`.
pub struct StoreSource {
    store: Arc<dyn Store>,
    tenant_id: String,
}

impl StoreSource {
    pub fn new(store: Arc<dyn Store>, tenant_id: &str) -> Self {
        StoreSource {
            store,
            tenant_id: tenant_id.to_string(),
        }
    }
}

fn source_error(e: palisade_store::StoreError) -> SourceError {
    SourceError(e.to_string())
}

impl RowSource for StoreSource {
    fn scan(&self, request: &ScanRequest) -> Result<RowIter<'_>, SourceError> {
        if request.limit.is_some_and(|n| n <= READ_AT_ONCE) {
            let mut rows = Vec::new();
            self.store
                .scan_hunting(&self.tenant_id, request, &mut |row| {
                    rows.push(row);
                    true
                })
                .map_err(source_error)?;
            return Ok(Box::new(rows.into_iter().map(Ok)));
        }
        let (send, receive) = std::sync::mpsc::sync_channel::<Result<Vec<Row>, SourceError>>(CHANNEL_CHUNKS);
        let store = self.store.clone();
        let tenant_id = self.tenant_id.clone();
        let request = request.clone();
        std::thread::Builder::new()
            .name("hunting-scan".into())
            .spawn(move || {
                let mut chunk = Vec::with_capacity(CHUNK);
                let mut reader_gone = false;
                let scanned = store.scan_hunting(&tenant_id, &request, &mut |row| {
                    chunk.push(row);
                    if chunk.len() >= CHUNK {
                        // The engine dropped the iterator (a `take` is satisfied): stop reading.
                        reader_gone = send.send(Ok(std::mem::take(&mut chunk))).is_err();
                    }
                    !reader_gone
                });
                let last = match scanned {
                    Ok(()) => Ok(chunk),
                    Err(e) => Err(source_error(e)),
                };
                if !reader_gone {
                    let _ = send.send(last);
                }
            })
            .map_err(|e| SourceError(format!("scan thread: {e}")))?;
        Ok(Box::new(receive.into_iter().flat_map(|chunk| {
            let rows: Box<dyn Iterator<Item = Result<Row, SourceError>>> = match chunk {
                Ok(rows) => Box::new(rows.into_iter().map(Ok)),
                Err(e) => Box::new(std::iter::once(Err(e))),
            };
            rows
        })))
    }

    fn aggregate(&self, request: &AggregateRequest) -> Result<Option<RowIter<'_>>, SourceError> {
        let groups = self
            .store
            .aggregate_hunting(&self.tenant_id, request)
            .map_err(source_error)?;
        Ok(groups.map(|rows| Box::new(rows.into_iter().map(Ok)) as RowIter<'_>))
    }
}

/// A refused or failed query as the contract's error: the message in Kusto's words with its
/// position, the cause naming the step (lex, parse, semantic = plan, execution) for the trace.
pub fn query_error(e: &KqlError) -> ApiError {
    let step = match e.stage {
        Stage::Lex => "lex",
        Stage::Parse => "parse",
        Stage::Semantic => "semantic (plan)",
        Stage::Execution => "execution",
    };
    let cause = format!(
        "advanced hunting: the KQL {step} step refused the query at line {}, column {} ({:?}): {}",
        e.line, e.column, e.kind, e.message
    );
    match e.kind {
        ErrorKind::Source | ErrorKind::Runtime if e.stage == Stage::Execution => ApiError::internal(cause),
        _ => {
            let mut message = e.message.clone();
            if e.line > 0 && !message.contains(" on line [") {
                message.push_str(&format!(" on line [{},{}]", e.line, e.column));
            }
            ApiError::new(ErrorCode::BadRequest, message, cause)
        }
    }
}

/// About how many bytes the result's JSON takes (`Schema` and `Results`): what the size cap
/// measures, without rendering it.
pub fn estimated_json_bytes(result: &QueryResult) -> usize {
    let names: usize = result.columns.iter().map(|(n, _)| n.len() + 4).sum();
    result
        .rows
        .iter()
        .map(|row| {
            names
                + row
                    .iter()
                    .map(|v| match v {
                        Value::Null => 4,
                        Value::Bool(_) => 5,
                        Value::Long(_) | Value::Real(_) => 12,
                        Value::DateTime(_) => 30,
                        Value::TimeSpan(_) => 18,
                        Value::String(s) | Value::Guid(s) => s.len() + 2,
                        Value::Dynamic(j) => j.to_string().len(),
                    })
                    .sum::<usize>()
        })
        .sum()
}

impl Core {
    /// The hunting limits this server runs queries under.
    pub fn hunting_settings(&self) -> HuntingSettings {
        self.settings.hunting
    }

    /// Runs a KQL query over a tenant's hunting tables under `settings`: the neutral operation
    /// every hunting API (Defender XDR, Defender for Endpoint, Graph) renders in its own shape. No
    /// role check: callers check their API's roles first.
    pub fn hunting_query(&self, tenant_id: &str, query: &str, settings: &HuntingSettings) -> DomainResult<QueryResult> {
        self.hunting_query_until(tenant_id, query, settings, self.clock.now())
    }

    /// [`Core::hunting_query`] with the window (`settings.lookback`) ending at `end` rather than
    /// now: Graph's `Timespan` can name a window in the past (`end` is also the query's `now()`).
    pub fn hunting_query_until(
        &self,
        tenant_id: &str,
        query: &str,
        settings: &HuntingSettings,
        end: chrono::DateTime<chrono::Utc>,
    ) -> DomainResult<QueryResult> {
        let compiled = palisade_kql::compile(query, Catalog::defender_hunting_shared())
            .map_err(|e| DomainError::Rule(query_error(&e)))?;
        let mut options = ExecOptions::hunting(end);
        options.max_rows = settings.max_rows;
        options.timeout = Some(settings.timeout);
        options.lookback = Some(settings.lookback);
        let source = StoreSource::new(self.store.clone(), tenant_id);
        let result = compiled
            .execute(&source, &options)
            .map_err(|e| DomainError::Rule(query_error(&e)))?;
        let bytes = estimated_json_bytes(&result);
        if bytes > settings.max_result_bytes {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                RESULT_SIZE_MESSAGE,
                format!(
                    "advanced hunting: the result of {} rows takes about {bytes} bytes, over the cap of {}",
                    result.rows.len(),
                    settings.max_result_bytes
                ),
            )
            .into());
        }
        if result.truncated {
            tracing::debug!(
                tenant_id,
                max_rows = settings.max_rows,
                "advanced hunting: result cut at the row limit"
            );
        }
        Ok(result)
    }

    /// `POST /api/advancedhunting/run` and `POST /api/advancedqueries/run`: the caller's roles
    /// (`roles`: [`XDR_HUNTING_ROLES`] or [`MDE_HUNTING_ROLES`]), then [`Core::hunting_query`] in
    /// the caller's tenant under the server's settings.
    pub fn run_hunting(&self, caller: &Principal, roles: &[&str], query: &str) -> DomainResult<QueryResult> {
        caller.require_any(roles)?;
        if query.trim().is_empty() {
            return Err(ApiError::missing_parameter("Query", Some("the query is empty")).into());
        }
        self.hunting_query(&caller.tenant_id, query, &self.settings.hunting)
    }
}
