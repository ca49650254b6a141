// The benchmark page: every implementation runs in its own Worker (so thread counts of the
// peers can differ within one page, and the threaded lanes build may block), one at a time,
// interleaved per shape over several rounds. Each result is verified before it is timed.
// State for the headless runner and the page tests: window.__lanesBench.
import { loadBest, loadVariant } from './lanes.js';
import { Verifier, seededMatrix } from './verify.js';
import { drawChart, seriesColor } from './chart.js';
import { RpcWorker } from './rpc.js';

export const DEFAULT_SHAPES = `# M N K (used when bench-harness/shapes/gemm.txt is absent)
64 64 64
128 128 128
256 256 256
512 512 512
1024 1024 1024
1 3072 768
128 3072 768`;

// Implementations. `needs`: what the browser must support; `maxFlop`: skipped above (too slow
// to be worth the minutes); `threaded`: runs once per selected thread count.
export const IMPLS = [
  { id: 'lanes-relaxed', worker: 'lanes', variant: 'relaxed', isa: 'relaxed', needs: 'relaxed', label: 'lanes relaxed-simd' },
  { id: 'lanes-simd128', worker: 'lanes', variant: 'simd128', isa: 'simd128', needs: 'simd128', label: 'lanes simd128' },
  { id: 'lanes-threads', worker: 'lanes', variant: 'threads', isa: 'relaxed', needs: 'threads', threaded: true, label: 'lanes threads' },
  { id: 'lanes-relaxed-nopack', worker: 'lanes', variant: 'relaxed', isa: 'relaxed', needs: 'relaxed', packB: false, label: 'lanes relaxed, B packed per call' },
  { id: 'lanes-scalar', worker: 'lanes', variant: 'scalar', isa: 'scalar', needs: null, maxFlop: 5e9, label: 'lanes scalar wasm' },
  { id: 'js-naive', worker: 'peers', isa: 'js', peer: true, maxFlop: 7e8, label: 'naive JS' },
  { id: 'js-tuned', worker: 'peers', isa: 'js', peer: true, maxFlop: 2.5e9, label: 'tuned JS' },
  { id: 'tfjs-cpu', worker: 'peers', isa: 'js', peer: true, maxFlop: 2.5e9, label: 'tfjs cpu' },
  { id: 'tfjs-wasm', worker: 'peers', isa: 'simd128', peer: true, threaded: true, label: 'tfjs wasm (XNNPACK)' },
  { id: 'ort', worker: 'peers', isa: 'simd128', peer: true, threaded: true, label: 'onnxruntime-web' },
];
const PEERS = IMPLS.filter((i) => i.peer).map((i) => i.id);

export function parseShapes(text) {
  const shapes = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const nums = line.split(/[\s,x]+/).map(Number);
    if (nums.length !== 3 || !nums.every((v) => Number.isInteger(v) && v > 0)) continue;
    const [m, n, k] = nums;
    shapes.push({ m, n, k, name: `${m}x${n}x${k}`, flop: 2 * m * n * k });
  }
  return shapes;
}

async function loadShapes() {
  try {
    const r = await fetch('/shapes/gemm.txt');
    if (r.ok) {
      const s = parseShapes(await r.text());
      if (s.length) return { shapes: s, source: 'bench-harness/shapes/gemm.txt' };
    }
  } catch { /* fall through */ }
  return { shapes: parseShapes(DEFAULT_SHAPES), source: 'built-in default list (bench-harness/shapes/gemm.txt not found)' };
}

