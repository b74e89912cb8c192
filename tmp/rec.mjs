const fields = ["a", "b", "c", "t"];
const f = new Float64Array(new SharedArrayBuffer(8 * 64));
for (let i = 0; i < 64; i++) f[i] = i;
function loop(base) { const r = {}; for (let i = 0; i < fields.length; i++) r[fields[i]] = f[base + i]; return r; }
const template = { a: 0, b: 0, c: 0, t: 0 };
function spread(base) { const r = { ...template }; for (let i = 0; i < fields.length; i++) r[fields[i]] = f[base + i]; return r; }
const gen = new Function("f", "base", "return {" + fields.map((k, i) => `${JSON.stringify(k)}: f[base + ${i}]`).join(",") + "}");
// entries-based
class Rec {}
const make = (base) => { const r = new Rec(); for (let i = 0; i < fields.length; i++) r[fields[i]] = f[base + i]; return r; };
for (const [name, fn] of [["loop", loop], ["spread", spread], ["newFunction", gen.bind(null, f)], ["class", make]]) {
  let s = 0; const t0 = performance.now();
  for (let n = 0; n < 5e6; n++) { const r = fn((n & 7) * 4); s += r.a; }
  console.log(name, ((performance.now() - t0) / 5e6 * 1e6).toFixed(1), "ns");
}
