// Module worker running one lanes build. worker-peers.js speaks the same protocol, and
// bench.js (class ImplWorker) is the other end of it:
//   request  {id, type, ...args}                  main thread -> worker, one at a time
//   reply    {id, ok: true, ...result}            the result's `transfer` buffers are moved
//            {id, ok: false, error: message}
//   type     args                                 result
//   init     {variant, impl, threads, packB}      {info, detail}  (loads the build / peer)
//   setup    {m, n, k, a, b}                      {}              (row-major Float32Arrays)
//   run      {}                                   {c, pool}       (one C = A*B, for verification;
//                                                                   pool: lanes threads only)
//   time     {minMs, minSamples, maxMs, batch}    {samples, batch} (timeLoop in timing.js)
//   free     {}                                   {}
import { serve } from './rpc.js';
import './timing.js';
const timeLoop = self.timeLoop;

let mod = null, plan = null, parallel = false, packed = true, info = null;

const handlers = {
  async init({ variant, threads, packB = true }) {
    mod = await import(`/pkg/${variant}/lanes_web.js`);
    await mod.default();
    packed = packB;
    if (threads > 1) {
      await mod.initThreadPool(threads);
      mod.poolStarted(threads);
      parallel = true;
    }
    info = mod.buildInfo();
    return { info, detail: `${info.kernel}${parallel ? `, ${threads} pool threads` : ''}${packed ? '' : ', B packed in every call'}` };
  },
  setup({ m, n, k, a, b }) {
    if (plan) plan.free();
    plan = new mod.GemmPlan(m, n, k);
    plan.setA(a);
    plan.setB(b);
    return {};
  },
  run() {
    plan.run(packed, parallel);
    const c = plan.result();
    return { c, pool: plan.lastParallel, transfer: [c.buffer] };
  },
  time({ minMs, minSamples, maxMs, batch }) {
    return timeLoop(() => plan.run(packed, parallel), { minMs, minSamples, maxMs, batch });
  },
  free() {
    if (plan) plan.free();
    plan = null;
    return {};
  },
};

serve(handlers);
