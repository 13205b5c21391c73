import { ConfigError, envBool, envEnum, envInt, envIntList, envList, envString } from '@docintel/core';

describe('config readers', () => {
  it('returns defaults for unset or blank variables', () => {
    expect(envInt({ N: '  ' }, 'N', 7)).toBe(7);
    expect(envString({}, 'S', 'x')).toBe('x');
    expect(envIntList({}, 'L', [1, 2])).toEqual([1, 2]);
  });

  it('parses values', () => {
    expect(envInt({ N: '42' }, 'N', 0)).toBe(42);
    expect(envBool({ B: 'yes' }, 'B', false)).toBe(true);
    expect(envIntList({ L: '5000, 30000,120000' }, 'L', [])).toEqual([5000, 30000, 120000]);
    expect(envList({ K: 'a:1, b:2' }, 'K', [])).toEqual(['a:1', 'b:2']);
    expect(envEnum({ E: 'lancedb' }, 'E', ['lancedb', 'pinecone'], 'pinecone')).toBe('lancedb');
  });

  it('names the variable and the bad value', () => {
    expect(() => envInt({ CHUNK_SIZE: 'big' }, 'CHUNK_SIZE', 1)).toThrow(new ConfigError('CHUNK_SIZE', 'must be a whole number, got "big"'));
    expect(() => envInt({ P: '0' }, 'P', 1, { min: 1 })).toThrow('P: must be at least 1, got 0');
    expect(() => envString({}, 'DATABASE_URL')).toThrow('DATABASE_URL: is required but not set');
    expect(() => envEnum({ E: 'x' }, 'E', ['a', 'b'], 'a')).toThrow('E: must be one of a, b, got "x"');
    expect(() => envBool({ B: 'maybe' }, 'B', true)).toThrow('B: must be true or false');
  });
});
