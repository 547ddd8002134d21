#!/usr/bin/env node
// Bundles the CLI (src/cli/cli.ts and everything it imports) into one CommonJS file,
// dist/cli/cli.bundle.cjs, with its source map, after tsc has built dist/. Start-up is
// part of every run: one file compiled from V8's code cache (src/cli/main.ts loads it)
// costs far less than resolving and compiling ~150 ES modules one by one.
//
// The bundle sits in dist/cli/ beside the tsc output, which stays complete: worker threads
// (run/parallel/, run/captures/, capture/live/cap-worker.js, sink/content-hash-worker.js)
// still start from it, and main.js
// falls back to it when the bundle is missing. Code that finds files next to its own module
// through import.meta.url (assets, package.json, worker entries) gets the URL its module has
// in the tsc output, so every such path stays what it was.
import { execFileSync } from "node:child_process";
import { build } from "esbuild";
import { existsSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const outfile = join(root, "dist", "cli", "cli.bundle.cjs");
const tiny = join(root, "fixtures", "healthy", "graceful-close.pcap");

/** import.meta.url of a source file, as the URL of its tsc output relative to dist/. */
const moduleUrlPlugin = {
  name: "module-url",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, "utf8");
      if (!text.includes("import.meta.url")) return { contents: text, loader: "ts" };
      const rel = relative(src, args.path).replace(/\.ts$/, ".js").split("\\").join("/");
      return { contents: text.replaceAll("import.meta.url", `__moduleUrl(${JSON.stringify(rel)})`), loader: "ts" };
    });
  },
};

await build({
  entryPoints: [join(src, "cli", "cli.ts")],
  outfile,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // The native capture library is found at run time through createRequire (optional).
  external: ["cap"],
  sourcemap: "linked",
  sourcesContent: false,
  // The bundle runs in dist/cli/: a module's URL is its tsc output's, under dist/.
  banner: {
    js: 'const __moduleUrl = (rel) => require("node:url").pathToFileURL(require("node:path").join(__dirname, "..", rel)).href;',
  },
  plugins: [moduleUrlPlugin],
  logLevel: "warning",
});
// A new bundle makes every cached compilation of the old one useless (main.ts would not
// use them: the cache is keyed by the bundle's content); drop them with it.
rmSync(join(root, "dist", "cli", ".code-cache"), { recursive: true, force: true });
// One run fills the code cache for the usual command (main.ts writes it when a run ends),
// so the first real run starts as fast as the later ones. Skipped in a tree without the
// fixtures (a copy of the sources, as npm run new-analyzer's test makes): the first run
// there fills it instead.
if (existsSync(tiny))
  execFileSync(process.execPath, [join(root, "dist", "cli", "main.js"), "analyze", "-F", "json", "-q", tiny], {
    stdio: "ignore",
  });
