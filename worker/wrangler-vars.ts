// The [vars] table of wrangler.toml read without wrangler: by `npm run serve` (worker/node.ts), so Node
// serves the same limits and models as `wrangler dev`, and by vitest.config.ts, which hands the default
// MODELS list to the workerd tests. Pure: no Node imports.

/**
 * The [vars] table of a wrangler.toml: `KEY = "basic string"` and `KEY = '''multi-line literal'''`
 * (the forms our wrangler.toml uses), comments ignored.
 */
export function readWranglerVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  let inVars = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const section = /^\s*\[+([^\]]+)\]+\s*(#.*)?$/.exec(line);
    if (section) {
      inVars = section[1].trim() === "vars";
      continue;
    }
    if (!inVars) continue;
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, key, rest] = m;
    if (rest.startsWith("'''")) {
      let body = rest.slice(3);
      while (!body.includes("'''") && i + 1 < lines.length) body += `\n${lines[++i]}`;
      vars[key] = body.slice(0, body.indexOf("'''")).replace(/^\n/, "");
    } else if (rest.startsWith('"')) {
      const s = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
      if (s) vars[key] = JSON.parse(`"${s[1]}"`) as string;
    } else if (rest.startsWith("'")) {
      const s = /^'([^']*)'/.exec(rest);
      if (s) vars[key] = s[1];
    }
  }
  return vars;
}
