/** Export helpers shared by every chart: CSV of the rows shown, PNG of the chart's SVG or canvas. */

function download(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function toCsv(rows: Record<string, unknown>[]): string {
  if (!rows.length) return '';
  const cols = Array.from(new Set(rows.flatMap((r) => Object.keys(r))));
  const cell = (v: unknown) => {
    const s = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

export function exportCsv(rows: Record<string, unknown>[], filename: string) {
  download(new Blob([toCsv(rows)], { type: 'text/csv' }), filename.endsWith('.csv') ? filename : `${filename}.csv`);
}

/** Render the first <svg> (or <canvas>) inside `root` to a 2× PNG on a white background. */
export async function exportPng(root: HTMLElement, filename: string) {
  const name = filename.endsWith('.png') ? filename : `${filename}.png`;
  const canvasEl = root.querySelector('canvas');
  const svg = root.querySelector('svg.recharts-surface, svg[data-export], svg') as SVGSVGElement | null;
  if (!svg && canvasEl) {
    canvasEl.toBlob((b) => b && download(b, name));
    return;
  }
  if (!svg) return;
  const box = svg.getBoundingClientRect();
  const clone = svg.cloneNode(true) as SVGSVGElement;
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  clone.setAttribute('width', String(box.width));
  clone.setAttribute('height', String(box.height));
  // inline the computed font so text renders the same outside the page
  clone.setAttribute('style', `font-family:${getComputedStyle(root).fontFamily};font-size:12px`);
  const data = new XMLSerializer().serializeToString(clone);
  const img = new Image();
  const url = URL.createObjectURL(new Blob([data], { type: 'image/svg+xml' }));
  await new Promise<void>((res, rej) => {
    img.onload = () => res();
    img.onerror = () => rej(new Error('could not rasterize the chart'));
    img.src = url;
  });
  const c = document.createElement('canvas');
  c.width = Math.ceil(box.width * 2);
  c.height = Math.ceil(box.height * 2);
  const ctx = c.getContext('2d')!;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.scale(2, 2);
  ctx.drawImage(img, 0, 0);
  URL.revokeObjectURL(url);
  c.toBlob((b) => b && download(b, name));
}
