-- Extraction output, one row per finished job.

CREATE TABLE results (
    id            BIGSERIAL PRIMARY KEY,
    document_id   UUID        NOT NULL,
    job_id        BIGINT      NOT NULL,
    provider_ref  TEXT        NOT NULL,
    confidence    REAL        NOT NULL,
    line_items    INTEGER     NOT NULL DEFAULT 0,
    payload       JSONB       NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX results_job_idx ON results (job_id);
CREATE INDEX results_document_idx ON results (document_id, created_at DESC);
