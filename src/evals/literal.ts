/**
 * A lenient reader for the argument literals agents write in transcripts: JSON, Python dict and list
 * literals (`{'a': True, 'b': None}`), tuples, and bare words. It never evaluates anything; it
 * returns `undefined` when the text is not one complete literal.
 */
export function parseLiteral(text: string): unknown {
  const reader = new LiteralReader(text);
  try {
    reader.skipSpace();
    const value = reader.value();
    reader.skipSpace();
    return reader.atEnd() ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the first complete literal at the start of `text` (after spaces) and returns it with the
 * rest of the text, or `undefined` when no literal starts there.
 */
export function readLeadingLiteral(text: string): { value: unknown; rest: string } | undefined {
  const reader = new LiteralReader(text);
  try {
    reader.skipSpace();
    const value = reader.value();
    return { value, rest: text.slice(reader.position) };
  } catch {
    return undefined;
  }
}

const MAX_DEPTH = 64;
const CLOSERS: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
const WORDS: Record<string, unknown> = {
  true: true,
  false: false,
  null: null,
  True: true,
  False: false,
  None: null,
};

class LiteralReader {
  position = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.position >= this.text.length;
  }

  skipSpace(): void {
    while (/\s/.test(this.text[this.position] ?? '')) this.position++;
  }

  value(): unknown {
    this.skipSpace();
    const ch = this.text[this.position];
    if (ch === undefined) throw new Error('unexpected end');
    if (ch === '{') return this.nested(() => this.object());
    if (ch === '[' || ch === '(') return this.nested(() => this.array(CLOSERS[ch] as string));
    if (ch === '"' || ch === "'") return this.string(ch);
    const number = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])/.exec(this.text.slice(this.position));
    if (number) {
      this.position += number[0].length;
      return Number(number[0]);
    }
    const word = /^[A-Za-z_][\w.-]*/.exec(this.text.slice(this.position));
    if (word) {
      this.position += word[0].length;
      return Object.hasOwn(WORDS, word[0]) ? WORDS[word[0]] : word[0];
    }
    throw new Error(`unexpected "${ch}"`);
  }

  private nested<T>(read: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new Error('nested too deeply');
    try {
      return read();
    } finally {
      this.depth--;
    }
  }

  private object(): Record<string, unknown> {
    // Null prototype: a `__proto__` key in the text becomes a member, not the object's prototype.
    const out = Object.create(null) as Record<string, unknown>;
    this.position++; // {
    for (;;) {
      this.skipSpace();
      if (this.text[this.position] === '}') {
        this.position++;
        return out;
      }
      const key = this.value();
      this.skipSpace();
      if (this.text[this.position] !== ':') throw new Error('expected ":"');
      this.position++;
      const value = this.value();
      if (typeof key === 'string' || typeof key === 'number') {
        Object.defineProperty(out, String(key), {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      this.skipSpace();
      if (this.text[this.position] === ',') this.position++;
      else if (this.text[this.position] !== '}') throw new Error('expected "," or "}"');
    }
  }

  private array(closer: string): unknown[] {
    const out: unknown[] = [];
    this.position++; // [ or (
    for (;;) {
      this.skipSpace();
      if (this.text[this.position] === closer) {
        this.position++;
        return out;
      }
      out.push(this.value());
      this.skipSpace();
      if (this.text[this.position] === ',') this.position++;
      else if (this.text[this.position] !== closer) throw new Error(`expected "," or "${closer}"`);
    }
  }

  private string(quote: string): string {
    let out = '';
    this.position++;
    for (;;) {
      const ch = this.text[this.position++];
      if (ch === undefined) throw new Error('unterminated string');
      if (ch === quote) return out;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const next = this.text[this.position++];
      if (next === undefined) throw new Error('unterminated string');
      if (next === 'n') out += '\n';
      else if (next === 't') out += '\t';
      else if (next === 'r') out += '\r';
      else if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.position, this.position + 4))) {
        out += String.fromCharCode(parseInt(this.text.slice(this.position, this.position + 4), 16));
        this.position += 4;
      } else out += next;
    }
  }
}
