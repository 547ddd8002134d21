/** `sockscope explain [kind]`: the catalogue, from the analyzers' own descriptors. */
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
    const width = Math.max(0, ...ANALYZERS.map((a) => a.id.length));
    let family = "";
    for (const a of ANALYZERS) {
      if (a.family !== family) {
        family = a.family;
        process.stdout.write(`\n${family}\n`);
      }
      process.stdout.write(`  ${a.id.padEnd(width)}  ${a.severity.padEnd(7)}  ${a.title}\n`);
    }
    process.stdout.write(`\n${ANALYZERS.length} kinds. 'sockscope explain <kind>' for one in full.\n`);
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
