// Page tests in headless Chromium (playwright-core + Debian's chromium):
//  1. the page loads, the loader picks the relaxed build (Chromium has relaxed-simd) and says
//     why, threads are on when the page is cross-origin isolated;
//  2. JS callers passing wrong-length Float32Arrays or bad dimensions get a thrown Error with a
//     message (never a WebAssembly.RuntimeError trap, never garbage), in every build;
//  3. a short benchmark run over small shapes: every implementation's result verifies;
//  3b. the float64 references and checks of the conv / element-wise suites reject wrong outputs
//     (in Node), and the headless runner (run-bench.mjs) in a quick mode writes verified conv
//     and element-wise rows for every implementation of those suites;
//  4. without COOP/COEP the page says "threads off: page is not cross-origin isolated";
//  5. ?build=simd128 forces the simd128 build;
//  6. the training demo (train.html) trains the MNIST MLP in wasm and predicts;
//  7. the sentence-embedding demo (minilm.html) agrees with the NumPy reference.
// node:test + node:assert. Usage: node scripts/test-page.mjs [--screenshot path.png]
// (exit status 1 when a test fails; `node --test-name-pattern=simd128 scripts/test-page.mjs`
// runs only the matching tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import { openPage } from './browser.mjs';
import { referenceGemm, tolerance, referenceConv, ConvVerifier, EltwiseVerifier, seededMatrix } from '../www/js/verify.js';
import { parseConvLayers, convGeometry, filterLen, eltwiseCases } from '../www/js/suites.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const scripts = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(scripts, '..', '..');

const { values: opts } = parseArgs({ options: { screenshot: { type: 'string' } } });
const screenshot = opts.screenshot || null;
const TIMEOUT = 300_000; // per test (a test starts its own Chromium and server)

async function withPage(query, { isolation = true } = {}, fn) {
  const ctx = await openPage({ isolation });
  try {
    await ctx.page.goto(`${ctx.url}${query}`);
    await ctx.page.waitForFunction(() => window.__lanesBench && ['ready', 'done', 'failed'].includes(window.__lanesBench.state), null, { timeout: 60000 });
    await fn(ctx);
  } finally {
    await ctx.close();
  }
}

test('page loads the relaxed build and explains the choice; threads on when isolated', { timeout: TIMEOUT }, () =>
  withPage('', {}, async ({ page, errors }) => {
    const S = await page.evaluate(() => ({ state: window.__lanesBench.state, loader: window.__lanesBench.loader, smoke: window.__lanesBench.smoke, features: window.__lanesBench.features }));
    assert.equal(S.state, 'ready');
    assert.equal(S.loader.variant, 'relaxed');
    assert.match(S.loader.reason, /relaxed-simd/);
    assert.equal(S.loader.info.best, 'relaxed');
    assert.equal(S.loader.info.kernel, 'sgemm_6x8_wasm_relaxed');
    assert.equal(S.features.crossOriginIsolated, true);
    assert.equal(S.loader.threads.ok, true, S.loader.threads.reason);
    assert.match(S.loader.threads.reason, /^threads on/);
    assert.deepEqual(S.smoke, [1, 2, 3, 4]);
    const banner = await page.textContent('#loader');
    assert.match(banner, /Loaded build: relaxed/);
    assert.match(banner, /threads on/);
    assert.deepEqual(errors, []);
  }));

