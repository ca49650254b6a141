// Classic worker running one peer implementation (classic, because the peers ship UMD bundles
// that load with importScripts):
//   js-naive, js-tuned      pure JavaScript (gemm-js.js)
//   tfjs-cpu                TensorFlow.js, cpu backend (JavaScript)
//   tfjs-wasm               TensorFlow.js, wasm backend (XNNPACK; SIMD, threads via pthreads)
//   ort                     onnxruntime-web, wasm EP (MLAS), a one-node model per case with the
//                           weights as initializers (MatMul, Conv, Softmax, LayerNormalization, Exp)
// Protocol as worker-lanes.js: init / setup / run / time / free; setup's `suite` is 'gemm'
// (default), 'conv' or 'eltwise'.
//   conv: input NHWC [1,H,W,Cin] and filter HWIO [KH,KW,Cin/g,Cout] (TF.js takes them as they
//     are: tf.conv2d, or tf.depthwiseConv2d with the filter as [KH,KW,C,1]); onnxruntime-web
//     gets NCHW input and an OIHW weight (ONNX's layouts; transposed here, before timing) and
//     its NCHW output is transposed back to NHWC in `run` (for verification only, not timed).
//   eltwise: softmax / layer norm over the last axis of [rows, cols], exp. TF.js has no layer
//     norm op: tf.moments + (x - mean) * rsqrt(var + eps) * gamma + beta, as a user writes it.
importScripts('./timing.js', './gemm-js.js', './eltwise-js.js', './onnx-models.js');

const NM = '/node_modules';
let impl = null, threads = 1, dims = null, state = {}, runOnce = null;

async function initImpl(name, nThreads) {
  impl = name;
  threads = nThreads;
  if (name === 'js-naive' || name === 'js-tuned') return { detail: 'Float32Array, one thread' };
  if (name === 'tfjs-cpu') {
    importScripts(`${NM}/@tensorflow/tfjs-core/dist/tf-core.min.js`, `${NM}/@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.min.js`);
    await tf.setBackend('cpu');
    await tf.ready();
    return { detail: `tfjs ${tf.version_core} cpu backend` };
  }
  if (name === 'tfjs-wasm') {
    importScripts(`${NM}/@tensorflow/tfjs-core/dist/tf-core.min.js`, `${NM}/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js`);
    tf.wasm.setWasmPaths(`${NM}/@tensorflow/tfjs-backend-wasm/dist/`);
    // tfjs-wasm caps its XNNPACK pool at navigator.hardwareConcurrency / 2 (it assumes 2
    // hyperthreads per core), so on a 2-vCPU machine it would run 1 thread whatever is asked.
    // Report 2x the asked count to it (in this worker only) so it runs the threads we measure.
    Object.defineProperty(self.navigator, 'hardwareConcurrency', { value: 2 * nThreads, configurable: true });
    tf.wasm.setThreadsCount(nThreads);
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error('tfjs wasm backend failed to initialise');
    await tf.ready();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const mt = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    const got = tf.wasm.getThreadsCount();
    if (got !== nThreads) throw new Error(`tfjs-wasm runs ${got} threads, ${nThreads} asked (multithread support: ${mt})`);
    return { detail: `tfjs ${tf.version_core} wasm (XNNPACK), simd ${simd}, ${mt ? 'threaded build' : 'single-thread build'}, ${got} thread(s)` };
  }
  if (name === 'ort') {
    importScripts(`${NM}/onnxruntime-web/dist/ort.wasm.min.js`);
    ort.env.wasm.numThreads = nThreads;
    ort.env.wasm.wasmPaths = `${NM}/onnxruntime-web/dist/`;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    return { detail: `onnxruntime-web ${ort.env.versions ? ort.env.versions.web : ''} wasm EP (MLAS), ${nThreads} thread(s)` };
  }
  throw new Error(`unknown implementation ${name}`);
}

async function setup(args) {
  await free();
  if (args.suite === 'conv') return setupConv(args);
  if (args.suite === 'eltwise') return setupEltwise(args);
  const { m, n, k, a, b } = args;
  dims = { m, n, k };
  if (impl === 'js-naive' || impl === 'js-tuned') {
    const f = impl === 'js-naive' ? self.gemmNaiveJs : self.gemmTunedJs;
    const c = new Float32Array(m * n);
    state = { c };
    runOnce = () => f(m, n, k, a, b, c);
  } else if (impl === 'tfjs-cpu' || impl === 'tfjs-wasm') {
    const ta = tf.tensor2d(a, [m, k]);
    const tb = tf.tensor2d(b, [k, n]);
    state = { ta, tb, out: null };
    // The result is read back (dataSync) so the work is certainly done and the values are in
    // JS, as every other implementation's are.
    runOnce = () => {
      const c = tf.matMul(ta, tb);
      state.out = c.dataSync();
      c.dispose();
    };
  } else if (impl === 'ort') {
    const model = self.buildMatMulOnnx(m, k, n, b);
    const session = await ortSession(model);
    const input = new ort.Tensor('float32', a, [m, k]);
    state = { session, input, out: null };
    runOnce = async () => {
      const r = await session.run({ A: input });
      state.out = r.C.data;
    };
  } else {
    throw new Error(`${impl} has no GEMM`);
  }
  return {};
}

