/**
 * The reader's buffers follow the file's size: a small capture is read in one small
 * chunk (a directory of hundreds of small captures each allocating 2 × 4 MiB kept the
 * garbage collector busy for a third of the run), and a file that grows after it was
 * opened, past the size it had then, is still read to its end.
 */
import { describe, expect, it } from "vitest";
import { readSource } from "../src/capture/reader.js";
import { MemorySource, pcapFile, type PcapRecord } from "./helpers/build.js";

/** `n` records of `len` bytes each, every byte telling its record apart. */
function records(n: number, len: number): PcapRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    tsSec: 1_700_000_000 + i,
    tsFrac: i,
    data: new Uint8Array(len).fill(i & 0xff),
  }));
}

/** A source whose size, as reported, is what the file was when it was opened. */
class GrowingSource extends MemorySource {
  override readonly size: number;
  constructor(data: Uint8Array, sizeAtOpen: number) {
    super(data);
    this.size = sizeAtOpen;
  }
}

async function frames(source: MemorySource): Promise<{ frame: number; first: number; len: number }[]> {
  const got: { frame: number; first: number; len: number }[] = [];
  const info = await readSource(source, (r) => got.push({ frame: r.frame, first: r.bytes[0]!, len: r.bytes.length }));
  expect(info.error).toBeNull();
  return got;
}

describe("read buffers", () => {
  it("a small capture is read in a chunk about its own size, not 4 MiB", async () => {
    const bytes = pcapFile(records(20, 500));
    const asked: number[] = [];
    const source = new (class extends MemorySource {
      override read(buf: Uint8Array, offset: number, length: number): Promise<number> {
        asked.push(length);
        return super.read(buf, offset, length);
      }
    })(bytes);
    expect(await frames(source)).toHaveLength(20);
    expect(Math.max(...asked)).toBeLessThanOrEqual(64 * 1024);
  });

  it("a file that grew after it was opened is read to its end, records larger than the chunk included", async () => {
    const recs = records(40, 100_000); // 4 MB: records cut by every 64 KiB chunk
    const bytes = pcapFile(recs);
    const got = await frames(new GrowingSource(bytes, 1_000));
    expect(got).toEqual(recs.map((r, i) => ({ frame: i + 1, first: r.data[0], len: r.data.length })));
  });
});
