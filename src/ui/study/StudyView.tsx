/**
 * Study view: the study (src/engine/study.ts) read from study.json (`npm run study`, the full split)
 * or run live in the page on a smaller split of the same kind — both shown by the same view:
 * every row with its interval and paired Δ, the scan and its rank stability, the greedy curve
 * chosen on val-sel, the INT4 share, accuracy vs bit-ops.
 */
import { useEffect, useState } from 'react';
import { useResults } from '../engine/results';
import { useSites } from '../engine/useSites';
import { BEYOND_ROWS } from '../../engine/study';
import { cancelStudy, estimateScores, LIVE_REPORT, LIVE_SCAN_CELLS, runLiveStudy, useStudy, type LiveStudyParts } from './studyRunner';
import { fetchStudy, type StudyModel } from './studyFile';
import { StudyFileView } from './StudyFileView';

const GRANULARITY_ROWS = BEYOND_ROWS.filter((r) => r.group === 'granularity').length;
const PART_LABEL: Record<keyof LiveStudyParts, string> = { scan: 'single-site scan', greedy: 'greedy', granularity: 'granularity rows' };

export function StudyView() {
  const st = useStudy();
  const sites = useSites();
  const ready = useResults((r) => r.status.state === 'ready');
  const current = useResults((r) => r.current);
  // study.json's figures are of the shipped weights: hidden while trained weights are applied
  const trained = current.kind !== 'shipped';
  const [images, setImages] = useState(50);
  const [parts, setParts] = useState<LiveStudyParts>({ scan: true, greedy: true, granularity: false });
  const [file, setFile] = useState<{ model: StudyModel } | { error: string } | null>(null);
  useEffect(() => {
    let live = true;
    void fetchStudy().then((f) => {
      if (!live) return;
      setFile(f);
      if (f && 'model' in f && !useStudy.getState().live) useStudy.setState({ show: 'file' });
    });
    return () => {
      live = false;
    };
  }, []);
  const fileModel = file && 'model' in file && !trained ? file.model : null;
  const scores = estimateScores(parts, LIVE_REPORT, LIVE_SCAN_CELLS, GRANULARITY_ROWS);
  const d = st.show === 'file' && fileModel ? null : st.live;
  return (
    <div className="view-grid">
      <section className="card span-2">
        <div className="toolbar">
          <label className="inline-field">
            <span>images / cell</span>
            <select value={images} onChange={(e) => setImages(Number(e.target.value))} aria-label="Study images per cell">
              {[8, 25, 50, 100, 250, 1000].map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          {(['scan', 'greedy', 'granularity'] as const).map((k) => (
            <label key={k} className="check">
              <input type="checkbox" checked={parts[k]} onChange={(e) => setParts({ ...parts, [k]: e.target.checked })} />
              {PART_LABEL[k]}
            </label>
          ))}
          <button
            type="button"
            className="btn"
            disabled={!ready || st.running}
            onClick={() => void runLiveStudy({ images, sites, parts, granularityRows: GRANULARITY_ROWS })}
            data-testid="run-study"
          >
            Run live study (≈{scores} scores of {images} images)
          </button>
          {st.running && (
            <button type="button" className="btn ghost" onClick={cancelStudy}>
              Cancel
            </button>
          )}
          <div className="seg" role="radiogroup" aria-label="Study source">
            <button
              type="button"
              role="radio"
              aria-checked={st.show === 'live'}
              className={`seg-btn ${st.show === 'live' ? 'on dark' : ''}`}
              onClick={() => useStudy.setState({ show: 'live' })}
            >
              live
            </button>
            <button
              type="button"
              role="radio"
              aria-checked={st.show === 'file'}
              disabled={!fileModel}
              className={`seg-btn ${st.show === 'file' ? 'on dark' : ''}`}
              onClick={() => useStudy.setState({ show: 'file' })}
              title={
                trained
                  ? `study.json is of the shipped model; the engine runs ${current.label}`
                  : fileModel
                    ? fileModel.source
                    : 'no /models/vit-cifar10/study.json (run npm run study)'
              }
            >
              study.json (shipped model)
            </button>
          </div>
        </div>
        {st.progress && (
          <div className="progress">
            <div
              className="progress-track"
              role="progressbar"
              aria-valuemin={0}
              aria-valuemax={st.progress.total}
              aria-valuenow={st.progress.done}
            >
              <div className="progress-fill" style={{ width: `${((100 * st.progress.done) / st.progress.total).toFixed(1)}%` }} />
            </div>
            <span className="progress-text">
              {st.progress.phase} · {st.progress.done}/{st.progress.total}
            </span>
          </div>
        )}
        {trained && (
          <div className="muted small-note" data-testid="study-model-note">
            The engine runs {current.label}: study.json&apos;s figures are of the shipped weights and are hidden; a live study scores the
            applied model.
          </div>
        )}
        {st.error && <div className="inline-error">{st.error}</div>}
        {file && 'error' in file && <div className="inline-error">{file.error}</div>}
        <div className="muted small-note">
          {st.show === 'file' && fileModel
            ? `Showing ${fileModel.source} (${fileModel.format === 'v2' ? 'held-out selection' : 'old format'}).`
            : d
              ? `Showing ${d.source}.`
              : 'Nothing yet.'}{' '}
          The live study is `npm run study` on a smaller split of the same kind: choices on val images 0…n−1, reports on val 2500…2500+n−1
          and test 0…n−1, every figure with its n and interval (at n = {images} one image is {(100 / Math.max(1, images)).toFixed(1)} pp).
          The CLI runs the full split.
        </div>
      </section>
      {st.show === 'file' && fileModel ? (
        <StudyFileView model={fileModel} />
      ) : d ? (
        <StudyFileView model={d} />
      ) : (
        <div className="empty big span-2">
          Run the live study, or run `npm run study` (a full scan writes public/models/vit-cifar10/study.json).
        </div>
      )}
    </div>
  );
}
