#!/usr/bin/env node
// Starts a new finding kind: everything but the analysis itself and the recorded capture.
//
//   npm run new-analyzer -- <kind> <family> [--case NAME] [--severity S] [--no-build]
//
// Writes
//   src/analyze/analyzers/<kind>.ts      the analyzer module (descriptor with TODOs, hooks for the family)
//   src/analyze/registry.ts              + its import and its entry (appended: the order of the
//                                        kinds already there, and so of their findings, is kept)
//   src/check/measures.ts                + its (empty) measure list, for `check` expectations
//   fixtures/scenarios/<kind>.py         a scenario script stub on real sockets (scenario.py helpers)
//   fixtures/scenarios/<family>.tsv      + the line that records fixtures/<kind>/<case>.pcap
//   fixtures/<kind>/<case>.expect.json   the `check` expectation: the kind is found
// then builds (npm run build: tsc, then schema/expect.schema.json's kinds from the registry).
// Nothing is written when any target exists already or the kind is not a new kebab-case id.
// Until the catalogue text is written and the fixture recorded, test/registry.test.ts fails
// naming the kind and what it lacks: that is the to-do list.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const FAMILY_TSV = {
  "tcp-opening": "tcp-open-close.tsv",
  "tcp-transfer": "tcp-transfer.tsv",
  "tcp-closing": "tcp-open-close.tsv",
  "udp-ip-icmp": "udp-ip-icmp.tsv",
};
const SEVERITIES = ["info", "warning", "error"];
const USAGE =
  "usage: npm run new-analyzer -- <kind> <family> [--case NAME] [--severity info|warning|error] [--no-build]";

