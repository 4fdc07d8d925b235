//! The schema: migrations applied in order, `PRAGMA user_version` recording how many ran.

use crate::error::Result;
use rusqlite::Connection;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    domain TEXT NOT NULL UNIQUE COLLATE NOCASE,
    doc TEXT NOT NULL
);
CREATE TABLE apps (
    client_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    doc TEXT NOT NULL
);
-- Entity tables keep the entity as the API serialises it in `doc` (last, so reading the other
-- columns never touches its overflow pages), plus one column per filterable scalar property
-- (date-times as Unix microseconds). Secondary indexes end with the key, so a filtered page is
-- found and ordered inside the index before any document is read.
CREATE TABLE machines (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    computer_dns_name TEXT,
    first_seen INTEGER,
    last_seen INTEGER,
    os_platform TEXT,
    version TEXT,
    last_ip_address TEXT,
    last_external_ip_address TEXT,
    agent_version TEXT,
    os_build INTEGER,
    health_status TEXT,
    device_value TEXT,
    rbac_group_id INTEGER,
    rbac_group_name TEXT,
    risk_score TEXT,
    exposure_level TEXT,
    is_aad_joined INTEGER,
    aad_device_id TEXT,
    onboarding_status TEXT,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX machines_key ON machines (tenant_id, id);
CREATE INDEX machines_by_name ON machines (tenant_id, computer_dns_name, id);
CREATE INDEX machines_by_name_nocase ON machines (tenant_id, computer_dns_name COLLATE NOCASE, id);
CREATE INDEX machines_by_last_seen ON machines (tenant_id, last_seen, id);
CREATE INDEX machines_by_health ON machines (tenant_id, health_status, id);
CREATE INDEX machines_by_platform ON machines (tenant_id, os_platform, id);
CREATE INDEX machines_by_risk ON machines (tenant_id, risk_score, id);
CREATE INDEX machines_by_exposure ON machines (tenant_id, exposure_level, id);
CREATE INDEX machines_by_ip ON machines (tenant_id, last_ip_address, id);
CREATE INDEX machines_by_group ON machines (tenant_id, rbac_group_id, id);
CREATE TABLE error_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE alerts (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    incident_id INTEGER,
    investigation_id INTEGER,
    assigned_to TEXT,
    severity TEXT,
    status TEXT,
    classification TEXT,
    determination TEXT,
    investigation_state TEXT,
    detection_source TEXT,
    detector_id TEXT,
    category TEXT,
    threat_family_name TEXT,
    title TEXT,
    alert_creation_time INTEGER,
    first_event_time INTEGER,
    last_event_time INTEGER,
    last_update_time INTEGER,
    resolved_time INTEGER,
    machine_id TEXT,
    computer_dns_name TEXT,
    rbac_group_name TEXT,
    aad_tenant_id TEXT,
    threat_name TEXT,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX alerts_key ON alerts (tenant_id, id);
CREATE INDEX alerts_by_update ON alerts (tenant_id, last_update_time, id);
CREATE INDEX alerts_by_creation ON alerts (tenant_id, alert_creation_time, id);
CREATE INDEX alerts_by_machine ON alerts (tenant_id, machine_id, id);
CREATE INDEX alerts_by_incident ON alerts (tenant_id, incident_id, id);
CREATE INDEX alerts_by_investigation ON alerts (tenant_id, investigation_id, id);
CREATE INDEX alerts_by_status ON alerts (tenant_id, status, id);
CREATE INDEX alerts_by_severity ON alerts (tenant_id, severity, id);
CREATE INDEX alerts_by_category ON alerts (tenant_id, category, id);
CREATE INDEX alerts_by_assignee ON alerts (tenant_id, assigned_to, id);
CREATE TABLE machine_actions (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    type TEXT,
    title TEXT,
    requestor TEXT,
    status TEXT,
    machine_id TEXT,
    computer_dns_name TEXT,
    creation_date_time_utc INTEGER,
    last_update_date_time_utc INTEGER,
    cancellation_requestor TEXT,
    cancellation_date_time_utc INTEGER,
    scope TEXT,
    external_id TEXT,
    request_source TEXT,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX machine_actions_key ON machine_actions (tenant_id, id);
CREATE INDEX machine_actions_by_machine ON machine_actions (tenant_id, machine_id, id);
CREATE INDEX machine_actions_by_status ON machine_actions (tenant_id, status, id);
CREATE INDEX machine_actions_by_creation ON machine_actions (tenant_id, creation_date_time_utc, id);
CREATE TABLE investigations (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    start_time INTEGER,
    end_time INTEGER,
    cancelled_by TEXT,
    state TEXT,
    machine_id TEXT,
    computer_dns_name TEXT,
    triggering_alert_id TEXT,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX investigations_key ON investigations (tenant_id, id);
CREATE INDEX investigations_by_alert ON investigations (tenant_id, triggering_alert_id, id);
CREATE INDEX investigations_by_machine ON investigations (tenant_id, machine_id, id);
CREATE INDEX investigations_by_start ON investigations (tenant_id, start_time, id);
CREATE TABLE users (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    account_name TEXT,
    account_domain TEXT,
    account_sid TEXT,
    first_seen INTEGER,
    last_seen INTEGER,
    is_domain_admin INTEGER,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX users_key ON users (tenant_id, id);
CREATE INDEX users_by_name ON users (tenant_id, account_name COLLATE NOCASE, id);
-- Relations the entities do not carry as queryable properties (a machine's logged-on users,
-- a user's alerts, ...): `kind` names the relation, keys are compared exactly.
CREATE TABLE links (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    from_key TEXT NOT NULL,
    to_key TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, from_key, to_key)
) WITHOUT ROWID;
"#,
    r#"
CREATE TABLE indicators (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    indicator_value TEXT,
    indicator_type TEXT,
    application TEXT,
    action TEXT,
    external_id TEXT,
    source_type TEXT,
    created_by_source TEXT,
    created_by TEXT,
    created_by_display_name TEXT,
    last_updated_by TEXT,
    creation_time INTEGER,
    expiration_time INTEGER,
    last_update_time INTEGER,
    severity TEXT,
    title TEXT,
    generate_alert INTEGER,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX indicators_key ON indicators (tenant_id, id);
-- Submit-or-update finds an indicator by its value and type.
CREATE INDEX indicators_by_value ON indicators (tenant_id, indicator_value, indicator_type, id);
CREATE INDEX indicators_by_creator ON indicators (tenant_id, created_by, id);
CREATE INDEX indicators_by_expiration ON indicators (tenant_id, expiration_time, id);
CREATE INDEX indicators_by_update ON indicators (tenant_id, last_update_time, id);
"#,
    r#"
-- The live-response library's metadata (the files themselves live in the data directory).
-- Names are unique per tenant case-insensitively, as file names are on the Windows devices the
-- library serves.
CREATE TABLE library_files (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    file_name TEXT NOT NULL COLLATE NOCASE,
    sha256 TEXT,
    description TEXT,
    creation_time INTEGER,
    last_updated_time INTEGER,
    created_by TEXT,
    has_parameters INTEGER,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX library_files_key ON library_files (tenant_id, file_name);
"#,
    r#"
-- What alerts' evidence observed: one row per (kind, key, alert), with when and on which machine,
-- so file, IP and domain lookups and their statistics read index ranges, never alert documents.
CREATE TABLE observations (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    machine_id TEXT NOT NULL,
    seen INTEGER NOT NULL,
    file_name TEXT,
    sha1 TEXT,
    sha256 TEXT,
    threat_name TEXT,
    PRIMARY KEY (tenant_id, kind, key, alert_id)
) WITHOUT ROWID;
CREATE INDEX observations_by_time ON observations (tenant_id, kind, key, seen, machine_id);
CREATE INDEX observations_by_machine ON observations (tenant_id, kind, key, machine_id);
-- IP statistics also count the machines that report an address as their own.
CREATE INDEX machines_by_external_ip ON machines (tenant_id, last_external_ip_address, id);
"#,
    r#"
-- Rate-limit windows (RateWindowStore): one row per (tenant, app, API, window length), counted by
-- one upsert, so processes sharing the file share the limits. Not tenant data: a tenant's reset
-- leaves them, as it leaves the in-process counters.
CREATE TABLE rate_windows (
    key TEXT PRIMARY KEY,
    opened_ms INTEGER NOT NULL,
    count INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    // 7: store locks and library blobs (issue 12 calls it 11; here it is the next in the list).
    r#"
-- Named locks (LockStore): one row per lock taken, `holder` the taker's unique value, the lease
-- ending at `expires_ms` (Unix milliseconds of the system clock, not the emulator's).
CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
-- The live-response library's file contents (BlobStore), in the row of their metadata: written
-- in one transaction with it and deleted with it. After `doc`, so reading documents never reads
-- these pages.
ALTER TABLE library_files ADD COLUMN content BLOB;
"#,
    // 8: a number given to other work of this session; empty so that the incidents and hunting
    // tables keep numbers 9 and 10 whichever landed first.
    "-- 8: reserved",
    r#"
-- Defender XDR incidents (IncidentRecord; alerts stay in `alerts` and name their incident by
-- incident_id). Portable SQL: plain INTEGER/TEXT columns and indexes, as the other tables.
CREATE TABLE incidents (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    incident_id INTEGER NOT NULL,
    redirect_incident_id INTEGER,
    incident_name TEXT,
    created_time INTEGER,
    last_update_time INTEGER,
    assigned_to TEXT,
    classification TEXT,
    determination TEXT,
    status TEXT,
    severity TEXT,
    doc TEXT NOT NULL
);
CREATE UNIQUE INDEX incidents_key ON incidents (tenant_id, incident_id);
CREATE INDEX incidents_by_created ON incidents (tenant_id, created_time, incident_id);
CREATE INDEX incidents_by_update ON incidents (tenant_id, last_update_time, incident_id);
CREATE INDEX incidents_by_status ON incidents (tenant_id, status, incident_id);
CREATE INDEX incidents_by_assignee ON incidents (tenant_id, assigned_to, incident_id);
"#,
    crate::hunting::MIGRATION,
];

pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let applied: usize = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", n + 1)?;
    }
    tx.commit()?;
    Ok(())
}
