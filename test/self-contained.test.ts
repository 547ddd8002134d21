/**
 * A user's clone holds only the repository: no test, source, script or README example may
 * read from beside it (a folder of the team's next to the clone, say). test/corpus carries the captures.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS, ROOT } from "./helpers/paths.js";
import { corpusEntries } from "./helpers/corpus.js";

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (!["corpus", "artifacts", "node_modules"].includes(name)) files(p, out);
    } else if (/\.(ts|mjs|js|json|sh)$/.test(name)) out.push(p);
  }
  return out;
}

/** A path that climbs out of the repository root: to a sibling folder, or join(ROOT, "..", …). */
const OUTSIDE = /\.\.\/shared|"\.\.", "shared"|ROOT, "\.\."/;

describe("the repository is self-contained", () => {
  it("no test, source, script or bench file reads from outside the repository", () => {
    const offenders = ["test", "src", "scripts", "bench"]
      .flatMap((d) => files(join(ROOT, d)))
      .filter((p) => p !== join(ROOT, "test", "self-contained.test.ts") && OUTSIDE.test(readFileSync(p, "utf8")))
      .map((p) => relative(ROOT, p));
    expect(offenders).toEqual([]);
  });

  it("no README example runs on a path outside the repository", () => {
    const commands = [...readFileSync(join(ROOT, "README.md"), "utf8").matchAll(/<!-- run: (.+?) -->/g)].map(
      (m) => m[1]!,
    );
    expect(commands.length).toBeGreaterThan(5);
    expect(commands.filter((c) => c.includes("../"))).toEqual([]);
  });

  it("every corpus capture in the manifest is carried, with its source and licence named", () => {
    const entries = corpusEntries();
    expect(entries.length).toBeGreaterThan(250);
    const carried = new Set(readdirSync(join(CORPUS, "captures")));
    expect(entries.filter((e) => !carried.has(e.file)).map((e) => e.file)).toEqual([]);
    const readme = readFileSync(join(CORPUS, "README.md"), "utf8");
    const repos = new Set(
      readFileSync(join(CORPUS, "MANIFEST.tsv"), "utf8")
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split("\t")[1]!),
    );
    for (const repo of repos) expect(readme, `licence of ${repo}`).toMatch(new RegExp(repo.replace("/", "\\/")));
  });
});
