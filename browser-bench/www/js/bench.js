// The benchmark page: every implementation runs in its own Worker (so thread counts of the
// peers can differ within one page, and the threaded lanes build may block), one at a time,
// interleaved per case over several rounds. Each result is verified before it is timed.
// Three suites, one table (and chart) each:
//   gemm     C = A*B per shape (bench-harness/shapes/gemm.txt), GFLOP/s
//   conv     the layers of bench-harness/shapes/conv.txt (suites.js), GFLOP/s
//   eltwise  softmax, layer norm and exp over rows x cols (suites.js), GB/s; one thread
// State for the headless runner and the page tests: window.__lanesBench.
import { loadBest, loadVariant } from './lanes.js';
import { Verifier, ConvVerifier, EltwiseVerifier, seededMatrix } from './verify.js';
import { parseConvLayers, filterLen, eltwiseCases, LAYERNORM_EPS } from './suites.js';
import { drawChart, seriesColor } from './chart.js';
import { RpcWorker } from './rpc.js';

export const SUITES = [
  { id: 'gemm', record: 'gemm-wasm', title: 'GEMM', unit: 'GFLOP/s', key: 'gflops' },
  { id: 'conv', record: 'conv-wasm', title: 'Convolution layers (bench-harness/shapes/conv.txt, batch 1, NHWC)', unit: 'GFLOP/s', key: 'gflops' },
  { id: 'eltwise', record: 'eltwise-wasm', title: 'Element-wise and row ops (one thread)', unit: 'GB/s', key: 'gbps' },
];

export const DEFAULT_SHAPES = `# M N K (used when bench-harness/shapes/gemm.txt is absent)
64 64 64
128 128 128
256 256 256
512 512 512
1024 1024 1024
1 3072 768
128 3072 768`;

