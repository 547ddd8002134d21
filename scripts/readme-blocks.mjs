// The README's example blocks: every block opened by
//   <!-- run: COMMAND -->
// followed by a ``` fence holds "$ COMMAND" (as a user types it) and COMMAND's real output,
// run from the repository root with colours off and times in UTC. update-readme.mjs
// rewrites them; readme-check.mjs re-runs them in a fresh clone and compares.
import { execSync } from "node:child_process";

const BLOCK = /<!-- run: (.+?) -->\n```(\w*)\n([\s\S]*?)^```$/gm;

/** What a user types for COMMAND: `sockscope` for the built CLI, no stderr redirection. */
const shown = (cmd) => cmd.replace(/^node dist\/cli\/main\.js/, "sockscope").replace(/ 2>&1/, "");

/** Runs COMMAND in `cwd`; the block's text: "$ command" then stdout (and stderr where the command asks for it). */
export function runBlock(cmd, cwd) {
  let result;
  try {
    result = execSync(cmd, {
      cwd,
      env: { ...process.env, NO_COLOR: "1", TZ: "UTC" },
      encoding: "utf8",
      shell: "/bin/bash",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    result = (e.stdout ?? "") + (e.stderr ?? "");
  }
  return `$ ${shown(cmd)}\n${result.trimEnd()}\n`;
}

/** Every example block of the README text: its command, fence language and current text. */
export function exampleBlocks(text) {
  return [...text.matchAll(BLOCK)].map((m) => ({ cmd: m[1], lang: m[2], text: m[3] }));
}

/** The README text with every example block replaced by `render(block)`. */
export function replaceBlocks(text, render) {
  return text.replace(
    BLOCK,
    (_m, cmd, lang, body) => `<!-- run: ${cmd} -->\n\`\`\`${lang}\n${render({ cmd, lang, text: body })}\`\`\``,
  );
}
