// Headless benchmark runner: serves the page, drives it in Chromium, and writes
//   <out>/wasm.jsonl        one JSON object per (suite, case, implementation, threads)
//   <out>/wasm-report.md    the tables, ratios and targets in Markdown
//   <out>/wasm-bench.png    a screenshot of the finished page
// Usage: node scripts/run-bench.mjs [--out DIR] [--suites gemm,conv,eltwise]
//        [--shapes 64x64x64,...|all] [--conv resnet_3x3_64,...|all] [--eltwise softmax:128x768,...|all]
//        [--threads 1,2] [--impls lanes-relaxed,...] [--minMs 250] [--rounds 2] [--build simd128]
//        [--timeout 540]
// The options other than --out and --timeout become the page's URL parameters (unset: the
// page's defaults: every suite, the default GEMM shapes, every layer of conv.txt, every
// element-wise case). A quick check that the page still produces results:
//   node scripts/run-bench.mjs --out /tmp/wasm-quick --shapes 64x64x64 --conv mnist_3x3_32_64 \
//     --eltwise softmax:128x768 --minMs 20 --rounds 1
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { openPage } from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PAGE_PARAMS = ['suites', 'shapes', 'conv', 'eltwise', 'threads', 'impls', 'minMs', 'rounds', 'build'];
const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: path.resolve(here, '..', '..', 'bench-results') },
    timeout: { type: 'string', default: '540' },
    ...Object.fromEntries(PAGE_PARAMS.map((p) => [p, { type: 'string' }])),
  },
});
const out = path.resolve(opts.out);
const timeoutS = Number(opts.timeout);
if (!(timeoutS > 0)) throw new Error(`--timeout: not a positive number of seconds: ${opts.timeout}`);
fs.mkdirSync(out, { recursive: true });

const q = new URLSearchParams({ autorun: '1' });
for (const p of PAGE_PARAMS) if (opts[p]) q.set(p, opts[p]);