test('bad arguments throw JS Errors with messages in every build (no traps)', { timeout: TIMEOUT }, () =>
  withPage('', {}, async ({ page }) => {
    // Products computed after the errors, checked against verify.js's float64 reference
    // (small integers: exact in f32 whatever the order of the sums).
    const GEMM = { m: 2, n: 2, k: 2, a: [1, 2, 3, 4], b: [5, 6, 7, 8] };
    const PLAN = { m: 3, n: 2, k: 1, a: [1, 2, 3], b: [10, 20] };
    const out = await page.evaluate(async ({ GEMM, PLAN }) => {
      const S = window.__lanesBench;
      const res = {};
      for (const variant of ['relaxed', 'simd128', 'scalar']) {
        const m = await S.loadVariant(variant);
        const r = (res[variant] = {});
        const attempt = (name, fn) => {
          try { fn(); r[name] = { threw: false }; } catch (e) {
            r[name] = { threw: true, isError: e instanceof Error, trap: e instanceof WebAssembly.RuntimeError, message: String(e && e.message) };
          }
        };
        const F = (n) => new Float32Array(n);
        attempt('shortA', () => m.sgemm(2, 2, 2, 1, F(3), F(4), 0, F(4)));
        attempt('longB', () => m.sgemm(2, 2, 2, 1, F(4), F(5), 0, F(4)));
        attempt('shortC', () => m.sgemm(2, 3, 2, 1, F(4), F(6), 0, F(5)));
        attempt('negative', () => m.sgemm(-1, 2, 2, 1, F(4), F(4), 0, F(4)));
        attempt('fraction', () => m.sgemm(1.5, 2, 2, 1, F(4), F(4), 0, F(4)));
        attempt('nan', () => m.sgemm(NaN, 2, 2, 1, F(4), F(4), 0, F(4)));
        attempt('huge', () => m.sgemm(2 ** 40, 2, 0, 1, F(0), F(0), 0, F(4)));
        attempt('badIsa', () => m.sgemm(2, 2, 2, 1, F(4), F(4), 0, F(4), 'avx512'));
        attempt('notArray', () => m.sgemm(2, 2, 2, 1, null, F(4), 0, F(4)));
        attempt('planNeg', () => new m.GemmPlan(-5, 2, 2));
        attempt('planSetA', () => { const p = new m.GemmPlan(2, 3, 4); try { p.setA(F(7)); } finally { p.free(); } });
        attempt('planRunBeforeB', () => { const p = new m.GemmPlan(2, 3, 4); try { p.run(true, false); } finally { p.free(); } });
        attempt('planParallel', () => { const p = new m.GemmPlan(2, 2, 2); try { p.setB(F(4)); p.run(true, true); } finally { p.free(); } });
        // And the module still works afterwards, with correct results.
        const c = F(GEMM.m * GEMM.n);
        m.sgemm(GEMM.m, GEMM.n, GEMM.k, 1, new Float32Array(GEMM.a), new Float32Array(GEMM.b), 0, c);
        r.after = Array.from(c);
        const p = new m.GemmPlan(PLAN.m, PLAN.n, PLAN.k);
        p.setA(new Float32Array(PLAN.a)); p.setB(new Float32Array(PLAN.b)); p.run(true, false);
        r.plan = Array.from(p.result());
        p.free();
      }
      return res;
    }, { GEMM, PLAN });
    const ref = ({ m, n, k, a, b }) => Array.from(referenceGemm(m, n, k, a, b));
    const expect = {
      shortA: /A has length 3, expected 2x2 = 4/, longB: /B has length 5, expected 2x2 = 4/, shortC: /C has length 5, expected 2x3 = 6/,
      negative: /m must be an integer .* got -1/, fraction: /m must be an integer .* got 1.5/, nan: /m must be an integer .* got NaN/,
      huge: /m must be an integer/, badIsa: /ISA avx512 is not available/, notArray: /./, planNeg: /m must be an integer .* got -5/,
      planSetA: /A has length 7, expected 2x4 = 8/, planRunBeforeB: /before setB/, planParallel: /no threads/,
    };
    for (const [variant, r] of Object.entries(out)) {
      for (const [name, re] of Object.entries(expect)) {
        const x = r[name];
        assert.ok(x.threw, `${variant} ${name}: did not throw`);
        assert.ok(x.isError, `${variant} ${name}: threw a non-Error`);
        assert.ok(!x.trap, `${variant} ${name}: wasm trap: ${x.message}`);
        assert.match(x.message, re, `${variant} ${name}`);
      }
      assert.deepEqual(r.after, ref(GEMM), `${variant}: wrong result after errors`);
      assert.deepEqual(r.plan, ref(PLAN), `${variant}: plan result`);
    }
  }));

