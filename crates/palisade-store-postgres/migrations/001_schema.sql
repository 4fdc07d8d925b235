-- PostgreSQL's schema, the same tables and indexes as SQLite's migrations 1-6: text is COLLATE "C"
-- (byte order, as the OData layer sorts), date-times are Unix microseconds (BIGINT), Booleans 0/1;
-- case-insensitive keys are unique indexes on lower(..).

CREATE TABLE meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT COLLATE "C" NOT NULL);
CREATE TABLE tenants (
    id TEXT COLLATE "C" PRIMARY KEY,
    domain TEXT COLLATE "C" NOT NULL,
    doc TEXT COLLATE "C" NOT NULL
);
-- Domains are unique compared case-insensitively (ASCII, as SQLite's NOCASE).
CREATE UNIQUE INDEX tenants_domain ON tenants (lower(domain COLLATE "C"));
CREATE TABLE apps (
    client_id TEXT COLLATE "C" PRIMARY KEY,
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    doc TEXT COLLATE "C" NOT NULL
);
-- Entity tables keep the entity as the API serialises it in `doc` (last, so reading the other
-- columns never touches its overflow pages), plus one column per filterable scalar property
-- (date-times as Unix microseconds). Secondary indexes end with the key, so a filtered page is
-- found and ordered inside the index before any document is read.
CREATE TABLE machines (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    computer_dns_name TEXT COLLATE "C",
    first_seen BIGINT,
    last_seen BIGINT,
    os_platform TEXT COLLATE "C",
    version TEXT COLLATE "C",
    last_ip_address TEXT COLLATE "C",
    last_external_ip_address TEXT COLLATE "C",
    agent_version TEXT COLLATE "C",
    os_build BIGINT,
    health_status TEXT COLLATE "C",
    device_value TEXT COLLATE "C",
    rbac_group_id BIGINT,
    rbac_group_name TEXT COLLATE "C",
    risk_score TEXT COLLATE "C",
    exposure_level TEXT COLLATE "C",
    is_aad_joined BIGINT,
    aad_device_id TEXT COLLATE "C",
    onboarding_status TEXT COLLATE "C",
    doc TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX machines_key ON machines (tenant_id, id);
CREATE INDEX machines_by_name ON machines (tenant_id, computer_dns_name, id);
CREATE INDEX machines_by_name_nocase ON machines (tenant_id, lower(computer_dns_name COLLATE "C"), id);
CREATE INDEX machines_by_last_seen ON machines (tenant_id, last_seen, id);
CREATE INDEX machines_by_health ON machines (tenant_id, health_status, id);
CREATE INDEX machines_by_platform ON machines (tenant_id, os_platform, id);
CREATE INDEX machines_by_risk ON machines (tenant_id, risk_score, id);
CREATE INDEX machines_by_exposure ON machines (tenant_id, exposure_level, id);
CREATE INDEX machines_by_ip ON machines (tenant_id, last_ip_address, id);
CREATE INDEX machines_by_group ON machines (tenant_id, rbac_group_id, id);
CREATE TABLE error_journal (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target TEXT COLLATE "C" NOT NULL UNIQUE,
    doc TEXT COLLATE "C" NOT NULL
);


CREATE TABLE alerts (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    incident_id BIGINT,
    investigation_id BIGINT,
    assigned_to TEXT COLLATE "C",
    severity TEXT COLLATE "C",
    status TEXT COLLATE "C",
    classification TEXT COLLATE "C",
    determination TEXT COLLATE "C",
    investigation_state TEXT COLLATE "C",
    detection_source TEXT COLLATE "C",
    detector_id TEXT COLLATE "C",
    category TEXT COLLATE "C",
    threat_family_name TEXT COLLATE "C",
    title TEXT COLLATE "C",
    alert_creation_time BIGINT,
    first_event_time BIGINT,
    last_event_time BIGINT,
    last_update_time BIGINT,
    resolved_time BIGINT,
    machine_id TEXT COLLATE "C",
    computer_dns_name TEXT COLLATE "C",
    rbac_group_name TEXT COLLATE "C",
    aad_tenant_id TEXT COLLATE "C",
    threat_name TEXT COLLATE "C",
    doc TEXT COLLATE "C" NOT NULL
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
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    type TEXT COLLATE "C",
    title TEXT COLLATE "C",
    requestor TEXT COLLATE "C",
    status TEXT COLLATE "C",
    machine_id TEXT COLLATE "C",
    computer_dns_name TEXT COLLATE "C",
    creation_date_time_utc BIGINT,
    last_update_date_time_utc BIGINT,
    cancellation_requestor TEXT COLLATE "C",
    cancellation_date_time_utc BIGINT,
    scope TEXT COLLATE "C",
    external_id TEXT COLLATE "C",
    request_source TEXT COLLATE "C",
    doc TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX machine_actions_key ON machine_actions (tenant_id, id);
CREATE INDEX machine_actions_by_machine ON machine_actions (tenant_id, machine_id, id);
CREATE INDEX machine_actions_by_status ON machine_actions (tenant_id, status, id);
CREATE INDEX machine_actions_by_creation ON machine_actions (tenant_id, creation_date_time_utc, id);
CREATE TABLE investigations (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    start_time BIGINT,
    end_time BIGINT,
    cancelled_by TEXT COLLATE "C",
    state TEXT COLLATE "C",
    machine_id TEXT COLLATE "C",
    computer_dns_name TEXT COLLATE "C",
    triggering_alert_id TEXT COLLATE "C",
    doc TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX investigations_key ON investigations (tenant_id, id);
CREATE INDEX investigations_by_alert ON investigations (tenant_id, triggering_alert_id, id);
CREATE INDEX investigations_by_machine ON investigations (tenant_id, machine_id, id);
CREATE INDEX investigations_by_start ON investigations (tenant_id, start_time, id);
CREATE TABLE users (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    account_name TEXT COLLATE "C",
    account_domain TEXT COLLATE "C",
    account_sid TEXT COLLATE "C",
    first_seen BIGINT,
    last_seen BIGINT,
    is_domain_admin BIGINT,
    doc TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX users_key ON users (tenant_id, id);
CREATE INDEX users_by_name ON users (tenant_id, lower(account_name COLLATE "C"), id);
-- Relations the entities do not carry as queryable properties (a machine's logged-on users,
-- a user's alerts, ...): `kind` names the relation, keys are compared exactly.
CREATE TABLE links (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind TEXT COLLATE "C" NOT NULL,
    from_key TEXT COLLATE "C" NOT NULL,
    to_key TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, kind, from_key, to_key)
);


CREATE TABLE indicators (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    indicator_value TEXT COLLATE "C",
    indicator_type TEXT COLLATE "C",
    application TEXT COLLATE "C",
    action TEXT COLLATE "C",
    external_id TEXT COLLATE "C",
    source_type TEXT COLLATE "C",
    created_by_source TEXT COLLATE "C",
    created_by TEXT COLLATE "C",
    created_by_display_name TEXT COLLATE "C",
    last_updated_by TEXT COLLATE "C",
    creation_time BIGINT,
    expiration_time BIGINT,
    last_update_time BIGINT,
    severity TEXT COLLATE "C",
    title TEXT COLLATE "C",
    generate_alert BIGINT,
    doc TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX indicators_key ON indicators (tenant_id, id);
-- Submit-or-update finds an indicator by its value and type.
CREATE INDEX indicators_by_value ON indicators (tenant_id, indicator_value, indicator_type, id);
CREATE INDEX indicators_by_creator ON indicators (tenant_id, created_by, id);
CREATE INDEX indicators_by_expiration ON indicators (tenant_id, expiration_time, id);
CREATE INDEX indicators_by_update ON indicators (tenant_id, last_update_time, id);


-- The live-response library's metadata (the files themselves live in the data directory).
-- Names are unique per tenant case-insensitively, as file names are on the Windows devices the
-- library serves.
CREATE TABLE library_files (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    file_name TEXT COLLATE "C" NOT NULL,
    sha256 TEXT COLLATE "C",
    description TEXT COLLATE "C",
    creation_time BIGINT,
    last_updated_time BIGINT,
    created_by TEXT COLLATE "C",
    has_parameters BIGINT,
    doc TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX library_files_key ON library_files (tenant_id, lower(file_name COLLATE "C"));


-- What alerts' evidence observed: one row per (kind, key, alert), with when and on which machine,
-- so file, IP and domain lookups and their statistics read index ranges, never alert documents.
CREATE TABLE observations (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    alert_id TEXT COLLATE "C" NOT NULL,
    machine_id TEXT COLLATE "C" NOT NULL,
    seen BIGINT NOT NULL,
    file_name TEXT COLLATE "C",
    sha1 TEXT COLLATE "C",
    sha256 TEXT COLLATE "C",
    threat_name TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, kind, key, alert_id)
);
CREATE INDEX observations_by_time ON observations (tenant_id, kind, key, seen, machine_id);
CREATE INDEX observations_by_machine ON observations (tenant_id, kind, key, machine_id);
-- IP statistics also count the machines that report an address as their own.
CREATE INDEX machines_by_external_ip ON machines (tenant_id, last_external_ip_address, id);


-- Rate-limit windows (RateWindowStore): one row per (tenant, app, API, window length), counted by
-- one upsert, so processes sharing the database share the limits. Not tenant data: a tenant's reset
-- leaves them, as it leaves the in-process counters.
CREATE TABLE rate_windows (
    key TEXT COLLATE "C" PRIMARY KEY,
    opened_ms BIGINT NOT NULL,
    count BIGINT NOT NULL
);
