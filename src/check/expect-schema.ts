/**
 * schema/expect.schema.json describes the expectations format for editors and other tools.
 * Its list of finding kinds (`definitions.kind.enum`) is generated from the analyzer
 * registry as the last step of `npm run build` (scripts/expect-schema.mjs), never kept by
 * hand; test/check.test.ts fails when the file is stale.
 * Only that array is rewritten: the rest of the file keeps its hand-written layout.
 */

/** `"kind": { "enum": [ … ]` in the schema's definitions; group 2 is the array's contents. */
const KIND_ENUM = /("kind": \{\s*"enum": \[)([^\]]*)(\])/;
/** Indentation of the array's lines, and the width they are filled to. */
const INDENT = " ".repeat(8);
const WIDTH = 120;

/** The kinds the schema text lists, in its order. */
export function schemaKinds(schemaText: string): string[] {
  const doc = JSON.parse(schemaText) as { definitions?: { kind?: { enum?: unknown } } };
  const kinds = doc.definitions?.kind?.enum;
  if (!Array.isArray(kinds) || !kinds.every((k) => typeof k === "string"))
    throw new Error("expect schema: definitions.kind.enum is not a list of strings");
  return kinds;
}

/** The schema text with `kinds` (registry order) as its list of finding kinds. */
export function schemaWithKinds(schemaText: string, kinds: readonly string[]): string {
  if (!KIND_ENUM.test(schemaText)) throw new Error('expect schema: no "kind": { "enum": [ … ] } in its definitions');
  const lines: string[] = [];
  let line = "";
  for (const k of kinds) {
    const item = JSON.stringify(k) + ",";
    if (line !== "" && INDENT.length + line.length + 1 + item.length > WIDTH) {
      lines.push(INDENT + line);
      line = "";
    }
    line = line === "" ? item : `${line} ${item}`;
  }
  if (line !== "") lines.push(INDENT + line);
  const body = lines.length === 0 ? "" : `\n${lines.join("\n").replace(/,$/, "")}\n      `;
  const out = schemaText.replace(KIND_ENUM, (_m, open: string, _old: string, close: string) => open + body + close);
  // The regex edits text: make sure the result is the JSON meant.
  const written = schemaKinds(out);
  if (written.join("\n") !== kinds.join("\n")) throw new Error("expect schema: rewriting the kind list failed");
  return out;
}
