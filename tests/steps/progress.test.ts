// The terminal progress block of build and push steps: redrawn in place, never over a log line.
import { describe, expect, test } from "bun:test";
import { terminalProgress } from "../../core/steps/index.ts";

function screen(columns: number) {
  const out = {
    columns,
    text: "",
    write(s: string) {
      out.text += s;
      return true;
    },
  };
  return out;
}

describe("terminalProgress()", () => {
  test("a terminal that does not say its width gets whole lines, not 20 characters", () => {
    const out = screen(0);
    const p = terminalProgress(out as unknown as NodeJS.WriteStream);
    p.update("d57f1ad9af60", "Pushing", "[=====>     ] 12MB/40MB");
    p.done();
    expect(out.text).toContain("d57f1ad9af60: Pushing [=====>     ] 12MB/40MB");
  });

  test("a log line in between is not written over: the block is erased and redrawn below it", async () => {
    const out = screen(120);
    const p = terminalProgress(out as unknown as NodeJS.WriteStream);
    p.update("layer", "Pushing");
    p.update("", "first tag");
    await Bun.sleep(250); // the block is drawn (two lines)
    expect(out.text).toBe("\x1b[2Klayer: Pushing\n\x1b[2Kfirst tag\n");
    p.interrupt?.();
    expect(out.text.endsWith("\x1b[2F\x1b[J")).toBe(true);
    out.write("INFO Pushed registry/team/flows:v1\n");
    p.update("layer", "Pushed");
    p.done();
    const after = out.text.slice(out.text.indexOf("INFO Pushed"));
    // Drawn again under the log line: no cursor movement up over it.
    expect(after).not.toContain("\x1b[2F");
    expect(after).toContain("\x1b[2Klayer: Pushed\n");
  });
});