class ImplWorker extends RpcWorker {
  constructor(cfg) {
    const lanes = cfg.impl.worker === 'lanes';
    super(lanes ? './js/worker-lanes.js' : './js/worker-peers.js', { type: lanes ? 'module' : 'classic', name: cfg.key });
    this.cfg = cfg;
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const h = s.length >> 1; return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2; };
const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

/** Adds ratio_to_tfjs-wasm and ratio_to_best_peer (same shape, same thread count). */
export function addRatios(results) {
  for (const r of results) {
    if (r.status !== 'ok') continue;
    const same = results.filter((o) => o.status === 'ok' && o.case === r.case && o.threads === r.threads);
    const tf = same.find((o) => o.impl === 'tfjs-wasm');
    const peers = same.filter((o) => PEERS.includes(o.impl) && o !== r);
    const best = peers.reduce((b, o) => (!b || o.gflops > b.gflops ? o : b), null);
    r['ratio_to_tfjs-wasm'] = tf ? +(r.gflops / tf.gflops).toFixed(3) : null;
    r.ratio_to_best_peer = best ? +(r.gflops / best.gflops).toFixed(3) : null;
    r.best_peer = best ? `${best.impl}/${best.threads}t` : null;
  }
  return results;
}

// ---------------------------------------------------------------- page
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const S = (window.__lanesBench = { state: 'loading', loader: null, results: [], log: [], errors: [] });

function log(msg) {
  S.log.push(msg);
  console.log(`[bench] ${msg}`); // scripts/run-bench.mjs prints these as they come
  const el = $('log');
  el.textContent += msg + '\n';
  el.scrollTop = el.scrollHeight;
}

function configsFor(implIds, threadCounts, features, loader) {
  const cfgs = [];
  for (const impl of IMPLS.filter((i) => implIds.includes(i.id))) {
    const counts = impl.threaded ? threadCounts : threadCounts.includes(1) ? [1] : [];
    for (const t of counts) {
      let unavailable = null;
      if (impl.needs === 'relaxed' && !(features.simd && features.relaxedSimd)) unavailable = 'no relaxed-simd in this browser';
      if (impl.needs === 'simd128' && !features.simd) unavailable = 'no wasm SIMD in this browser';
      if (impl.needs === 'threads' && !loader.threads.ok) unavailable = loader.threads.reason;
      if (impl.threaded && impl.peer && t > 1 && !features.crossOriginIsolated) unavailable = 'threads off: page is not cross-origin isolated';
      cfgs.push({ key: `${impl.id}/${t}`, impl, threads: t, unavailable, label: `${impl.label}${impl.threaded ? `, ${t} thr` : ''}` });
    }
  }
  return cfgs;
}

function renderResults(shapes, cfgs) {
  const done = S.results;
  const byKey = new Map(done.map((r) => [`${r.impl}/${r.threads}@${r.case}`, r]));
  const maxT = Math.max(...cfgs.map((c) => c.threads));
  drawChart($('chart'), {
    title: 'GFLOP/s per shape (higher is better; same page, same run)',
    shapes: shapes.map((s) => s.name),
    series: cfgs.filter((c) => !c.unavailable).map((c) => ({ key: c.key, label: c.label, color: seriesColor(c.impl.id, c.threads, maxT) })),
    value: (key, shape) => { const r = byKey.get(`${key}@${shape}`); return r && r.status === 'ok' ? r.gflops : null; },
  });
  const t = $('results');
  const head = `<tr><th>implementation</th><th>threads</th>${shapes.map((s) => `<th>${s.name}</th>`).join('')}</tr>`;
  const rows = cfgs.map((c) => {
    const cells = shapes.map((s) => {
      const r = byKey.get(`${c.key}@${s.name}`);
      if (c.unavailable) return `<td class="na" title="${c.unavailable}">n/a</td>`;
      if (!r) return '<td class="pending">…</td>';
      if (r.status !== 'ok') return `<td class="${r.status}" title="${(r.note || '').replace(/"/g, "'")}">${r.status}</td>`;
      const ratio = r['ratio_to_tfjs-wasm'];
      const sub = c.impl.peer ? '' : ratio != null ? `<small>${ratio.toFixed(2)}× tfjs-wasm</small>` : '';
      return `<td class="ok" title="median ${r.ms_median.toFixed(3)} ms, spread ±${(100 * r.spread).toFixed(0)}%, ${r.samples} samples; ${r.verify}">${r.gflops.toFixed(2)}${sub}</td>`;
    });
    return `<tr class="${c.impl.peer ? 'peer' : 'lanes'}"><td title="${c.detail || ''}">${c.label}</td><td>${c.threads}</td>${cells.join('')}</tr>`;
  });
  t.innerHTML = head + rows.join('');
}

async function run() {
  const shapes = S.allShapes.filter((s) => $(`shape-${s.name}`).checked);
  const threadCounts = [...document.querySelectorAll('input[name=threads]:checked')].map((e) => Number(e.value));
  const implIds = [...document.querySelectorAll('input[name=impl]:checked')].map((e) => e.value);
  const minMs = Number($('minMs').value) || 250;
  const rounds = Math.max(1, Number($('rounds').value) || 2);
  $('run').disabled = true;
  S.state = 'running';
  S.results = [];
  S.startedAt = new Date().toISOString();
  S.settings = { shapes: shapes.map((s) => s.name), threads: threadCounts, impls: implIds, minMs, rounds };
  const cfgs = configsFor(implIds, threadCounts, S.features, S.loader);
  S.configs = cfgs.map((c) => ({ key: c.key, impl: c.impl.id, threads: c.threads, unavailable: c.unavailable }));
  renderResults(shapes, cfgs);
  log(`run: ${shapes.length} shapes x ${cfgs.length} configurations, ${rounds} rounds of >= ${minMs} ms`);
  const workers = new Map();
  try {
    for (const c of cfgs) {
      if (c.unavailable) { log(`${c.key}: n/a (${c.unavailable})`); continue; }
      const w = new ImplWorker(c);
      try {
        const r = await w.call('init', { variant: c.impl.variant, impl: c.impl.id, threads: c.threads, packB: c.impl.packB !== false });
        c.detail = r.detail;
        c.info = r.info;
        workers.set(c.key, w);
        log(`${c.key}: ready (${r.detail})`);
      } catch (e) {
        c.unavailable = `failed to start: ${e.message}`;
        S.errors.push(`${c.key}: ${e.message}`);
        log(`${c.key}: FAILED to start: ${e.message}`);
        w.terminate();
      }
    }
    S.configs = cfgs.map((c) => ({ key: c.key, impl: c.impl.id, threads: c.threads, unavailable: c.unavailable, detail: c.detail }));
    for (const sh of shapes) {
      const { m, n, k, name } = sh;
      $('status').textContent = `shape ${name}: preparing`;
      const a = seededMatrix(m * k, 1000 + m + 3 * n + 7 * k);
      const b = seededMatrix(k * n, 2000 + m + 3 * n + 7 * k);
      const verifier = new Verifier(m, n, k, a, b);
      const live = [];
      for (const c of cfgs) {
        const w = workers.get(c.key);
        if (!w) continue;
        const base = { suite: 'gemm-wasm', case: name, m, n, k, impl: c.impl.id, isa: c.impl.isa, threads: c.threads, kernel: c.info ? c.info.kernel : undefined };
        if (c.impl.maxFlop && sh.flop > c.impl.maxFlop) {
          S.results.push({ ...base, status: 'skipped', note: `skipped: ${(sh.flop / 1e9).toFixed(2)} GFLOP per call is above this implementation's ${(c.impl.maxFlop / 1e9).toFixed(2)} limit (too slow)` });
          continue;
        }
        try {
          $('status').textContent = `shape ${name}: ${c.key} setup + verify`;
          await w.call('setup', { m, n, k, a, b });
          const { c: out, pool } = await w.call('run');
          if (pool !== undefined) base.pool = pool;
          const v = verifier.check(out);
          if (!v.ok) {
            S.results.push({ ...base, status: 'wrong', note: `verification failed: ${v.message}` });
            log(`${c.key} @ ${name}: WRONG RESULT ${v.message}`);
            S.errors.push(`${c.key} @ ${name}: wrong result: ${v.message}`);
            continue;
          }
          live.push({ c, w, base, verify: v.message, maxErr: v.maxErr, samples: [] });
        } catch (e) {
          S.results.push({ ...base, status: 'error', note: e.message });
          S.errors.push(`${c.key} @ ${name}: ${e.message}`);
          log(`${c.key} @ ${name}: ERROR ${e.message}`);
        }
      }
      // Warm-up, not recorded: V8 compiles hot wasm functions with its optimising tier in
      // the background, so the first timings of a function first used at this shape (or of a
      // module just loaded) can still run baseline code.
      for (const L of live) {
        try {
          const t = await L.w.call('time', { minMs: 100, minSamples: 1, maxMs: 1000, batch: 0 }, 600000);
          L.batch = t.batch;
        } catch (e) {
          L.error = e.message;
        }
      }
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 ? [...live].reverse() : live;
        for (const L of order) {
          $('status').textContent = `shape ${name}: round ${r + 1}/${rounds}, timing ${L.c.key}`;
          try {
            const t = await L.w.call('time', { minMs, minSamples: 2, maxMs: Math.max(4 * minMs, 3000), batch: L.batch || 0 }, 600000);
            L.samples.push(...t.samples);
            L.batch = t.batch;
          } catch (e) {
            L.error = e.message;
          }
          await new Promise((res) => setTimeout(res, 0));
        }
      }
      for (const L of live) {
        if (L.error || !L.samples.length) {
          S.results.push({ ...L.base, status: 'error', note: L.error || 'no samples' });
          continue;
        }
        const med = median(L.samples);
        const rec = {
          ...L.base, status: 'ok',
          gflops: +(sh.flop / med / 1e6).toFixed(3),
          // From the fastest sample: what the code can do when no other process takes the core.
          gflops_best: +(sh.flop / Math.min(...L.samples) / 1e6).toFixed(3),
          ms_median: med, ms_min: Math.min(...L.samples),
          spread: (quantile(L.samples, 0.75) - quantile(L.samples, 0.25)) / 2 / med,
          samples: L.samples.length, verify: L.verify, max_err: L.maxErr,
        };
        S.results.push(rec);
        log(`${L.c.key.padEnd(24)} ${name.padEnd(14)} ${rec.gflops.toFixed(2).padStart(8)} GFLOP/s  (${med.toFixed(3)} ms, ±${(100 * rec.spread).toFixed(0)}%)`);
      }
      for (const w of workers.values()) await w.call('free').catch(() => {});
      addRatios(S.results);
      renderResults(shapes, cfgs);
    }
  } finally {
    for (const w of workers.values()) w.terminate();
  }
  addRatios(S.results);
  renderResults(shapes, cfgs);
  S.finishedAt = new Date().toISOString();
  $('status').textContent = `done: ${S.results.filter((r) => r.status === 'ok').length} measurements, ${S.errors.length} problems`;
  log('done');
  S.state = 'done';
  $('run').disabled = false;
}

