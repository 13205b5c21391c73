-- Embedding tokens spent per tenant and UTC day, for the optional daily budgets.
create table tenant_token_usage (
  tenant_id text not null,
  day date not null,
  tokens bigint not null default 0 check (tokens >= 0),
  primary key (tenant_id, day)
);

-- Messages set aside until a time (a tenant over its daily budget waits here, so the partition it
-- shares with other tenants goes on). The embed service puts them back on their topic when due.
create table parked_messages (
  id bigserial primary key,
  topic text not null,
  tenant_id text not null,
  message_key text,
  message_value bytea not null,
  headers jsonb not null default '{}',
  reason text not null,
  due_at timestamptz not null,
  parked_at timestamptz not null default now()
);
create index parked_messages_due on parked_messages (due_at);

-- Why a version is waiting, shown by `docintel status`; cleared when it moves on.
alter table document_status add column waiting_reason text;
alter table document_status add column waiting_until timestamptz;
