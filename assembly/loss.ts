// Softmax cross-entropy with ignore index −100 (Hugging Face labels), forward loss and dlogits in one
// pass over the logits: loss = mean over the non-ignored rows of logsumexp(logits[r]) − logits[r, label],
// like torch.nn.functional.cross_entropy(reduction="mean", ignore_index=-100).
import { hmax, hsum, vexp } from "./vecmath";

/** Label value of a row that takes no part in the loss (PyTorch's default ignore_index). */
export const IGNORE_INDEX: i32 = -100;

/**
 * Counts the rows that take part; −1 when a label is neither IGNORE_INDEX nor in [0, V) (nothing is
 * written then, so the host can raise a clear error, as PyTorch does).
 */
function countLabels(labels: usize, R: i32, V: i32): i32 {
  let count = 0;
  for (let r = 0; r < R; r++) {
    const y = load<i32>(labels + (<usize>r << 2));
    if (y == IGNORE_INDEX) continue;
    if (<u32>y >= <u32>V) return -1;
    count++;
  }
  return count;
}

/**
 * loss: [1] f32 out (written, not accumulated): the mean loss over the non-ignored rows (NaN when there are
 * none, as PyTorch's mean over nothing); dlogits: [R,V] ACCUMULATES dloss · (softmax − onehot) / count
 * on the non-ignored rows (ignored rows get nothing), or 0 for the loss alone; logits: [R,V];
 * labels: [R] i32 (−100 = ignored); dloss: the upstream gradient of the mean loss (1 for plain training;
 * a loss weight or 1/accumulation steps otherwise). Returns the number of non-ignored rows, or −1 for a
 * label out of range.
 */
export function cross_entropy_f32(dlogits: usize, loss: usize, logits: usize, labels: usize, R: i32, V: i32, dloss: f32): i32 {
  const count = countLabels(labels, R, V);
  if (count < 0) return -1;
  const g: f32 = count > 0 ? dloss / <f32>count : 0;
  let total: f64 = 0;
  for (let r = 0; r < R; r++) {
    const y = load<i32>(labels + (<usize>r << 2));
    if (y == IGNORE_INDEX) continue;
    const lr = logits + ((<usize>r * V) << 2);
    // max
    let vm = f32x4.splat(-Infinity);
    let i = 0;
    for (; i + 4 <= V; i += 4) vm = f32x4.max(vm, v128.load(lr + (<usize>i << 2)));
    let mx = hmax(vm);
    for (; i < V; i++) mx = Mathf.max(mx, load<f32>(lr + (<usize>i << 2)));
    // Σ exp(l − max)
    const vmx = f32x4.splat(mx);
    let vs = f32x4.splat(0);
    i = 0;
    for (; i + 4 <= V; i += 4) vs = f32x4.add(vs, vexp(f32x4.sub(v128.load(lr + (<usize>i << 2)), vmx)));
    let sum = hsum(vs);
    for (; i < V; i++) sum += f32x4.extract_lane(vexp(f32x4.splat(load<f32>(lr + (<usize>i << 2)) - mx)), 0);
    total += Math.log(<f64>sum) + <f64>mx - <f64>load<f32>(lr + (<usize>y << 2));
    if (!dlogits) continue;
    // dlogits += g·softmax, then −g at the label
    const dr = dlogits + ((<usize>r * V) << 2);
    const vg = f32x4.splat(g / sum);
    i = 0;
    for (; i + 4 <= V; i += 4) {
      const o = <usize>i << 2;
      const p = vexp(f32x4.sub(v128.load(lr + o), vmx));
      v128.store(dr + o, f32x4.add(v128.load(dr + o), f32x4.mul(p, vg)));
    }
    const gs = g / sum;
    for (; i < V; i++) {
      const o = <usize>i << 2;
      store<f32>(dr + o, load<f32>(dr + o) + f32x4.extract_lane(vexp(f32x4.splat(load<f32>(lr + o) - mx)), 0) * gs);
    }
    const at = dr + (<usize>y << 2);
    store<f32>(at, load<f32>(at) - g);
  }
  store<f32>(loss, count > 0 ? <f32>(total / <f64>count) : NaN);
  return count;
}

/** f64 reference for cross_entropy_f32 (same arguments and results). */
export function cross_entropy_f32_ref(dlogits: usize, loss: usize, logits: usize, labels: usize, R: i32, V: i32, dloss: f32): i32 {
  const count = countLabels(labels, R, V);
  if (count < 0) return -1;
  const g: f64 = count > 0 ? <f64>dloss / <f64>count : 0;
  let total: f64 = 0;
  for (let r = 0; r < R; r++) {
    const y = load<i32>(labels + (<usize>r << 2));
    if (y == IGNORE_INDEX) continue;
    const lr = logits + ((<usize>r * V) << 2);
    let mx: f64 = -Infinity;
    for (let i = 0; i < V; i++) mx = Math.max(mx, <f64>load<f32>(lr + (<usize>i << 2)));
    let sum: f64 = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(<f64>load<f32>(lr + (<usize>i << 2)) - mx);
    total += Math.log(sum) + mx - <f64>load<f32>(lr + (<usize>y << 2));
    if (!dlogits) continue;
    for (let i = 0; i < V; i++) {
      const o = (<usize>r * V + i) << 2;
      let d = Math.exp(<f64>load<f32>(lr + (<usize>i << 2)) - mx) / sum;
      if (i == y) d -= 1;
      store<f32>(dlogits + o, <f32>(<f64>load<f32>(dlogits + o) + g * d));
    }
  }
  store<f32>(loss, count > 0 ? <f32>(total / <f64>count) : NaN);
  return count;
}
