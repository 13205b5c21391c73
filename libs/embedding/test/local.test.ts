import { type DocintelError, PermanentError } from '@docintel/core';
import { LocalEmbedder, createEmbeddingProvider } from '@docintel/embedding';

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}

function norm(v: Float32Array): number {
  return Math.sqrt(cosine(v, v));
}

/** Pseudo-random prose of about `length` characters, reproducible from `seed`. */
function prose(seed: number, length: number): string {
  const words = ['ledger', 'harbour', 'quartz', 'meadow', 'invoice', 'turbine', 'saffron', 'glacier', 'contract', 'lantern', 'orbit', 'pepper'];
  let state = seed;
  let text = '';
  while (text.length < length) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    text += `${words[state % words.length]!} `;
  }
  return text.slice(0, length);
}

describe('LocalEmbedder', () => {
  it('has the documented defaults', () => {
    const embedder = new LocalEmbedder();
    expect(embedder).toMatchObject({ model: 'docintel-local-v1', dimension: 384, maxBatchSize: 100 });
  });

  it('embeds 100 texts of 1,000 characters into unit vectors of the configured dimension', async () => {
    const embedder = new LocalEmbedder();
    const texts = Array.from({ length: 100 }, (_, i) => prose(i + 1, 1000));
    const vectors = await embedder.embed(texts, 'document');
    expect(vectors).toHaveLength(100);
    for (const vector of vectors) {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector).toHaveLength(384);
      expect(norm(vector)).toBeCloseTo(1, 5);
    }
  });

  it('is deterministic across instances and ignores case', async () => {
    const [a] = await new LocalEmbedder({ dimension: 64 }).embed(['Quarterly Revenue grew'], 'document');
    const [b] = await new LocalEmbedder({ dimension: 64 }).embed(['quarterly revenue GREW'], 'query');
    expect(Array.from(a!)).toEqual(Array.from(b!));
  });

  it('ranks the text that contains a distinctive phrase of the query first', async () => {
    const embedder = new LocalEmbedder();
    const corpus = [
      'The cafeteria menu for next week features lentil soup, roasted vegetables and apple pie.',
      'Kafka consumers commit offsets only after the produced messages are durable.',
      'Our travel policy reimburses economy flights booked at least fourteen days in advance.',
      'The heat exchanger of turbine seven showed hairline cracks during the spring inspection.',
      'Quarterly revenue grew by twelve percent, driven by subscriptions in the Nordic region.',
      'Remember to water the office plants on Fridays and to lock the back door.',
    ];
    const documents = await embedder.embed(corpus, 'document');
    const [query] = await embedder.embed(['which turbine had hairline cracks?'], 'query');
    const scores = documents.map((vector) => cosine(query!, vector));
    const best = scores.indexOf(Math.max(...scores));
    expect(best).toBe(3);
    const others = scores.filter((_, i) => i !== 3);
    expect(scores[3]!).toBeGreaterThan(Math.max(...others) + 0.1);
  });

  it('gives featureless texts a unit vector instead of a zero vector', async () => {
    const vectors = await new LocalEmbedder({ dimension: 16 }).embed(['', '  ...  !!'], 'document');
    for (const vector of vectors) expect(norm(vector)).toBeCloseTo(1, 6);
  });

  it('handles non-Latin scripts and astral characters', async () => {
    const embedder = new LocalEmbedder({ dimension: 128 });
    const [a, b, c] = await embedder.embed(['Größe des Straßennetzes 🚲', 'größe des straßennetzes', '東京の天気予報'], 'document');
    expect(cosine(a!, b!)).toBeGreaterThan(0.5);
    expect(Math.abs(cosine(a!, c!))).toBeLessThan(0.3);
    expect(norm(c!)).toBeCloseTo(1, 5);
  });

  it('counts requests and texts', async () => {
    const embedder = new LocalEmbedder();
    await embedder.embed(['a', 'b'], 'document');
    await embedder.embed(['c'], 'query');
    expect(embedder.stats).toEqual({ requests: 2, texts: 3 });
  });

  it('rejects a request larger than maxBatchSize', async () => {
    const embedder = new LocalEmbedder({ maxBatchSize: 2 });
    await expect(embedder.embed(['a', 'b', 'c'], 'document')).rejects.toThrow(/maxBatchSize is 2/);
    expect(embedder.stats.requests).toBe(0);
  });

  it.each([
    [{ dimension: 0 }, 'dimension'],
    [{ dimension: 12.5 }, 'dimension'],
    [{ maxBatchSize: -1 }, 'maxBatchSize'],
    [{ maxBatchSize: Number.NaN }, 'maxBatchSize'],
  ])('rejects invalid options %j naming the option', (options, name) => {
    const create = (): LocalEmbedder => new LocalEmbedder(options);
    expect(create).toThrow(PermanentError);
    expect(create).toThrow(new RegExp(`option ${name} `));
    try {
      create();
    } catch (error) {
      expect((error as DocintelError).code).toBe('INVALID_OPTIONS');
    }
  });
});

describe('createEmbeddingProvider', () => {
  it('builds the local embedder with the given options', () => {
    const provider = createEmbeddingProvider({ provider: 'local', dimension: 32, maxBatchSize: 7 });
    expect(provider).toBeInstanceOf(LocalEmbedder);
    expect(provider).toMatchObject({ dimension: 32, maxBatchSize: 7 });
  });

  it('rejects an unknown provider', () => {
    expect(() => createEmbeddingProvider({ provider: 'nope' } as never)).toThrow(/unknown embedding provider nope/);
  });
});
