/**
 * Process attribution in `sockscope live`, with real programs (fixtures/process/programs.py)
 * in the capture's private network namespace: the program behind each side, what its
 * socket holds when a condition is reported (receive queue of a reader that stopped,
 * CLOSE-WAIT, SYN-SENT), a pre-fork server's child and its parent's listener, a client
 * gone before any scan, a program in another namespace reached over a veth pair, and the
 * process kept in the -w pcapng, read back by `analyze` and by tshark.
 *
 * Root, unshare/nsenter, ip, python3 and cap are needed (liveDescribe skips saying why,
 * or fails in CI); nft for the dropped connect(), tshark for its check (skipped, said).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { CLI, ROOT } from "./helpers/paths.js";
import { killRunning, liveDescribe, startLive, waitFor, type LiveRun } from "./helpers/live.js";

const PROGRAMS = join(ROOT, "fixtures", "process", "programs.py");
const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

afterEach(killRunning);

type Json = Record<string, any> & { at: number };

/** Starts a program of programs.py in the capture's namespace; resolves when it wrote its pid(s). */
function program(run: LiveRun, pidFile: string, args: string[], roles: string[]): Promise<Record<string, number>> {
  void run.inNs("python3", [PROGRAMS, args[0]!, pidFile, ...args.slice(1)]);
  return waitFor(`${args[0]} started`, () => {
    if (!existsSync(pidFile)) return null;
    const pids: Record<string, number> = {};
    for (const line of readFileSync(pidFile, "utf8").trim().split("\n")) {
      const [role, pid] = line.split(" ");
      pids[role!] = Number(pid);
    }
    return roles.every((r) => pids[r] !== undefined) ? pids : null;
  });
}

const ongoing = (run: LiveRun, kind: string) =>
  run.json().find((j) => j.type === "ongoing" && j.kind === kind && j.state === "started") as Json | undefined;
const flowOf = (run: LiveRun, port: number) =>
  run.json().find((j) => j.type === "flow" && (j.server as string).endsWith(`:${port}`)) as Json | undefined;

