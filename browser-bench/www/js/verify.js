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
