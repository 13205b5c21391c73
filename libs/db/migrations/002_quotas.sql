-- Budgets shared by every replica of a service: fixed one-minute windows of requests and tokens
-- (the embedding provider's RPM and TPM limits hold for the whole deployment, not per replica).
create table rate_windows (
  key text not null,
  window_start timestamptz not null,
  used bigint not null default 0 check (used >= 0),
  primary key (key, window_start)
);


-- Reserves one request of `tokens` tokens in the current minute under both limits (a null limit is
-- no limit), all or nothing. Returns 0 when reserved, else the milliseconds until the next window.
create function docintel_reserve(p_key text, p_rpm bigint, p_tpm bigint, p_tokens bigint) returns integer
language plpgsql as $$
declare
  v_window timestamptz := date_trunc('minute', now());
  v_wait integer := greatest(1, (extract(epoch from (v_window + interval '1 minute' - now())) * 1000)::integer);
  v_used bigint;
begin
  if p_rpm is not null then
    insert into rate_windows (key, window_start, used) values (p_key || ':requests', v_window, 0)
      on conflict do nothing;
    select used into v_used from rate_windows where key = p_key || ':requests' and window_start = v_window for update;
    if v_used + 1 > p_rpm then return v_wait; end if;
  end if;
  if p_tpm is not null then
    insert into rate_windows (key, window_start, used) values (p_key || ':tokens', v_window, 0)
      on conflict do nothing;
    select used into v_used from rate_windows where key = p_key || ':tokens' and window_start = v_window for update;
    -- A single request larger than the whole budget still goes alone into an empty window.
    if v_used > 0 and v_used + p_tokens > p_tpm then return v_wait; end if;
    update rate_windows set used = used + p_tokens where key = p_key || ':tokens' and window_start = v_window;
  end if;
  if p_rpm is not null then
    update rate_windows set used = used + 1 where key = p_key || ':requests' and window_start = v_window;
  end if;
  delete from rate_windows where window_start < v_window - interval '1 hour';
  return 0;
end;
$$;
