// Module worker running one lanes build. worker-peers.js speaks the same protocol, and
// bench.js (class ImplWorker) is the other end of it:
//   request  {id, type, ...args}                  main thread -> worker, one at a time
//   reply    {id, ok: true, ...result}            the result's `transfer` buffers are moved
//            {id, ok: false, error: message}
//   type     args                                 result
//   init     {variant, impl, threads, packB, readBack}  {info, detail}  (loads the build / peer)
//   setup    {m, n, k, a, b}                      {}              (row-major Float32Arrays)
//            {suite: 'conv', layer, input, filter} (NHWC input, HWIO filter: Conv2dLayer)
//            {suite: 'eltwise', op, rows, cols, x, gamma, beta, eps}     (EltwisePlan)
//   run      {}                                   {c, pool}       (one C = A*B, for verification;
//                                                                   pool: lanes threads only)
//   time     {minMs, minSamples, maxMs, batch}    {samples, batch} (timeLoop in timing.js)
//   free     {}                                   {}
// GEMM runs on operands resident in wasm memory and leaves C there; conv and eltwise keep
// their input (and the packed filter) resident and copy the output into JavaScript in every
// timed call (readBack): 'into' a Float32Array allocated once (outputInto / resultInto: one
// memcpy), or 'alloc' a new Float32Array per call (output() / result(), as the peers'
// dataSync() / session.run() do); false leaves it in wasm memory, as GEMM does (the kernel
// alone).
import { serve } from './rpc.js';
import './timing.js';
const timeLoop = self.timeLoop;

let mod = null, plan = null, parallel = false, packed = true, readOut = 'into', info = null;
let runOnce = null, result = null, freeCase = null;

const handlers = {
  async init({ variant, threads, packB = true, readBack = 'into' }) {
    mod = await import(`/pkg/${variant}/lanes_web.js`);
    await mod.default();
    packed = packB;
    readOut = readBack;
    if (threads > 1) {
      await mod.initThreadPool(threads);
      mod.poolStarted(threads);
      parallel = true;
    }
    info = mod.buildInfo();
    return { info, detail: `${info.kernel}${parallel ? `, ${threads} pool threads` : ''}${packed ? '' : ', B packed in every call'}${{ into: '', alloc: ', conv/eltwise output copied into a new Float32Array per call' }[readOut] ?? ', conv/eltwise output left in wasm memory'}` };
  },
  setup(args) {
    handlers.free();
    if (args.suite === 'conv') {
      const { layer: l, input, filter } = args;
      const conv = new mod.Conv2dLayer({
        inChannels: l.cin, outChannels: l.cout, kernel: [l.kh, l.kw], stride: [l.stride, l.stride],
        padding: l.padding, groups: l.groups, layout: 'hwio',
      }, filter);
      conv.setInput(input, 1, l.h, l.w);
      const out = new Float32Array(l.oh * l.ow * l.cout);
      runOnce = {
        into: () => { conv.forward(parallel); conv.outputInto(out); },
        alloc: () => { conv.forward(parallel); return conv.output(); },
      }[readOut] || (() => conv.forward(parallel));
      result = () => { conv.forward(parallel); return { c: conv.output(), pool: parallel ? conv.lastParallel : undefined }; };
      freeCase = () => conv.free();
    } else if (args.suite === 'eltwise') {
      const { op, rows, cols, x, gamma, beta, eps } = args;
      const p = new mod.EltwisePlan(op === 'layernorm' ? 'layerNorm' : op, rows, cols, gamma, beta, eps);
      p.setInput(x);
      const out = new Float32Array(rows * cols);
      runOnce = {
        into: () => { p.run(); p.resultInto(out); },
        alloc: () => { p.run(); return p.result(); },
      }[readOut] || (() => p.run());
      result = () => { p.run(); return { c: p.result() }; };
      freeCase = () => p.free();
    } else {
      const { m, n, k, a, b } = args;
      plan = new mod.GemmPlan(m, n, k);
      plan.setA(a);
      plan.setB(b);
      runOnce = () => plan.run(packed, parallel);
      result = () => { runOnce(); return { c: plan.result(), pool: plan.lastParallel }; };
      freeCase = () => { plan.free(); plan = null; };
    }
    return {};
  },
  run() {
    const r = result();
    return { ...r, transfer: [r.c.buffer] };
  },
  time({ minMs, minSamples, maxMs, batch }) {
    return timeLoop(runOnce, { minMs, minSamples, maxMs, batch });
  },
  free() {
    if (freeCase) freeCase();
    freeCase = runOnce = result = null;
    return {};
  },
};

serve(handlers);
