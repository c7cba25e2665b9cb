/**
 * URL-hash codec: `#v1.<base64url(JSON)>`. The plan is stored compactly as its most common
 * site scheme plus per-site overrides, so a preset's link stays short. Decoding validates
 * everything (validatePlan) and reports a readable error instead of throwing into the UI.
 */
import { SITE_COUNT } from '../plan/sites';
import { validatePlan, type Plan, type SiteScheme } from '../plan/plan';
import { defaultConfig, LIVE_SIZES, VIEWS, type Config } from './config';

export const HASH_VERSION = 'v1';

interface Wire {
  /** plan name */
  p?: string;
  /** default scheme */
  d: SiteScheme;
  /** overrides: site index → scheme */
  o?: Record<string, SiteScheme>;
  s: number;
  v: string;
  e: string;
  n: number;
  i: number;
  r?: 'a' | 'b';
  t: number;
  b: string;
  /** pinned plan A of the A/B compare */
  A?: WirePlan;
}

function b64urlEncode(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function b64urlDecode(s: string): string {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/**
 * A plan on the wire: its most common site scheme `d`, per-site overrides `o`, and every other
 * plan-level field as is (so a pinned plan round-trips as the full Plan JSON).
 */
interface WirePlan {
  d: SiteScheme;
  o?: Record<string, SiteScheme>;
  [planField: string]: unknown;
}

function packPlan(plan: Plan): WirePlan {
  const keys = plan.sites.map((s) => JSON.stringify(s));
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  let best = keys[0];
  for (const [k, n] of counts) if (n > (counts.get(best) ?? 0)) best = k;
  const o: Record<string, SiteScheme> = {};
  keys.forEach((k, i) => {
    if (k !== best) o[i] = plan.sites[i];
  });
  const { sites: _sites, ...rest } = plan;
  const w: WirePlan = { ...rest, d: JSON.parse(best) as SiteScheme };
  if (Object.keys(o).length) w.o = o;
  return w;
}

function unpackSites(w: { d?: unknown; o?: unknown }): unknown[] {
  const sites: unknown[] = Array.from({ length: SITE_COUNT }, () => structuredClone(w.d));
  if (w.o !== undefined) {
    if (typeof w.o !== 'object' || w.o === null) throw new Error('overrides must be an object');
    for (const [k, v] of Object.entries(w.o)) sites[int(Number(k), 0, SITE_COUNT - 1, `override site '${k}'`)] = v;
  }
  return sites;
}

export function encodeConfig(c: Config): string {
  const { d, o, name } = packPlan(c.plan);
  const w: Wire = { d, s: c.selectedSite, v: c.view, e: c.evalSet, n: c.liveSize, i: c.image, t: c.stageStep, b: c.backend };
  if (name) w.p = name as string;
  if (o) w.o = o;
  if (c.operand !== 'a') w.r = c.operand;
  if (c.pinned) w.A = packPlan(c.pinned);
  return `${HASH_VERSION}.${b64urlEncode(JSON.stringify(w))}`;
}

/**
 * A link whose plan A cannot be read still opens plan B: `pinnedError` says why A was dropped
 * (the rest of the link is intact, so nothing the user set for B is lost).
 */
export type DecodeResult = { ok: true; config: Config; pinnedError?: string } | { ok: false; error: string };

function int(x: unknown, lo: number, hi: number, what: string): number {
  if (!Number.isInteger(x) || (x as number) < lo || (x as number) > hi) throw new Error(`${what} must be an integer in [${lo}, ${hi}]`);
  return x as number;
}

/** Decode a hash (with or without the leading '#'); an empty hash gives the defaults. */
export function decodeConfig(hash: string): DecodeResult {
  const h = hash.replace(/^#/, '');
  if (!h) return { ok: true, config: defaultConfig() };
  try {
    const dot = h.indexOf('.');
    const ver = dot < 0 ? h : h.slice(0, dot);
    if (ver !== HASH_VERSION) throw new Error(`link version '${ver}' is not supported (expected ${HASH_VERSION})`);
    let json: unknown;
    try {
      json = JSON.parse(b64urlDecode(h.slice(dot + 1)));
    } catch {
      throw new Error('the link is not valid base64url JSON (truncated when copied?)');
    }
    if (typeof json !== 'object' || json === null) throw new Error('link payload must be an object');
    const w = json as Partial<Wire>;
    const plan = validatePlan({ version: 1, name: w.p, sites: unpackSites(w) });
    const d = defaultConfig();
    const view = VIEWS.find((x) => x.id === w.v)?.id;
    if (w.v !== undefined && !view) throw new Error(`unknown view '${String(w.v)}'`);
    if (w.e !== undefined && w.e !== 'test' && w.e !== 'val') throw new Error(`unknown eval set '${String(w.e)}'`);
    if (w.b !== undefined && !['auto', 'webgpu', 'cpu'].includes(w.b)) throw new Error(`unknown backend '${String(w.b)}'`);
    if (w.r !== undefined && w.r !== 'a' && w.r !== 'b') throw new Error(`operand must be 'a' or 'b'`);
    const config: Config = {
      plan,
      selectedSite: w.s === undefined ? d.selectedSite : int(w.s, 0, SITE_COUNT - 1, 'selected site'),
      view: view ?? d.view,
      evalSet: (w.e as Config['evalSet']) ?? d.evalSet,
      liveSize: w.n === undefined ? d.liveSize : int(w.n, 1, 50000, 'live subset size'),
      image: w.i === undefined ? d.image : int(w.i, 0, 49999, 'image'),
      operand: w.r ?? 'a',
      stageStep: w.t === undefined ? 0 : int(w.t, 0, 99, 'stage step'),
      backend: (w.b as Config['backend']) ?? d.backend,
      pinned: null,
    };
    if (w.A !== undefined) {
      try {
        if (typeof w.A !== 'object' || w.A === null || Array.isArray(w.A)) throw new Error('it must be an object');
        const { d: _d, o: _o, ...rest } = w.A;
        config.pinned = validatePlan({ ...rest, sites: unpackSites(w.A) });
      } catch (e) {
        return { ok: true, config, pinnedError: e instanceof Error ? e.message : String(e) };
      }
    }
    return { ok: true, config };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

export { LIVE_SIZES };