function fail(message) {
  console.error(`new-analyzer: ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { positional: [], case: "basic", severity: "warning", build: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? fail(`${a} needs a value\n${USAGE}`);
    if (a === "--case") o.case = value();
    else if (a === "--severity") o.severity = value();
    else if (a === "--no-build") o.build = false;
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else if (a.startsWith("-")) fail(`unknown option ${a}\n${USAGE}`);
    else o.positional.push(a);
  }
  return o;
}

/** "peer-went-away" → "peerWentAway" (the registry's import name). */
function identifier(kind) {
  const id = kind.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
  return /^[0-9]/.test(id) ? `kind${id}` : id;
}

/** The families the analyzer contract allows (its `family` union), so this script keeps no list of its own. */
function familiesOf(root) {
  const m = /family:\s*((?:"[a-z0-9-]+"\s*\|?\s*)+);/.exec(readFileSync(join(root, "src/analyze/analyzer.ts"), "utf8"));
  if (m === null) fail("cannot find the family union in src/analyze/analyzer.ts");
  return [...m[1].matchAll(/"([a-z0-9-]+)"/g)].map((x) => x[1]);
}

/** A free port for the scenario: above every 5xxx port the scenario scripts use. */
function freePort(root) {
  const dir = join(root, "fixtures/scenarios");
  let max = 5000;
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".py"))) {
    for (const m of readFileSync(join(dir, f), "utf8").matchAll(/\b5\d{3}\b/g)) max = Math.max(max, Number(m[0]));
  }
  return Math.floor(max / 10) * 10 + 10;
}

// ---------------------------------------------------------------- the registry and the measure table

function withRegistryLine(text, kind, ident) {
  if (new RegExp(`\\bimport ${ident}\\b`).test(text)) fail(`src/analyze/registry.ts already imports ${ident}`);
  const imports = [...text.matchAll(/^import \w+ from "\.\/analyzers\/[^"]+\.js";\n/gm)];
  const list = /(export const ANALYZERS\b[^=]*= \[\n[\s\S]*?)(^\];)/m.exec(text);
  if (imports.length === 0 || list === null)
    fail("src/analyze/registry.ts: no analyzer imports or no ANALYZERS list to add to");
  const last = imports.at(-1);
  const at = last.index + last[0].length;
  const withImport = `${text.slice(0, at)}import ${ident} from "./analyzers/${kind}.js";\n${text.slice(at)}`;
  // Replacer functions: the text put back is taken literally (no "$&" patterns).
  return withImport.replace(list[0], () => `${list[1]}  ${ident},\n${list[2]}`);
}

function withMeasureEntry(text, kind) {
  const key = /^[a-z_$][\w$]*$/.test(kind) ? kind : JSON.stringify(kind);
  const table = /(export const MEASURES\b[^=]*= \{\n)([\s\S]*?)(^\};)/m.exec(text);
  if (table === null) fail("src/check/measures.ts: no MEASURES table to add to");
  // Keep the table in key order: before the first entry that sorts after the new kind.
  const lines = table[2].split("\n");
  const keyOf = (line) => /^ {2}"?([a-z0-9-]+)"?:/.exec(line)?.[1];
  let i = lines.findIndex((l) => keyOf(l) !== undefined && keyOf(l) > kind);
  if (i < 0) i = lines.length - 1;
  // A comment on the entry goes with it.
  while (i > 0 && lines[i - 1].trimStart().startsWith("//")) i--;
  lines.splice(i, 0, `  ${key}: [],`);
  return text.replace(table[0], () => table[1] + lines.join("\n") + table[3]);
}

// ---------------------------------------------------------------- the files written

function analyzerModule({ kind, family, severity }) {
  const udp = family === "udp-ip-icmp";
  // The hook the family's packets arrive through; the body is the author's to write.
  const hook = udp
    ? `  onUdpDatagram(_s, _flow, _dir, _frame, _time, _p) {
    // TODO: when the datagram (_p.udp, _p.ip, the flow's counters) shows ${kind}, note it:
    // s.note(dir, frame, time).
  },`
    : `  onTcpSegment(_s, _flow, _seg) {
    // TODO: when the segment (seg.flags, seg.len, seg.seqVsNext, seg.ack, seg.win) and the flow's
    // endpoints (flow.ep[seg.dir]) show ${kind}, note it: s.note(seg.dir, seg.frame, seg.time).
  },`;
  return `/**
 * ${kind}: TODO what the packets show, and why that means what the explanation says (with
 * the RFC or man page section that says so). See src/analyze/analyzer.ts for every hook;
 * half-close.ts (TCP) or udp-fixed-retry.ts (UDP) for finished analyzers of this shape.
 */
import { defineAnalyzer } from "../analyzer.js";

/** What the analyzer has seen on one flow. */
class State {
  /** Side whose socket the finding is about; -1 until something was seen. */
  dir = -1;
  firstTime = 0;
  /** Evidence: the frames that show it. */
  frames: number[] = [];

  note(dir: number, frame: number, time: number): void {
    if (this.dir < 0) {
      this.dir = dir;
      this.firstTime = time;
    }
    this.frames.push(frame);
  }
}

const analyzer = defineAnalyzer<State>({
  id: "${kind}",
  title: "TODO: a title of a few words, as \`sockscope explain\` lists it",
  severity: "${severity}",
  family: "${family}",
  wire: "TODO: what it looks like on the wire, in a sentence.",
  explanation: "TODO: what the program did, in socket-API terms (the calls, what they returned), and what to change.",
  // TODO: references as in PHENOMENA.md ("000 §3.6", "002 shutdown", …).
  references: [],
  createState: () => new State(),
${hook}
  onFlowEnd(s, flow, out) {
    if (s.frames.length === 0) return;
    out.report(analyzer, {
      flow,
      dir: s.dir,
      frames: s.frames,
      count: s.frames.length,
      time: s.firstTime,
      summary: \`TODO: what happened on this flow, naming frames \${s.frames[0]}–\${s.frames.at(-1)}\`,
      // Each measure named here must be listed under "${kind}" in src/check/measures.ts.
      measure: {},
    });
  },
});
export default analyzer;
`;
}

function scenarioScript({ kind, family, caseName, port }) {
  const udp = family === "udp-ip-icmp";
  const imports = udp
    ? "import socket\nimport threading\n\nfrom scenario import (case_arg, exit_after, exit_unless_reproduced, make_log, require_private_netns,\n                      start_thread, udp_responder)"
    : "import socket\n\nfrom scenario import (case_arg, exit_after, exit_unless_reproduced, make_log, recv_exact,\n                      require_private_netns, start_thread, tcp_listener)";
  const body = udp
    ? `    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind((ADDR, PORT))
    stop = threading.Event()
    t = start_thread(udp_responder, srv, stop, lambda data, peer: b"r" * 100)
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.settimeout(1)
    c.connect((ADDR, PORT))
    c.send(b"q" * 40)  # TODO: what the client does to show ${kind}
    reply = c.recv(2048)
    log(f"client: send() 40 B, recv() -> {len(reply)} B")
    c.close()
    stop.set()
    t.join()`
    : `    ls = tcp_listener(ADDR, PORT)
    t = start_thread(server, ls)
    c = socket.create_connection((ADDR, PORT))
    c.sendall(b"q" * 40)  # TODO: what the client does to show ${kind}
    resp = recv_exact(c, 200)
    log(f"client: sent 40 B, received {len(resp)} B; close()")
    c.close()
    t.join()
    ls.close()`;
  const server = udp
    ? ""
    : `


def server(ls):
    c, _ = ls.accept()
    req = recv_exact(c, 40)
    c.sendall(b"r" * 200)  # TODO: what the server does to show ${kind}
    log(f"server: {len(req)} B request, 200 B response; recv() -> {c.recv(100)!r}; close()")
    c.close()`;
  return `"""${kind}: TODO the phenomenon, shown on real Linux sockets.

Case (argv[1]):
  ${caseName.padEnd(10)} client 127.0.0.1 -> server 127.0.0.1:${port}
             client: TODO the calls it makes, in order
             server: TODO the calls it makes, in order

What the wire shows: TODO.
What the app saw: TODO (return values, errno, timings); printed to stderr.

Recorded by record.sh inside a private network namespace (npm run fixtures:record ${kind}).
"""
${imports}

ADDR, PORT = "127.0.0.1", ${port}
log = make_log(elapsed=True)${server}


def main():
    case_arg(("${caseName}",), "${caseName}")
    require_private_netns()
    exit_after(20)
${body}
    # TODO: set from what the app saw (an errno, a return value, a timing), so that a run
    # that did not show ${kind} fails instead of becoming its fixture.
    reproduced = False
    exit_unless_reproduced(reproduced, log, ": TODO make the scenario show ${kind}")


if __name__ == "__main__":
    main()
`;
}

function expectationStub({ kind, caseName }) {
  const doc = {
    schema: "sockscope.expect/1",
    description: `${kind} fixture (scenarios/${kind}.py ${caseName}): must show ${kind}. After recording, complete it with: node dist/cli/main.js check fixtures/${kind}/${caseName}.pcap --update`,
    expect: [{ kind }],
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

// ---------------------------------------------------------------- main

const o = parseArgs(process.argv.slice(2));
const root = fileURLToPath(new URL("..", import.meta.url));
const [kind, family] = o.positional;
if (kind === undefined || o.positional.length > 2) fail(USAGE);
if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(kind)) fail(`"${kind}" is not a kind id: lower-case words joined by "-"`);
const families = familiesOf(root);
if (family === undefined || !families.includes(family))
  fail(
    `${family === undefined ? "give the family" : `no family "${family}"`}: one of ${families.join(", ")}\n${USAGE}`,
  );
if (!SEVERITIES.includes(o.severity)) fail(`--severity: one of ${SEVERITIES.join(", ")}`);
if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(o.case)) fail(`--case "${o.case}": lower-case words joined by "-"`);
const tsvName = FAMILY_TSV[family] ?? `${family}.tsv`;

const paths = {
  module: `src/analyze/analyzers/${kind}.ts`,
  registry: "src/analyze/registry.ts",
  measures: "src/check/measures.ts",
  scenario: `fixtures/scenarios/${kind}.py`,
  tsv: `fixtures/scenarios/${tsvName}`,
  expect: `fixtures/${kind}/${o.case}.expect.json`,
};
for (const p of [paths.module, paths.scenario, paths.expect])
  if (existsSync(join(root, p))) fail(`${p} exists already: is "${kind}" a kind already?`);
const read = (p) => (existsSync(join(root, p)) ? readFileSync(join(root, p), "utf8") : "");
if (new RegExp(`^ {2}"?${kind}"?:`, "m").test(read(paths.measures))) fail(`${paths.measures} already lists "${kind}"`);

// Everything is computed before anything is written: a refusal leaves the tree as it was.
const ident = identifier(kind);
const tsvText = read(paths.tsv);
const writes = [
  [paths.module, analyzerModule({ kind, family, severity: o.severity })],
  [paths.registry, withRegistryLine(read(paths.registry), kind, ident)],
  [paths.measures, withMeasureEntry(read(paths.measures), kind)],
  [paths.scenario, scenarioScript({ kind, family, caseName: o.case, port: freePort(root) })],
  [
    paths.tsv,
    `${tsvText}${tsvText === "" || tsvText.endsWith("\n") ? "" : "\n"}fixtures/scenarios/${kind}.py\t${o.case}\tfixtures/${kind}/${o.case}.pcap\t0\n`,
  ],
  [paths.expect, expectationStub({ kind, caseName: o.case })],
];
for (const [p, text] of writes) {
  mkdirSync(dirname(join(root, p)), { recursive: true });
  writeFileSync(join(root, p), text);
  console.log(`wrote ${p}`);
}

function run(cmd, args) {
  console.log(`$ ${[cmd, ...args].join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(
      `new-analyzer: ${cmd} ${args.join(" ")} failed (exit ${r.status ?? r.signal}); the files above are written`,
    );
    process.exit(1);
  }
}
if (o.build) run("npm", ["run", "--silent", "build"]);
else console.log("not built (--no-build): npm run build compiles it and adds the kind to schema/expect.schema.json");
console.log(`
Next, for ${kind}:
  1. ${paths.module}: the catalogue text (title, wire, explanation, references) and the hooks.
  2. ${paths.scenario}: make it show ${kind}, then record: npm run fixtures:record ${kind}
  3. golden report: npx vitest run test/fixtures.test.ts -u   (review fixtures/${kind}/${o.case}.golden.json)
  4. expectations:  node dist/cli/main.js check fixtures/${kind}/ --update   (review the diff)
  5. the README's explain listing: npm run readme:update
test/registry.test.ts names what the kind still lacks (catalogue text, positive fixture, a healthy one it stays silent on).`);
