// The one request/reply protocol between the pages and their Workers:
//   request  {id, type, ...args}                  page -> worker
//   reply    {id, ok: true, ...result}            a result's `transfer` buffers are moved
//            {id, ok: false, error: message}
//   other    messages without an `id` (e.g. training progress) go to the page's `onOther`.
// worker-peers.js is a classic worker (no module imports) and repeats `serve` inline.

/** Worker side: answers each request with `handlers[type](args)` (sync or async). */
export function serve(handlers) {
  self.onmessage = async (e) => {
    const { id, type, ...args } = e.data;
    try {
      const { transfer = [], ...out } = await handlers[type](args);
      self.postMessage({ id, ok: true, ...out }, transfer);
    } catch (err) {
      self.postMessage({ id, ok: false, error: String((err && err.message) || err) });
    }
  };
}

/** Page side: a Worker whose `call(type, args, timeoutMs?)` returns a promise of the reply. */
export class RpcWorker {
  constructor(url, options = {}, onOther = () => {}) {
    this.w = new Worker(url, options);
    this.pending = new Map();
    this.next = 1;
    this.w.onmessage = (e) => {
      const { id, ok, error, ...out } = e.data;
      if (id === undefined) return onOther(e.data);
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      ok ? p.resolve(out) : p.reject(new Error(error));
    };
    this.w.onerror = (e) => {
      const err = new Error(`worker error: ${e.message || 'failed to load'}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      e.preventDefault();
    };
  }
  call(type, args = {}, timeoutMs = 120000) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error(`${type} timed out after ${timeoutMs / 1000} s`)); }, timeoutMs);
      this.pending.set(id, { resolve: (v) => { clearTimeout(timer); resolve(v); }, reject: (e) => { clearTimeout(timer); reject(e); } });
      this.w.postMessage({ id, type, ...args });
    });
  }
  terminate() { this.w.terminate(); }
}
