// Where a request's time goes: a pipeline whose tokenizer and model are wrapped so that time spent in
// tokenizer.encode counts as "tokenize" and time in the model's forward / encode / decode / step as
// "model"; the rest of a task (pooling, softmax, top-k, detokenizing) is "post". The wrapped objects
// behave exactly like the originals (same results, same getters).

export type Clock = () => number;

const MODEL_METHODS = new Set(["forward", "encode", "decode", "step", "createDecoderState"]);
const TOKENIZER_METHODS = new Set(["encode"]);

export class PhaseTimer {
  tokenize = 0;
  model = 0;

  constructor(readonly now: Clock = () => performance.now()) {}

  private wrap<T extends object>(target: T, methods: Set<string>, phase: "tokenize" | "model"): T {
    return new Proxy(target, {
      get: (t, key) => {
        const v = Reflect.get(t, key, t);
        if (typeof v !== "function") return v;
        if (typeof key === "string" && methods.has(key)) {
          return (...args: unknown[]) => {
            const start = this.now();
            try {
              return v.apply(t, args);
            } finally {
              this[phase] += this.now() - start;
            }
          };
        }
        return v.bind(t);
      },
    });
  }

  /** The same pipeline with a timed tokenizer and model. */
  pipeline<P extends { tokenizer: object; model: object }>(p: P): P {
    return {
      ...p,
      tokenizer: this.wrap(p.tokenizer, TOKENIZER_METHODS, "tokenize"),
      model: this.wrap(p.model, MODEL_METHODS, "model"),
    };
  }
}
