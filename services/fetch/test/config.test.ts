import { ConfigError } from '@docintel/core';
import { loadFetchConfig } from '../src/config';
import { chunkingFor } from '../src/handler';

describe('loadFetchConfig', () => {
  it('defaults to recursive chunks of 256 tokens overlapping by 32', () => {
    expect(loadFetchConfig({})).toEqual({
      chunking: { strategy: 'recursive', size: 256, overlap: 32 },
      batchMaxChunks: 32,
      batchMaxChars: 200_000,
      maxDocumentBytes: 50 * 1024 * 1024,
      flushBytes: 1024 * 1024,
      parsePool: { workers: 2, memoryMb: 512, timeoutMs: 30_000 },
      limits: { maxExtractedChars: 64 * 1024 * 1024, maxDecompressedBytes: 128 * 1024 * 1024, maxDecompressionRatio: 100 },
      minChunkContentChars: 16,
    });
    expect(loadFetchConfig({ MIN_CHUNK_CONTENT_CHARS: '0' }).minChunkContentChars).toBe(0);
    expect(loadFetchConfig({ CHUNK_STRATEGY: 'fixed', CHUNK_SIZE: '512', CHUNK_OVERLAP: '64' }).chunking).toEqual({ strategy: 'fixed', size: 512, overlap: 64 });
    expect(
      loadFetchConfig({
        PARSE_WORKERS: '4',
        PARSE_MEMORY_MB: '1024',
        PARSE_TIMEOUT_MS: '5000',
        MAX_EXTRACTED_CHARS: '1000000',
        MAX_DECOMPRESSED_BYTES: '1048576',
        MAX_DECOMPRESSION_RATIO: '20',
      }),
    ).toMatchObject({
      parsePool: { workers: 4, memoryMb: 1024, timeoutMs: 5000 },
      limits: { maxExtractedChars: 1_000_000, maxDecompressedBytes: 1_048_576, maxDecompressionRatio: 20 },
    });
    // A small size alone keeps the default overlap within it.
    expect(loadFetchConfig({ CHUNK_SIZE: '40' }).chunking).toEqual({ strategy: 'recursive', size: 40, overlap: 20 });
  });

  it.each([
    [{ CHUNK_STRATEGY: 'semantic' }, 'CHUNK_STRATEGY'],
    [{ CHUNK_SIZE: '8' }, 'CHUNK_SIZE'],
    [{ CHUNK_SIZE: 'big' }, 'CHUNK_SIZE'],
    [{ CHUNK_SIZE: '100', CHUNK_OVERLAP: '100' }, 'CHUNK_OVERLAP'],
    [{ CHUNK_STRATEGY: 'fixed', CHUNK_SIZE: '100', CHUNK_OVERLAP: '51' }, 'CHUNK_OVERLAP'],
    [{ FETCH_FLUSH_BYTES: '10' }, 'FETCH_FLUSH_BYTES'],
    [{ MIN_CHUNK_CONTENT_CHARS: '-1' }, 'MIN_CHUNK_CONTENT_CHARS'],
    [{ MIN_CHUNK_CONTENT_CHARS: '1001' }, 'MIN_CHUNK_CONTENT_CHARS'],
    [{ PARSE_WORKERS: '0' }, 'PARSE_WORKERS'],
    [{ PARSE_MEMORY_MB: '64' }, 'PARSE_MEMORY_MB'],
    [{ PARSE_MEMORY_MB: '1.5' }, 'PARSE_MEMORY_MB'],
    [{ PARSE_TIMEOUT_MS: '10' }, 'PARSE_TIMEOUT_MS'],
    [{ MAX_EXTRACTED_CHARS: '0' }, 'MAX_EXTRACTED_CHARS'],
    [{ MAX_DECOMPRESSED_BYTES: 'lots' }, 'MAX_DECOMPRESSED_BYTES'],
    [{ MAX_DECOMPRESSION_RATIO: '0' }, 'MAX_DECOMPRESSION_RATIO'],
  ])('rejects %j naming %s', (env, variable) => {
    let error: unknown;
    try {
      loadFetchConfig(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message.startsWith(`${variable}: `)).toBe(true);
  });
});

describe('chunkingFor', () => {
  const defaults = { strategy: 'recursive' as const, size: 256, overlap: 32 };

  it('lays the request over the defaults', () => {
    expect(chunkingFor(defaults, undefined)).toEqual(defaults);
    expect(chunkingFor(defaults, { strategy: 'fixed' })).toEqual({ strategy: 'fixed', size: 256, overlap: 32 });
    expect(chunkingFor(defaults, { size: 40 })).toEqual({ strategy: 'recursive', size: 40, overlap: 20 });
    expect(chunkingFor(defaults, { size: 40, overlap: 30 })).toEqual({ strategy: 'recursive', size: 40, overlap: 30 });
  });

  it('rejects a combination that does not fit, naming the field', () => {
    let error: unknown;
    try {
      chunkingFor(defaults, { strategy: 'fixed', size: 40, overlap: 30 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'INVALID_OPTIONS', details: { field: 'overlap' } });
  });
});
