/** `sockscope explain [kind]`: the catalogue, from the analyzers' own descriptors. */
import type { AnalyzerDescriptor } from "../analyze/analyzer.js";
import { ANALYZERS } from "../analyze/registry.js";
import { indentWrap } from "../report/text.js";
import { closestNames } from "./suggest.js";

export function explainCommand(args: string[], usage: string): number {
  if (args.includes("-h") || args.includes("--help")) {
    process.stdout.write(usage + "\n");
    return 0;
  }
  if (args[0]?.startsWith("-") === true) {
    process.stderr.write(`sockscope: explain: unknown option ${args[0]} (see sockscope explain --help)\n`);
    return 2;
  }
  if (args.length === 0) {
    process.stdout.write(kindListing(ANALYZERS));
    return 0;
  }
  const a = ANALYZERS.find((x) => x.id === args[0]);
  if (a === undefined) {
    const near = closestNames(
      args[0]!,
      ANALYZERS.map((x) => x.id),
    );
    process.stderr.write(
      `sockscope: no kind "${args[0]}"${near.length > 0 ? `; closest: ${near.join(", ")}` : ""}; 'sockscope explain' lists them\n`,
    );
    return 2;
  }
  process.stdout.write(
    `${a.id} (${a.severity}): ${a.title}\n\nOn the wire:\n${indentWrap(a.wire, 2, 92)}\n\nWhat it means for your program:\n${indentWrap(a.explanation, 2, 92)}\n\nRead: ${a.references.join("; ")}\n`,
  );
  return 0;
}

type Family = AnalyzerDescriptor<unknown>["family"];
/**
 * The order families are listed in. A Record over the contract's family type, so a family
 * added there does not compile until it has its place here.
 */
const FAMILY_ORDER: Record<Family, number> = {
  "tcp-opening": 0,
  "tcp-transfer": 1,
  "tcp-closing": 2,
  "udp-ip-icmp": 3,
};

/**
 * `sockscope explain` without a kind: the kinds grouped under one header per family. The
 * registry's order decides only the order within a family (a stable sort), so a kind
 * appended at the end of the registry still lands under its family's single header.
 */
export function kindListing(
  analyzers: readonly Pick<AnalyzerDescriptor<unknown>, "id" | "family" | "severity" | "title">[],
): string {
  const width = Math.max(0, ...analyzers.map((a) => a.id.length));
  const sorted = [...analyzers].sort((x, y) => FAMILY_ORDER[x.family] - FAMILY_ORDER[y.family]);
  let out = "";
  let family = "";
  for (const a of sorted) {
    if (a.family !== family) {
      family = a.family;
      out += `\n${family}\n`;
    }
    out += `  ${a.id.padEnd(width)}  ${a.severity.padEnd(7)}  ${a.title}\n`;
  }
  return out + `\n${analyzers.length} kinds. 'sockscope explain <kind>' for one in full.\n`;
}