const t0 = Date.now();
const loadBefore = os.loadavg().map((x) => x.toFixed(2)).join(' ');
const ctx = await openPage({ width: 1500, height: 1100 });
const { page } = ctx;
try {
  console.log(`[bench-wasm] ${ctx.url}?${q}`);
  // The page's log lines as they come (bench.js writes each to the console as "[bench] ...").
  page.on('console', (m) => { if (m.type() === 'log' && m.text().startsWith('[bench] ')) console.log(`[page] ${m.text().slice(8)}`); });
  await page.goto(`${ctx.url}?${q}`);
  try {
    await page.waitForFunction(() => window.__lanesBench && ['done', 'failed'].includes(window.__lanesBench.state), null, {
      timeout: Math.max(1, timeoutS * 1000 - (Date.now() - t0)), polling: 1000,
    });
  } catch (e) {
    if (e.name !== 'TimeoutError') throw e;
    console.error(`[bench-wasm] timed out after ${timeoutS} s`);
  }
  const S = await page.evaluate(() => {
    const s = window.__lanesBench;
    return { state: s.state, loader: s.loader, features: s.features, results: s.results, errors: s.errors, settings: s.settings, configs: s.configs, startedAt: s.startedAt, finishedAt: s.finishedAt, ua: navigator.userAgent };
  });
  await page.evaluate(() => { const d = document.querySelector('details'); if (d) d.open = false; });
  await page.screenshot({ path: path.join(out, 'wasm-bench.png'), fullPage: true });
  S.load = `load average ${loadBefore} before, ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} after (${os.cpus().length} CPUs)`;
  const lines = S.results.map((r) => JSON.stringify(r));
  fs.writeFileSync(path.join(out, 'wasm.jsonl'), lines.join('\n') + (lines.length ? '\n' : ''));
  fs.writeFileSync(path.join(out, 'wasm-report.md'), report(S));
  console.log(`[bench-wasm] wrote ${path.join(out, 'wasm.jsonl')} (${lines.length} lines), wasm-report.md, wasm-bench.png in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  for (const e of [...S.errors, ...ctx.errors]) console.error(`[bench-wasm] problem: ${e}`);
  if (S.state !== 'done' || S.errors.length) process.exitCode = 1;
} finally {
  await ctx.close();
}

function report(S) {
  const L = [];
  L.push('# lanes in WebAssembly: benchmark report', '');
  L.push(`- Browser: ${S.ua}`);
  L.push(`- Loaded build: **${S.loader.variant}** (${S.loader.reason}); ${S.loader.threads.reason}`);
  L.push(`- hardwareConcurrency ${S.features.hardwareConcurrency}, crossOriginIsolated ${S.features.crossOriginIsolated}; machine ${S.load}`);
  L.push(`- Settings: ${JSON.stringify(S.settings)}; ${S.startedAt} .. ${S.finishedAt}`, '');
  const all = S.results;
  if (all.some((r) => r.suite === 'gemm-wasm')) L.push(...gemmReport({ ...S, results: all.filter((r) => r.suite === 'gemm-wasm') }));
  if (all.some((r) => r.suite === 'conv-wasm')) L.push(...suiteReport(S, 'conv-wasm', 'gflops', 'GFLOP/s', [
    '## Convolution layers (bench-harness/shapes/conv.txt), GFLOP/s', '',
    '- Batch 1, NHWC, no bias or activation. GFLOP/s = 2·OH·OW·Cout·KH·KW·Cin/groups / median time per call.',
    '- lanes: `Conv2dLayer` (filter packed once, input resident in wasm memory, output copied into a Float32Array allocated once, in every call; `lanes-relaxed-alloc`: into a new Float32Array per call, as the peers; `lanes-relaxed-noread`: left in wasm memory); TF.js: `tf.conv2d` / `tf.depthwiseConv2d` on an NHWC input tensor and a filter tensor created once, output read with `dataSync()`; onnxruntime-web: a one-node Conv model (NCHW, OIHW weight as initializer), input copied in and output out by `session.run`.',
    '- Every result verified value by value against a float64 direct convolution (error relative to the magnitude of the terms, the GEMM tolerance for K = KH·KW·Cin/groups) and compared with the lanes output before timing.', '',
  ]));
  if (all.some((r) => r.suite === 'eltwise-wasm')) L.push(...suiteReport(S, 'eltwise-wasm', 'gbps', 'GB/s', [
    '## Element-wise and row ops (one thread), GB/s', '',
    '- GB/s = 8 bytes per element (one f32 read, one written) / median time per call; rows x cols, last axis.',
    '- lanes: `EltwisePlan` (input resident, output copied into a reused Float32Array in every call; `-alloc`: a new array per call; `-noread`: left in wasm memory); TF.js: `tf.softmax`, `tf.exp`, layer norm as `tf.moments` + arithmetic (TF.js has no layer-norm op), output read with `dataSync()`; onnxruntime-web: Softmax / LayerNormalization (opset 17) / Exp models; naive JS: a plain scalar loop.',
    '- Every result verified value by value against float64 (exp 2e-6 relative, softmax 1e-4 relative, layer norm 1e-4·(1+|y|)) before timing.', '',
  ]));
  const bad = S.results.filter((r) => r.status !== 'ok' && r.status !== 'skipped');
  if (bad.length || S.errors.length) {
    L.push('', '## Problems', '');
    for (const r of bad) L.push(`- ${r.suite} ${r.impl}/${r.threads} @ ${r.case}: ${r.status}: ${r.note}`);
    for (const e of S.errors) L.push(`- ${e}`);
  }
  const skipped = S.results.filter((r) => r.status === 'skipped');
  if (skipped.length) L.push('', `Skipped as too slow: ${skipped.map((r) => `${r.impl} @ ${r.case}`).join(', ')}.`);
  L.push('');
  return L.join('\n');
}

/** A table of `key` per case and configuration, then lanes' ratios to tfjs-wasm / ort / best peer. */
function suiteReport(S, suite, key, unit, intro) {
  const rs = S.results.filter((r) => r.suite === suite);
  const cases = [...new Set(rs.map((r) => r.case))];
  const cfgs = S.configs.filter((c) => c.suites.includes(suite));
  const get = (impl, t, c) => rs.find((r) => r.impl === impl && r.threads === t && r.case === c);
  const L = [...intro];
  L.push(`| implementation | threads | ${cases.join(' | ')} |`, `|---|---|${cases.map(() => '---:').join('|')}|`);
  for (const c of cfgs) {
    if (c.unavailable) { L.push(`| ${c.impl} | ${c.threads} | n/a: ${c.unavailable} |`); continue; }
    L.push(`| ${c.impl} | ${c.threads} | ${cases.map((cs) => { const r = get(c.impl, c.threads, cs); return !r ? '' : r.status === 'ok' ? r[key].toFixed(2) : r.status; }).join(' | ')} |`);
  }
  L.push('', `lanes vs peers (ratio of ${unit}, same case, same thread count): vs tfjs-wasm / vs ort / vs best peer`, '');
  L.push(`| lanes build | threads | ${cases.join(' | ')} |`, `|---|---|${cases.map(() => '---:').join('|')}|`);
  const f = (v) => (v == null ? '-' : v.toFixed(2));
  for (const c of cfgs.filter((x) => x.impl.startsWith('lanes') && !x.unavailable)) {
    L.push(`| ${c.impl} | ${c.threads} | ${cases.map((cs) => { const r = get(c.impl, c.threads, cs); return r && r.status === 'ok' ? `${f(r['ratio_to_tfjs-wasm'])} / ${f(r.ratio_to_ort)} / ${f(r.ratio_to_best_peer)}` : ''; }).join(' | ')} |`);
  }
  L.push('');
  return L;
}

function gemmReport(S) {
  const cases = [...new Set(S.results.map((r) => r.case))];
  const cfgs = S.configs.filter((c) => !c.unavailable && c.suites.includes('gemm-wasm'));
  const get = (impl, t, c) => S.results.find((r) => r.impl === impl && r.threads === t && r.case === c);
  const L = [];
  L.push('## GEMM, GFLOP/s', '');
  L.push('- GFLOP/s = 2·M·N·K / median time per call; each result verified (row/column sums + 512 sampled entries vs float64) before timing.');
  L.push('- lanes rows use B packed once (weights), like tfjs-wasm (XNNPACK caches its packed operator per B tensor) and onnxruntime-web (B is an initializer, prepacked); `lanes-relaxed-nopack` packs B in every call.', '');
  L.push(`| implementation | threads | ${cases.join(' | ')} |`);
  L.push(`|---|---|${cases.map(() => '---:').join('|')}|`);
  for (const c of cfgs) {
    const cells = cases.map((cs) => {
      const r = get(c.impl, c.threads, cs);
      if (!r) return '';
      if (r.status !== 'ok') return r.status;
      return r.gflops.toFixed(2);
    });
    L.push(`| ${c.impl} | ${c.threads} | ${cells.join(' | ')} |`);
  }
  for (const c of S.configs.filter((x) => x.unavailable && x.suites.includes('gemm-wasm'))) L.push(`| ${c.impl} | ${c.threads} | n/a: ${c.unavailable} |`);
  L.push('', 'Best (fastest sample) GFLOP/s, thread-scaling view:', '');
  L.push(`| implementation | threads | ${cases.join(' | ')} |`);
  L.push(`|---|---|${cases.map(() => '---:').join('|')}|`);
  for (const c of cfgs.filter((x) => x.impl === 'lanes-threads' || x.impl === 'tfjs-wasm' || x.impl === 'ort')) {
    L.push(`| ${c.impl} | ${c.threads} | ${cases.map((cs) => { const r = get(c.impl, c.threads, cs); return r && r.status === 'ok' ? r.gflops_best.toFixed(2) : ''; }).join(' | ')} |`);
  }
  L.push('', '### lanes vs peers (ratio of GFLOP/s, same shape, same thread count)', '');
  L.push(`| lanes build | threads | ${cases.map((c) => `${c} vs tfjs-wasm / best peer`).join(' | ')} |`);
  L.push(`|---|---|${cases.map(() => '---:').join('|')}|`);
  for (const c of cfgs.filter((x) => x.impl.startsWith('lanes'))) {
    const cells = cases.map((cs) => {
      const r = get(c.impl, c.threads, cs);
      if (!r || r.status !== 'ok') return '';
      const a = r['ratio_to_tfjs-wasm'], b = r.ratio_to_best_peer;
      return `${a == null ? '-' : a.toFixed(2)} / ${b == null ? '-' : b.toFixed(2)} (${r.best_peer || '-'})`;
    });
    L.push(`| ${c.impl} | ${c.threads} | ${cells.join(' | ')} |`);
  }
  L.push('', '### Targets (issue #4)', '');
  const g = (impl, t, cs) => { const r = get(impl, t, cs); return r && r.status === 'ok' ? r : null; };
  const target = (name, pass, detail) => L.push(`- ${pass == null ? 'n/a' : pass ? 'MET' : 'MISSED'}: ${name} — ${detail}`);
  const big = ['256x256x256', '512x512x512', '1024x1024x1024', '128x3072x768'].filter((c) => cases.includes(c));
  for (const [impl, need] of [['lanes-simd128', 1.0], ['lanes-relaxed', 1.4]]) {
    const rs = big.map((c) => [c, g(impl, 1, c)]).filter(([, r]) => r && r['ratio_to_tfjs-wasm'] != null);
    const pass = rs.length ? rs.every(([, r]) => r['ratio_to_tfjs-wasm'] >= need) : null;
    target(`${impl} >= ${need}x tfjs-wasm, 1 thread, ${big.join(', ')}`, pass, rs.map(([c, r]) => `${c}: ${r['ratio_to_tfjs-wasm'].toFixed(2)}x`).join(', '));
  }
  {
    const rs = ['lanes-relaxed', 'lanes-simd128'].map((i) => g(i, 1, '1x3072x768')).filter(Boolean);
    const best = rs.reduce((b, r) => (!b || r.gflops > b.gflops ? r : b), null);
    target('1x3072x768 >= 1.0x best peer (1 thread)', best ? best.ratio_to_best_peer >= 1.0 : null, best ? `${best.impl} ${best.gflops.toFixed(2)} GFLOP/s = ${best.ratio_to_best_peer}x ${best.best_peer}` : 'not measured');
  }
  {
    const t1 = g('lanes-threads', 1, '1024x1024x1024'), t2 = g('lanes-threads', 2, '1024x1024x1024');
    target('lanes threads: 2 threads >= 1.7x own 1 thread at 1024^3 (medians)', t1 && t2 ? t2.gflops / t1.gflops >= 1.7 : null, t1 && t2 ? `${t2.gflops.toFixed(2)} / ${t1.gflops.toFixed(2)} = ${(t2.gflops / t1.gflops).toFixed(2)}x; from the fastest samples ${t2.gflops_best.toFixed(2)} / ${t1.gflops_best.toFixed(2)} = ${(t2.gflops_best / t1.gflops_best).toFixed(2)}x (a second process on a 2-core machine halves the 2-thread median)` : 'not measured');
  }
  {
    const nv = g('js-naive', 1, '512x512x512');
    const rs = ['lanes-relaxed', 'lanes-simd128'].map((i) => g(i, 1, '512x512x512')).filter(Boolean);
    const best = rs.reduce((b, r) => (!b || r.gflops > b.gflops ? r : b), null);
    target('>= 15x naive JS at 512^3', nv && best ? best.gflops / nv.gflops >= 15 : null, nv && best ? `${best.impl} ${(best.gflops / nv.gflops).toFixed(1)}x` : 'not measured');
  }
  L.push('');
  return L;
}
