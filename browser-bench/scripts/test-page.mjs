// Page tests in headless Chromium (playwright-core + Debian's chromium):
//  1. the page loads, the loader picks the relaxed build (Chromium has relaxed-simd) and says
//     why, threads are on when the page is cross-origin isolated;
//  2. JS callers passing wrong-length Float32Arrays or bad dimensions get a thrown Error with a
//     message (never a WebAssembly.RuntimeError trap, never garbage), in every build;
//  3. a short benchmark run over small shapes: every implementation's result verifies;
//  4. without COOP/COEP the page says "threads off: page is not cross-origin isolated";
//  5. ?build=simd128 forces the simd128 build.
// Usage: node scripts/test-page.mjs [--screenshot path.png]
import assert from 'node:assert/strict';
import { openPage } from './browser.mjs';

const argv = process.argv.slice(2);
const shotAt = argv.indexOf('--screenshot');
const screenshot = shotAt >= 0 ? argv[shotAt + 1] : null;
let failed = 0, passed = 0;

async function test(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${String(e && e.stack || e).split('\n').slice(0, 6).join('\n     ')}`);
  }
}

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

await test('page loads the relaxed build and explains the choice; threads on when isolated', () =>
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

await test('bad arguments throw JS Errors with messages in every build (no traps)', () =>
  withPage('', {}, async ({ page }) => {
    const out = await page.evaluate(async () => {
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
        const c = F(4);
        m.sgemm(2, 2, 2, 1, new Float32Array([1, 2, 3, 4]), new Float32Array([5, 6, 7, 8]), 0, c);
        r.after = Array.from(c);
        const p = new m.GemmPlan(3, 2, 1);
        p.setA(new Float32Array([1, 2, 3])); p.setB(new Float32Array([10, 20])); p.run(true, false);
        r.plan = Array.from(p.result());
        p.free();
      }
      return res;
    });
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
      assert.deepEqual(r.after, [19, 22, 43, 50], `${variant}: wrong result after errors`);
      assert.deepEqual(r.plan, [10, 20, 20, 40, 30, 60], `${variant}: plan result`);
    }
  }));

await test('short benchmark: every implementation verifies (small shapes, all impls, 1 and 2 threads)', () =>
  withPage('?autorun=1&shapes=64x64x64,33x65x17,1x3072x768,131x1031x517&minMs=20&rounds=1', {}, async ({ page }) => {
    // 33x65x17 and 131x1031x517 (not in the shape list, added from the URL) are ragged in every
    // dimension; the latter crosses KC and NC and is big enough for the pool (4 blocks x 17M MACs).
    await page.evaluate(async () => {
      const S = window.__lanesBench;
      if (S.state !== 'done') await new Promise((r) => { const t = setInterval(() => { if (S.state === 'done' || S.state === 'failed') { clearInterval(t); r(); } }, 200); });
    });
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
    for (const r of S.results.filter((x) => x.status === 'ok')) assert.ok(r.gflops > 0 && r.max_err <= 1e-3, JSON.stringify(r));
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  }));

await test('without COOP/COEP: threads off, with the reason on the page', () =>
  withPage('', { isolation: false }, async ({ page }) => {
    const L = await page.evaluate(() => window.__lanesBench.loader);
    assert.equal(L.variant, 'relaxed');
    assert.equal(L.threads.ok, false);
    assert.match(L.threads.reason, /threads off: page is not cross-origin isolated/);
    assert.match(await page.textContent('#loader'), /threads off: page is not cross-origin isolated/);
  }));

await test('?build=simd128 forces the simd128 build', () =>
  withPage('?build=simd128', {}, async ({ page }) => {
    const L = await page.evaluate(() => window.__lanesBench.loader);
    assert.equal(L.variant, 'simd128');
    assert.equal(L.info.kernel, 'sgemm_5x8_wasm_simd128');
    assert.match(L.reason, /forced/);
  }));

console.log(`\npage tests: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
