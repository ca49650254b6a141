// Test data, float64 references and tolerances of the benchmark page: GEMM (below), then
// convolution and element-wise ops (referenceConv / ConvVerifier, referenceEltwise /
// EltwiseVerifier, at the end).
//
// Checks a GEMM result against a float64 reference without an O(mnk) reference product:
//  * every row sum:    sum_j C[i,j] = sum_p A[i,p] * (sum_j B[p,j])
//  * every column sum: sum_i C[i,j] = sum_p (sum_i A[i,p]) * B[p,j]
//  * up to 512 sampled entries, each an exact f64 dot product
//  * every value finite.
// Errors are measured relative to the magnitude of the summed terms (sum |a||b|), with the
// worst-case f32 summation bound (k + 2) * 2^-24 times a safety factor of 4; any summation
// order and fused or unfused multiply-adds pass, a wrong or partly written result does not.
// The one place on the JS side for test data, reference products and tolerances: the page
// (bench.js) and the page tests (scripts/test-page.mjs, which imports this file in Node) use it.

export function seededMatrix(len, seed) {
  // xorshift32: the same data on every run and in every worker.
  let x = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = (x / 4294967296) * 2 - 1;
  }
  return out;
}

/** Relative error (of sum |a||b|) allowed in a k-term f32 dot product: see the top. */
export function tolerance(k) {
  return 4 * (k + 2) * 2 ** -24 + 1e-7;
}

/** C[i,j] of row-major A (m x k) times B (k x n) in float64, and sum |A[i,p] B[p,j]|. */
function dot(a, b, i, j, n, k) {
  let ref = 0, mag = 0;
  for (let p = 0; p < k; p++) { const t = a[i * k + p] * b[p * n + j]; ref += t; mag += Math.abs(t); }
  return { ref, mag };
}

/** The full product C = A*B (row-major) in float64: for small checks where O(mnk) is cheap. */
export function referenceGemm(m, n, k, a, b) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) c[i * n + j] = dot(a, b, i, j, n, k).ref;
  return c;
}

export class Verifier {
  constructor(m, n, k, a, b) {
    Object.assign(this, { m, n, k });
    this.tol = tolerance(k);
    const bRow = new Float64Array(k), bRowAbs = new Float64Array(k);
    for (let p = 0; p < k; p++) {
      let s = 0, sa = 0;
      for (let j = 0; j < n; j++) { const v = b[p * n + j]; s += v; sa += Math.abs(v); }
      bRow[p] = s; bRowAbs[p] = sa;
    }
    this.rowRef = new Float64Array(m); this.rowMag = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      let s = 0, sa = 0;
      for (let p = 0; p < k; p++) { const v = a[i * k + p]; s += v * bRow[p]; sa += Math.abs(v) * bRowAbs[p]; }
      this.rowRef[i] = s; this.rowMag[i] = sa;
    }
    const aCol = new Float64Array(k), aColAbs = new Float64Array(k);
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) { const v = a[i * k + p]; aCol[p] += v; aColAbs[p] += Math.abs(v); }
    }
    this.colRef = new Float64Array(n); this.colMag = new Float64Array(n);
    for (let p = 0; p < k; p++) {
      const s = aCol[p], sa = aColAbs[p];
      for (let j = 0; j < n; j++) { const v = b[p * n + j]; this.colRef[j] += s * v; this.colMag[j] += sa * Math.abs(v); }
    }
    const samples = Math.min(512, m * n);
    const rnd = seededMatrix(2 * samples, m * 7919 + n * 104729 + k);
    this.samples = [];
    for (let s = 0; s < samples; s++) {
      const i = Math.min(m - 1, Math.floor(((rnd[2 * s] + 1) / 2) * m));
      const j = Math.min(n - 1, Math.floor(((rnd[2 * s + 1] + 1) / 2) * n));
      this.samples.push({ i, j, ...dot(a, b, i, j, n, k) });
    }
  }

  /** {ok, maxErr (relative to the tolerance scale), message} */
  check(c) {
    const { m, n, tol } = this;
    if (!c || c.length !== m * n) return { ok: false, maxErr: Infinity, message: `result has length ${c && c.length}, expected ${m * n}` };
    let worst = 0, where = '';
    const rel = (err, mag, what) => {
      const r = err / (mag + 1e-30);
      if (!(r <= worst)) { worst = r; where = what; }
    };
    for (let idx = 0; idx < c.length; idx++) {
      if (!Number.isFinite(c[idx])) return { ok: false, maxErr: Infinity, message: `C[${Math.floor(idx / n)},${idx % n}] = ${c[idx]}` };
    }
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += c[i * n + j];
      rel(Math.abs(s - this.rowRef[i]), this.rowMag[i], `row ${i} sum`);
    }
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += c[i * n + j];
      rel(Math.abs(s - this.colRef[j]), this.colMag[j], `column ${j} sum`);
    }
    for (const { i, j, ref, mag } of this.samples) rel(Math.abs(c[i * n + j] - ref), mag, `C[${i},${j}]`);
    const ok = worst <= tol;
    return { ok, maxErr: worst, message: ok ? `max error ${worst.toExponential(2)} of magnitude (tolerance ${tol.toExponential(2)})` : `${where}: error ${worst.toExponential(2)} of magnitude > tolerance ${tol.toExponential(2)}` };
  }
}

