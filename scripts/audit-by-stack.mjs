// The blind audit's precision per family of host stack (issue 20: the 0.95 target must hold
// on captures of Linux, macOS/iOS and Windows hosts alike). Each row is labelled with the
// stacks of its connection's two sides, read off its capture by capture-stacks.mjs, and
// counts for each family among them. Run from scripts/audit-table.mjs.
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { packetsOf, stackOfSide } from "./capture-stacks.mjs";

export const FAMILIES = ["Linux", "macOS/iOS", "Windows"];
export const UNKNOWN = "unknown";

/**
 * The fixtures are recordings of Linux sockets (loopback or network namespaces), both sides
 * on the recording host, so they count as Linux whatever their packets show (a UDP flow, a
 * fragment, a hand-made SYN show no stack). Not fixtures/parallel/: its captures were
 * written packet by packet by Python scripts (its README), so no stack sent them.
 */
export const isLinuxRecording = (file) => file.startsWith("fixtures/") && !file.startsWith("fixtures/parallel/");

/**
 * Per row (by its `source`): the stack family of its client and server (null when the
 * packets do not tell) and the families the row counts for. `warn` hears of captures that
 * tshark read only in part.
 */
export async function labelRows(rows, root, warn = (m) => console.warn(m)) {
  const files = [...new Set(rows.filter((r) => !isLinuxRecording(r.file) && r.client !== "").map((r) => r.file))];
  const packets = new Map();
  // Several tshark at once: each spends most of its time starting up.
  const queue = [...files];
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const { packets: p, damage } = await packetsOf(join(root, file));
      if (damage !== "")
        warn(`${file}: tshark read ${p.length} TCP/UDP packets, then: ${damage.replaceAll(join(root, file), file)}`);
      packets.set(file, p);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, availableParallelism()) }, worker));
  const labels = new Map();
  for (const r of rows) {
    let client = null,
      server = null;
    if (isLinuxRecording(r.file)) client = server = "Linux";
    else if (r.client !== "") {
      client = (await stackOfSide(packets.get(r.file), r.client, r.server, r.frame))?.name ?? null;
      server = (await stackOfSide(packets.get(r.file), r.server, r.client, r.frame))?.name ?? null;
    }
    const families = [...new Set([client, server].filter((f) => f !== null))];
    labels.set(r.source, { client, server, families: families.length === 0 ? [UNKNOWN] : families });
  }
  return labels;
}

/** The audit's number (audit3.tsv:12 → 3). */
const auditNumber = (row) => Number(/^audit(\d+)\.tsv:/.exec(row.source)?.[1] ?? Number.NaN);

/** The first audit after the TCP endpoint model (issue 15): earlier ones judged the tool before it. */
export const FIRST_ENDPOINT_MODEL_AUDIT = 3;

const precision = (c, w) => (c + w === 0 ? "–" : (c / (c + w)).toFixed(2));

/** The README's table: per family, over all audits and over those since the endpoint model. */
export function familyTable(rows, labels) {
  const numbers = rows.map(auditNumber).filter((n) => !Number.isNaN(n));
  const first = Math.min(...numbers),
    last = Math.max(...numbers);
  const present = new Set(rows.flatMap((r) => labels.get(r.source)?.families ?? []));
  // The three families always (an empty row says so), other stacks (FreeBSD) when seen.
  const families = [...FAMILIES, ...[...present].filter((f) => !FAMILIES.includes(f) && f !== UNKNOWN).sort(), UNKNOWN];
  const lines = [
    "| hosts | audits | judged | correct | wrong | debatable | precision |",
    "|---|---|---:|---:|---:|---:|---:|",
  ];
  for (const family of families) {
    const mine = rows.filter((r) => {
      const label = labels.get(r.source);
      if (label === undefined) throw new Error(`${r.source}: no stack family label`);
      return label.families.includes(family);
    });
    for (const [from, group] of [
      [first, mine],
      [FIRST_ENDPOINT_MODEL_AUDIT, mine.filter((r) => auditNumber(r) >= FIRST_ENDPOINT_MODEL_AUDIT)],
    ]) {
      const n = (v) => group.filter((r) => r.verdict === v).length;
      lines.push(
        `| ${family} | ${from}–${last} | ${group.length} | ${n("correct")} | ${n("wrong")} | ${n("debatable")} | ${precision(n("correct"), n("wrong"))} |`,
      );
    }
  }
  return lines.join("\n");
}

export const FAMILY_TABLE_BEGIN = "<!-- audit-by-stack:begin (scripts/audit-table.mjs) -->";
export const FAMILY_TABLE_END = "<!-- audit-by-stack:end -->";
