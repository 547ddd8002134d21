/**
 * The layers of src/ stay one-way: a file imports only from its own layer and the ones
 * before it (capture, decode, analyze, report, run, check, cli, then index.ts). A move
 * that breaks the picture in docs/DESIGN.md fails here, with the import named.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/paths.js";

const SRC = join(ROOT, "src");
const ORDER = ["capture", "decode", "analyze", "report", "run", "check", "cli", "index.ts"];

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

const layerOf = (rel: string): number => ORDER.indexOf(rel.includes("/") ? rel.split("/")[0]! : rel);

/** Every relative import and re-export of src/, static or dynamic, as "from -> to" (paths under src/). */
function imports(): string[] {
  const edges: string[] = [];
  for (const file of sources(SRC)) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)"(\.{1,2}\/[^"]+)"/g)) {
      const target = resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts"));
      edges.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
    }
  }
  return edges;
}

describe("layers", () => {
  const edges = imports();

  it("every source file is in a known layer", () => {
    expect(
      sources(SRC)
        .map((f) => relative(SRC, f))
        .filter((r) => layerOf(r) < 0),
    ).toEqual([]);
    expect(edges.length).toBeGreaterThan(200);
  });

  it("no file imports from a layer after its own", () => {
    const upward = edges.filter((e) => {
      const [from, to] = e.split(" -> ") as [string, string];
      return layerOf(to) > layerOf(from);
    });
    expect(upward).toEqual([]);
  });
});
