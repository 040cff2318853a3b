import { describe, expect, test } from "bun:test";
import { keyFromEnv, keyLine, newKey, parseKeyFile, SecretBox } from "../../core/auth/index.ts";

describe("sealed secrets", () => {
  test("a value is sealed with AES-GCM under the newest key and opened with the key that sealed it", async () => {
    const old = { ...newKey(), id: "old" };
    const box = new SecretBox([old]);
    const sealed = await box.seal("hunter2");
    expect(sealed).toStartWith("weir-sealed:v1:old:");
    expect(sealed).not.toContain("hunter2");
    expect(await box.seal("hunter2")).not.toBe(sealed); // a fresh IV each time
    const rotated = new SecretBox([old, { ...newKey(), id: "new" }]);
    expect(await rotated.open(sealed)).toBe("hunter2");
    expect(await rotated.seal({ a: 1 })).toStartWith("weir-sealed:v1:new:");
    expect(await rotated.open(await rotated.seal({ a: 1 }))).toEqual({ a: 1 });
  });

  test("a missing key, a wrong key or an altered value is an error naming the key, never the value", async () => {
    const sealed = await new SecretBox([{ ...newKey(), id: "k1" }]).seal("hunter2");
    await expect(new SecretBox([{ ...newKey(), id: "k2" }]).open(sealed)).rejects.toThrow(
      'sealed with key "k1", which this server does not have',
    );
    await expect(new SecretBox([{ ...newKey(), id: "k1" }]).open(sealed)).rejects.toThrow(
      "the key is wrong or the value was altered",
    );
  });

  test("values written before sealing are read as they are; fields are sealed by name", async () => {
    const box = new SecretBox([newKey()]);
    expect(await box.open("plain")).toBe("plain");
    const data = await box.sealFields({ value: "s", other: "o", none: null }, ["value", "none"]);
    expect(data.other).toBe("o");
    expect(data.none).toBeNull();
    expect(SecretBox.isSealed(data.value)).toBe(true);
    expect(await box.openFields(data, ["value"])).toEqual({ value: "s", other: "o", none: null });
  });

  test("key files and WEIR_SECRET_KEY are checked with a position and a fix", () => {
    const k = newKey();
    expect(parseKeyFile(`# comment\n${keyLine(k)}\n`, "f")).toEqual([k]);
    expect(() => parseKeyFile("k1 short\n", "/home/x/secret-key")).toThrow("/home/x/secret-key:1:");
    expect(() => keyFromEnv("too short")).toThrow("openssl rand -base64 32");
    expect(keyFromEnv(Buffer.alloc(32, 7).toString("base64")).key).toEqual(new Uint8Array(32).fill(7));
  });
});
