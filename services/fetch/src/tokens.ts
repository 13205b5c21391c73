/**
 * The tokenizer approximation that chunk sizes are measured in. Real tokenizers differ by model
 * and are too slow to run over a 50 MB document, but they agree on rough rates: about 4
 * characters per token for Latin, Greek and Cyrillic text (and code), about one token per
 * character for CJK scripts. So:
 *
 * - a UTF-16 code unit below U+2E80 counts 1/4 token;
 * - a code unit at or above U+2E80 (CJK, kana, Hangul, fullwidth forms, and the two halves of an
 *   emoji's surrogate pair) counts 1 token;
 * - a text's token count is the sum, rounded up.
 *
 * Counts are kept in quarter tokens ("units") so that they add up exactly: the count of two
 * joined texts is the sum of their counts, which the chunkers rely on.
 */

/** Units (quarter tokens) per token. */
export const UNITS_PER_TOKEN = 4;

/** First code unit that counts a whole token: the CJK radicals block and everything above. */
const WIDE_FROM = 0x2e80;

/** The size of `text` in quarter tokens. */
export function unitsOf(text: string): number {
  let units = text.length;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= WIDE_FROM) units += UNITS_PER_TOKEN - 1;
  }
  return units;
}

/** The size of one code unit in quarter tokens. */
export function unitsOfCode(code: number): number {
  return code >= WIDE_FROM ? UNITS_PER_TOKEN : 1;
}

/** The approximate number of tokens of `text`, as documented above. */
export function countTokens(text: string): number {
  return Math.ceil(unitsOf(text) / UNITS_PER_TOKEN);
}
