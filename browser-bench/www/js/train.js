// The training demo page (train.html). URL parameters, for the headless tests and runs:
// ?arch=mlp|cnn&epochs=N&limit=IMAGES&build=relaxed|simd128|scalar&autorun=1.
// window.__lanesTrain = {state: 'loading'|'ready'|'training'|'done'|'failed', variant, epochs: [stats], error, predict(pixels)}
import { detect, choose } from './lanes.js';
import { RpcWorker } from './rpc.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const S = (window.__lanesTrain = { state: 'loading', epochs: [], error: null });

let worker = null;
const call = (type, args = {}) => worker.call(type, args, 3_600_000); // an epoch may take minutes

async function main() {
  const features = await detect();
  const choice = choose(features, params.get('build'));
  S.variant = choice.variant;
  $('loader').textContent = `Build: ${choice.variant} (${choice.reason}); one thread.`;
  worker = new RpcWorker(new URL('./worker-train.js', import.meta.url), { type: 'module' }, (m) => {
    if (m.progress !== undefined) $('progress').value = m.progress;
  });
  for (const k of ['arch', 'epochs', 'limit']) if (params.has(k)) $(k).value = params.get(k);
  $('train').disabled = false;
  $('train').onclick = train;
  S.predict = async (pixels) => (await call('predict', { pixels: Float32Array.from(pixels) })).probs;
  S.state = 'ready';
  if (params.get('autorun') === '1') await train();
}

async function train() {
  $('train').disabled = true;
  S.state = 'training';
  S.epochs = [];
  const body = $('epochs-table').querySelector('tbody');
  body.textContent = '';
  try {
    const arch = $('arch').value, epochs = Number($('epochs').value), limit = Number($('limit').value);
    $('status').textContent = 'loading the digits…';
    const sizes = await call('init', { variant: S.variant, arch, limit });
    for (let e = 0; e < epochs; e++) {
      $('status').textContent = `epoch ${e + 1} of ${epochs} (${sizes.train} images)…`;
      const { stats } = await call('epoch');
      S.epochs.push(stats);
      const row = body.insertRow();
      for (const v of [stats.epoch, stats.loss.toFixed(4), `${(100 * stats.accuracy).toFixed(2)}%`, stats.imagesPerS.toFixed(0)]) row.insertCell().textContent = v;
    }
    $('status').textContent = `done: ${(100 * S.epochs.at(-1).accuracy).toFixed(2)}% on ${sizes.test} held-out digits. Draw one below.`;
    S.state = 'done';
  } catch (err) {
    S.error = String(err.message || err);
    S.state = 'failed';
    $('status').textContent = `failed: ${S.error}`;
  } finally {
    $('train').disabled = false;
  }
}

// Drawing pad: 280x280 canvas, thick white strokes on black, scaled to 28x28 for predict.
const pad = $('pad'), ctx = pad.getContext('2d');
function clear() {
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, pad.width, pad.height);
  $('prediction').textContent = S.state === 'done' ? 'draw a digit' : 'train first, then draw a digit';
}
let drawing = false;
pad.addEventListener('pointerdown', (e) => { drawing = true; stroke(e); });
pad.addEventListener('pointermove', (e) => drawing && stroke(e));
addEventListener('pointerup', () => { if (drawing) { drawing = false; predict(); } });
function stroke(e) {
  const r = pad.getBoundingClientRect();
  ctx.fillStyle = '#fff';
  ctx.beginPath();
  ctx.arc(e.clientX - r.left, e.clientY - r.top, 11, 0, 2 * Math.PI);
  ctx.fill();
}
async function predict() {
  if (S.state !== 'done') return;
  const small = document.createElement('canvas');
  small.width = small.height = 28;
  const sctx = small.getContext('2d');
  sctx.drawImage(pad, 0, 0, 28, 28);
  const img = sctx.getImageData(0, 0, 28, 28).data;
  const pixels = Array.from({ length: 784 }, (_, i) => img[4 * i] / 255);
  const probs = await S.predict(pixels);
  const best = probs.indexOf(Math.max(...probs));
  $('prediction').textContent = `it's a ${best} (${(100 * probs[best]).toFixed(1)}%)`;
}
$('clear').onclick = clear;
clear();

main().catch((err) => {
  S.error = String(err.message || err);
  S.state = 'failed';
  $('loader').textContent = `failed: ${S.error}`;
});
