/** Arguments of npm run qat that need more than args.ts: built-in plans, the progressive schedule. */
import { ArgError } from './args';
import { uniformPlan, type Plan } from '../../src/plan/plan';
import type { Progressive } from '../../src/train/trainer';

const INT = (bits: 4 | 2) => ({ bits, granularity: 'tensor' as const, symmetric: false, range: 'static' as const });
export function builtinPlan(name: string): Plan | undefined {
  if (name === 'all-int4') return uniformPlan({ a: INT(4), b: INT(4) }, 'all 38 sites INT4 per-tensor asymmetric');
  if (name === 'all-int2') return uniformPlan({ a: INT(2), b: INT(2) }, 'all 38 sites INT2 per-tensor asymmetric');
  return undefined;
}

export interface ProgressiveArgs {
  progressive?: string;
  switch?: number;
  'per-site'?: number;
  order?: string;
  'switch-init'?: string;
}

/** --progressive from,to --switch k [--per-site e [--order sensitivity|index]] [--switch-init mse|carry] */
export function parseProgressive(a: ProgressiveArgs, plan: Plan, steps: number): Progressive | undefined {
  const raw = a.progressive;
  const sw = a.switch;
  if (raw === undefined) {
    for (const k of ['switch', 'per-site', 'order', 'switch-init'] as const)
      if (a[k] !== undefined) throw new ArgError(`--${k} needs --progressive from,to`);
    return undefined;
  }
  const m = /^(8|4|3|2),(8|4|3|2)$/.exec(raw.trim());
  if (!m) throw new ArgError(`--progressive: '${raw}' is not 'from,to' with widths 8, 4, 3 or 2 (e.g. 4,2)`);
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from <= to) throw new ArgError(`--progressive ${raw}: training goes from more bits to fewer (from > to)`);
  if (sw === undefined) throw new ArgError(`--progressive ${raw} needs --switch k (the step at which ${from} → ${to} bits)`);
  if (sw > steps) throw new ArgError(`--switch ${sw} is after the last step (--steps ${steps})`);
  if (!plan.sites.some((s) => s.a.bits === to || s.b.bits === to))
    throw new ArgError(`--progressive ${raw}: the plan has no ${to}-bit operand to train progressively`);
  const perSite = a['per-site'];
  if (a.order !== undefined && perSite === undefined)
    throw new ArgError('--order orders the sites of a site-by-site schedule: it needs --per-site e');
  const sites = plan.sites.filter((s) => s.a.bits === to || s.b.bits === to).length;
  if (perSite !== undefined && sw + (sites - 1) * perSite >= steps)
    throw new ArgError(
      `--per-site ${perSite}: the ${sites} sites switch from step ${sw} to ${sw + (sites - 1) * perSite}, past the last step (--steps ${steps})`,
    );
  const order = a.order as Progressive['order'];
  const init = (a['switch-init'] ?? (perSite !== undefined ? 'mse' : 'carry')) as Progressive['init'];
  return { from, to, at: sw, ...(perSite !== undefined ? { perSite, order: order ?? 'sensitivity' } : {}), init };
}
