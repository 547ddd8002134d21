/**
 * The classic BPF interpreter (src/capture/filter/bpf.ts) on its own: libpcap's programs
 * from their -ddd dumps (kept here as text, so no tcpdump is needed), each instruction's
 * edge cases as libpcap's bpf_filter() treats them, and properties: on any program and
 * any packet a run returns an unsigned 32-bit number, never throws, and takes at most one
 * step per instruction; a load past the captured bytes rejects the packet.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  BPF_MAXINSNS,
  parseBpfDump,
  runBpf,
  validateBpf,
  type BpfInstruction,
  type BpfProgram,
} from "../src/capture/filter/bpf.js";

/** `tcpdump -r - -ddd 'tcp port 5020'` for Ethernet (libpcap 1.10.3). */
const TCP_PORT_5020 = parseBpfDump(`20
40 0 0 12
21 0 6 34525
48 0 0 20
21 0 15 6
40 0 0 54
21 12 0 5020
40 0 0 56
21 10 11 5020
21 0 10 2048
48 0 0 23
21 0 8 6
40 0 0 20
69 6 0 8191
177 0 0 14
72 0 0 14
21 2 0 5020
72 0 0 16
21 0 1 5020
6 0 0 262144
6 0 0 0`)!;

/** An Ethernet + IPv4 + TCP header, 54 bytes, from `sport` to `dport`; IP options make the IP header longer. */
function ethTcp(sport: number, dport: number, opts: { fragOffset?: number; ipOptions?: number } = {}): Uint8Array {
  const ihl = 5 + (opts.ipOptions ?? 0);
  const b = new Uint8Array(14 + ihl * 4 + 20);
  b[12] = 0x08;
  b[13] = 0x00;
  b[14] = 0x40 | ihl;
  b[14 + 6] = (opts.fragOffset ?? 0) >> 8;
  b[14 + 7] = (opts.fragOffset ?? 0) & 0xff;
  b[14 + 9] = 6;
  const t = 14 + ihl * 4;
  b[t] = sport >> 8;
  b[t + 1] = sport & 0xff;
  b[t + 2] = dport >> 8;
  b[t + 3] = dport & 0xff;
  return b;
}

const run = (p: BpfProgram, pkt: Uint8Array, wireLen = pkt.length) => runBpf(p, pkt, 0, pkt.length, wireLen);
const ins = (code: number, k = 0, jt = 0, jf = 0): BpfInstruction => ({ code, jt, jf, k });
const RET_K = 0x06,
  RET_A = 0x16,
  LD_W_ABS = 0x20,
  LD_H_ABS = 0x28,
  LD_B_ABS = 0x30,
  LD_W_LEN = 0x80,
  LDX_MSH = 0xb1,
  LD_B_IND = 0x50,
  LDX_IMM = 0x01;

describe("libpcap's programs", () => {
  it("the dump parses and validates", () => {
    expect(TCP_PORT_5020).toHaveLength(20);
    expect(validateBpf(TCP_PORT_5020)).toBeNull();
    expect(parseBpfDump("2\n6 0 0 1")).toBeNull(); // count does not match
    expect(parseBpfDump("tcpdump: syntax error")).toBeNull();
  });
  it("tcp port 5020 keeps either port, over any IP header length, and not later fragments", () => {
    expect(run(TCP_PORT_5020, ethTcp(40000, 5020))).toBe(262144);
    expect(run(TCP_PORT_5020, ethTcp(5020, 40000))).toBe(262144);
    expect(run(TCP_PORT_5020, ethTcp(5020, 40000, { ipOptions: 3 }))).toBe(262144);
    expect(run(TCP_PORT_5020, ethTcp(40000, 80))).toBe(0);
    expect(run(TCP_PORT_5020, ethTcp(40000, 5020, { fragOffset: 185 }))).toBe(0);
  });
  it("a packet cut before the port is rejected, not an error", () => {
    const p = ethTcp(40000, 5020);
    for (let cap = 0; cap < 14 + 20 + 4; cap++) expect(runBpf(TCP_PORT_5020, p, 0, cap, p.length)).toBe(0);
  });
  it("reads the record's span of a larger buffer, not the buffer from 0", () => {
    const p = ethTcp(40000, 5020);
    const buf = new Uint8Array(p.length + 100);
    buf.set(p, 37);
    expect(runBpf(TCP_PORT_5020, buf, 37, 37 + p.length, p.length)).toBe(262144);
    expect(runBpf(TCP_PORT_5020, buf, 0, p.length, p.length)).toBe(0);
  });
});

