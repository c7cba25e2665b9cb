/**
 * Browser half of `npm run bench:simd -- --browser`: the loops of tools/cli/simdModules.ts in a
 * headless Chromium page served by Vite. Query: chains, reps, ms, only. The result is left in
 * window.__benchSimd for the driver (benchSimd.ts).
 */
import { measureLoops } from './simdModules';

const q = new URLSearchParams(location.search);
const logEl = document.getElementById('log')!;
const log = (s: string) => {
  logEl.textContent += `\n${s}`;
  console.log(s);
};
const num = (k: string) => (q.get(k) === null ? undefined : Number(q.get(k)));

async function run() {
  const loops = await measureLoops({
    chains: num('chains'),
    reps: num('reps'),
    ms: num('ms'),
    only: q.get('only')?.split(','),
    log,
    pause: () => new Promise((r) => setTimeout(r, 0)),
  });
  return { userAgent: navigator.userAgent, loops };
}

run().then(
  (r) => ((globalThis as { __benchSimd?: unknown }).__benchSimd = r),
  (e: Error) => ((globalThis as { __benchSimd?: unknown }).__benchSimd = { error: e.message }),
);
