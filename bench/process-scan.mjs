// Cost of live process attribution on a busy host: opens N loopback connections (2N
// sockets plus a listener) in a python3 helper, then times ProcessAttribution's two
// steps: a scan (every namespace's /proc/net tables) and the fd walk (every process's
// /proc/<pid>/fd, done when a socket looked up has an inode not seen before). Run as
// root, after `npm run build`: node bench/process-scan.mjs [connections=5000]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { ProcessAttribution } from "../dist/live/process/attribution.js";

const n = Number(process.argv[2] ?? 5000);
const helper = `
import socket, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (${2 * n + 100}, ${2 * n + 100}))
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4096)
keep = []
for i in range(${n}):
    c = socket.create_connection(l.getsockname()); a, _ = l.accept(); keep += [c, a]
print(l.getsockname()[1], flush=True)
sys.stdin.read()
`;
const py = spawn("python3", ["-c", helper], { stdio: ["pipe", "pipe", "inherit"] });
await new Promise((res) => py.stdout.once("data", res));

const a = new ProcessAttribution();
const time = (f, rounds) => {
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) f();
  return (performance.now() - t0) / rounds;
};
const scanMs = time(() => a.scan(), 20);
const sockets = a.last.sockets;
const walkMs = time(() => a.walkFds(), 10);
const readMs = time(() => readFileSync("/proc/net/tcp", "latin1"), 20);
// live scans at most every 5 s, and never more often than 50 times a scan's own cost.
const periodSec = Math.max(5, ((scanMs + walkMs) / 1000) * 50);
console.log(
  `${sockets} sockets (load average ${loadavg()[0].toFixed(1)}): scan ${scanMs.toFixed(1)} ms ` +
    `(the kernel printing /proc/net/tcp: ${readMs.toFixed(1)} ms), fd walk ${walkMs.toFixed(1)} ms; ` +
    `a scan with a walk every ${periodSec.toFixed(1)} s: ${(((scanMs + walkMs) / (periodSec * 1000)) * 100).toFixed(2)} % of a core`,
);
py.stdin.end();
py.kill();