// Implementations. `needs`: what the browser must support; `maxFlop`: skipped above (too slow
// to be worth the minutes); `threaded`: runs once per selected thread count (the element-wise
// suite runs one thread only); `suites`: which suites it takes part in.
const ALL = ['gemm', 'conv', 'eltwise'];
export const IMPLS = [
  { id: 'lanes-relaxed', worker: 'lanes', variant: 'relaxed', isa: 'relaxed', needs: 'relaxed', suites: ALL, label: 'lanes relaxed-simd' },
  { id: 'lanes-simd128', worker: 'lanes', variant: 'simd128', isa: 'simd128', needs: 'simd128', suites: ALL, label: 'lanes simd128' },
  { id: 'lanes-threads', worker: 'lanes', variant: 'threads', isa: 'relaxed', needs: 'threads', threaded: true, suites: ['gemm', 'conv'], label: 'lanes threads' },
  { id: 'lanes-relaxed-nopack', worker: 'lanes', variant: 'relaxed', isa: 'relaxed', needs: 'relaxed', packB: false, suites: ['gemm'], label: 'lanes relaxed, B packed per call' },
  { id: 'lanes-relaxed-alloc', worker: 'lanes', variant: 'relaxed', isa: 'relaxed', needs: 'relaxed', readBack: 'alloc', suites: ['conv', 'eltwise'], label: 'lanes relaxed, new output array per call' },
  { id: 'lanes-relaxed-noread', worker: 'lanes', variant: 'relaxed', isa: 'relaxed', needs: 'relaxed', readBack: false, suites: ['conv', 'eltwise'], label: 'lanes relaxed, output left in wasm' },
  { id: 'lanes-scalar', worker: 'lanes', variant: 'scalar', isa: 'scalar', needs: null, maxFlop: 5e9, suites: ALL, label: 'lanes scalar wasm' },
  { id: 'js-naive', worker: 'peers', isa: 'js', peer: true, maxFlop: 7e8, suites: ['gemm', 'eltwise'], label: 'naive JS' },
  { id: 'js-tuned', worker: 'peers', isa: 'js', peer: true, maxFlop: 2.5e9, suites: ['gemm'], label: 'tuned JS' },
  { id: 'tfjs-cpu', worker: 'peers', isa: 'js', peer: true, maxFlop: 2.5e9, suites: ALL, label: 'tfjs cpu' },
  { id: 'tfjs-wasm', worker: 'peers', isa: 'simd128', peer: true, threaded: true, suites: ALL, label: 'tfjs wasm (XNNPACK)' },
  { id: 'ort', worker: 'peers', isa: 'simd128', peer: true, threaded: true, suites: ALL, label: 'onnxruntime-web' },
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

async function loadConvLayers() {
  // The one list of layers (no copy here): bench-harness/shapes/conv.txt, served as /shapes/.
  try {
    const r = await fetch('/shapes/conv.txt');
    if (!r.ok) return { layers: [], source: `bench-harness/shapes/conv.txt not served (HTTP ${r.status}): no conv suite` };
    return { layers: parseConvLayers(await r.text()), source: 'bench-harness/shapes/conv.txt' };
  } catch (e) {
    return { layers: [], source: `bench-harness/shapes/conv.txt unreadable: ${e.message}` };
  }
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

/**
 * Adds ratio_to_tfjs-wasm, ratio_to_ort and ratio_to_best_peer (+ best_peer) to each result:
 * its GFLOP/s (GB/s for the element-wise suite) over the peer's, same suite, same case, same
 * thread count.
 */
export function addRatios(results) {
  const value = (r) => (r.gflops !== undefined ? r.gflops : r.gbps);
  for (const r of results) {
    if (r.status !== 'ok') continue;
    const same = results.filter((o) => o.status === 'ok' && o.suite === r.suite && o.case === r.case && o.threads === r.threads);
    const ratio = (o) => (o ? +(value(r) / value(o)).toFixed(3) : null);
    const peers = same.filter((o) => PEERS.includes(o.impl) && o !== r);
    const best = peers.reduce((b, o) => (!b || value(o) > value(b) ? o : b), null);
    r['ratio_to_tfjs-wasm'] = ratio(same.find((o) => o.impl === 'tfjs-wasm'));
    r.ratio_to_ort = ratio(same.find((o) => o.impl === 'ort'));
    r.ratio_to_best_peer = ratio(best);
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

/** The configurations that take part in a suite (the element-wise suite: one thread). */
const inSuite = (c, suite) => c.impl.suites.includes(suite) && (suite !== 'eltwise' || c.threads === 1);

function renderResults(suite, cases, cfgs) {
  const byKey = new Map(S.results.filter((r) => r.suite === suite.record).map((r) => [`${r.impl}/${r.threads}@${r.case}`, r]));
  const maxT = Math.max(...cfgs.map((c) => c.threads));
  const sel = cfgs.filter((c) => inSuite(c, suite.id));
  const names = cases.map((c) => c.name);
  drawChart($(`chart-${suite.id}`), {
    title: `${suite.unit} per case (higher is better; same page, same run)`,
    unit: suite.unit,
    shapes: names,
    series: sel.filter((c) => !c.unavailable).map((c) => ({ key: c.key, label: c.label, color: seriesColor(c.impl.id, c.threads, maxT) })),
    value: (key, name) => { const r = byKey.get(`${key}@${name}`); return r && r.status === 'ok' ? r[suite.key] : null; },
  });
  const t = $(`results-${suite.id}`);
  const head = `<tr><th>implementation</th><th>threads</th>${names.map((n) => `<th>${n}</th>`).join('')}</tr>`;
  const rows = sel.map((c) => {
    const cells = names.map((n) => {
      const r = byKey.get(`${c.key}@${n}`);
      if (c.unavailable) return `<td class="na" title="${c.unavailable}">n/a</td>`;
      if (!r) return '<td class="pending">…</td>';
      if (r.status !== 'ok') return `<td class="${r.status}" title="${(r.note || '').replace(/"/g, "'")}">${r.status}</td>`;
      const ratio = r['ratio_to_tfjs-wasm'];
      const sub = c.impl.peer ? '' : ratio != null ? `<small>${ratio.toFixed(2)}× tfjs-wasm</small>` : '';
      return `<td class="ok" title="median ${r.ms_median.toFixed(3)} ms, spread ±${(100 * r.spread).toFixed(0)}%, ${r.samples} samples; ${r.verify}">${r[suite.key].toFixed(2)}${sub}</td>`;
    });
    return `<tr class="${c.impl.peer ? 'peer' : 'lanes'}"><td title="${c.detail || ''}">${c.label}</td><td>${c.threads}</td>${cells.join('')}</tr>`;
  });
  t.innerHTML = head + rows.join('');
  $(`suite-${suite.id}`).hidden = false;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const h = s.length >> 1; return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2; };
const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

/**
 * One case of a suite on every configuration: setup, verify, warm up, then `rounds` rounds
 * (alternating order) of >= minMs each. `kase`: {name, fields (copied into each record),
 * amount (FLOP or bytes per call), setup (the worker's setup arguments), verifier}.
 */
async function measureCase(suite, kase, cfgs, workers, { minMs, rounds }) {
  const { name, amount } = kase;
  const live = [];
  let lanesOut = null; // the first lanes output of this case: every other result is compared with it
  for (const c of cfgs) {
    const w = workers.get(c.key);
    if (!w) continue;
    const base = { suite: suite.record, case: name, ...kase.fields, impl: c.impl.id, isa: c.impl.isa, threads: c.threads, kernel: c.info ? c.info.kernel : undefined };
    if (suite.id !== 'eltwise' && c.impl.maxFlop && amount > c.impl.maxFlop) {
      S.results.push({ ...base, status: 'skipped', note: `skipped: ${(amount / 1e9).toFixed(2)} GFLOP per call is above this implementation's ${(c.impl.maxFlop / 1e9).toFixed(2)} limit (too slow)` });
      continue;
    }
    try {
      $('status').textContent = `${suite.id} ${name}: ${c.key} setup + verify`;
      await w.call('setup', { suite: suite.id, ...kase.setup });
      const { c: out, pool } = await w.call('run');
      if (pool !== undefined) base.pool = pool;
      const v = kase.verifier.check(out, lanesOut);
      if (!v.ok) {
        S.results.push({ ...base, status: 'wrong', note: `verification failed: ${v.message}` });
        log(`${c.key} @ ${name}: WRONG RESULT ${v.message}`);
        S.errors.push(`${c.key} @ ${name}: wrong result: ${v.message}`);
        continue;
      }
      if (!lanesOut && !c.impl.peer) lanesOut = out;
      const checks = { verify: v.message, max_err: v.maxErr };
      for (const [k, f] of [['max_abs_err', 'maxAbsErr'], ['max_rel_err', 'maxRelErr'], ['max_abs_diff_lanes', 'maxAbsDiffLanes'], ['max_rel_diff_lanes', 'maxRelDiffLanes']]) {
        if (v[f] !== undefined) checks[k] = v[f];
      }
      live.push({ c, w, base, checks, samples: [] });
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
      $('status').textContent = `${suite.id} ${name}: round ${r + 1}/${rounds}, timing ${L.c.key}`;
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
  // GFLOP/s from FLOP, GB/s from bytes: both amount / ms / 1e6.
  const k = suite.key;
  for (const L of live) {
    if (L.error || !L.samples.length) {
      S.results.push({ ...L.base, status: 'error', note: L.error || 'no samples' });
      continue;
    }
    const med = median(L.samples);
    const rec = {
      ...L.base, status: 'ok',
      [k]: +(amount / med / 1e6).toFixed(3),
      // From the fastest sample: what the code can do when no other process takes the core.
      [`${k}_best`]: +(amount / Math.min(...L.samples) / 1e6).toFixed(3),
      ms_median: med, ms_min: Math.min(...L.samples),
      spread: (quantile(L.samples, 0.75) - quantile(L.samples, 0.25)) / 2 / med,
      samples: L.samples.length, ...L.checks,
    };
    S.results.push(rec);
    log(`${L.c.key.padEnd(24)} ${name.padEnd(20)} ${rec[k].toFixed(2).padStart(8)} ${suite.unit}  (${med.toFixed(3)} ms, ±${(100 * rec.spread).toFixed(0)}%)`);
  }
  for (const w of workers.values()) await w.call('free').catch(() => {});
}

/** The cases of each suite, ready for measureCase (test data made when the case runs). */
function gemmCase(sh) {
  const { m, n, k, name } = sh;
  const a = seededMatrix(m * k, 1000 + m + 3 * n + 7 * k);
  const b = seededMatrix(k * n, 2000 + m + 3 * n + 7 * k);
  return { name, fields: { m, n, k }, amount: sh.flop, setup: { m, n, k, a, b }, verifier: new Verifier(m, n, k, a, b) };
}

function convCase(l, i) {
  const input = seededMatrix(l.h * l.w * l.cin, 3000 + i);
  const filter = seededMatrix(filterLen(l), 4000 + i);
  const { name, h, w, cin, cout, kh, kw, stride, padding, groups, oh, ow, flop } = l;
  return {
    name, fields: { h, w, cin, cout, kh, kw, stride, padding, groups, oh, ow, flop }, amount: flop,
    setup: { layer: l, input, filter }, verifier: new ConvVerifier(l, input, filter),
  };
}

function eltwiseCase(ec, i) {
  const { name, op, rows, cols, bytes } = ec;
  const x = seededMatrix(rows * cols, 5000 + i).map((v) => 4 * v);
  const gamma = seededMatrix(cols, 6000 + i).map((v) => 1 + 0.1 * v);
  const beta = seededMatrix(cols, 7000 + i);
  return {
    name, fields: { op, rows, cols, bytes }, amount: bytes,
    setup: { op, rows, cols, x, gamma, beta, eps: LAYERNORM_EPS }, verifier: new EltwiseVerifier(ec, x, gamma, beta, LAYERNORM_EPS),
  };
}

async function run() {
  const suites = SUITES.filter((s) => $(`suite-on-${s.id}`).checked);
  const chosen = {
    gemm: S.allShapes.filter((s) => $(`shape-${s.name}`).checked),
    conv: S.convLayers.filter((l) => $(`conv-${l.name}`).checked),
    eltwise: S.eltwiseCases.filter((c) => $(`eltwise-${c.name}`).checked),
  };
  const threadCounts = [...document.querySelectorAll('input[name=threads]:checked')].map((e) => Number(e.value));
  const implIds = [...document.querySelectorAll('input[name=impl]:checked')].map((e) => e.value);
  const minMs = Number($('minMs').value) || 250;
  const rounds = Math.max(1, Number($('rounds').value) || 2);
  $('run').disabled = true;
  S.state = 'running';
  S.results = [];
  S.startedAt = new Date().toISOString();
  S.settings = {
    suites: suites.map((s) => s.id), shapes: chosen.gemm.map((s) => s.name), conv: chosen.conv.map((l) => l.name),
    eltwise: chosen.eltwise.map((c) => c.name), threads: threadCounts, impls: implIds, minMs, rounds,
  };
  const cfgs = configsFor(implIds, threadCounts, S.features, S.loader)
    .filter((c) => suites.some((s) => chosen[s.id].length && inSuite(c, s.id)));
  const snapshot = () => cfgs.map((c) => ({ key: c.key, impl: c.impl.id, threads: c.threads, unavailable: c.unavailable, detail: c.detail, suites: SUITES.filter((s) => inSuite(c, s.id)).map((s) => s.record) }));
  S.configs = snapshot();
  for (const s of SUITES) $(`suite-${s.id}`).hidden = true;
  for (const s of suites) renderResults(s, chosen[s.id], cfgs);
  log(`run: ${suites.map((s) => `${s.id} ${chosen[s.id].length} cases`).join(', ')} x ${cfgs.length} configurations, ${rounds} rounds of >= ${minMs} ms`);
  const workers = new Map();
  try {
    for (const c of cfgs) {
      if (c.unavailable) { log(`${c.key}: n/a (${c.unavailable})`); continue; }
      const w = new ImplWorker(c);
      try {
        const r = await w.call('init', { variant: c.impl.variant, impl: c.impl.id, threads: c.threads, packB: c.impl.packB !== false, readBack: c.impl.readBack === undefined ? 'into' : c.impl.readBack });
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
    S.configs = snapshot();
    const make = { gemm: gemmCase, conv: convCase, eltwise: eltwiseCase };
    for (const suite of suites) {
      const sc = cfgs.filter((c) => inSuite(c, suite.id));
      for (const [i, item] of chosen[suite.id].entries()) {
        $('status').textContent = `${suite.id} ${item.name}: preparing (float64 reference)`;
        await new Promise((res) => setTimeout(res, 0));
        await measureCase(suite, make[suite.id](item, i), sc, workers, { minMs, rounds });
        addRatios(S.results);
        renderResults(suite, chosen[suite.id], cfgs);
      }
    }
  } finally {
    for (const w of workers.values()) w.terminate();
  }
  addRatios(S.results);
  for (const s of suites) renderResults(s, chosen[s.id], cfgs);
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
  const suiteSel = want('suites', SUITES.map((x) => x.id));
  $('suites').innerHTML = SUITES.map((x) => `<label><input type="checkbox" id="suite-on-${x.id}" ${suiteSel.includes(x.id) ? 'checked' : ''}>${x.id} <small>(${x.unit})</small></label>`).join('');
  const convSel = want('conv', ['all']);
  $('conv-layers').innerHTML = S.convLayers.map((l) => {
    const on = convSel.includes('all') || convSel.includes(l.name);
    return `<label><input type="checkbox" id="conv-${l.name}" ${on ? 'checked' : ''}>${l.name} <small>(${(l.flop / 1e6).toFixed(0)} MFLOP)</small></label>`;
  }).join('');
  const eltSel = want('eltwise', ['all']);
  $('eltwise-cases').innerHTML = S.eltwiseCases.map((c) => {
    const on = eltSel.includes('all') || eltSel.includes(c.name);
    return `<label><input type="checkbox" id="eltwise-${c.name}" ${on ? 'checked' : ''}>${c.name}</label>`;
  }).join('');
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
    const conv = await loadConvLayers();
    S.convLayers = conv.layers;
    S.convSource = conv.source;
    $('conv-source').textContent = conv.source;
    // Cases named in the URL but not in the default list (e.g. a quick test's small sizes) are added.
    S.eltwiseCases = eltwiseCases(null);
    if (params.has('eltwise')) {
      for (const c of eltwiseCases(params.get('eltwise').split(',').map((x) => x.trim()).filter(Boolean))) {
        if (!S.eltwiseCases.some((o) => o.name === c.name)) S.eltwiseCases.push(c);
      }
    }
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
