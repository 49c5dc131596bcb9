// Reading `tokenizer_config.json`: the fields BERT-style loading uses, tolerating both the plain string form
// ("unk_token": "[UNK]") and the AddedToken object form ({"content": "[UNK]", ...}) of special tokens.
// Pure, no Node imports.

/** The fields of tokenizer_config.json that this project reads; anything else is passed through. */
export interface TokenizerConfig {
  do_lower_case?: boolean;
  strip_accents?: boolean | null;
  tokenize_chinese_chars?: boolean;
  model_max_length?: number;
  clean_up_tokenization_spaces?: boolean;
  unk_token?: unknown;
  sep_token?: unknown;
  pad_token?: unknown;
  cls_token?: unknown;
  mask_token?: unknown;
  bos_token?: unknown;
  eos_token?: unknown;
  additional_special_tokens?: unknown;
  [key: string]: unknown;
}

export type SpecialTokenName = "unk" | "sep" | "pad" | "cls" | "mask" | "bos" | "eos";

export const SPECIAL_TOKEN_NAMES: readonly SpecialTokenName[] = [
  "unk",
  "sep",
  "pad",
  "cls",
  "mask",
  "bos",
  "eos",
];

/** transformers writes int(1e30) as "no limit"; anything this large is treated as absent. */
const NO_LIMIT = 1e9;

/** Parses tokenizer_config.json text; absent text gives {}. */
export function parseTokenizerConfig(text: string | undefined): TokenizerConfig {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`tokenizer_config.json is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error("tokenizer_config.json must hold a JSON object");
  }
  return value as TokenizerConfig;
}

/** Content of a special-token entry: a string, or an AddedToken-like object with `content`. */
export function tokenContent(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { content?: unknown }).content === "string"
  ) {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** The configured special token string for a role, if any. */
export function configuredToken(config: TokenizerConfig, name: SpecialTokenName): string | undefined {
  return tokenContent(config[`${name}_token`]);
}

/** additional_special_tokens as strings. */
export function additionalSpecialTokens(config: TokenizerConfig): string[] {
  const list = config.additional_special_tokens;
  if (!Array.isArray(list)) return [];
  return list.map(tokenContent).filter((t): t is string => t !== undefined);
}

/** model_max_length when it is a real limit, else undefined. */
export function modelMaxLength(config: TokenizerConfig): number | undefined {
  const n = config.model_max_length;
  return typeof n === "number" && Number.isInteger(n) && n > 0 && n < NO_LIMIT ? n : undefined;
}
