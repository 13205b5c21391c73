import { ConfigError, DocintelError, PermanentError, TransientError, classifyError } from '@docintel/core';

describe('classifyError', () => {
  it('takes the decision of the first DocintelError in the cause chain', () => {
    const inner = new PermanentError('TENANT_MISMATCH', 'document d1 belongs to another tenant');
    const outer = new Error('while fetching', { cause: inner });
    expect(classifyError(outer)).toEqual({
      code: 'TENANT_MISMATCH',
      retriable: false,
      errorClass: 'PermanentError',
      message: 'document d1 belongs to another tenant',
    });
  });

  it('treats an error we did not raise as internal and retriable', () => {
    expect(classifyError(new TypeError('x is undefined'))).toMatchObject({ code: 'INTERNAL', retriable: true, errorClass: 'TypeError' });
    expect(classifyError('a string')).toMatchObject({ code: 'INTERNAL', message: 'a string' });
  });

  it('keeps the retry flag of transient errors', () => {
    const error = new TransientError('EMBEDDING_FAILED', 'provider answered 503');
    expect(error).toBeInstanceOf(DocintelError);
    expect(classifyError(error).retriable).toBe(true);
  });

  it('names the variable in configuration errors', () => {
    expect(new ConfigError('KAFKA_BROKERS', 'is required').message).toBe('KAFKA_BROKERS: is required');
  });
});

describe('classifyError with a PostgreSQL server error', () => {
  /** The shape of pg's DatabaseError: the server's text, a SQLSTATE and a severity. */
  function serverError(code: string, message: string, fields: Record<string, string> = {}): Error {
    return Object.assign(new Error(message), { name: 'error', code, severity: 'ERROR', ...fields });
  }

  it('says what failed in our own words, keeping the server text for logs only', () => {
    const error = serverError('22003', 'value "2147483648" is out of range for type integer');
    expect(classifyError(error)).toEqual({
      code: 'INTERNAL',
      retriable: true,
      errorClass: 'DatabaseError',
      message: 'database error 22003 (numeric_value_out_of_range) while handling the message',
      logDetail: 'value "2147483648" is out of range for type integer',
    });
  });

  it('finds it in the cause chain, names table and constraint, and completes the sentence with the action', () => {
    const inner = serverError('23505', 'duplicate key value violates unique constraint "documents_pkey"', { table: 'documents', constraint: 'documents_pkey' });
    const classified = classifyError(new Error(`wrapped: ${inner.message}`, { cause: inner }), 'storing a batch');
    expect(classified.message).toBe('database error 23505 (unique_violation) on table documents, constraint documents_pkey while storing a batch');
    expect(classified.message).not.toMatch(/duplicate key/);
  });

  it('names a code it does not list by its class', () => {
    expect(classifyError(serverError('22P99', 'weird')).message).toBe('database error 22P99 (data_exception) while handling the message');
  });

  it('keeps the decision of a DocintelError around it', () => {
    const error = new TransientError('DATABASE_UNAVAILABLE', 'database unavailable while reading', { cause: serverError('57P01', 'terminating connection') });
    expect(classifyError(error)).toMatchObject({ code: 'DATABASE_UNAVAILABLE', message: 'database unavailable while reading' });
  });
});
