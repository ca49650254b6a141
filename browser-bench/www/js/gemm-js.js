// Pure JavaScript GEMMs (row-major Float32Array, C = A*B), the baselines every wasm build is
// compared with. A plain script: defines self.gemmNaiveJs and self.gemmTunedJs.

// The textbook triple loop (i, j, p): B is walked down a column, one cache line per multiply.
self.gemmNaiveJs = function gemmNaiveJs(m, n, k, a, b, c) {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
};

// Blocked (NB columns x KB depth, so the B block stays in L2 and a C row strip in L1), i-p-j
// order so the inner loop walks B and C rows contiguously, 4 rows of A per pass so each B
// value loaded feeds 4 multiply-adds; accumulates in Float64 row buffers, rounded once.
self.gemmTunedJs = (function () {
  let acc = new Float64Array(0);
  return function gemmTunedJs(m, n, k, a, b, c) {
    const NB = 256, KB = 128;
    if (acc.length < 4 * NB) acc = new Float64Array(4 * NB);
    for (let j0 = 0; j0 < n; j0 += NB) {
      const nb = Math.min(NB, n - j0);
      for (let i = 0; i < m; i += 4) {
        const rows = Math.min(4, m - i);
        acc.fill(0, 0, 4 * NB);
        for (let p0 = 0; p0 < k; p0 += KB) {
          const p1 = Math.min(k, p0 + KB);
          if (rows === 4) {
            const r0 = i * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k;
            for (let p = p0; p < p1; p++) {
              const a0 = a[r0 + p], a1 = a[r1 + p], a2 = a[r2 + p], a3 = a[r3 + p];
              const bo = p * n + j0;
              for (let j = 0; j < nb; j++) {
                const bv = b[bo + j];
                acc[j] += a0 * bv;
                acc[NB + j] += a1 * bv;
                acc[2 * NB + j] += a2 * bv;
                acc[3 * NB + j] += a3 * bv;
              }
            }
          } else {
            for (let r = 0; r < rows; r++) {
              const ro = (i + r) * k, ao = r * NB;
              for (let p = p0; p < p1; p++) {
                const av = a[ro + p], bo = p * n + j0;
                for (let j = 0; j < nb; j++) acc[ao + j] += av * b[bo + j];
              }
            }
          }
        }
        for (let r = 0; r < rows; r++) {
          const co = (i + r) * n + j0, ao = r * NB;
          for (let j = 0; j < nb; j++) c[co + j] = acc[ao + j];
        }
      }
    }
  };
})();