test('short benchmark: every implementation verifies (small shapes, all impls, 1 and 2 threads)', { timeout: TIMEOUT }, () =>
  withPage('?autorun=1&suites=gemm&shapes=64x64x64,33x65x17,1x3072x768,131x1031x517&minMs=20&rounds=1', {}, async ({ page }) => {
    // 33x65x17 and 131x1031x517 (not in the shape list, added from the URL) are ragged in every
    // dimension; the latter crosses KC and NC and is big enough for the pool (4 blocks x 17M MACs).
    await page.waitForFunction(() => ['done', 'failed'].includes(window.__lanesBench.state), null, { timeout: TIMEOUT - 60_000, polling: 250 });
    const S = await page.evaluate(() => ({ state: window.__lanesBench.state, results: window.__lanesBench.results, configs: window.__lanesBench.configs, errors: window.__lanesBench.errors }));
    assert.equal(S.state, 'done', S.errors.join('\n'));
    assert.deepEqual(S.errors, []);
    const bad = S.results.filter((r) => r.status !== 'ok' && r.status !== 'skipped');
    assert.deepEqual(bad, []);
    const unavailable = S.configs.filter((c) => c.unavailable);
    assert.deepEqual(unavailable, []);
    const impls = new Set(S.results.filter((r) => r.status === 'ok').map((r) => `${r.impl}/${r.threads}`));
    for (const want of ['lanes-relaxed/1', 'lanes-simd128/1', 'lanes-threads/1', 'lanes-threads/2', 'lanes-scalar/1', 'js-naive/1', 'js-tuned/1', 'tfjs-cpu/1', 'tfjs-wasm/1', 'tfjs-wasm/2', 'ort/1', 'ort/2']) {
      assert.ok(impls.has(want), `no verified result for ${want}`);
    }
    assert.ok(S.results.some((r) => r.case === '33x65x17' && r.status === 'ok'), 'ragged shape not run');
    const pooled = S.results.find((r) => r.impl === 'lanes-threads' && r.threads === 2 && r.case === '131x1031x517');
    assert.equal(pooled && pooled.status, 'ok');
    assert.equal(pooled.pool, true, 'the 2-thread run of 131x1031x517 did not use the pool');
    const gemv = S.results.find((r) => r.impl === 'lanes-threads' && r.threads === 2 && r.case === '1x3072x768');
    assert.equal(gemv.pool, false, 'GEMV should stay on one thread');
    // The page's verification (verify.js) passed; its error is within verify.js's tolerance.
    for (const r of S.results.filter((x) => x.status === 'ok')) assert.ok(r.gflops > 0 && r.max_err <= tolerance(r.k), JSON.stringify(r));
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  }));

