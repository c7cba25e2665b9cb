import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** This machine's CPU model and the dot-product flags that decide the wasm int8 dot's lowering. */
export function cpuInfo(): { model: string; cores: number; avx512_vnni: boolean; avx_vnni: boolean } {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    /* not Linux: the model from Node, no flags */
  }
  const model = /^model name\s*:\s*(.*)$/m.exec(text)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '').split(/\s+/));
  return { model, cores: cpus().length, avx512_vnni: flags.has('avx512_vnni'), avx_vnni: flags.has('avx_vnni') };
}
