// Module worker running one lanes build: {type:'init', variant, threads} then
// setup / run / time / free (see worker-protocol in bench.js).
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
    info = JSON.parse(mod.buildInfo());
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

self.onmessage = async (e) => {
  const { id, type, ...args } = e.data;
  try {
    const { transfer = [], ...out } = await handlers[type](args);
    self.postMessage({ id, ok: true, ...out }, transfer);
  } catch (err) {
    self.postMessage({ id, ok: false, error: String((err && err.message) || err) });
  }
};
