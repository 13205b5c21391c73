-- The initial schema. Migrations are applied in file-name order inside one transaction by
-- src/migrate.ts; never edit a migration that has shipped, add a new file instead.

-- Documents as tenants' applications store them. One row per document; each change of content
-- (or a delete) bumps `version`, and the pipeline's messages name the version they carry.
CREATE TABLE documents (
  id             text PRIMARY KEY,
  tenant_id      text NOT NULL,
  -- where the document came from (e.g. a file path); when set, it identifies the document
  -- within its tenant, so ingesting the same source twice updates one row
  source         text,
  title          text NOT NULL DEFAULT '',
  mime_type      text NOT NULL,
  version        integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  content        bytea NOT NULL,
  content_sha256 text NOT NULL,
  deleted_at     timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX documents_tenant_source_key ON documents (tenant_id, source) WHERE source IS NOT NULL;
CREATE INDEX documents_tenant_idx ON documents (tenant_id);

-- One row per document version, written only by the status service.
CREATE TABLE document_status (
  tenant_id      text NOT NULL,
  document_id    text NOT NULL,
  version        integer NOT NULL CHECK (version >= 1),
  state          text NOT NULL CONSTRAINT document_status_state_check
                   CHECK (state IN ('queued', 'fetching', 'chunked', 'embedding', 'storing', 'completed', 'failed', 'deleted')),
  stage          text NOT NULL,
  total_chunks   integer CHECK (total_chunks >= 0),
  total_batches  integer CHECK (total_batches >= 0),
  stored_chunks  integer NOT NULL DEFAULT 0 CHECK (stored_chunks >= 0),
  error_code     text,
  error_message  text,
  error_stage    text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, document_id, version)
);

-- The status service's record of the batches it has counted, so a replayed "stored" event does
-- not count its chunks twice.
CREATE TABLE status_batches (
  tenant_id      text NOT NULL,
  document_id    text NOT NULL,
  version        integer NOT NULL,
  batch_index    integer NOT NULL CHECK (batch_index >= 0),
  chunks         integer NOT NULL CHECK (chunks >= 0),
  PRIMARY KEY (tenant_id, document_id, version, batch_index)
);

-- The store service's record of the batches it has written, to know when a version is complete
-- (every batch up to total_batches, which arrives with the last batch) and only then delete the
-- older versions' vectors.
CREATE TABLE stored_batches (
  tenant_id      text NOT NULL,
  document_id    text NOT NULL,
  version        integer NOT NULL,
  batch_index    integer NOT NULL CHECK (batch_index >= 0),
  chunks         integer NOT NULL CHECK (chunks >= 0),
  total_batches  integer CHECK (total_batches >= 1),
  stored_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, document_id, version, batch_index)
);

-- The store service's latest completed version and delete tombstone per document, so a late or
-- replayed batch of an older version (or of a deleted document) is not written back.
CREATE TABLE vector_versions (
  tenant_id          text NOT NULL,
  document_id        text NOT NULL,
  completed_version  integer,
  deleted_version    integer,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, document_id)
);

-- Vectors by chunk content hash, so unchanged chunks of a new version are not embedded again.
-- Per tenant: one tenant's content never answers another tenant's request.
CREATE TABLE embedding_cache (
  tenant_id      text NOT NULL,
  model          text NOT NULL,
  dimension      integer NOT NULL CHECK (dimension >= 1),
  content_hash   text NOT NULL,
  -- little-endian float32, as in the messages
  vector         bytea NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, model, dimension, content_hash)
);
