import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CORPUS } from "./paths.js";

export interface CorpusEntry {
  file: string;
  path: string;
  format: string;
  linktype: string;
  packets: number;
  what: string;
  /** Marked corrupt: or edge: in the manifest. */
  broken: boolean;
}

export function corpusEntries(): CorpusEntry[] {
  const lines = readFileSync(join(CORPUS, "MANIFEST.tsv"), "utf8").trim().split("\n").slice(1);
  return lines.map((l) => {
    const [file, , , , format, linktype, packets, what] = l.split("\t") as string[];
    return {
      file: file!,
      path: join(CORPUS, "captures", file!),
      format: format!,
      linktype: linktype!,
      packets: Number(packets),
      what: what!,
      broken: /^(corrupt|edge):/.test(what!) || /corrupt:/.test(what!),
    };
  });
}

/** tshark's per-frame flags for a corpus file: frame → column → 0/1. */
export function oracleFrames(file: string): { columns: string[]; rows: Map<number, Record<string, number>> } {
  const text = readFileSync(join(CORPUS, "oracle", `${file}.tsv`), "utf8")
    .trim()
    .split("\n");
  const columns = text[0]!.split("\t");
  const rows = new Map<number, Record<string, number>>();
  for (const line of text.slice(1)) {
    const cells = line.split("\t");
    const rec: Record<string, number> = {};
    columns.forEach((c, i) => {
      rec[c] = Number(cells[i]);
    });
    rows.set(rec.frame_number!, rec);
  }
  return { columns, rows };
}
