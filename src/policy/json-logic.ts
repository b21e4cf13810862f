import jsonLogic from 'json-logic-js';
import { globMatch } from '../registry/glob.js';
import { contains, realFolder, realTargets } from '../util/real-path.js';

/** A problem found while compiling an expression; `path` points inside it, e.g. `and[1].===`. */
export interface LogicProblem {
  path: string;
  message: string;
}

/** An expression that passed every compile-time check. */
export interface CompiledLogic {
  /** Evaluates against an input made by `freezeInput`; may throw on data errors (callers deny). */
  evaluate(input: object): unknown;
}

/** Operators a rule may use. Anything else (`log`, `method`, `reduce`, loose `==`) is refused at load. */
export const ALLOWED_OPERATORS = [
  'var',
  'missing',
  'missing_some',
  'if',
  '?:',
  '===',
  '!==',
  '!',
  '!!',
  'and',
  'or',
  '<',
  '<=',
  '>',
  '>=',
  'in',
  'cat',
  'substr',
  'min',
  'max',
  '+',
  '-',
  '*',
  '/',
  '%',
  'map',
  'filter',
  'all',
  'some',
  'none',
  'merge',
  'starts_with',
  'ends_with',
  'glob',
  'path_within',
] as const;

const ALLOWED = new Set<string>(ALLOWED_OPERATORS);
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);
const DEFAULT_MAX_DEPTH = 24;

/**
 * `var` that reads own properties only. json-logic-js's own walks the prototype chain
 * (`{"var":"constructor"}` returns `Object`); this one returns the default instead.
 */
function ownVar(this: unknown, key?: unknown, fallback?: unknown): unknown {
  const notFound = fallback === undefined ? null : fallback;
  if (key === undefined || key === null || key === '') return this;
  // eslint-disable-next-line @typescript-eslint/no-this-alias -- json-logic passes the data as `this`
  let data: unknown = this;
  for (const segment of String(key).split('.')) {
    if (data === null || typeof data !== 'object' || !Object.hasOwn(data, segment)) return notFound;
    data = (data as Record<string, unknown>)[segment];
    if (data === undefined) return notFound;
  }
  return data;
}

/**
 * `path_within: [path, folders, roots?]`: true when every real path `path` may land on (symlinks
 * followed, see real-path.ts) lies in one of `folders` (also compared by real path). A relative path
 * resolves against `roots`, the calling server's own folders (`server.roots`), as the server resolves
 * it; without them it is never within. A path that cannot be resolved safely is never within.
 */
function pathWithin(p: unknown, folders: unknown, roots?: unknown): boolean {
  const bases = roots === undefined || roots === null ? [] : Array.isArray(roots) ? roots : [roots];
  const targets = realTargets(p, bases as string[]);
  if (!targets) return false;
  const real = (Array.isArray(folders) ? folders : [folders]).map(realFolder);
  return targets.every((t) => real.some((f) => f !== undefined && contains(f, t)));
}

jsonLogic.add_operation('var', ownVar);
jsonLogic.add_operation(
  'starts_with',
  (s: unknown, prefix: unknown) =>
    typeof s === 'string' && typeof prefix === 'string' && s.startsWith(prefix),
);
jsonLogic.add_operation(
  'ends_with',
  (s: unknown, suffix: unknown) => typeof s === 'string' && typeof suffix === 'string' && s.endsWith(suffix),
);
jsonLogic.add_operation(
  'glob',
  (s: unknown, pattern: unknown) =>
    typeof s === 'string' && typeof pattern === 'string' && globMatch(pattern, s),
);
jsonLogic.add_operation('path_within', pathWithin);

/** Checks an expression against the allow-list, `var` rules and depth cap, reporting every problem. */
export function compileLogic(
  expr: unknown,
  opts: { maxDepth?: number } = {},
): { ok: true; logic: CompiledLogic } | { ok: false; problems: LogicProblem[] } {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const problems: LogicProblem[] = [];
  const join = (base: string, part: string) =>
    base ? `${base}${part.startsWith('[') ? '' : '.'}${part}` : part;

  const check = (node: unknown, at: string, depth: number): void => {
    if (depth > maxDepth) {
      problems.push({ path: at, message: `nesting deeper than ${maxDepth}` });
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, i) => check(item, `${at}[${i}]`, depth + 1));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const keys = Object.keys(node);
    if (keys.length !== 1) {
      problems.push({
        path: at,
        message: `an operator object has exactly one key (found ${keys.length}); json-logic has no object literals`,
      });
      return;
    }
    const op = keys[0] as string;
    const here = join(at, op);
    const args: unknown = (node as Record<string, unknown>)[op];
    if (op === '==' || op === '!=') {
      problems.push({ path: here, message: `loose "${op}" is not allowed; use "${op}=" (strict)` });
      return;
    }
    if (!ALLOWED.has(op)) {
      problems.push({ path: here, message: `operator "${op}" is not allowed` });
      return;
    }
    if (op === 'var') {
      checkVar(args, here);
      return;
    }
    check(args, here, depth + 1);
  };

  const checkVar = (args: unknown, at: string): void => {
    const [key, fallback] = Array.isArray(args) ? args : [args];
    if (Array.isArray(args) && args.length > 2)
      problems.push({ path: at, message: 'var takes a path and an optional default' });
    if (typeof key !== 'string' && typeof key !== 'number') {
      problems.push({ path: at, message: 'var takes a literal path (computed paths are not allowed)' });
      return;
    }
    const bad = String(key)
      .split('.')
      .find((s) => FORBIDDEN_SEGMENTS.has(s));
    if (bad) problems.push({ path: at, message: `var path segment "${bad}" is not allowed` });
    if (fallback !== undefined) check(fallback, `${at}[1]`, 1);
  };

  check(expr, '', 0);
  if (problems.length > 0) return { ok: false, problems };
  const logic = structuredClone(expr) as Parameters<typeof jsonLogic.apply>[0];
  return { ok: true, logic: { evaluate: (input) => jsonLogic.apply(logic, input) } };
}

/**
 * A deep copy of JSON-like data with null-prototype objects, frozen throughout, so that a rule can
 * neither reach inherited properties nor change what later rules see.
 */
export function freezeInput(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  // Already produced by this function (frozen, and null-prototype unless an array): share it.
  if (Object.isFrozen(value) && (Array.isArray(value) || Object.getPrototypeOf(value) === null)) return value;
  if (Array.isArray(value)) return Object.freeze(value.map(freezeInput));
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = freezeInput(v);
  return Object.freeze(out);
}

/** json-logic truthiness (empty arrays are false), for rule conditions. */
export function truthy(value: unknown): boolean {
  return jsonLogic.truthy(value);
}
