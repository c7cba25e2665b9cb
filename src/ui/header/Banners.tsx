/** Notices above the layout: unreadable link, no WebGPU, engine errors with the fix. */
import { useStore } from '../../state/store';
import { useResults } from '../engine/results';

export function Banners() {
  const hashError = useStore((s) => s.hashError);
  const setHashError = useStore((s) => s.setHashError);
  const webgpu = useResults((r) => r.webgpuAvailable);
  const status = useResults((r) => r.status);
  const backend = useResults((r) => r.backend);
  return (
    <div className="banners">
      {hashError && (
        <div className="banner warn" role="alert" data-testid="hash-error">
          <strong>Link not understood.</strong> {hashError}
          <button type="button" className="btn ghost small" onClick={() => setHashError(null)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}
      {webgpu === false && (
        <div className="banner info" role="status" data-testid="no-webgpu">
          <strong>No WebGPU in this browser.</strong> The playground runs on its CPU backend instead: the same plans, the same results,
          computed with integer arithmetic on the CPU. For the GPU kernels use a recent Chrome or Edge (or Firefox/Safari with WebGPU
          enabled).
        </div>
      )}
      {backend?.adapter?.isFallback && (
        <div className="banner info" role="status">
          <strong>Software GPU adapter.</strong> WebGPU runs on a fallback (software) adapter here: correct but slow. The CPU backend is
          faster on this machine.
        </div>
      )}
      {status.state === 'error' && (
        <div className="banner error" role="alert" data-testid="engine-error">
          <div>
            <strong>The engine could not start.</strong> {status.message}
          </div>
          {status.fix && (
            <div className="fix">
              <span>How to fix:</span> {status.fix}
            </div>
          )}
          <ul className="fix-list">
            <li>
              CIFAR-10 files missing → run <code>npm run data</code> (writes <code>public/data/cifar10/</code>).
            </li>
            <li>
              Model missing → train and export it: <code>python tools/train/train.py</code> (writes <code>public/models/vit-cifar10/</code>
              ).
            </li>
            <li>Then reload this page.</li>
          </ul>
        </div>
      )}
    </div>
  );
}
