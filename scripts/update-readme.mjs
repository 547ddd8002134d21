#!/usr/bin/env node
// Refreshes the example outputs in README.md: every block opened by
//   <!-- run: COMMAND -->
// followed by a ``` fence gets the real output of COMMAND (run from the repository root,
// with colours off). Keeps the README's usage examples honest: `node scripts/update-readme.mjs`.
import { execSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../README.md", import.meta.url);
const text = readFileSync(path, "utf8");
const out = text.replace(/<!-- run: (.+?) -->\n```(\w*)\n[\s\S]*?^```$/gm, (_m, cmd, lang) => {
  let result;
  try {
    result = execSync(cmd, { cwd: new URL("..", import.meta.url), env: { ...process.env, NO_COLOR: "1", TZ: "UTC" }, encoding: "utf8", shell: "/bin/bash" });
  } catch (e) {
    result = (e.stdout ?? "") + (e.stderr ?? "");
  }
  return `<!-- run: ${cmd} -->\n\`\`\`${lang}\n$ ${cmd.replace(/^node dist\/cli\/main\.js/, "sockscope").replace(/ 2>&1/, "")}\n${result.trimEnd()}\n\`\`\``;
});
writeFileSync(path, out);
console.log("README.md examples refreshed");
