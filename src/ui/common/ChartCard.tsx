/** A titled card around a chart, with PNG and CSV export buttons. */
import { useRef, type ReactNode } from 'react';
import { exportCsv, exportPng } from './exportChart';

export function ChartCard(props: {
  title: string;
  subtitle?: ReactNode;
  csv?: () => Record<string, unknown>[];
  file?: string;
  children: ReactNode;
  actions?: ReactNode;
  className?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const file = props.file ?? props.title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return (
    <section className={`card ${props.className ?? ''}`} aria-label={props.title}>
      <header className="card-head">
        <div>
          <h3>{props.title}</h3>
          {props.subtitle && <div className="card-sub">{props.subtitle}</div>}
        </div>
        <div className="card-actions">
          {props.actions}
          {props.csv && (
            <button
              type="button"
              className="btn ghost small"
              onClick={() => exportCsv(props.csv!(), file)}
              title="Download the data as CSV"
            >
              CSV
            </button>
          )}
          <button
            type="button"
            className="btn ghost small"
            onClick={() => ref.current && void exportPng(ref.current, file)}
            title="Download the chart as PNG"
          >
            PNG
          </button>
        </div>
      </header>
      <div className="card-body" ref={ref}>
        {props.children}
      </div>
    </section>
  );
}
