-- Documents uploaded by tenants and the extraction jobs that process them.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE documents (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     TEXT        NOT NULL,
    filename      TEXT        NOT NULL,
    content_type  TEXT        NOT NULL,
    content_hash  TEXT        NOT NULL,
    body          BYTEA       NOT NULL,
    revision      INTEGER     NOT NULL DEFAULT 1,
    status        TEXT        NOT NULL DEFAULT 'uploaded'
                  CHECK (status IN ('uploaded', 'queued', 'extracted', 'failed')),
    fields        JSONB       NOT NULL DEFAULT '{}'::jsonb,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX documents_tenant_idx ON documents (tenant_id, created_at DESC);

CREATE TABLE jobs (
    id            BIGSERIAL PRIMARY KEY,
    document_id   UUID        NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    revision      INTEGER     NOT NULL,
    status        TEXT        NOT NULL DEFAULT 'pending',
    attempts      INTEGER     NOT NULL DEFAULT 0,
    last_error    TEXT,
    claimed_by    TEXT,
    claimed_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX jobs_document_idx ON jobs (document_id);
CREATE INDEX jobs_pending_idx ON jobs (created_at) WHERE status = 'pending';
