#!/usr/bin/env node
// Follows the README as a new user would, in a fresh clone of the committed tree in a
// temporary folder (so nothing that sits beside this checkout, outside the repository, is
// there to lean on): runs the set-up commands of "Set up and run", then every example
// block (readme-blocks.mjs) and compares its output with the README's text.
//
//   npm run readme:check              set-up (without `npm test`) and the examples
//   npm run readme:check -- --tests   and the README's test command too (CI does this)
//   --keep                            leave the clone for a look
// Exit status: 0 everything as the README says, 1 a command failed or an output differs.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exampleBlocks, runBlock } from "./readme-blocks.mjs";

const args = new Set(process.argv.slice(2));
const withTests = args.has("--tests");
const root = fileURLToPath(new URL("..", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "sockscope-readme-"));
// mkdtemp makes it private (0700); the live tests run the CLI as another user (nobody) to
// see permission errors, which needs the clone readable as an installed tool would be.
chmodSync(tmp, 0o755);
const clone = join(tmp, "sockscope");
let failures = 0;

try {
  execFileSync("git", ["clone", "--quiet", "--no-hardlinks", root, clone], { stdio: "inherit" });
  const readme = readFileSync(join(clone, "README.md"), "utf8");

  // The set-up block: the first ```sh fence after the "Set up and run" heading, one command a line.
  const setup = /^## Set up and run\n[\s\S]*?^```sh\n([\s\S]*?)^```$/m.exec(readme);
  if (!setup) throw new Error('README.md has no ```sh block under "## Set up and run"');
  for (const line of setup[1]
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)) {
    if (line === "npm test" && !withTests) {
      console.log(`skipped: ${line} (pass --tests to run it)`);
      continue;
    }
    console.log(`\n$ ${line}`);
    const r = spawnSync("bash", ["-c", line], {
      cwd: clone,
      stdio: "inherit",
      env: { ...process.env, NO_COLOR: "1", TZ: "UTC" },
    });
    if (r.status !== 0) {
      failures++;
      console.log(`README set-up command failed (exit ${r.status ?? r.signal}): ${line}`);
    }
  }

  const blocks = exampleBlocks(readme);
  for (const b of blocks) {
    const actual = runBlock(b.cmd, clone);
    if (actual === b.text) {
      console.log(`same: ${b.cmd}`);
      continue;
    }
    failures++;
    console.log(`\nDIFFERS: ${b.cmd}\n--- README\n${b.text}--- now\n${actual}`);
  }
  console.log(
    `\nreadme:check: ${blocks.length} examples, ${failures === 0 ? "all as the README says" : `${failures} failed or differ`} (clone in ${clone})`,
  );
} catch (e) {
  failures++;
  console.error(`readme:check: ${e.message}`);
} finally {
  if (!args.has("--keep")) rmSync(tmp, { recursive: true, force: true });
}
process.exit(failures === 0 ? 0 : 1);