liveDescribe("live process attribution, real programs in a namespace", true, () => {
  it("a reader that stopped: zero window names the server and its unread bytes; -w pcapng keeps the processes for analyze and tshark", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-proc-"));
    const file = join(dir, "zw.pcapng");
    const run = await startLive(["--via", "cap", "-i", "lo", "-F", "jsonl", "--linger", "1", "-w", file]);
    const server = await program(run, join(dir, "s"), ["stalled-reader", "127.0.0.1", "5401", "6"], ["server"]);
    const client = await program(run, join(dir, "c"), ["writer", "127.0.0.1", "5401", "4"], ["client"]);
    const zw = await waitFor("ongoing zero-window", () => ongoing(run, "zero-window"), 10_000);
    expect(zw.side).toBe("server");
    expect(zw.kernel).toMatch(
      new RegExp(
        `^pid ${server.server} \\(\`python3 .*programs\\.py stalled-reader .*\`, user root\\) holds [\\d ]+ unread bytes in its receive queue: it is not calling recv\\(\\)$`,
      ),
    );
    expect(Number(/holds ([\d ]+) unread/.exec(zw.kernel)![1]!.replace(/ /g, ""))).toBeGreaterThan(0);
    expect(zw.process.server.pid).toBe(server.server);
    expect(zw.process.client.pid).toBe(client.client);
    const flow = await waitFor("the flow's end", () => flowOf(run, 5401), 15_000);
    expect(flow.process.server).toMatchObject({ pid: server.server, command: "python3", user: "root", note: null });
    expect(flow.process.client).toMatchObject({ pid: client.client, netns: null });
    process.kill(-run.pid, "SIGINT");
    await run.exited;

    // The file: analyze brings the processes back from the packets' options and comments.
    const a = spawnSync(process.execPath, [CLI, "analyze", file, "-F", "json"], { encoding: "utf8" });
    expect(a.status, a.stderr).toBe(0);
    const f = JSON.parse(a.stdout).flows.find((x: Json) => x.server.endsWith(":5401"));
    expect(f.process.server).toMatchObject({ pid: server.server, command: "python3", user: null });
    expect(f.process.server.commandLine).toMatch(/programs\.py stalled-reader/);
    expect(f.process.client.pid).toBe(client.client);
    // The flow table shows them.
    const text = spawnSync(process.execPath, [CLI, "analyze", file, "--no-color"], { encoding: "utf8" }).stdout;
    expect(text).toMatch(new RegExp(`${client.client} python3 / ${server.server} python3`));
    if (!has("tshark")) console.log("skipping the tshark check: tshark is not installed");
    else {
      const t = spawnSync("tshark", ["-r", file, "-T", "fields", "-e", "frame.comment"], { encoding: "utf8" });
      const comments = t.stdout.split("\n").filter((l) => l !== "");
      expect(comments).toContain(`PID: ${server.server}\\nCmd: python3\\nArgs: ${f.process.server.commandLine}`);
      expect(comments.some((c) => c.startsWith(`PID: ${client.client}\\nCmd: python3`))).toBe(true);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("a server that never closes: CLOSE-WAIT with its owner and how long", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-proc-"));
    const run = await startLive(["--via", "cap", "-i", "lo", "-F", "jsonl"]);
    const server = await program(run, join(dir, "s"), ["never-close", "127.0.0.1", "5402", "8"], ["server"]);
    await program(run, join(dir, "c"), ["close-early", "127.0.0.1", "5402", "8"], ["client"]);
    const cw = await waitFor("ongoing close-wait", () => ongoing(run, "close-wait"), 10_000);
    expect(cw.side).toBe("server");
    expect(cw.kernel).toMatch(
      new RegExp(
        `^pid ${server.server} \\(\`python3 .*never-close.*\`, user root\\) holds the socket in CLOSE-WAIT \\(the kernel's state\\) for \\d+\\.\\d s: it has read the end of the stream and not called close\\(\\)$`,
      ),
    );
    process.kill(-run.pid, "SIGINT");
    await run.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!has("nft"))("a client blocked in connect() to a dropped port: SYN-SENT and its program", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-proc-"));
    const run = await startLive(
      ["--via", "cap", "-i", "lo", "-F", "jsonl"],
      "ip link set lo up && nft add table inet t && nft add chain inet t in '{ type filter hook input priority 0; }' && nft add rule inet t in tcp dport 5403 drop",
    );
    const client = await program(run, join(dir, "c"), ["connect", "127.0.0.1", "5403"], ["client"]);
    const ct = await waitFor("ongoing connect-timeout", () => ongoing(run, "connect-timeout"), 10_000);
    expect(ct.side).toBe("client");
    expect(ct.kernel).toMatch(
      new RegExp(
        `^pid ${client.client} \\(\`python3 .*programs\\.py connect .*\`, user root\\) is still blocked in connect\\(\\): its socket is in SYN-SENT, the SYN re-sent \\d+ time\\(s\\) by the kernel's timer$`,
      ),
    );
    process.kill(-run.pid, "SIGINT");
    await run.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!has("nft") || !has("ss"))(
    "a peer that vanished: the sender's unacknowledged bytes, retransmit count and TCP_INFO's RTO",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "sockscope-proc-"));
      const run = await startLive(
        ["--via", "cap", "-i", "lo", "-F", "jsonl"],
        "ip link set lo up && nft add table inet t && nft add chain inet t in '{ type filter hook input priority 0; }'",
      );
      await program(run, join(dir, "s"), ["echo-server", "127.0.0.1", "5408", "15"], ["server"]);
      const client = await program(run, join(dir, "c"), ["writer", "127.0.0.1", "5408", "12"], ["client"]);
      // The server's host goes away: nothing reaches it, nothing comes back.
      await run.inNs("nft", ["add", "rule", "inet", "t", "in", "tcp", "dport", "5408", "drop"]);
      await run.inNs("nft", ["add", "rule", "inet", "t", "in", "tcp", "sport", "5408", "drop"]);
      const pu = await waitFor("ongoing peer-unresponsive", () => ongoing(run, "peer-unresponsive"), 20_000);
      expect(pu.side).toBe("client");
      expect(pu.kernel).toMatch(
        new RegExp(
          `^pid ${client.client} \\(\`python3 .*programs\\.py writer .*\`, user root\\) has [\\d ]+ bytes in its send queue not yet acknowledged; the kernel's retransmit timer has fired \\d+ time\\(s\\) since the last acknowledgement \\(TCP_INFO: RTO [\\d ]+ ms, smoothed RTT [\\d.]+ ms, cwnd \\d+, \\d+ retransmission\\(s\\) in all\\)$`,
        ),
      );
      process.kill(-run.pid, "SIGINT");
      await run.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  );

  it("a pre-fork server: the child holds the connection, the parent's listener is named; a client gone before any scan is said to be", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-proc-"));
    const run = await startLive(["--via", "cap", "-i", "lo", "-F", "jsonl", "--linger", "1"]);
    const fork = await program(run, join(dir, "f"), ["fork-server", "127.0.0.1", "5404", "4"], ["parent", "child"]);
    // A client that stays until the scan: its connection is the child's.
    const c1 = await program(run, join(dir, "c1"), ["hold", "127.0.0.1", "5404", "3"], ["client"]);
    const f1 = await waitFor("the forked server's flow", () => flowOf(run, 5404), 15_000);
    expect(f1.process.server).toMatchObject({ pid: fork.child, listener: { pid: fork.parent } });
    expect(f1.process.client.pid).toBe(c1.client);

    // Gone before the scan: connect, send, close in a millisecond, against a server that
    // closes too. First a connection that lives long enough to be looked up, so that a scan
    // has seen the server's listener (scans are spaced by their cost: on a busy host the
    // short one may end before the next).
    const echo = await program(run, join(dir, "e"), ["echo-server", "127.0.0.1", "5405", "15"], ["server"]);
    const c3 = await program(run, join(dir, "c3"), ["hold", "127.0.0.1", "5405", "3"], ["client"]);
    const held = await waitFor("the held flow", () => flowOf(run, 5405), 15_000);
    expect(held.process.server).toMatchObject({ pid: echo.server });
    expect(held.process.client).toMatchObject({ pid: c3.client });
    await program(run, join(dir, "c2"), ["short-client", "127.0.0.1", "5405"], ["client"]);
    const f2 = await waitFor(
      "the short flow",
      () =>
        run.json().find((j) => j.type === "flow" && (j.server as string).endsWith(":5405") && j.id !== held.id) as
          | Json
          | undefined,
      15_000,
    );
    expect(f2.process.client).toMatchObject({ pid: null, note: "closed before it could be attributed" });
    // The accepted socket went too; the listener, still there, is named.
    expect(f2.process.server).toMatchObject({
      pid: null,
      note: "closed before it could be attributed",
      listener: { pid: echo.server },
    });
    process.kill(-run.pid, "SIGINT");
    await run.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it("a program in another network namespace, reached over a veth pair, is named from the host side", async () => {
    const ns = `sockscope-c${process.pid}`;
    spawnSync("ip", ["netns", "del", ns]);
    expect(spawnSync("ip", ["netns", "add", ns]).status).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), "sockscope-proc-"));
    try {
      const run = await startLive(
        ["--via", "cap", "-i", "vh", "-F", "jsonl", "--linger", "1"],
        [
          "ip link set lo up",
          `ip link add vh type veth peer name vc netns ${ns}`,
          "ip addr add 10.77.0.1/24 dev vh",
          "ip link set vh up",
          `ip -n ${ns} addr add 10.77.0.2/24 dev vc`,
          `ip -n ${ns} link set vc up`,
          `ip -n ${ns} link set lo up`,
        ].join(" && "),
      );
      // The "container": a server in the other namespace.
      const pidFile = join(dir, "s");
      const server = spawn(
        "ip",
        ["netns", "exec", ns, "python3", PROGRAMS, "echo-server", pidFile, "10.77.0.2", "5406", "6"],
        {
          stdio: "ignore",
        },
      );
      await waitFor(
        "the container's server",
        () => existsSync(pidFile) && readFileSync(pidFile, "utf8").includes("server"),
      );
      const serverPid = Number(readFileSync(pidFile, "utf8").trim().split(" ")[1]);
      const client = await program(run, join(dir, "c"), ["hold", "10.77.0.2", "5406", "1"], ["client"]);
      const f = await waitFor("the veth flow", () => flowOf(run, 5406), 15_000);
      expect(f.process.server.pid).toBe(serverPid);
      const nsInode = Number(
        /\[(\d+)\]/.exec(spawnSync("readlink", [`/proc/${serverPid}/ns/net`], { encoding: "utf8" }).stdout)![1],
      );
      expect(f.process.server.netns).toBe(nsInode);
      expect(f.process.client).toMatchObject({ pid: client.client, netns: null });
      server.kill();
      process.kill(-run.pid, "SIGINT");
      await run.exited;
    } finally {
      spawnSync("ip", ["netns", "del", ns]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--no-process looks nothing up; without root it says once that naming programs needs root and goes on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-proc-"));
    const run = await startLive(["--via", "cap", "-i", "lo", "-F", "jsonl", "--linger", "1", "--no-process"]);
    await program(run, join(dir, "s"), ["echo-server", "127.0.0.1", "5407", "4"], ["server"]);
    await program(run, join(dir, "c"), ["hold", "127.0.0.1", "5407", "0.5"], ["client"]);
    const f = await waitFor("the flow", () => flowOf(run, 5407), 15_000);
    expect(f.process).toBeUndefined();
    process.kill(-run.pid, "SIGINT");
    await run.exited;
    rmSync(dir, { recursive: true, force: true });

    // As nobody with the capture capabilities: the capture runs, the note comes once.
    const asNobody = (extra: string[]) =>
      spawnSync(
        "unshare",
        [
          "-n",
          "bash",
          "-c",
          'ip link set lo up && exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps +net_raw,+net_admin --ambient-caps +net_raw,+net_admin "$@"',
          "sh",
          process.execPath,
          CLI,
          "live",
          "--via",
          "cap",
          "-i",
          "lo",
          "--duration",
          "1",
          ...extra,
        ],
        { encoding: "utf8", timeout: 20_000 },
      );
    const r = asNobody([]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.match(/naming the program behind each socket needs root/g)).toHaveLength(1);
    expect(r.stderr).toMatch(
      /sockscope: naming the program behind each socket needs root \(other users' \/proc\/<pid>\/fd\): only your own processes are named\n/,
    );
    expect(asNobody(["--no-process"]).stderr).not.toMatch(/needs root/);
  });
});
