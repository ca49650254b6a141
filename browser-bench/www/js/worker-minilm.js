// Module worker of minilm.html: loads one lanes build and all-MiniLM-L6-v2 from /models/minilm/,
// then embeds texts.   request {id, type, ...}  reply {id, ok, ...} | {id, ok: false, error}
//   init  {variant}        {dim, seconds}      (fetch + parse + load)
//   embed {texts, reps}    {embeddings, ms, tokens}   (ms: best of `reps` calls)
import { serve } from './rpc.js';
let mod = null, model = null;

async function fetchOk(url, how) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} (scripts/setup.sh extracts the model into data/minilm)`);
  return how === 'bytes' ? new Uint8Array(await r.arrayBuffer()) : r.text();
}

const handlers = {
  async init({ variant }) {
    const t0 = performance.now();
    mod = await import(`/pkg/${variant}/lanes_web.js`);
    await mod.default();
    const [config, vocab, weights] = await Promise.all([
      fetchOk('/models/minilm/config.json'), fetchOk('/models/minilm/vocab.txt'), fetchOk('/models/minilm/model.safetensors', 'bytes'),
    ]);
    model = new mod.SentenceModel(config, vocab, weights);
    return { dim: model.dim, seconds: (performance.now() - t0) / 1000 };
  },
  embed({ texts, reps = 1 }) {
    let best = Infinity, out = null;
    for (let i = 0; i < reps; i++) {
      const t = performance.now();
      out = model.embed(texts);
      best = Math.min(best, performance.now() - t);
    }
    return { embeddings: Array.from(out), ms: best, tokens: texts.map((s) => model.tokenCount(s)) };
  },
};

serve(handlers);
