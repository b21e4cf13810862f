/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: it throws on
 * anything a Prometheus server would refuse to ingest (a malformed line, a sample of an undeclared
 * family, a series given twice, histogram buckets that are not cumulative or lack `+Inf`).
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family: its TYPE and HELP lines and its samples. */
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

const isNameStart = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === ':';
const isNameChar = (c: string) => isNameStart(c) || (c >= '0' && c <= '9');

/** Parses a whole exposition into its families, by name; throws naming the line at the first problem. */
export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`;
    try {
      if (line.trim() === '') return;
      if (line.startsWith('#')) return readComment(line, families);
      const sample = readSample(line);
      const family = familyOf(sample.name, families);
      if (!family) throw new Error(`sample of an undeclared family`);
      const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
      if (seen.has(key)) throw new Error('the same series twice');
      seen.add(key);
      family.samples.push(sample);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`, { cause: err });
    }
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** The value of the one sample of `name` whose labels are exactly `labels`; undefined when there is none. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = familyOf(name, families);
  const want = JSON.stringify(Object.entries(labels).sort());
  const match = family?.samples.find(
    (s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want,
  );
  return match?.value;
}

/** Every sample of `name` (a family's own samples, or its `_bucket`, `_sum`, `_count`). */
export function samplesOf(families: Map<string, Family>, name: string): Sample[] {
  return familyOf(name, families)?.samples.filter((s) => s.name === name) ?? [];
}

function familyOf(sampleName: string, families: Map<string, Family>): Family | undefined {
  const own = families.get(sampleName);
  if (own) return own;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const family = families.get(sampleName.slice(0, -suffix.length));
    if (family && (family.type === 'histogram' || family.type === 'summary')) return family;
  }
  return undefined;
}

function readComment(line: string, families: Map<string, Family>): void {
  const parts = line.split(' ');
  if (parts[1] !== 'HELP' && parts[1] !== 'TYPE') return; // other comments are allowed
  const name = parts[2] ?? '';
  checkName(name);
  const rest = parts.slice(3).join(' ');
  let family = families.get(name);
  if (parts[1] === 'TYPE') {
    if (!TYPES.has(rest)) throw new Error(`unknown type "${rest}"`);
    if (family && family.samples.length > 0) throw new Error("TYPE after the family's samples");
    if (family?.type !== undefined && family.type !== 'untyped') throw new Error('a second TYPE line');
  }
  family ??= { name, type: 'untyped', help: '', samples: [] };
  if (parts[1] === 'TYPE') family.type = rest as Family['type'];
  else family.help = rest;
  families.set(name, family);
}

function checkName(name: string): void {
  if (name === '' || !isNameStart(name[0]!) || ![...name].every(isNameChar))
    throw new Error(`invalid metric name "${name}"`);
}

/** Reads `name{label="value",...} value [timestamp]`. */
function readSample(line: string): Sample {
  let i = 0;
  while (i < line.length && isNameChar(line[i]!)) i++;
  const name = line.slice(0, i);
  checkName(name);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const start = i;
      while (i < line.length && isNameChar(line[i]!) && line[i] !== ':') i++;
      const label = line.slice(start, i);
      if (label === '' || !isNameStart(label[0]!) || label.startsWith('__'))
        throw new Error(`invalid label name "${label}"`);
      if (line.slice(i, i + 2) !== '="') throw new Error(`expected =" after ${label}`);
      i += 2;
      let value = '';
      for (;;) {
        const c = line[i++];
        if (c === undefined) throw new Error('unterminated label value');
        if (c === '"') break;
        if (c !== '\\') {
          value += c;
          continue;
        }
        const escaped = line[i++];
        if (escaped === 'n') value += '\n';
        else if (escaped === '\\' || escaped === '"') value += escaped;
        else throw new Error(`invalid escape \\${escaped ?? ''}`);
      }
      if (Object.hasOwn(labels, label)) throw new Error(`label ${label} twice`);
      labels[label] = value;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error('expected , or } after a label');
    }
    i++;
  }
  if (line[i] !== ' ') throw new Error('expected a space before the value');
  const fields = line.slice(i + 1).split(' ');
  if (fields.length > 2 || (fields.length === 2 && !/^-?\d+$/.test(fields[1]!)))
    throw new Error('expected a value and at most a timestamp');
  return { name, labels, value: readValue(fields[0]!) };
}

function readValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new Error(`invalid value "${text}"`);
  return value;
}

/** Buckets per label set are cumulative, end with +Inf, and +Inf equals `_count`. */
function checkHistogram(family: Family): void {
  const series = new Map<string, { les: number[]; counts: number[]; count?: number }>();
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(
      Object.entries(labels)
        .filter(([k]) => k !== 'le')
        .sort(),
    );
  for (const s of family.samples) {
    const entry = series.get(keyOf(s.labels)) ?? { les: [], counts: [] };
    series.set(keyOf(s.labels), entry);
    if (s.name === `${family.name}_bucket`) {
      const le = s.labels['le'];
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.les.push(readValue(le));
      entry.counts.push(s.value);
    } else if (s.name === `${family.name}_count`) entry.count = s.value;
  }
  for (const [key, { les, counts, count }] of series) {
    const where = `${family.name}${key}`;
    if (les.at(-1) !== Infinity) throw new Error(`${where}: no +Inf bucket`);
    for (let i = 1; i < les.length; i++) {
      if (les[i]! <= les[i - 1]!) throw new Error(`${where}: buckets not in order`);
      if (counts[i]! < counts[i - 1]!) throw new Error(`${where}: buckets not cumulative`);
    }
    if (counts.at(-1) !== count) throw new Error(`${where}: +Inf bucket differs from _count`);
  }
}
