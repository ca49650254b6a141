// The cases of the convolution and element-wise suites of the benchmark page.
//  * conv: the layers of bench-harness/shapes/conv.txt (served as /shapes/conv.txt; the one
//    list, shared with the native conv suite), batch 1, NHWC, no bias, no activation.
//  * eltwise: softmax and layer norm over rows x cols (the sizes of the native row-op suite,
//    bench-harness/src/eltwise_suite.rs) and one unary op (exp) over the same element counts.
// Also imported in Node by scripts/test-page.mjs (no DOM use here).

/** Parses conv.txt: `name height width in_ch out_ch kh kw stride padding groups` per line. */
export function parseConvLayers(text) {
  const layers = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const f = line.split(/\s+/);
    if (f.length !== 10) throw new Error(`conv.txt: expected 10 fields, got ${f.length}: ${line}`);
    const int = (i, what) => {
      const v = Number(f[i]);
      if (!Number.isInteger(v) || v <= 0) throw new Error(`conv.txt: ${what} of ${f[0]} is not a positive integer: ${f[i]}`);
      return v;
    };
    const [h, w, cin, cout, kh, kw, stride] = [1, 2, 3, 4, 5, 6, 7].map((i) => int(i, ['height', 'width', 'in_ch', 'out_ch', 'kh', 'kw', 'stride'][i - 1]));
    let padding = f[8];
    if (padding !== 'same' && padding !== 'valid') {
      padding = Number(padding);
      if (!Number.isInteger(padding) || padding < 0) throw new Error(`conv.txt: padding of ${f[0]}: ${f[8]}`);
    }
    const groups = f[9] === 'dw' ? cin : int(9, 'groups');
    if (cin % groups || cout % groups) throw new Error(`conv.txt: ${f[0]}: groups ${groups} do not divide the channels`);
    layers.push(convGeometry({ name: f[0], h, w, cin, cout, kh, kw, stride, padding, groups }));
  }
  return layers;
}

/**
 * Adds the output size, the padding of every side ({top, bottom, left, right}; "same" is
 * TensorFlow's SAME: output ceil(size / stride), the odd pixel of padding at the bottom/right),
 * whether it is depthwise (groups = in = out channels) and the FLOP per run
 * (2 * OH * OW * Cout * KH * KW * Cin / groups, batch 1).
 */
export function convGeometry(l) {
  const pads = (size, k) => {
    if (l.padding === 'valid') return [0, 0];
    if (typeof l.padding === 'number') return [l.padding, l.padding];
    const out = Math.ceil(size / l.stride);
    const total = Math.max((out - 1) * l.stride + k - size, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [top, bottom] = pads(l.h, l.kh), [left, right] = pads(l.w, l.kw);
  const oh = Math.floor((l.h + top + bottom - l.kh) / l.stride) + 1;
  const ow = Math.floor((l.w + left + right - l.kw) / l.stride) + 1;
  if (!(oh > 0 && ow > 0)) throw new Error(`conv layer ${l.name}: the kernel is larger than the padded input`);
  const depthwise = l.groups === l.cin && l.groups === l.cout;
  const flop = 2 * oh * ow * l.cout * l.kh * l.kw * (l.cin / l.groups);
  return { ...l, pads: { top, bottom, left, right }, oh, ow, depthwise, flop, k: l.kh * l.kw * (l.cin / l.groups) };
}

/** Filter length: [KH][KW][Cin/groups][Cout] (HWIO, TensorFlow's layout). */
export const filterLen = (l) => l.kh * l.kw * (l.cin / l.groups) * l.cout;

// Element-wise cases: op x rows x cols. Bytes moved per run: 4 read + 4 written per element
// (gamma and beta of layer norm, 8 bytes per column, are not counted, as in the native suite).
export const ELTWISE_OPS = ['softmax', 'layernorm', 'exp'];
export const ELTWISE_SIZES = [[128, 768], [128, 3072], [1024, 1024]];
export const LAYERNORM_EPS = 1e-5;

export function eltwiseCase(op, rows, cols) {
  if (!ELTWISE_OPS.includes(op)) throw new Error(`element-wise op ${op}: expected ${ELTWISE_OPS.join(', ')}`);
  if (!(Number.isInteger(rows) && rows > 0 && Number.isInteger(cols) && cols > 0)) throw new Error(`element-wise case ${op}: bad size ${rows}x${cols}`);
  return { name: `${op}:${rows}x${cols}`, op, rows, cols, bytes: 8 * rows * cols };
}

/** Every default case, or the ones named like "softmax:128x768" (comma list; "all" = every one). */
export function eltwiseCases(names) {
  const all = ELTWISE_OPS.flatMap((op) => ELTWISE_SIZES.map(([r, c]) => eltwiseCase(op, r, c)));
  if (!names || names.includes('all')) return all;
  return names.map((n) => {
    const m = /^([a-z]+):(\d+)x(\d+)$/.exec(n);
    if (!m) throw new Error(`element-wise case ${n}: expected op:ROWSxCOLS, e.g. softmax:128x768`);
    return eltwiseCase(m[1], Number(m[2]), Number(m[3]));
  });
}