test('conv and element-wise checks: conv.txt parses, the float64 references agree with hand sums, wrong outputs fail', () => {
  const layers = parseConvLayers(fs.readFileSync(path.join(repoRoot, 'bench-harness/shapes/conv.txt'), 'utf8'));
  assert.ok(layers.length >= 5, 'conv.txt has layers');
  const stem = layers.find((l) => l.name === 'stem_3x3_s2_3_32');
  // TF SAME, stride 2 on 224: output 112, one row/column of padding, at the bottom/right.
  assert.deepEqual([stem.oh, stem.ow, stem.pads.top, stem.pads.bottom, stem.pads.left, stem.pads.right], [112, 112, 0, 1, 0, 1]);
  assert.equal(stem.flop, 2 * 112 * 112 * 32 * 3 * 3 * 3);
  const dw = layers.find((l) => l.depthwise);
  assert.ok(dw && dw.groups === dw.cin && dw.k === 9, 'a depthwise layer with 9 terms per output');
  // 2x2 valid conv of a 3x3 one-channel image with 2 output channels, by hand.
  const l = convGeometry({ name: 't', h: 3, w: 3, cin: 1, cout: 2, kh: 2, kw: 2, stride: 1, padding: 'valid', groups: 1 });
  const img = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const f = Float32Array.from([1, 10, 0, 0, 0, 0, -1, 1]); // HWIO: tap (0,0) -> [1, 10], tap (1,1) -> [-1, 1]
  assert.deepEqual(Array.from(referenceConv(l, img, f).ref), [1 - 5, 10 + 5, 2 - 6, 20 + 6, 4 - 8, 40 + 8, 5 - 9, 50 + 9]);
  // A layer with padding, stride and groups: the f32-rounded reference passes, a changed value,
  // an NCHW (transposed) output and a short output fail.
  const g = convGeometry({ name: 'g', h: 7, w: 6, cin: 4, cout: 6, kh: 3, kw: 3, stride: 2, padding: 'same', groups: 2 });
  const x = seededMatrix(7 * 6 * 4, 1), w = seededMatrix(filterLen(g), 2);
  const v = new ConvVerifier(g, x, w);
  const good = Float32Array.from(v.ref);
  assert.ok(v.check(good).ok);
  const bad = Float32Array.from(good); bad[17] += 1e-3 * (v.mag[17] + 1);
  assert.ok(!v.check(bad).ok);
  const nchw = new Float32Array(good.length);
  for (let c = 0; c < g.cout; c++) for (let p = 0; p < g.oh * g.ow; p++) nchw[c * g.oh * g.ow + p] = good[p * g.cout + c];
  assert.ok(!v.check(nchw).ok);
  assert.ok(!v.check(good.subarray(1)).ok);
  assert.equal(v.check(good, bad).maxAbsDiffLanes, Math.abs(bad[17] - good[17]));
  // Element-wise: each op's f32 reference passes; a softmax over the wrong axis, an exp off by
  // 1e-5 and a layer norm without gamma fail.
  for (const c of eltwiseCases(['softmax:4x6', 'layernorm:4x6', 'exp:4x6'])) {
    const xs = seededMatrix(24, 3).map((t) => 4 * t), gamma = seededMatrix(6, 4).map((t) => 1 + 0.5 * t), beta = seededMatrix(6, 5);
    const ev = new EltwiseVerifier(c, xs, gamma, beta, 1e-5);
    assert.ok(ev.check(Float32Array.from(ev.ref)).ok, c.name);
    const wrong = Float32Array.from(ev.ref);
    if (c.op === 'exp') wrong[5] *= 1 + 1e-5;
    if (c.op === 'layernorm') for (let i = 0; i < 24; i++) wrong[i] = (ev.ref[i] - beta[i % 6]) / gamma[i % 6] + beta[i % 6];
    if (c.op === 'softmax') {
      const t = new Float64Array(24);
      for (let j = 0; j < 6; j++) { let s = 0; for (let i = 0; i < 4; i++) s += Math.exp(xs[i * 6 + j]); for (let i = 0; i < 4; i++) t[i * 6 + j] = Math.exp(xs[i * 6 + j]) / s; }
      wrong.set(t);
    }
    assert.ok(!ev.check(wrong).ok, `${c.name}: a wrong output passed`);
  }
});