function buildControls() {
  const want = (p, all) => (params.has(p) ? params.get(p).split(',').map((s) => s.trim()).filter(Boolean) : all);
  const shapeSel = want('shapes', null);
  // Shapes named in the URL but not in the list (e.g. ragged test shapes) are added.
  for (const name of shapeSel || []) {
    const [extra] = parseShapes(name.replace(/x/g, ' '));
    if (extra && !S.allShapes.some((s) => s.name === extra.name)) S.allShapes.push(extra);
  }
  $('shapes').innerHTML = S.allShapes.map((s) => {
    // By default every shape up to ~2.5 GFLOP per call (2048^3 is opt-in: minutes for the slow peers).
    const on = shapeSel ? shapeSel.includes(s.name) || shapeSel.includes('all') : s.flop <= 2.5e9;
    return `<label><input type="checkbox" id="shape-${s.name}" ${on ? 'checked' : ''}>${s.name} <small>(${s.flop >= 1e9 ? `${(s.flop / 1e9).toFixed(1)} GFLOP` : `${(s.flop / 1e6).toFixed(0)} MFLOP`})</small></label>`;
  }).join('');
  const hc = S.features.hardwareConcurrency;
  const counts = [...new Set([1, 2, hc])].sort((x, y) => x - y);
  const tSel = want('threads', counts.map(String)).map(Number);
  $('threads').innerHTML = counts.map((t) => `<label><input type="checkbox" name="threads" value="${t}" ${tSel.includes(t) ? 'checked' : ''}>${t}${t === hc ? ' (hardwareConcurrency)' : ''}</label>`).join('');
  const iSel = want('impls', IMPLS.map((i) => i.id));
  $('impls').innerHTML = IMPLS.map((i) => `<label><input type="checkbox" name="impl" value="${i.id}" ${iSel.includes(i.id) ? 'checked' : ''}>${i.label}</label>`).join('');
  if (params.has('minMs')) $('minMs').value = params.get('minMs');
  if (params.has('rounds')) $('rounds').value = params.get('rounds');
  $('run').onclick = () => run().catch((e) => { S.state = 'failed'; S.errors.push(String(e)); log(`FAILED: ${e.stack || e}`); $('run').disabled = false; });
}

