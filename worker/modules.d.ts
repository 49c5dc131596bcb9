// Module types of the non-JavaScript imports Wrangler bundles (see [[rules]] in wrangler.toml).
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
declare module "*.safetensors" {
  const bytes: ArrayBuffer;
  export default bytes;
}
