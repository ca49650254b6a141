// The lanes loader: detects what this browser's WebAssembly can do (wasm-feature-detect) and
// picks the best lanes build, saying which one and why.
//   relaxed  simd128 + relaxed-simd (f32x4.relaxed_madd = FMA on x86 with FMA)
//   simd128  plain 128-bit SIMD
//   scalar   no SIMD at all (baseline)
//   threads  relaxed + wasm threads: rayon on a Web Worker pool. Needs SharedArrayBuffer, so a
//            cross-origin isolated page (COOP/COEP headers), and must run in a Worker (the
//            main thread may not block).
import { simd, relaxedSimd, threads } from '/node_modules/wasm-feature-detect/dist/esm/index.js';

export const PKG = '/pkg';

/** What this browser supports. */
export async function detect() {
  const [s, r, t] = await Promise.all([simd(), relaxedSimd(), threads()]);
  const isolated = typeof crossOriginIsolated !== 'undefined' && crossOriginIsolated === true;
  const cores = (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;
  return { simd: s, relaxedSimd: r, threads: t, crossOriginIsolated: isolated, hardwareConcurrency: cores };
}

/**
 * Chooses the single-thread build and says whether the threads build can be used.
 * `force` (e.g. from ?build=simd128) overrides the choice when the browser can run it.
 */
export function choose(f, force) {
  const can = { relaxed: f.simd && f.relaxedSimd, simd128: f.simd, scalar: true };
  let variant, reason;
  if (force && force in can) {
    if (can[force]) {
      variant = force;
      reason = `${force}: forced by the page (?build=${force})`;
    } else {
      reason = `${force} was asked for but this browser cannot run it; `;
    }
  }
  if (!variant) {
    const pre = reason || '';
    if (can.relaxed) {
      variant = 'relaxed';
      reason = pre + 'relaxed: this browser supports wasm relaxed-simd (f32x4.relaxed_madd)';
    } else if (can.simd128) {
      variant = 'simd128';
      reason = pre + 'simd128: wasm SIMD supported, relaxed-simd is not';
    } else {
      variant = 'scalar';
      reason = pre + 'scalar: this browser has no wasm SIMD';
    }
  }
  let threadsOk = false, threadsReason;
  if (!f.crossOriginIsolated) {
    threadsReason = 'threads off: page is not cross-origin isolated (serve it with COOP: same-origin and COEP: require-corp)';
  } else if (!f.threads) {
    threadsReason = 'threads off: this browser has no wasm threads (shared memory + atomics)';
  } else if (!can.relaxed) {
    threadsReason = 'threads off: the threads build also needs relaxed-simd, which this browser lacks';
  } else {
    threadsOk = true;
    threadsReason = `threads on: cross-origin isolated, wasm threads supported, ${f.hardwareConcurrency} logical cores`;
  }
  return { variant, reason, threads: { ok: threadsOk, reason: threadsReason } };
}

/** Imports and instantiates one build (`variant`); resolves to the wasm-bindgen module. */
export async function loadVariant(variant) {
  const mod = await import(`${PKG}/${variant}/lanes_web.js`);
  await mod.default();
  return mod;
}

/** Detects, chooses and loads the best single-thread build. */
export async function loadBest(force) {
  const features = await detect();
  const choice = choose(features, force);
  const mod = await loadVariant(choice.variant);
  const info = mod.buildInfo(); // {variant, isas, best, kernel, threads, poolThreads}
  return { mod, features, ...choice, info };
}
