// A tiny static server for the benchmark page: 127.0.0.1 only, cross-origin isolated
// (COOP/COEP, needed for SharedArrayBuffer and so for every threaded wasm build), and
// application/wasm for .wasm (needed for streaming compilation).
//   node scripts/serve.mjs [--port 8123] [--no-isolation]
// Routes: /            -> browser-bench/www/
//         /node_modules -> browser-bench/node_modules/ (peers: tfjs, onnxruntime-web, ...)
//         /shapes/      -> bench-harness/shapes/ (shared shape lists)
//         /models/minilm/ -> data/minilm/ (all-MiniLM-L6-v2, extracted by scripts/setup.sh)
// As a module: `startServer({port, isolation})` resolves to {server, url, close()}.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const bb = path.resolve(here, '..');
const ROOTS = [
  ['/node_modules/', path.join(bb, 'node_modules')],
  ['/shapes/', path.resolve(bb, '..', 'bench-harness', 'shapes')],
  ['/models/minilm/', path.resolve(bb, '..', 'data', 'minilm')],
  ['/', path.join(bb, 'www')],
];
const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png', '.safetensors': 'application/octet-stream', '.svg': 'image/svg+xml', '.map': 'application/json', '.md': 'text/markdown',
};

function resolve(urlPath) {
  let p;
  try { p = decodeURIComponent(urlPath.split('?')[0]); } catch { return null; }
  for (const [prefix, dir] of ROOTS) {
    if (p.startsWith(prefix)) {
      const file = path.resolve(dir, '.' + p.slice(prefix.length - 1));
      if (file !== dir && !file.startsWith(dir + path.sep)) return null; // no escaping the root
      return file;
    }
  }
  return null;
}

export function startServer({ port = 8123, isolation = true, quiet = true } = {}) {
  const server = http.createServer((req, res) => {
    const headers = { 'Cache-Control': 'no-store', 'Cross-Origin-Resource-Policy': 'same-origin' };
    if (isolation) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    let file = resolve(req.url);
    if (file && fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!file || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' });
      res.end('not found\n');
      if (!quiet) console.log(`404 ${req.url}`);
      return;
    }
    headers['Content-Type'] = MIME[path.extname(file)] || 'application/octet-stream';
    headers['Content-Length'] = fs.statSync(file).size;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${server.address().port}/`;
      resolvePromise({ server, url, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '8123' }, 'no-isolation': { type: 'boolean', default: false } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: not a port number: ${values.port}`);
  const isolation = !values['no-isolation'];
  const { url } = await startServer({ port, isolation, quiet: false });
  console.log(`serving browser-bench/www on ${url} (cross-origin isolated: ${isolation})`);
}
