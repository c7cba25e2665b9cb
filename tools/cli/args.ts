/**
 * Argument parsing and checking for the command-line tools: --key value, --key=value, --flag.
 * Every error names the option, the value given and what is allowed, so a typo never runs a
 * different job than the one asked for (issue 11 item 13).
 */
import { readFileSync } from 'node:fs';
import { type Plan, validatePlan } from '../../src/plan/plan';

export class ArgError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgError';
  }
}

export type ArgSpec =
  | 'string'
  | 'number'
  | 'boolean'
  /** an integer in [min, max] */
  | { int: readonly [min: number, max: number] }
  /** one of the listed words */
  | { oneOf: readonly string[] };

export type ArgValues = Record<string, string | number | boolean | undefined>;

/** Specs the entry points share (eval, study, bench). */
export const BACKEND_ARG: ArgSpec = { oneOf: ['auto', 'webgpu', 'cpu'] };
/** images to score: at least 1 (the engine caps it at the set's size) */
export const LIMIT_ARG: ArgSpec = { int: [1, 1_000_000] };
/** CPU worker threads */
export const THREADS_ARG: ArgSpec = { int: [1, 64] };

export function describeSpec(spec: ArgSpec): string {
  if (spec === 'string') return 'a value';
  if (spec === 'number') return 'a number';
  if (spec === 'boolean') return 'no value (a flag)';
  if ('int' in spec) return `an integer from ${spec.int[0]} to ${spec.int[1]}`;
  return `one of ${spec.oneOf.join(', ')}`;
}

/** Check one value against its spec; the error names --name, the value and what is allowed. */
export function checkArg(name: string, raw: string, spec: ArgSpec): string | number {
  const bad = (why: string) => new ArgError(`--${name}: ${why}; expected ${describeSpec(spec)}`);
  if (spec === 'string' || spec === 'boolean') return raw;
  if (typeof spec === 'object' && 'oneOf' in spec) {
    if (!spec.oneOf.includes(raw)) throw bad(`'${raw}' is not allowed`);
    return raw;
  }
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(n)) throw bad(`'${raw}' is not a number`);
  if (spec === 'number') return n;
  if (!Number.isInteger(n)) throw bad(`${raw} is not a whole number`);
  if (n < spec.int[0] || n > spec.int[1]) throw bad(`${raw} is out of range`);
  return n;
}

export function parseArgs(argv: string[], spec: Record<string, ArgSpec>): ArgValues {
  const known = () =>
    Object.entries(spec)
      .map(([k, s]) => `--${k}${s === 'boolean' ? '' : ` <${describeSpec(s)}>`}`)
      .join(', ');
  const out: ArgValues = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') continue;
    if (!a.startsWith('--')) throw new ArgError(`unexpected argument '${a}' (options start with --; known: ${known()})`);
    const eq = a.indexOf('=');
    const key = eq < 0 ? a.slice(2) : a.slice(2, eq);
    const inline = eq < 0 ? undefined : a.slice(eq + 1);
    const type = spec[key];
    if (!type) throw new ArgError(`unknown option --${key} (known: ${known()})`);
    if (key in out) throw new ArgError(`--${key} is given twice`);
    if (type === 'boolean') {
      if (inline !== undefined && inline !== 'true' && inline !== 'false')
        throw new ArgError(`--${key} is a flag: give it alone (or =true / =false), not '${inline}'`);
      out[key] = inline !== 'false';
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined || (inline === undefined && v.startsWith('--')))
      throw new ArgError(`--${key} needs a value: ${describeSpec(type)}`);
    out[key] = checkArg(key, v, type);
  }
  return out;
}

/** parseArgs over this process's arguments; a bad argument prints `tool: message` and exits 2. */
export function cliArgs(tool: string, spec: Record<string, ArgSpec>): ArgValues {
  try {
    return parseArgs(process.argv.slice(2), spec);
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    console.error(`${tool}: ${e.message}`);
    process.exit(2);
  }
}

/** Read a JSON file given by --<flag>; errors name the flag and the file. */
export function readJsonArg(flag: string, path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ArgError(`--${flag} ${path}: cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ArgError(`--${flag} ${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** The plan in a JSON file given by --<flag>, validated; errors name the flag, the file and the field. */
export function readPlanArg(flag: string, path: string): Plan {
  const json = readJsonArg(flag, path);
  try {
    return validatePlan(json);
  } catch (e) {
    throw new ArgError(`--${flag} ${path}: ${(e as Error).message}`);
  }
}
