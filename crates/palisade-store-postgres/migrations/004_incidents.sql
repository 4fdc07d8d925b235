-- Defender XDR incidents, the table and indexes of SQLite's migration 9 (IncidentRecord; alerts stay
-- in `alerts` and name their incident by incident_id, a column migration 1 already has). Types as
-- in migration 1: integers and date-times BIGINT, text COLLATE "C" (the OData layer's byte order).
CREATE TABLE incidents (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    incident_id BIGINT NOT NULL,
    redirect_incident_id BIGINT,
    incident_name TEXT COLLATE "C",
    created_time BIGINT,
    last_update_time BIGINT,
    assigned_to TEXT COLLATE "C",
    classification TEXT COLLATE "C",
    determination TEXT COLLATE "C",
    status TEXT COLLATE "C",
    severity TEXT COLLATE "C",
    doc TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX incidents_key ON incidents (tenant_id, incident_id);
CREATE INDEX incidents_by_created ON incidents (tenant_id, created_time, incident_id);
CREATE INDEX incidents_by_update ON incidents (tenant_id, last_update_time, incident_id);
CREATE INDEX incidents_by_status ON incidents (tenant_id, status, incident_id);
CREATE INDEX incidents_by_assignee ON incidents (tenant_id, assigned_to, incident_id);
