// Classic worker running one peer implementation (classic, because the peers ship UMD bundles
// that load with importScripts):
//   js-naive, js-tuned      pure JavaScript (gemm-js.js)
//   tfjs-cpu                TensorFlow.js, cpu backend (JavaScript)
//   tfjs-wasm               TensorFlow.js, wasm backend (XNNPACK; SIMD, threads via pthreads)
//   ort                     onnxruntime-web, wasm EP (MLAS), MatMul model with B as initializer
// Protocol as worker-lanes.js: init / setup / run / time / free.
importScripts('./timing.js', './gemm-js.js', './onnx-matmul.js');

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

async function setup({ m, n, k, a, b }) {
  await free();
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
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ["wasm"], graphOptimizationLevel: "all",
    });
    const input = new ort.Tensor('float32', a, [m, k]);
    state = { session, input, out: null };
    runOnce = async () => {
      const r = await session.run({ A: input });
      state.out = r.C.data;
    };
  }
  return {};
}

async function free() {
  if (state.ta) { state.ta.dispose(); state.tb.dispose(); }
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
    const c = new Float32Array(src); // a copy we can transfer
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
