// Module types of the non-JavaScript imports Wrangler bundles (see [[rules]] in wrangler.toml; *.txt is
// a Text module by wrangler's default rules).
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
declare module "*.safetensors" {
  const bytes: ArrayBuffer;
  export default bytes;
}
declare module "*.model" {
  const bytes: ArrayBuffer;
  export default bytes;
}
declare module "*.txt" {
  const text: string;
  export default text;
}
