import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileContentHash } from "../src/capture/content-hash.js";

describe("fileContentHash", () => {
  it("is the SHA-256 of the bytes, as sha256sum gives it, across chunk boundaries", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hash-"));
    const path = join(dir, "big.bin");
    const bytes = Buffer.alloc(3 * (1 << 20) + 17);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 11)) & 0xff;
    writeFileSync(path, bytes);
    const expected = execFileSync("sha256sum", [path], { encoding: "utf8" }).split(" ")[0];
    expect(await fileContentHash(path)).toBe(expected);
  });

  it("differs when one byte differs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hash-"));
    writeFileSync(join(dir, "a"), Buffer.from("sockscope"));
    writeFileSync(join(dir, "b"), Buffer.from("sockscopf"));
    expect(await fileContentHash(join(dir, "a"))).not.toBe(await fileContentHash(join(dir, "b")));
  });
});