// ---------------------------------------------------------------- convolution
/**
 * The direct convolution in float64 over NHWC input (batch 1) and an HWIO filter
 * ([KH][KW][Cin/groups][Cout]), with, per output value, the magnitude sum |x||w| of its
 * terms. `l` is a layer of suites.js (convGeometry). Returns {ref, mag} (Float64Arrays, NHWC).
 */
export function referenceConv(l, input, filter) {
  const { h, w, cin, cout, kh, kw, stride, groups, oh, ow } = l;
  const { top, left } = l.pads;
  const cinG = cin / groups, coutG = cout / groups;
  const ref = new Float64Array(oh * ow * cout), mag = new Float64Array(oh * ow * cout);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const o = (oy * ow + ox) * cout;
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * stride + ky - top;
        if (iy < 0 || iy >= h) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * stride + kx - left;
          if (ix < 0 || ix >= w) continue;
          const ib = (iy * w + ix) * cin, fb = (ky * kw + kx) * cinG * cout;
          for (let g = 0; g < groups; g++) {
            for (let ci = 0; ci < cinG; ci++) {
              const x = input[ib + g * cinG + ci], ax = Math.abs(x);
              const fr = fb + ci * cout + g * coutG;
              for (let co = 0; co < coutG; co++) {
                const t = filter[fr + co];
                ref[o + g * coutG + co] += x * t;
                mag[o + g * coutG + co] += ax * Math.abs(t);
              }
            }
          }
        }
      }
    }
  }
  return { ref, mag };
}

/**
 * Checks a convolution output (NHWC) value by value against referenceConv: error relative to
 * the magnitude of its terms within tolerance(K) (K = KH*KW*Cin/groups terms per value), as
 * for GEMM; every value finite. `lanes` (optional): another implementation's output to report
 * the largest difference to.
 */
export class ConvVerifier {
  constructor(l, input, filter) {
    this.l = l;
    this.tol = tolerance(l.k);
    Object.assign(this, referenceConv(l, input, filter));
  }

  check(y, lanes = null) {
    return checkValues(y, this.ref, (i, err) => err / (this.mag[i] + 1e-30), this.tol, 'of magnitude', lanes, (i) => `output (y ${Math.floor(i / (this.l.ow * this.l.cout))}, x ${Math.floor(i / this.l.cout) % this.l.ow}, channel ${i % this.l.cout})`);
  }
}

// ---------------------------------------------------------------- element-wise
/** softmax / layernorm (rows of cols, gamma, beta, eps) / exp in float64. */
export function referenceEltwise(op, x, rows, cols, gamma, beta, eps) {
  const y = new Float64Array(x.length);
  if (op === 'exp') {
    for (let i = 0; i < x.length; i++) y[i] = Math.exp(x[i]);
    return y;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (op === 'softmax') {
      let max = -Infinity, sum = 0;
      for (let j = 0; j < cols; j++) max = Math.max(max, x[o + j]);
      for (let j = 0; j < cols; j++) { y[o + j] = Math.exp(x[o + j] - max); sum += y[o + j]; }
      for (let j = 0; j < cols; j++) y[o + j] /= sum;
    } else if (op === 'layernorm') {
      let mean = 0, v = 0;
      for (let j = 0; j < cols; j++) mean += x[o + j];
      mean /= cols;
      for (let j = 0; j < cols; j++) v += (x[o + j] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / cols + eps);
      for (let j = 0; j < cols; j++) y[o + j] = (x[o + j] - mean) * inv * gamma[j] + beta[j];
    } else {
      throw new Error(`referenceEltwise: unknown op ${op}`);
    }
  }
  return y;
}

