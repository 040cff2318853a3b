// A real Azure Blob Storage emulator for tests: Azurite (Microsoft's, from npm) on a loopback
// port, data in a temp folder, stopped by PID.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { blobRequest, blobTarget, listBlobs } from "../../plugins/azure/blob-client.ts";
import { freePort } from "./harness.ts";

const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const BIN = join(import.meta.dir, "../../node_modules/.bin/azurite-blob");

export class Azurite {
  readonly dir = mkdtempSync(join(tmpdir(), "weir-azurite-"));
  port = 0;
  #proc: Subprocess | null = null;

  /** Azurite's well-known development account, as a connection string. */
  get connectionString(): string {
    return `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${KEY};BlobEndpoint=http://127.0.0.1:${this.port}/devstoreaccount1;`;
  }

  async start(containers: string[]): Promise<void> {
    this.port ||= await freePort();
    this.#proc = Bun.spawn(
      [
        BIN,
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        String(this.port),
        "--location",
        this.dir,
        "--silent",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
      ],
      { stdout: "ignore", stderr: "ignore" },
    );
    for (let i = 0; i < 200; i++) {
      const up = await fetch(`http://127.0.0.1:${this.port}/devstoreaccount1?comp=list`).then(
        () => true,
        () => false,
      );
      if (up) break;
      await Bun.sleep(50);
    }
    for (const c of containers) {
      await blobRequest(
        blobTarget(c, { connection_string: this.connectionString }),
        "PUT",
        c,
        { restype: "container" },
        {
          signal: new AbortController().signal,
        },
      ).catch((e) => {
        if ((e as { code?: string }).code !== "ContainerAlreadyExists") throw e;
      });
    }
  }

  async names(container: string, prefix: string): Promise<string[]> {
    const t = blobTarget(container, { connection_string: this.connectionString });
    return (await listBlobs(t, prefix, new AbortController().signal)).map((b) => b.name).sort();
  }

  async stop(): Promise<void> {
    this.#proc?.kill("SIGKILL");
    await this.#proc?.exited;
    this.#proc = null;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
