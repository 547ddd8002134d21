/**
 * The layers of src/ stay one-way: a file imports only from its own layer and the ones
 * before it (capture, decode, analyze, report, run, sink, check, cli, then index.ts), no
 * analyzer module imports another, and no modules import each other in a circle (the
 * pipeline and `--jobs` did). A move that breaks the picture in docs/DESIGN.md fails
 * here, with the import named.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/paths.js";

const SRC = join(ROOT, "src");
/** One module per analyzer kind: each stands alone, so adding or removing a kind touches no other. */
const ANALYZERS_DIR = "analyze/analyzers/";
const ORDER = ["capture", "decode", "analyze", "report", "live", "sink", "run", "check", "cli", "index.ts"];

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

const layerOf = (rel: string): number => ORDER.indexOf(rel.includes("/") ? rel.split("/")[0]! : rel);

/** Every relative import (bare ones too) and re-export of src/, static or dynamic, as "from -> to" (paths under src/). */
function imports(): string[] {
  const edges: string[] = [];
  for (const file of sources(SRC)) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)"(\.{1,2}\/[^"]+)"/g)) {
      const target = resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts"));
      edges.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
    }
  }
  return edges;
}

/** Sets of modules that import each other round a circle (strongly connected, Tarjan), each sorted. */
function circles(edges: string[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    const [from, to] = e.split(" -> ") as [string, string];
    next.set(from, [...(next.get(from) ?? []), to]);
  }
  const index = new Map<string, number>(),
    low = new Map<string, number>(),
    stack: string[] = [],
    out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const circle = stack.splice(stack.indexOf(v));
    if (circle.length > 1) out.push(circle.sort());
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return out;
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

  it("no analyzer imports another (what two kinds share lives in analyze/lib/)", () => {
    const between = edges.filter((e) => {
      const [from, to] = e.split(" -> ") as [string, string];
      return from.startsWith(ANALYZERS_DIR) && to.startsWith(ANALYZERS_DIR);
    });
    expect(between).toEqual([]);
  });

  it("no modules import each other, directly or round a circle", () => {
    const found = circles(edges).map((c) => c.join(" "));
    expect(found).toEqual([]);
  });
});
