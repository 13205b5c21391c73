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
