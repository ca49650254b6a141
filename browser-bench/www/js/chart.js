// A grouped bar chart in plain SVG: one group per shape (or case), one bar per implementation
// configuration, GFLOP/s (or another `unit`) on a linear axis. No library.
const SVG = 'http://www.w3.org/2000/svg';
const PALETTE = {
  'lanes-relaxed': '#d62728', 'lanes-simd128': '#ff7f0e', 'lanes-threads': '#8c1d1d',
  'lanes-relaxed-nopack': '#f4a6a6', 'lanes-relaxed-alloc': '#c45c5c', 'lanes-relaxed-noread': '#f7c6c6', 'lanes-scalar': '#e7ba52',
  'js-naive': '#9e9e9e', 'js-tuned': '#616161', 'tfjs-cpu': '#9ecae1',
  'tfjs-wasm': '#1f77b4', ort: '#2ca02c',
};

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Colour of a series: darker for more threads of the same implementation. */
export function seriesColor(impl, threads, maxThreads) {
  const base = PALETTE[impl] || '#444';
  if (threads <= 1) return base;
  const f = 0.35 + 0.65 * (1 - threads / Math.max(maxThreads, threads)) ; // 0.35..1
  const rgb = [1, 3, 5].map((i) => parseInt(base.slice(i, i + 2), 16));
  return `rgb(${rgb.map((c) => Math.round(c * f)).join(',')})`;
}

/**
 * series: [{key, label, color}], shapes: [label], value(seriesKey, shape) -> number|null.
 */
export function drawChart(container, { series, shapes, value, title, unit = 'GFLOP/s' }) {
  container.textContent = '';
  const W = Math.max(900, 90 + shapes.length * (series.length * 9 + 26));
  const H = 420, left = 60, right = 10, top = 34, bottom = 70;
  const perRow = Math.max(1, Math.floor((W - left) / 230));
  const totalH = H + 20 + 18 * Math.ceil(series.length / perRow);
  const svg = el('svg', { width: W, height: totalH, viewBox: `0 0 ${W} ${totalH}`, role: 'img' });
  svg.appendChild(el('text', { x: left, y: 20, class: 'chart-title' }, title || `${unit} (higher is better)`));
  let max = 0;
  for (const s of series) for (const sh of shapes) { const v = value(s.key, sh); if (v > max) max = v; }
  max = max > 0 ? max * 1.08 : 1;
  const step = niceStep(max / 6);
  const plotH = H - top - bottom, plotW = W - left - right;
  const y = (v) => top + plotH - (v / max) * plotH;
  for (let v = 0; v <= max; v += step) {
    svg.appendChild(el('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'grid' }));
    svg.appendChild(el('text', { x: left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, fmt(v)));
  }
  const groupW = plotW / Math.max(1, shapes.length);
  const barW = Math.max(2, Math.min(16, (groupW - 14) / Math.max(1, series.length)));
  shapes.forEach((sh, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = value(s.key, sh);
      if (v == null || !(v > 0)) return;
      const r = el('rect', { x: x0 + si * barW, y: y(v), width: Math.max(1, barW - 1), height: top + plotH - y(v), fill: s.color });
      r.appendChild(el('title', {}, `${s.label} @ ${sh}: ${v.toFixed(2)} ${unit}`));
      svg.appendChild(r);
    });
    svg.appendChild(el('text', { x: left + gi * groupW + groupW / 2, y: top + plotH + 16, class: 'xlabel', 'text-anchor': 'middle' }, sh));
  });
  svg.appendChild(el('line', { x1: left, x2: W - right, y1: top + plotH, y2: top + plotH, class: 'axis' }));
  series.forEach((s, i) => {
    const lx = left + (i % perRow) * 230, ly = H + 4 + 18 * Math.floor(i / perRow);
    svg.appendChild(el('rect', { x: lx, y: ly - 10, width: 12, height: 12, fill: s.color }));
    svg.appendChild(el('text', { x: lx + 16, y: ly, class: 'legend' }, s.label));
  });
  container.appendChild(svg);
}

function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
function fmt(v) { return v >= 10 ? v.toFixed(0) : v.toFixed(1); }
