/**
 * URL-hash codec: `#v1.<base64url(JSON)>`. The plan is stored compactly as its most common
 * site scheme plus per-site overrides, so a preset's link stays short. Decoding validates
 * everything (validatePlan) and reports a readable error instead of throwing into the UI.
 */
import { SITE_COUNT } from '../model/sites';
import { validatePlan, type SiteScheme } from '../engine/plan';
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

export function encodeConfig(c: Config): string {
  const keys = c.plan.sites.map((s) => JSON.stringify(s));
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  let best = keys[0];
  for (const [k, n] of counts) if (n > (counts.get(best) ?? 0)) best = k;
  const o: Record<string, SiteScheme> = {};
  keys.forEach((k, i) => {
    if (k !== best) o[i] = c.plan.sites[i];
  });
  const w: Wire = { d: JSON.parse(best) as SiteScheme, s: c.selectedSite, v: c.view, e: c.evalSet, n: c.liveSize, i: c.image, t: c.stageStep, b: c.backend };
  if (c.plan.name) w.p = c.plan.name;
  if (Object.keys(o).length) w.o = o;
  if (c.operand !== 'a') w.r = c.operand;
  return `${HASH_VERSION}.${b64urlEncode(JSON.stringify(w))}`;
}

export type DecodeResult = { ok: true; config: Config } | { ok: false; error: string };

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
    const sites: unknown[] = Array.from({ length: SITE_COUNT }, () => structuredClone(w.d));
    if (w.o !== undefined) {
      if (typeof w.o !== 'object' || w.o === null) throw new Error('overrides must be an object');
      for (const [k, v] of Object.entries(w.o)) sites[int(Number(k), 0, SITE_COUNT - 1, `override site '${k}'`)] = v;
    }
    const plan = validatePlan({ version: 1, name: w.p, sites });
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
    };
    return { ok: true, config };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

export { LIVE_SIZES };
