// A bump allocator over the kernel module's linear memory. Weights are placed once (below a mark);
// activations are allocated after the mark and released together with reset(mark) after each forward
// pass. Memory grows on demand; growing detaches old ArrayBuffers, so typed-array views are created
// fresh from `memory.buffer` on every call (never keep one across an allocation). Every grow detaches
// the buffer and makes V8 count it as new external memory (often a garbage collection), so memory grows
// ahead of need (by up to a quarter, at most GROW_AHEAD) and a model reserves its weights in one go.

const PAGE = 65536;
/** At most this many bytes are grown beyond what an allocation needs. */
const GROW_AHEAD = 16 * 2 ** 20;

export class Arena {
  private top: number;

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly base: number,
  ) {
    this.top = align(base, 64);
  }

  /** Bytes in use above the base. */
  get used(): number {
    return this.top - this.base;
  }

  /** Reserves `bytes` (aligned to `alignment`, default 64) and returns the byte offset. */
  alloc(bytes: number, alignment = 64): number {
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`arena: invalid allocation size ${bytes}`);
    const ptr = align(this.top, alignment);
    const end = ptr + bytes;
    this.ensure(end, bytes);
    this.top = end;
    return ptr;
  }

  /**
   * Grows memory once so that `bytes` more can be allocated without growing again (e.g. a model's
   * weights, before it places them). Growing is all it does: nothing is allocated. Best effort: when
   * memory cannot grow that far, nothing happens here (the allocation that does not fit will say so).
   */
  reserve(bytes: number): void {
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`arena: invalid reservation ${bytes}`);
    try {
      this.ensure(align(this.top, 64) + bytes, bytes, true);
    } catch {}
  }

  /** Grows memory to hold [0, end): ahead of need when it can, exactly when that is all there is room for. */
  private ensure(end: number, bytes: number, exact = false): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const need = Math.ceil((end - have) / PAGE);
    const ahead = exact ? need : Math.max(need, Math.ceil(Math.min(have / 4, GROW_AHEAD) / PAGE));
    try {
      this.memory.grow(ahead);
      return;
    } catch {}
    try {
      if (ahead > need) {
        this.memory.grow(need);
        return;
      }
    } catch {}
    throw new RangeError(
      `arena: cannot grow wasm memory to ${((end / 2 ** 20) | 0) + 1} MiB (${bytes} bytes requested)`,
    );
  }

  allocF32(n: number): number {
    return this.alloc(n * 4);
  }

  allocI32(n: number): number {
    return this.alloc(n * 4);
  }

  /** Current top, to release everything allocated after it with reset(). */
  mark(): number {
    return this.top;
  }

  reset(mark: number): void {
    if (mark < this.base || mark > this.top) throw new RangeError(`arena: bad mark ${mark}`);
    this.top = mark;
  }

  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }

  i8(ptr: number, n: number): Int8Array {
    return new Int8Array(this.memory.buffer, ptr, n);
  }

  i16(ptr: number, n: number): Int16Array {
    return new Int16Array(this.memory.buffer, ptr, n);
  }

  /** Allocates room for `data` and copies it in. */
  put(data: Float32Array | Int32Array | Int8Array | Uint8Array | Int16Array): number {
    const ptr = this.alloc(data.byteLength);
    new Uint8Array(this.memory.buffer, ptr, data.byteLength).set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    return ptr;
  }

  /** A copy of n floats at ptr (safe to keep across later allocations). */
  readF32(ptr: number, n: number): Float32Array {
    return this.f32(ptr, n).slice();
  }
}

export function align(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}