test('runner quick mode: verified conv and element-wise rows for every implementation', { timeout: TIMEOUT }, () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lanes-wasm-quick-'));
  try {
    // One GEMM-path layer (stays on one thread) and one depthwise layer (large enough for the pool).
    const conv = ['mnist_3x3_32_64', 'mbv2_dw3x3_144'];
    const elt = ['softmax:128x768', 'layernorm:128x768', 'exp:128x768'];
    const r = spawnSync(process.execPath, [path.join(scripts, 'run-bench.mjs'), '--out', out, '--suites', 'conv,eltwise',
      '--conv', conv.join(','), '--eltwise', elt.join(','), '--threads', '1,2', '--minMs', '20', '--rounds', '1', '--timeout', '240'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `run-bench.mjs failed:\n${r.stdout}\n${r.stderr}`);
    const rows = fs.readFileSync(path.join(out, 'wasm.jsonl'), 'utf8').trim().split('\n').map((x) => JSON.parse(x));
    const ok = (suite, impl, t, c) => rows.find((x) => x.suite === suite && x.impl === impl && x.threads === t && x.case === c && x.status === 'ok');
    for (const c of conv) {
      for (const want of ['lanes-relaxed/1', 'lanes-relaxed-alloc/1', 'lanes-relaxed-noread/1', 'lanes-simd128/1', 'lanes-scalar/1', 'lanes-threads/1', 'lanes-threads/2', 'tfjs-cpu/1', 'tfjs-wasm/1', 'tfjs-wasm/2', 'ort/1', 'ort/2']) {
        const [impl, t] = want.split('/');
        const x = ok('conv-wasm', impl, Number(t), c);
        assert.ok(x, `no verified conv row for ${want} @ ${c}`);
        assert.ok(x.gflops > 0 && x.max_err <= tolerance(x.kh * x.kw * x.cin / x.groups), JSON.stringify(x));
        assert.match(x.verify, /^max error/);
        if (impl !== 'lanes-relaxed') assert.ok(Number.isFinite(x.max_abs_diff_lanes), `${want} not compared with lanes`);
      }
    }
    assert.equal(ok('conv-wasm', 'lanes-threads', 2, 'mbv2_dw3x3_144').pool, true, 'the depthwise layer did not use the pool');
    assert.equal(ok('conv-wasm', 'lanes-threads', 2, 'mnist_3x3_32_64').pool, false, 'a 3.6M-MAC layer should stay on one thread');
    for (const c of elt) {
      for (const impl of ['lanes-relaxed', 'lanes-relaxed-alloc', 'lanes-relaxed-noread', 'lanes-simd128', 'lanes-scalar', 'js-naive', 'tfjs-cpu', 'tfjs-wasm', 'ort']) {
        const x = ok('eltwise-wasm', impl, 1, c);
        assert.ok(x, `no verified element-wise row for ${impl} @ ${c}`);
        assert.ok(x.gbps > 0 && x.max_err <= 1 && x.bytes === 8 * 128 * 768, JSON.stringify(x));
      }
    }
    assert.ok(!rows.some((x) => x.suite === 'eltwise-wasm' && x.threads !== 1), 'element-wise rows run one thread');
    assert.ok(!rows.some((x) => x.suite === 'gemm-wasm'), 'only the asked suites run');
    assert.ok(rows.every((x) => x.status === 'ok'), JSON.stringify(rows.filter((x) => x.status !== 'ok')));
    const md = fs.readFileSync(path.join(out, 'wasm-report.md'), 'utf8');
    assert.match(md, /## Convolution layers/);
    assert.match(md, /## Element-wise and row ops/);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

test('without COOP/COEP: threads off, with the reason on the page', { timeout: TIMEOUT }, () =>
  withPage('', { isolation: false }, async ({ page }) => {
    const L = await page.evaluate(() => window.__lanesBench.loader);
    assert.equal(L.variant, 'relaxed');
    assert.equal(L.threads.ok, false);
    assert.match(L.threads.reason, /threads off: page is not cross-origin isolated/);
    assert.match(await page.textContent('#loader'), /threads off: page is not cross-origin isolated/);
  }));

test('?build=simd128 forces the simd128 build', { timeout: TIMEOUT }, () =>
  withPage('?build=simd128', {}, async ({ page }) => {
    const L = await page.evaluate(() => window.__lanesBench.loader);
    assert.equal(L.variant, 'simd128');
    assert.equal(L.info.kernel, 'sgemm_5x8_wasm_simd128');
    assert.match(L.reason, /forced/);
  }));


test('training demo: the MLP learns from 2,000 MNIST digits in wasm; drawn-digit predictions are probabilities', { timeout: TIMEOUT }, async () => {
  const ctx = await openPage({});
  try {
    await ctx.page.goto(`${ctx.url}/train.html?autorun=1&arch=mlp&epochs=3&limit=2000`);
    await ctx.page.waitForFunction(() => window.__lanesTrain && ['done', 'failed'].includes(window.__lanesTrain.state), null, { timeout: TIMEOUT - 60_000, polling: 250 });
    const S = await ctx.page.evaluate(() => ({ state: window.__lanesTrain.state, error: window.__lanesTrain.error, variant: window.__lanesTrain.variant, epochs: window.__lanesTrain.epochs }));
    assert.equal(S.state, 'done', S.error);
    assert.equal(S.variant, 'relaxed');
    assert.equal(S.epochs.length, 3);
    for (const e of S.epochs) assert.ok(e.images === 2000 && e.imagesPerS > 0 && Number.isFinite(e.loss), JSON.stringify(e));
    assert.ok(S.epochs[2].accuracy >= 0.8, `accuracy after 3 epochs: ${S.epochs[2].accuracy}`);
    console.log(`# wasm training (relaxed, MLP, 2,000 images): ${S.epochs.map((e) => `${e.imagesPerS.toFixed(0)} images/s, ${(100 * e.accuracy).toFixed(1)}%`).join('; ')}`);
    const probs = await ctx.page.evaluate(() => window.__lanesTrain.predict(new Array(784).fill(0.1)));
    assert.equal(probs.length, 10);
    assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-4);
    const bad = await ctx.page.evaluate(() => window.__lanesTrain.predict([1, 2, 3]).then(() => 'no error', (e) => String(e.message)));
    assert.match(bad, /784/);
    assert.match(await ctx.page.textContent('#status'), /done: .*held-out digits/);
    assert.deepEqual(ctx.errors, []);
  } finally {
    await ctx.close();
  }
});

test('sentence embeddings: all-MiniLM-L6-v2 in wasm agrees with the NumPy reference (cosine >= 0.9999)', { timeout: TIMEOUT }, async () => {
  const { execFileSync } = await import('node:child_process');
  const path = await import('node:path');
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
  const texts = ['A man is playing a guitar.', 'Someone is strumming a guitar on stage.', 'The stock market fell sharply on Monday.',
    'Héllo, Wörld! Crème brûlée at the café.', '東京は日本の首都です。', '', 'The quick brown fox jumps over the lazy dog near the riverbank today.'];
  const ref = JSON.parse(execFileSync(path.join(root, '.venv/bin/python'), [path.join(root, 'nn/tools/minilm_reference.py'), path.join(root, 'data/minilm')],
    { input: JSON.stringify({ texts }), maxBuffer: 1 << 26 }).toString());
  const ctx = await openPage({});
  try {
    await ctx.page.goto(`${ctx.url}/minilm.html`);
    await ctx.page.waitForFunction(() => window.__lanesMiniLM && ['ready', 'failed'].includes(window.__lanesMiniLM.state), null, { timeout: TIMEOUT - 60_000, polling: 250 });
    const S = await ctx.page.evaluate(() => ({ state: window.__lanesMiniLM.state, error: window.__lanesMiniLM.error, variant: window.__lanesMiniLM.variant, dim: window.__lanesMiniLM.dim }));
    assert.equal(S.state, 'ready', S.error);
    assert.equal(S.variant, 'relaxed');
    assert.equal(S.dim, 384);
    const got = await ctx.page.evaluate((t) => window.__lanesMiniLM.embed(t), texts);
    const dot = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);
    texts.forEach((t, i) => {
      const cos = dot(got.embeddings[i], ref.embeddings[i]) / Math.sqrt(dot(got.embeddings[i], got.embeddings[i]) * dot(ref.embeddings[i], ref.embeddings[i]));
      assert.ok(cos >= 0.9999, `cosine ${cos} for ${JSON.stringify(t)}`);
      assert.equal(got.tokens[i], ref.ids[i].length, `token count of ${JSON.stringify(t)}`);
    });
    const one = await ctx.page.evaluate((t) => window.__lanesMiniLM.embed([t], 10), texts[6]);
    console.log(`# wasm MiniLM (relaxed, one thread): ${one.tokens[0]}-token sentence in ${one.ms.toFixed(1)} ms (best of 10)`);
    // The page's own run filled the similarity table; paraphrases score above unrelated pairs.
    assert.match(await ctx.page.textContent('#status'), /4 sentences/);
    assert.ok(dot(got.embeddings[0], got.embeddings[1]) > dot(got.embeddings[0], got.embeddings[2]) + 0.1);
    assert.deepEqual(ctx.errors, []);
  } finally {
    await ctx.close();
  }
});
