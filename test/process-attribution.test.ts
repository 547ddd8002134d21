/**
 * Process attribution's parts on their own: /proc/net socket lines and local addresses
 * as the kernel prints them, the per-packet process a pcapng names (option and comment),
 * the -w pcapng writer read back (reader, analysis, tshark), and the /proc lookup on this
 * machine's own sockets (this test process's), including a socket already closed.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Ajv } from "ajv";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseProcNet } from "../src/live/process/proc-net.js";
import { parseFibTrieLocal, parseIfInet6 } from "../src/live/process/local-addresses.js";
import { shortenCommandLine } from "../src/live/process/processes.js";
import { ProcessAttribution } from "../src/live/process/attribution.js";
import { nameProcess } from "../src/analyze/side-process.js";
import { parseSsInfo } from "../src/live/process/tcp-info.js";
import { packetProcess } from "../src/capture/packet-process.js";
import { PcapngWriter } from "../src/capture/live/pcapng-writer.js";
import { readCapture } from "../src/capture/reader.js";
import type { PacketProcess } from "../src/capture/record.js";
import { runCapture } from "../src/run/pipeline.js";
import { engineResult } from "../src/analyze/result.js";
import { Traffic } from "./helpers/traffic.js";
import { pcapngFile } from "./helpers/build.js";
import { TH_ACK, TH_SYN } from "../src/decode/wire/packet.js";
import { CLI, ROOT } from "./helpers/paths.js";

const HEAD = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

describe("/proc/net/{tcp,udp}[6] lines", () => {
  it("give endpoints as flows name them, the state, both queues, the retransmit count, uid and inode", () => {
    const [listen, est, tw] = parseProcNet(
      HEAD +
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 4885012 1 0 100 0 0 10 0\n" +
        "   1: 0100007F:1F90 0100007F:D431 01 00000010:00200000 01:00000014 00000002  1000        0 4885013 1 0 20 4 30 10 -1\n" +
        "   2: 0100007F:945C 0100007F:46CB 06 00000000:00000000 03:00000D8F 00000000     0        0 0 3 0\n",
      "tcp",
    );
    expect(listen).toEqual({
      proto: "tcp",
      local: "127.0.0.1:8080",
      remote: "0.0.0.0:0",
      state: "LISTEN",
      txQueue: 0,
      rxQueue: 3,
      retransmits: 0,
      uid: 0,
      inode: 4885012,
    });
    expect(est).toMatchObject({
      remote: "127.0.0.1:54321",
      state: "ESTABLISHED",
      txQueue: 16,
      rxQueue: 2097152,
      retransmits: 2,
      uid: 1000,
    });
    expect(tw).toMatchObject({ state: "TIME-WAIT", inode: 0 });
  });

  it("IPv6: ::1 in brackets, an IPv4-mapped peer as plain IPv4; UDP states", () => {
    const [v6, mapped] = parseProcNet(
      HEAD +
        "   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11 1 0\n" +
        "   1: 0000000000000000FFFF00000100007F:0050 0000000000000000FFFF00000100007F:A000 08 00000000:00000005 00:00000000 00000000     0        0 12 1 0\n",
      "tcp",
    );
    expect(v6).toMatchObject({ local: "[::1]:80", remote: "[::]:0", state: "LISTEN" });
    expect(mapped).toMatchObject({ local: "127.0.0.1:80", remote: "127.0.0.1:40960", state: "CLOSE-WAIT", rxQueue: 5 });
    const [udp] = parseProcNet(
      `${HEAD}  10: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 99 2 0 0\n`,
      "udp",
    );
    expect(udp).toMatchObject({ proto: "udp", local: "0.0.0.0:53", state: "CLOSE", uid: 101, inode: 99 });
  });

  it("a namespace's own addresses: fib_trie's host LOCAL leaves, if_inet6's addresses", () => {
    const trie = `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 10.77.0.0
        /24 link UNICAST
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 10.77.0.1
        /32 host LOCAL
     |-- 10.77.0.255
        /32 link BROADCAST
     |-- 127.0.0.1
        /32 host LOCAL
`;
    expect(parseFibTrieLocal(trie).sort()).toEqual(["10.77.0.1", "127.0.0.1"]);
    expect(
      parseIfInet6(
        "00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000000000000000001 02 40 20 80     eth0\n",
      ),
    ).toEqual(["::1", "fe80::1"]);
  });

  it("command lines: the program by its file name, at most 120 characters", () => {
    expect(shortenCommandLine(["/usr/bin/python3", "server.py", "--port", "80", ""])).toBe(
      "python3 server.py --port 80",
    );
    expect(shortenCommandLine([""])).toBeNull();
    const long = shortenCommandLine(["node", "x".repeat(300)])!;
    expect(long).toHaveLength(120);
    expect(long.endsWith("…")).toBe(true);
  });
});

describe("TCP_INFO as ss -ti prints it", () => {
  it("RTO, smoothed RTT, cwnd and the retransmissions; null for what is not there", () => {
    expect(
      parseSsInfo(
        "ESTAB 0 12 127.0.0.1:49570 127.0.0.1:43643\n\t bbr wscale:10,10 rto:1632 backoff:3 rtt:0.035/0.019 mss:32768 cwnd:1 retrans:1/4 lost:1",
      ),
    ).toEqual({ rttMs: 0.035, rtoMs: 1632, cwnd: 1, retransNow: 1, retransTotal: 4 });
    expect(parseSsInfo("\t cubic rto:204 rtt:0.5/0.25 cwnd:10")).toMatchObject({
      retransNow: null,
      retransTotal: null,
    });
  });
});

describe("a packet's process in a pcapng", () => {
  const text = (s: string) => new TextEncoder().encode(s);
  it("from epb_processid_threadid, from a PID/Cmd/Args comment (ptcpdump's form), or both; a comment on another pid gives no command", () => {
    expect(packetProcess(4242, 7, null)).toEqual({ pid: 4242, tid: 7, command: "", args: "", inbound: false });
    expect(packetProcess(0, 0, text("PID: 1234\nCmd: /usr/bin/curl\nArgs: curl -s http://example"))).toEqual({
      pid: 1234,
      tid: 0,
      command: "/usr/bin/curl",
      args: "curl -s http://example",
      inbound: false,
    });
    expect(packetProcess(1234, 0, text("PID: 1234\nCmd: curl\nArgs: curl x"))?.command).toBe("curl");
    expect(packetProcess(99, 0, text("PID: 1234\nCmd: curl\nArgs: curl x"))).toEqual({
      pid: 99,
      tid: 0,
      command: "",
      args: "",
      inbound: false,
    });
    expect(packetProcess(0, 0, text("a note by an analyst"))).toBeNull();
    expect(packetProcess(0, 0, null)).toBeNull();
  });

  it("another tool's pcapng (big-endian): an inbound packet's process is its receiver's (epb_flags), an outbound one's its sender's", async () => {
    // A remote client 10.0.0.1 and a local server 10.0.0.2, pid 500: every packet names
    // pid 500 as ptcpdump does, the client's as inbound.
    const frames: Uint8Array[] = [];
    const tr = new Traffic((r) => frames.push(r.bytes.slice()));
    const pkt = (fromClient: boolean, flags: number, seq: number, ack: number) => {
      tr.tcp(0, fromClient, 40000, 80, seq, ack, flags);
      return frames[frames.length - 1]!;
    };
    const epb = (i: number, fromClient: boolean, flags: number, seq: number, ack: number) => ({
      kind: "epb" as const,
      iface: 0,
      ts: BigInt(1_800_000_000_000_000 + i * 1000),
      data: pkt(fromClient, flags, seq, ack),
      comment: "PID: 500\nCmd: /usr/sbin/nginx\nArgs: nginx: worker process",
      flags: fromClient ? 1 : 2,
      pidTid: [500, 501] as [number, number],
    });
    const { bytes } = pcapngFile([
      {
        le: false,
        interfaces: [{ linkType: 1, snapLen: 65535 }],
        blocks: [
          epb(0, true, TH_SYN, 100, 0),
          epb(1, false, TH_SYN | TH_ACK, 900, 101),
          epb(2, true, TH_ACK, 101, 901),
        ],
      },
    ]);
    const dir = mkdtempSync(join(tmpdir(), "sockscope-pcapng-"));
    const file = join(dir, "in.pcapng");
    writeFileSync(file, bytes);
    const { engine } = await runCapture(file);
    const [flow] = engineResult(engine).flows;
    expect(flow!.process).toEqual({
      client: null,
      server: expect.objectContaining({ pid: 500, command: "/usr/sbin/nginx", commandLine: "nginx: worker process" }),
    });
    rmSync(dir, { recursive: true, force: true });
  });

  it("-w pcapng: written with the sender's option and comment, read back per packet and per flow side; tshark shows the comment", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-pcapng-"));
    const file = join(dir, "p.pcapng");
    const w = new PcapngWriter(file, 65535, "lo");
    const server: PacketProcess = { pid: 4242, tid: 0, command: "python3", args: "python3 server.py", inbound: false };
    const client: PacketProcess = { pid: 77, tid: 0, command: "curl", args: "curl http://10.0.0.2/", inbound: false };
    // Server packets carry their process; the client's first (its SYN) does not (not attributed yet).
    let n = 0,
      tagged = 0;
    const tr = new Traffic((r) => {
      n++;
      const fromServer = r.bytes[26 + 3] === 2; // IPv4 source 10.0.0.2
      const p = fromServer ? server : n > 1 ? client : null;
      if (p !== null) tagged++;
      w.write(r, p);
    });
    tr.connection(1_800_000_000.5, 40000, 80, 3);
    w.close(1);
    expect(w.withProcess).toBe(tagged);
    expect(tagged).toBe(n - 1);

    const procs: (PacketProcess | null)[] = [];
    const info = await readCapture(file, (r) => procs.push(r.process));
    expect(info.warnings).toEqual([]);
    expect(info.format).toBe("pcapng");
    expect(procs[0]).toBeNull();
    expect(procs.filter((p) => p?.pid === 4242).every((p) => p!.command === "python3")).toBe(true);
    expect(procs.filter((p) => p?.pid === 77 && p.args === "curl http://10.0.0.2/")).toHaveLength(
      n - 1 - procs.filter((p) => p?.pid === 4242).length,
    );

    const { engine } = await runCapture(file);
    const [flow] = engineResult(engine).flows;
    expect(flow!.process).toEqual({
      client: {
        pid: 77,
        command: "curl",
        commandLine: "curl http://10.0.0.2/",
        user: null,
        otherPids: [],
        listener: null,
        netns: null,
        note: null,
      },
      server: expect.objectContaining({ pid: 4242, command: "python3", commandLine: "python3 server.py" }),
    });
    expect(nameProcess(flow!.process!.server!)).toBe("pid 4242 (`python3 server.py`)");

    // The JSON report with it validates against the schema; the text flow table gains its column.
    const json = spawnSync(process.execPath, [CLI, "analyze", file, "-F", "json"], { encoding: "utf8" });
    const validate = new Ajv({ allErrors: true, strict: false }).compile(
      JSON.parse(readFileSync(join(ROOT, "schema", "report.schema.json"), "utf8")),
    );
    expect(validate(JSON.parse(json.stdout)), JSON.stringify(validate.errors)).toBe(true);
    const text = spawnSync(process.execPath, [CLI, "analyze", file, "--no-color"], { encoding: "utf8" }).stdout;
    expect(text).toMatch(/process c \/ s/);
    expect(text).toMatch(/77 curl \/ 4242 python3/);

    // The HTML report: a "Process c / s" column, rendered by the page's script (chromium when installed).
    const html = join(dir, "r.html");
    expect(spawnSync(process.execPath, [CLI, "analyze", file, "-F", "html", "-o", html]).status).toBe(0);
    expect(readFileSync(html, "utf8")).toContain('"77 curl / 4242 python3"');
    if (!existsSync("/usr/bin/chromium"))
      console.log("skipping the HTML rendering check: /usr/bin/chromium is missing");
    else {
      const dom = spawnSync(
        "/usr/bin/chromium",
        ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", `file://${html}`],
        { encoding: "utf8", timeout: 60_000 },
      ).stdout;
      expect(dom).toContain("<th>Process c / s</th>");
      expect(dom).toContain("<td>77 curl / 4242 python3</td>");
    }

    if (spawnSync("sh", ["-c", "command -v tshark"]).status !== 0) {
      console.log("skipping the tshark check: tshark is not installed");
    } else {
      const t = spawnSync("tshark", ["-r", file, "-T", "fields", "-e", "frame.comment"], { encoding: "utf8" });
      expect(t.status, t.stderr).toBe(0);
      const comments = t.stdout.split("\n");
      expect(comments[0]).toBe("");
      expect(comments).toContain("PID: 4242\\nCmd: python3\\nArgs: python3 server.py");
    }
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("/proc lookup on this machine", () => {
  it("names this process as the owner of its own sockets, the listener too, and a TIME-WAIT leftover as closed", async () => {
    const server: Server = createServer();
    const accepted: Socket[] = [];
    server.on("connection", (s) => accepted.push(s.resume()));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const c = connect(port, "127.0.0.1").resume(); // read to the end: 'close' comes after the peer's FIN
    await new Promise<void>((r) => c.on("connect", r));
    const local = `127.0.0.1:${c.localPort}`,
      remote = `127.0.0.1:${port}`;
    const a = new ProcessAttribution();
    a.scan();
    const client = a.lookup("tcp", local, remote, false, false);
    expect(client.process).toMatchObject({ pid: process.pid, netns: null, note: null });
    expect(client.socket).toMatchObject({ state: "ESTABLISHED" });
    const srv = a.lookup("tcp", remote, local, true, false);
    // The listener is this process too: not repeated.
    expect(srv.process).toMatchObject({ pid: process.pid, listener: null });
    // A remote address is no side of this machine's.
    expect(a.lookup("tcp", "192.0.2.1:80", local, true, false).process).toBeNull();

    // The client closes first: its socket stays in TIME-WAIT, owned by no one.
    // (The accepted side ends when it reads the FIN: not half-open.)
    const closed = new Promise((r) => c.on("close", r));
    c.end();
    await closed;
    await new Promise((r) => setTimeout(r, 100));
    a.scan();
    const gone = a.lookup("tcp", local, remote, false, false);
    expect(gone.socket).toMatchObject({ state: "TIME-WAIT", inode: 0 });
    expect(gone.process).toMatchObject({ pid: null, note: "closed before it could be attributed" });
    // The server side: its accepted socket is gone, its listener still there.
    const srvGone = a.lookup("tcp", remote, local, true, true);
    expect(srvGone.process).toMatchObject({ pid: null, listener: { pid: process.pid } });
    server.close();
  });
});
