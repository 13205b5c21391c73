/**
 * The metric names a PromQL expression selects. Not a parser: it removes what can hold a name that
 * is not a metric (strings, label matchers, ranges, `by (...)` lists, numbers, durations), then takes
 * every identifier that is not a function call or a keyword. Good enough for the expressions we write,
 * and it errs towards finding too many names (which fails a test) rather than too few.
 */
const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset',
  'inf', 'nan', 'Inf', 'NaN',
]);

export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/(?<![\w$])\d+(?:\.\d+)?(?:e[+-]?\d+|ms|s|m|h|d|w|y)?(?!\w)/gi, ' ')
    // Grafana's variables ($__rate_interval, $service) outside of matchers and ranges.
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const rest = stripped.slice(match.index + match[0].length);
    if (/^\s*\(/.test(rest) || KEYWORDS.has(match[0])) continue;
    names.add(match[0]);
  }
  return [...names];
}
