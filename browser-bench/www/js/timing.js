// Timing shared by every worker. A plain script (no import/export) so classic workers load it
// with importScripts() and module workers with `import './timing.js'`; it defines
// self.timeLoop.
//
// performance.now() is coarsened (5 us when cross-origin isolated, 100 us otherwise), so calls
// are timed in batches of at least ~2 ms; a sample is the per-call time of one batch.
// `fn` may be synchronous (timed without any await inside a batch) or return a Promise.
// `batch` (from an earlier round) skips the calibration call.
self.timeLoop = async function timeLoop(fn, { minMs = 300, minSamples = 3, maxMs = 5000, batch = 0 } = {}) {
  let t0 = performance.now();
  let isAsync = false;
  if (!batch) {
    // Calibrate with one call (the caller has already verified and warmed up the result).
    const r = fn();
    isAsync = !!(r && typeof r.then === 'function');
    if (isAsync) await r;
    const once = Math.max(performance.now() - t0, 0.001);
    batch = Math.max(1, Math.ceil(2 / once));
    // A call longer than the whole time budget is timed once per round.
    if (once > minMs) minSamples = 1;
  } else {
    const r = fn();
    isAsync = !!(r && typeof r.then === 'function');
    if (isAsync) await r;
    if (performance.now() - t0 > minMs) minSamples = 1;
  }
  const samples = [];
  const start = performance.now();
  while (samples.length < minSamples || performance.now() - start < minMs) {
    t0 = performance.now();
    if (isAsync) {
      for (let i = 0; i < batch; i++) await fn();
    } else {
      for (let i = 0; i < batch; i++) fn();
    }
    samples.push((performance.now() - t0) / batch);
    if (performance.now() - start > maxMs) break;
  }
  return { samples, batch };
};