describe("instructions as bpf_filter() runs them", () => {
  const pkt = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  it("absolute loads: the last whole word loads, one byte further rejects", () => {
    expect(run([ins(LD_W_ABS, 4), ins(RET_A)], pkt)).toBe(0x05060708);
    expect(run([ins(LD_W_ABS, 5), ins(RET_K, 1)], pkt)).toBe(0);
    expect(run([ins(LD_H_ABS, 6), ins(RET_A)], pkt)).toBe(0x0708);
    expect(run([ins(LD_H_ABS, 7), ins(RET_K, 1)], pkt)).toBe(0);
    expect(run([ins(LD_B_ABS, 7), ins(RET_A)], pkt)).toBe(8);
    expect(run([ins(LD_B_ABS, 8), ins(RET_K, 1)], pkt)).toBe(0);
    expect(run([ins(LD_W_ABS, 0xffffffff), ins(RET_K, 1)], pkt)).toBe(0);
  });
  it("indexed loads add X, and reject past the end even when X + k overflows 32 bits", () => {
    expect(run([ins(LDX_IMM, 3), ins(LD_B_IND, 4), ins(RET_A)], pkt)).toBe(8);
    expect(run([ins(LDX_IMM, 4), ins(LD_B_IND, 4), ins(RET_K, 1)], pkt)).toBe(0);
    expect(run([ins(LDX_IMM, 0xffffffff), ins(LD_B_IND, 2), ins(RET_K, 1)], pkt)).toBe(0);
  });
  it("BPF_LEN is the length on the wire, loads see only the captured bytes", () => {
    expect(run([ins(LD_W_LEN), ins(RET_A)], pkt, 1500)).toBe(1500);
  });
  it("MSH: 4 × the low nibble (the IP header length)", () => {
    expect(run([ins(LDX_MSH, 0), ins(0x87 /* TXA */), ins(RET_A)], Uint8Array.from([0x46]))).toBe(24);
  });
  it("arithmetic is unsigned 32-bit; division by 0 rejects; shifts of 32 or more give 0", () => {
    const alu = (code: number, a: number, x: number) =>
      run([ins(0x00 /* LD IMM */, a), ins(LDX_IMM, x), ins(code), ins(RET_A)], pkt);
    expect(alu(0x0c /* ADD X */, 0xffffffff, 2)).toBe(1);
    expect(alu(0x1c /* SUB X */, 0, 1)).toBe(0xffffffff);
    expect(alu(0x2c /* MUL X */, 0x10000, 0x10000)).toBe(0);
    expect(alu(0x2c, 0xffffffff, 0xffffffff)).toBe(1);
    expect(alu(0x3c /* DIV X */, 7, 2)).toBe(3);
    expect(alu(0x3c, 7, 0)).toBe(0);
    expect(alu(0x9c /* MOD X */, 7, 0)).toBe(0);
    expect(alu(0x9c, 0xffffffff, 10)).toBe(5);
    expect(alu(0x6c /* LSH X */, 1, 31)).toBe(0x80000000);
    expect(alu(0x6c, 1, 32)).toBe(0);
    expect(alu(0x7c /* RSH X */, 0x80000000, 32)).toBe(0);
    expect(alu(0xac /* XOR X */, 0xf0f0f0f0, 0xffffffff)).toBe(0x0f0f0f0f);
    expect(run([ins(0x00, 5), ins(0x84 /* NEG */), ins(RET_A)], pkt)).toBe(0xfffffffb);
  });
  it("scratch memory holds values; an index past 16 rejects", () => {
    expect(
      run([ins(0x00, 42), ins(0x02 /* ST */, 15), ins(0x00, 0), ins(0x60 /* LD MEM */, 15), ins(RET_A)], pkt),
    ).toBe(42);
    expect(run([ins(0x02, 16), ins(RET_K, 1)], pkt)).toBe(0);
  });
  it("jumps go forward by jt, jf or k; past the end rejects; an unknown opcode rejects", () => {
    const jeq = (a: number) => run([ins(0x00, a), ins(0x15 /* JEQ K */, 7, 0, 1), ins(RET_K, 1), ins(RET_K, 2)], pkt);
    expect(jeq(7)).toBe(1);
    expect(jeq(8)).toBe(2);
    expect(run([ins(0x05 /* JA */, 1), ins(RET_K, 1), ins(RET_K, 2)], pkt)).toBe(2);
    expect(run([ins(0x05, 0xffffffff), ins(RET_K, 1)], pkt)).toBe(0);
    expect(run([ins(0xff), ins(RET_K, 1)], pkt)).toBe(0);
    expect(run([ins(0x00, 1)], pkt)).toBe(0); // no return at the end
  });
  it("validation refuses what bpf_validate refuses", () => {
    expect(validateBpf([])).toMatch(/1 to 4096/);
    expect(validateBpf(Array.from({ length: BPF_MAXINSNS + 1 }, () => ins(RET_K)))).toMatch(/1 to 4096/);
    expect(validateBpf([ins(0x15, 0, 5, 0), ins(RET_K)])).toMatch(/jump past the end/);
    expect(validateBpf([ins(0x34 /* DIV K */, 0), ins(RET_K)])).toMatch(/division by a constant 0/);
    expect(validateBpf([ins(0x64 /* LSH K */, 32), ins(RET_K)])).toMatch(/shift by 32/);
    expect(validateBpf([ins(0x60, 16), ins(RET_K)])).toMatch(/scratch memory/);
    expect(validateBpf([ins(0xff), ins(RET_K)])).toMatch(/unknown opcode/);
    expect(validateBpf([ins(0x00, 1)])).toMatch(/not a return/);
  });
});