/**
 * Per-value tolerances of the element-wise ops in f32 (fused or not, any summation order):
 * exp 2e-6 relative (a few ulp); softmax 1e-4 relative (a row sum of up to 3072 terms);
 * layer norm 1e-4 x (1 + |y|) (mean and variance of the row). A wrong axis, a missing
 * normalisation or a garbled value is off by far more.
 */
export const ELTWISE_TOLERANCE = {
  exp: { rel: 2e-6, abs: 0 },
  softmax: { rel: 1e-4, abs: 1e-9 },
  layernorm: { rel: 1e-4, abs: 1e-4 },
};

export class EltwiseVerifier {
  constructor(c, x, gamma, beta, eps) {
    this.c = c;
    this.ref = referenceEltwise(c.op, x, c.rows, c.cols, gamma, beta, eps);
    this.t = ELTWISE_TOLERANCE[c.op];
  }

  check(y, lanes = null) {
    const { rel, abs } = this.t;
    // Error in units of the allowed error of that value: passes at <= 1.
    return checkValues(y, this.ref, (i, err) => err / (abs + rel * Math.abs(this.ref[i]) + 1e-300), 1, 'of the allowed error', lanes, (i) => `y[${Math.floor(i / this.c.cols)},${i % this.c.cols}]`);
  }
}

/**
 * The shared value-by-value check: {ok, maxErr (scaled by `scaled`), maxAbsErr and maxRelErr
 * (to the float64 reference), maxAbsDiffLanes / maxRelDiffLanes (to `lanes`, when given:
 * the difference relative to the largest |value| of that output), message}.
 */
function checkValues(y, ref, scaled, tol, unit, lanes, where) {
  if (!y || y.length !== ref.length) return { ok: false, maxErr: Infinity, message: `result has length ${y && y.length}, expected ${ref.length}` };
  let worst = 0, at = 0, maxAbs = 0, maxRel = 0, refMax = 0;
  for (let i = 0; i < ref.length; i++) refMax = Math.max(refMax, Math.abs(ref[i]));
  for (let i = 0; i < y.length; i++) {
    if (!Number.isFinite(y[i])) return { ok: false, maxErr: Infinity, message: `${where(i)} = ${y[i]}` };
    const err = Math.abs(y[i] - ref[i]);
    const s = scaled(i, err);
    if (!(s <= worst)) { worst = s; at = i; }
    if (err > maxAbs) maxAbs = err;
    // Relative error where the value is not tiny next to the others (cancellation).
    if (Math.abs(ref[i]) > 1e-3 * refMax) maxRel = Math.max(maxRel, err / Math.abs(ref[i]));
  }
  const out = { ok: worst <= tol, maxErr: worst, maxAbsErr: maxAbs, maxRelErr: maxRel };
  if (lanes && lanes.length === y.length) {
    let d = 0, m = 0;
    for (let i = 0; i < y.length; i++) { d = Math.max(d, Math.abs(y[i] - lanes[i])); m = Math.max(m, Math.abs(lanes[i])); }
    out.maxAbsDiffLanes = d;
    out.maxRelDiffLanes = d / (m || 1);
  }
  const e = (v) => v.toExponential(2);
  out.message = out.ok
    ? `max error ${e(worst)} ${unit} (tolerance ${e(tol)}); max abs ${e(maxAbs)}, max rel ${e(maxRel)} vs float64${out.maxAbsDiffLanes !== undefined ? `; max abs diff to lanes ${e(out.maxAbsDiffLanes)}` : ''}`
    : `${where(at)}: ${y[at]} vs ${ref[at]} (float64): error ${e(worst)} ${unit} > tolerance ${e(tol)}`;
  return out;
}
