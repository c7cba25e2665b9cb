/** Tiny argument parser for the command-line tools: --key value, --flag, with explicit errors. */
export function parseArgs(argv: string[], spec: Record<string, 'string' | 'number' | 'boolean'>): Record<string, string | number | boolean | undefined> {
  const out: Record<string, string | number | boolean | undefined> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') continue;
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const [key, inline] = a.slice(2).split('=', 2);
    const type = spec[key];
    if (!type) throw new Error(`unknown option --${key} (known: ${Object.keys(spec).map((k) => '--' + k).join(' ')})`);
    if (type === 'boolean') {
      out[key] = inline === undefined ? true : inline !== 'false';
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new Error(`--${key} needs a value`);
    if (type === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`--${key}: '${v}' is not a number`);
      out[key] = n;
    } else out[key] = v;
  }
  return out;
}
