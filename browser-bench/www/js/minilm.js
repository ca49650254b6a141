// minilm.html. window.__lanesMiniLM = {state: 'loading'|'ready'|'failed', variant, dim, error,
// embed(texts, reps) -> {embeddings: number[][], ms, tokens}}. ?build= forces a build.
import { detect, choose } from './lanes.js';
import { RpcWorker } from './rpc.js';

const $ = (id) => document.getElementById(id);
const S = (window.__lanesMiniLM = { state: 'loading', error: null });
const worker = new RpcWorker(new URL('./worker-minilm.js', import.meta.url), { type: 'module' });
const call = (type, args = {}) => worker.call(type, args, 600_000); // loading fetches 90 MB

S.embed = async (texts, reps = 1) => {
  const r = await call('embed', { texts, reps });
  const rows = texts.map((_, i) => r.embeddings.slice(i * S.dim, (i + 1) * S.dim));
  return { embeddings: rows, ms: r.ms, tokens: r.tokens };
};

async function run() {
  const texts = $('texts').value.split('\n').map((s) => s.trim()).filter((s) => s.length);
  if (!texts.length) return;
  $('embed').disabled = true;
  try {
    const { embeddings, ms, tokens } = await S.embed(texts);
    const dot = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);
    const table = $('sims');
    table.textContent = '';
    const head = table.insertRow();
    head.insertCell();
    texts.forEach((_, j) => { head.insertCell().textContent = `#${j + 1}`; });
    texts.forEach((t, i) => {
      const row = table.insertRow();
      row.insertCell().textContent = `#${i + 1} ${t}`;
      texts.forEach((_, j) => { row.insertCell().textContent = dot(embeddings[i], embeddings[j]).toFixed(3); });
    });
    $('status').textContent = `${texts.length} sentences (${tokens.reduce((a, b) => a + b, 0)} tokens) in ${ms.toFixed(1)} ms`;
  } catch (err) {
    $('status').textContent = `failed: ${err.message}`;
  } finally {
    $('embed').disabled = false;
  }
}

(async () => {
  const choice = choose(await detect(), new URLSearchParams(location.search).get('build'));
  S.variant = choice.variant;
  $('loader').textContent = `Build: ${choice.variant} (${choice.reason}); loading the 90 MB model…`;
  const info = await call('init', { variant: choice.variant });
  S.dim = info.dim;
  $('loader').textContent = `Build: ${choice.variant}; all-MiniLM-L6-v2 loaded in ${info.seconds.toFixed(1)} s.`;
  $('embed').disabled = false;
  $('embed').onclick = run;
  S.state = 'ready';
  await run();
})().catch((err) => {
  S.error = String(err.message || err);
  S.state = 'failed';
  $('loader').textContent = `failed: ${S.error}`;
});
