/**
 * Stack traces of the bundled CLI point into src/, as they would without the bundle.
 * Node applies source maps only to the modules it loads itself, not to code compiled with
 * vm.Script (main.ts, for the code cache), so the bundle's frames are mapped here, and only
 * when a stack trace is asked for: the map is not read at all in a run that has none.
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, resolve } from "node:path";

/**
 * From now on, frames in `bundle` print as the source position its map gives. `firstLineShift`:
 * the characters the loader put before the bundle's first line.
 */
export function mapBundleFrames(bundle: string, firstLineShift: number): void {
  let map: SourceMap | null | undefined;
  const sourceMap = (): SourceMap | null => {
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(`${bundle}.map`, "utf8")));
      } catch {
        map = null; // No map: the bundle's own positions.
      }
    }
    return map;
  };
  const frame = (site: NodeJS.CallSite): string => {
    const line = site.getLineNumber();
    const column = site.getColumnNumber();
    const m = site.getFileName() === bundle && line !== null && column !== null ? sourceMap() : null;
    if (m === null || line === null || column === null) return String(site);
    const entry = m.findEntry(line - 1, column - 1 - (line === 1 ? firstLineShift : 0)) as Partial<{
      originalSource: string;
      originalLine: number;
      originalColumn: number;
    }>;
    if (entry.originalSource === undefined) return String(site);
    const where = `${resolve(dirname(bundle), entry.originalSource)}:${(entry.originalLine ?? 0) + 1}:${(entry.originalColumn ?? 0) + 1}`;
    const name = site.getFunctionName();
    return `${site.isAsync() ? "async " : ""}${name ? `${name} (${where})` : where}`;
  };
  Error.prepareStackTrace = (error, sites) =>
    `${String(error)}${sites.map((site) => `\n    at ${frame(site)}`).join("")}`;
}