async function main() {
  try {
    const best = await loadBest(params.get('build') || undefined);
    S.features = best.features;
    S.loader = { variant: best.variant, reason: best.reason, threads: best.threads, info: best.info };
    $('loader').innerHTML = `<b>Loaded build: ${best.variant}</b> (kernel ${best.info.kernel}) — ${best.reason}<br>${best.threads.reason}`;
    $('loader').className = best.threads.ok ? 'ok' : 'warn';
    // A smoke test of the loaded module on the main thread.
    const c = new Float32Array(4);
    best.mod.sgemm(2, 2, 2, 1, new Float32Array([1, 2, 3, 4]), new Float32Array([1, 0, 0, 1]), 0, c);
    S.smoke = Array.from(c);
    S.lanes = best.mod;
    S.loadVariant = loadVariant;
    const { shapes, source } = await loadShapes();
    S.allShapes = shapes;
    $('shapes-source').textContent = source;
    $('env').textContent = `${navigator.userAgent} | hardwareConcurrency ${S.features.hardwareConcurrency} | crossOriginIsolated ${S.features.crossOriginIsolated}`;
    buildControls();
    S.state = 'ready';
    if (params.get('autorun') === '1') await $('run').onclick();
  } catch (e) {
    S.state = 'failed';
    S.errors.push(String(e && e.stack || e));
    $('loader').textContent = `failed to load lanes: ${e.message || e}`;
    $('loader').className = 'bad';
  }
}

main();
