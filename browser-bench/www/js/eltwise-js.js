// Plain JavaScript element-wise ops (the scalar-loop baseline of the element-wise suite, like
// the native suite's "scalar loop"): Float32Array in and out, f32 storage, JS doubles inside.
// A plain script: defines self.eltwiseJs(op, x, rows, cols, gamma, beta, eps, y).
self.eltwiseJs = function eltwiseJs(op, x, rows, cols, gamma, beta, eps, y) {
  if (op === 'exp') {
    for (let i = 0; i < x.length; i++) y[i] = Math.exp(x[i]);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (op === 'softmax') {
      let max = -Infinity, sum = 0;
      for (let j = 0; j < cols; j++) if (x[o + j] > max) max = x[o + j];
      for (let j = 0; j < cols; j++) { const e = Math.exp(x[o + j] - max); y[o + j] = e; sum += e; }
      const inv = 1 / sum;
      for (let j = 0; j < cols; j++) y[o + j] *= inv;
    } else if (op === 'layernorm') {
      let mean = 0, v = 0;
      for (let j = 0; j < cols; j++) mean += x[o + j];
      mean /= cols;
      for (let j = 0; j < cols; j++) { const d = x[o + j] - mean; v += d * d; }
      const inv = 1 / Math.sqrt(v / cols + eps);
      for (let j = 0; j < cols; j++) y[o + j] = (x[o + j] - mean) * inv * gamma[j] + beta[j];
    } else {
      throw new Error(`eltwiseJs: unknown op ${op}`);
    }
  }
};
