/**
 * Names of PostgreSQL's SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html):
 * the codes the pipeline's statements can plausibly raise, and every class, so that any code gets
 * at least its class's name.
 */
const CONDITIONS: Record<string, string> = {
  '22001': 'string_data_right_truncation',
  '22003': 'numeric_value_out_of_range',
  '22007': 'invalid_datetime_format',
  '22008': 'datetime_field_overflow',
  '22012': 'division_by_zero',
  '22021': 'character_not_in_repertoire',
  '22P02': 'invalid_text_representation',
  '22P05': 'untranslatable_character',
  '23502': 'not_null_violation',
  '23503': 'foreign_key_violation',
  '23505': 'unique_violation',
  '23514': 'check_violation',
  '25P02': 'in_failed_sql_transaction',
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '42501': 'insufficient_privilege',
  '42601': 'syntax_error',
  '42703': 'undefined_column',
  '42883': 'undefined_function',
  '42P01': 'undefined_table',
  '53100': 'disk_full',
  '53200': 'out_of_memory',
  '53300': 'too_many_connections',
  '54000': 'program_limit_exceeded',
  '55P03': 'lock_not_available',
  '57014': 'query_canceled',
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
  'XX000': 'internal_error',
};

const CLASSES: Record<string, string> = {
  '00': 'successful_completion',
  '01': 'warning',
  '02': 'no_data',
  '03': 'sql_statement_not_yet_complete',
  '08': 'connection_exception',
  '09': 'triggered_action_exception',
  '0A': 'feature_not_supported',
  '0B': 'invalid_transaction_initiation',
  '0F': 'locator_exception',
  '0L': 'invalid_grantor',
  '0P': 'invalid_role_specification',
  '0Z': 'diagnostics_exception',
  '20': 'case_not_found',
  '21': 'cardinality_violation',
  '22': 'data_exception',
  '23': 'integrity_constraint_violation',
  '24': 'invalid_cursor_state',
  '25': 'invalid_transaction_state',
  '26': 'invalid_sql_statement_name',
  '27': 'triggered_data_change_violation',
  '28': 'invalid_authorization_specification',
  '2B': 'dependent_privilege_descriptors_still_exist',
  '2D': 'invalid_transaction_termination',
  '2F': 'sql_routine_exception',
  '34': 'invalid_cursor_name',
  '38': 'external_routine_exception',
  '39': 'external_routine_invocation_exception',
  '3B': 'savepoint_exception',
  '3D': 'invalid_catalog_name',
  '3F': 'invalid_schema_name',
  '40': 'transaction_rollback',
  '42': 'syntax_error_or_access_rule_violation',
  '44': 'with_check_option_violation',
  '53': 'insufficient_resources',
  '54': 'program_limit_exceeded',
  '55': 'object_not_in_prerequisite_state',
  '57': 'operator_intervention',
  '58': 'system_error',
  '72': 'snapshot_too_old',
  F0: 'config_file_error',
  HV: 'fdw_error',
  P0: 'plpgsql_error',
  XX: 'internal_error',
};

/** The condition name of a SQLSTATE, e.g. `numeric_value_out_of_range` for 22003; its class's name for a code not listed. */
export function sqlstateName(code: string): string {
  return CONDITIONS[code] ?? CLASSES[code.slice(0, 2)] ?? 'unknown_condition';
}

/** What a PostgreSQL server error (pg's `DatabaseError`) carries besides its text. */
export interface ServerError {
  /** SQLSTATE, five characters. */
  code: string;
  severity: string;
  table?: string;
  column?: string;
  constraint?: string;
}

/**
 * Whether `error` is an error the PostgreSQL server sent (pg's `DatabaseError`): a five-character
 * SQLSTATE `code` and a `severity`. Recognised by shape, so core needs no dependency on pg.
 */
export function isServerError(error: unknown): error is Error & ServerError {
  if (!(error instanceof Error)) return false;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string';
}

/**
 * A server error in our own words: its SQLSTATE, the condition's name and, when the server named
 * them, the table, column and constraint (names from our schema, never values). The server's own
 * text can quote the values of a row, so it belongs in logs only.
 */
export function describeServerError(error: ServerError, action: string): string {
  const where = [
    error.table ? `table ${error.table}` : undefined,
    error.column ? `column ${error.column}` : undefined,
    error.constraint ? `constraint ${error.constraint}` : undefined,
  ].filter((part) => part !== undefined);
  const on = where.length > 0 ? ` on ${where.join(', ')}` : '';
  return `database error ${error.code} (${sqlstateName(error.code)})${on} while ${action}`;
}
