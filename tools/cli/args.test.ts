import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ArgError, BACKEND_ARG, LIMIT_ARG, parseArgs, readPlanArg, THREADS_ARG } from './args';
import { fp32Plan } from '../../src/plan/plan';

// Issue 11 item 13: each bad argument is refused with a message naming the option and what is allowed.

const EVAL = {
  backend: BACKEND_ARG,
  set: { oneOf: ['test', 'val', 'all'] },
  limit: LIMIT_ARG,
  plan: 'string',
  cpu: 'boolean',
  threads: THREADS_ARG,
} as const;
const parse = (...argv: string[]) => parseArgs(argv, EVAL);

describe('CLI arguments', () => {
  test('good arguments parse, both --k v and --k=v', () => {
    expect(parse('--limit', '100', '--set=val', '--threads', '2', '--cpu', '--backend', 'webgpu')).toEqual({
      limit: 100,
      set: 'val',
      threads: 2,
      cpu: true,
      backend: 'webgpu',
    });
  });

  test.each([
    [['--limit', '0'], /--limit: 0 is out of range; expected an integer from 1 to/],
    [['--limit', '-5'], /--limit: -5 is out of range; expected an integer from 1/],
    [['--limit', '2.5'], /--limit: 2\.5 is not a whole number; expected an integer/],
    [['--limit', 'ten'], /--limit: 'ten' is not a number/],
    [['--limit'], /--limit needs a value: an integer from 1/],
    [['--limit', '--cpu'], /--limit needs a value/],
    [['--set', 'bogus'], /--set: 'bogus' is not allowed; expected one of test, val, all/],
    [['--backend', 'gpu'], /--backend: 'gpu' is not allowed; expected one of auto, webgpu, cpu/],
    [['--threads', '0'], /--threads: 0 is out of range; expected an integer from 1 to 64/],
    [['--threads', '1000'], /--threads: 1000 is out of range; expected an integer from 1 to 64/],
    [['--lmit', '5'], /unknown option --lmit \(known: --backend <one of auto, webgpu, cpu>, --set .*--limit/],
    [['--cpu=yes'], /--cpu is a flag/],
    [['limit'], /unexpected argument 'limit'/],
    [['--limit', '5', '--limit', '6'], /--limit is given twice/],
  ])('%j is refused', (argv, message) => {
    expect(() => parse(...argv)).toThrow(ArgError);
    expect(() => parse(...argv)).toThrow(message);
  });

  const dir = mkdtempSync(join(tmpdir(), 'qp-args-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('a plan file: unreadable, not JSON, or an invalid plan — the error names the file and the field', () => {
    const missing = join(dir, 'nope.json');
    expect(() => readPlanArg('plan', missing)).toThrow(`--plan ${missing}: cannot read the file (ENOENT)`);
    const notJson = join(dir, 'plan.txt');
    writeFileSync(notJson, 'bits: 8\n');
    expect(() => readPlanArg('plan', notJson)).toThrow(new RegExp(`--plan ${notJson}: not valid JSON`));
    const stringBits = join(dir, 'plan-string-bits.json');
    const p = fp32Plan() as unknown as { sites: { a: { bits: unknown } }[] };
    p.sites[3].a.bits = '8';
    writeFileSync(stringBits, JSON.stringify(p));
    expect(() => readPlanArg('plan', stringBits)).toThrow(
      new RegExp(`--plan ${stringBits}: plan.sites\\[3\\].a.bits: "8" is a string; expected a number`),
    );
    const good = join(dir, 'plan.json');
    writeFileSync(good, JSON.stringify(fp32Plan()));
    expect(readPlanArg('plan', good).sites).toHaveLength(38);
  });
});