const ortSession = (model) => ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
const isTf = () => impl === 'tfjs-cpu' || impl === 'tfjs-wasm';

async function setupConv({ layer: l, input, filter }) {
  if (isTf()) {
    if (!l.depthwise && l.groups !== 1) throw new Error('TF.js has no grouped convolution');
    const { top, bottom, left, right } = l.pads;
    const pad = typeof l.padding === 'string' ? l.padding : [[0, 0], [top, bottom], [left, right], [0, 0]];
    const x = tf.tensor4d(input, [1, l.h, l.w, l.cin]);
    // Filters created once, like a model's weights.
    const f = l.depthwise ? tf.tensor4d(filter, [l.kh, l.kw, l.cin, 1]) : tf.tensor4d(filter, [l.kh, l.kw, l.cin, l.cout]);
    const op = l.depthwise ? tf.depthwiseConv2d : tf.conv2d;
    state = { tensors: [x, f], out: null };
    runOnce = () => {
      const y = op(x, f, l.stride, pad);
      state.out = y.dataSync();
      y.dispose();
    };
  } else if (impl === 'ort') {
    const cinG = l.cin / l.groups;
    const w = new Float32Array(l.cout * cinG * l.kh * l.kw); // OIHW from HWIO
    for (let ky = 0; ky < l.kh; ky++) for (let kx = 0; kx < l.kw; kx++) for (let ci = 0; ci < cinG; ci++) for (let co = 0; co < l.cout; co++) {
      w[((co * cinG + ci) * l.kh + ky) * l.kw + kx] = filter[((ky * l.kw + kx) * cinG + ci) * l.cout + co];
    }
    const x = new Float32Array(input.length); // NCHW from NHWC
    for (let p = 0; p < l.h * l.w; p++) for (let c = 0; c < l.cin; c++) x[c * l.h * l.w + p] = input[p * l.cin + c];
    const session = await ortSession(self.buildConvOnnx(l, w));
    const tx = new ort.Tensor('float32', x, [1, l.cin, l.h, l.w]);
    state = { session, out: null };
    runOnce = async () => {
      const r = await session.run({ X: tx });
      state.out = r.Y.data;
    };
    // NCHW -> NHWC, for the verification in the page.
    state.toNhwc = (y) => {
      const out = new Float32Array(y.length), hw = l.oh * l.ow;
      for (let c = 0; c < l.cout; c++) for (let p = 0; p < hw; p++) out[p * l.cout + c] = y[c * hw + p];
      return out;
    };
  } else {
    throw new Error(`${impl} has no convolution`);
  }
  return {};
}

async function setupEltwise({ op, rows, cols, x, gamma, beta, eps }) {
  if (impl === 'js-naive') {
    const y = new Float32Array(x.length);
    state = { c: y };
    runOnce = () => self.eltwiseJs(op, x, rows, cols, gamma, beta, eps, y);
  } else if (isTf()) {
    const tx = tf.tensor2d(x, [rows, cols]);
    const g = tf.tensor1d(gamma), b = tf.tensor1d(beta), e = tf.scalar(eps);
    state = { tensors: [tx, g, b, e], out: null };
    const f = {
      softmax: () => tf.softmax(tx),
      exp: () => tf.exp(tx),
      layernorm: () => tf.tidy(() => {
        const { mean, variance } = tf.moments(tx, -1, true);
        return tf.add(tf.mul(tf.mul(tf.sub(tx, mean), tf.rsqrt(tf.add(variance, e))), g), b);
      }),
    }[op];
    if (!f) throw new Error(`unknown element-wise op ${op}`);
    runOnce = () => {
      const y = f();
      state.out = y.dataSync();
      y.dispose();
    };
  } else if (impl === 'ort') {
    const session = await ortSession(self.buildEltwiseOnnx(op, rows, cols, gamma, beta, eps));
    const tx = new ort.Tensor('float32', x, [rows, cols]);
    state = { session, out: null };
    runOnce = async () => {
      const r = await session.run({ X: tx });
      state.out = r.Y.data;
    };
  } else {
    throw new Error(`${impl} has no element-wise ops`);
  }
  return {};
}

async function free() {
  if (state.ta) { state.ta.dispose(); state.tb.dispose(); }
  for (const t of state.tensors || []) t.dispose();
  if (state.session) await state.session.release();
  state = {};
  runOnce = null;
  return {};
}

const handlers = {
  init: ({ impl: name, threads: t }) => initImpl(name, t),
  setup,
  async run() {
    await runOnce();
    const src = state.c || state.out;
    const c = state.toNhwc ? state.toNhwc(src) : new Float32Array(src); // a copy we can transfer
    return { c, transfer: [c.buffer] };
  },
  time: ({ minMs, minSamples, maxMs, batch }) => self.timeLoop(runOnce, { minMs, minSamples, maxMs, batch }),
  free,
};

self.onmessage = async (e) => {
  const { id, type, ...args } = e.data;
  try {
    const { transfer = [], ...out } = await handlers[type](args);
    self.postMessage({ id, ok: true, ...out }, transfer);
  } catch (err) {
    self.postMessage({ id, ok: false, error: String((err && err.message) || err) });
  }
};