describe("properties", () => {
  // Opcodes the interpreter knows, plus any 16-bit value: most random programs then do something.
  const KNOWN_CODES = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0c, 0x14, 0x15, 0x16, 0x1c, 0x1d, 0x20, 0x24, 0x25, 0x28, 0x2c,
    0x30, 0x34, 0x35, 0x3c, 0x3d, 0x40, 0x44, 0x45, 0x48, 0x4c, 0x50, 0x54, 0x5c, 0x60, 0x61, 0x64, 0x6c, 0x74, 0x7c,
    0x80, 0x81, 0x84, 0x87, 0x94, 0x9c, 0xa4, 0xac, 0xb1, 0x0e,
  ];
  const instruction = fc.record({
    code: fc.oneof(fc.constantFrom(...KNOWN_CODES), fc.integer({ min: 0, max: 0xffff })),
    jt: fc.integer({ min: 0, max: 255 }),
    jf: fc.integer({ min: 0, max: 255 }),
    k: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 0xffffffff })),
  });
  const program = fc.array(instruction, { minLength: 0, maxLength: 64 });
  const packet = fc.uint8Array({ minLength: 0, maxLength: 128 });

  it("any program on any packet: an unsigned 32-bit result, no exception", () => {
    fc.assert(
      fc.property(program, packet, fc.nat(), (p, pkt, wire) => {
        const r = runBpf(p, pkt, 0, pkt.length, wire);
        expect(Number.isInteger(r) && r >= 0 && r <= 0xffffffff).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
  it("a run takes at most one step per instruction (jumps only go forward)", () => {
    fc.assert(
      fc.property(program, packet, (p, pkt) => {
        let steps = 0;
        const counting = new Proxy(p as BpfInstruction[], {
          get(target, prop, recv) {
            if (typeof prop === "string" && /^\d+$/.test(prop)) steps++;
            return Reflect.get(target, prop, recv);
          },
        });
        runBpf(counting, pkt, 0, pkt.length, pkt.length);
        expect(steps).toBeLessThanOrEqual(p.length);
      }),
      { numRuns: 1000 },
    );
  });
  it("loads past the captured bytes reject: a packet's result depends only on its captured bytes", () => {
    // Bytes after the record's end in the buffer must make no difference.
    fc.assert(
      fc.property(program, packet, packet, (p, pkt, junk) => {
        const buf = new Uint8Array(pkt.length + junk.length);
        buf.set(pkt, 0);
        buf.set(junk, pkt.length);
        expect(runBpf(p, buf, 0, pkt.length, pkt.length)).toBe(runBpf(p, pkt, 0, pkt.length, pkt.length));
      }),
      { numRuns: 2000 },
    );
  });
  it("validation never throws, and a validated program ends with a return", () => {
    fc.assert(
      fc.property(program, (p) => {
        const why = validateBpf(p);
        if (why === null) expect(p[p.length - 1]!.code & 0x07).toBe(0x06);
      }),
      { numRuns: 3000 },
    );
  });
});
