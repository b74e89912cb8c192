const text = JSON.stringify({ a: 12345, b: 6172.5, c: -12345, t: 1733000000000.123 });
const bytes = new TextEncoder().encode(text);
const shared = new Uint8Array(new SharedArrayBuffer(256)); shared.set(bytes, 16);
const copy = new Uint8Array(256);
const dec = new TextDecoder();
const len = bytes.length;
const cases = {
  decoder: () => { copy.set(shared.subarray(16, 16 + len)); return JSON.parse(dec.decode(copy.subarray(0, len))); },
  fromCharCode: () => { copy.set(shared.subarray(16, 16 + len)); return JSON.parse(String.fromCharCode.apply(null, copy.subarray(0, len))); },
  loopcopy_decoder: () => { for (let i = 0; i < len; i++) copy[i] = shared[16 + i]; return JSON.parse(dec.decode(copy.subarray(0, len))); },
  parseOnly: () => JSON.parse(text),
  structuredClone: () => structuredClone({ a: 12345, b: 6172.5, c: -12345, t: 1733000000000.123 }),
};
for (const [name, fn] of Object.entries(cases)) {
  let s = 0; const N = 1e6; const t0 = performance.now();
  for (let n = 0; n < N; n++) s += fn().a;
  console.log(name, ((performance.now() - t0) / N * 1e6).toFixed(0), "ns");
}
