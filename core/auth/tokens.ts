import { WeirError } from "../model/index.ts";

/**
 * What a token may do. `admin`: everything. `deploy`: what `weir deploy` and CI need (deployments,
 * schedules, starting and following runs, reading blocks with their secrets for build/push
 * steps). `agent`: claim runs of its pool, report their states, logs and task runs, read what
 * their steps resolve. `read`: read everything except secret values. `run`: one flow run's own
 * token, minted at claim time (its states, logs and task runs, and what its steps resolve).
 */
export const SCOPES = ["admin", "deploy", "agent", "read"] as const;
export type Scope = (typeof SCOPES)[number] | "run";

/** Who is calling, once their token is checked (open mode: an admin with no token). */
export interface Caller {
  scope: Scope;
  /** The token's name, for logs and `weir token ls` (never the token itself). */
  name: string;
  /** An agent token's pool: it may claim and report runs of this pool only. */
  pool: string | null;
  /** A run token's flow run. */
  flowRunId: string | null;
}

export const OPEN_CALLER: Caller = { scope: "admin", name: "(open mode)", pool: null, flowRunId: null };

/** Tokens look like `weir_<43 url-safe characters>` (256 random bits): greppable and unguessable. */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `weir_${Buffer.from(bytes).toString("base64url")}`;
}

/** What is stored of a token: its SHA-256 (a token has 256 bits of entropy, so no salt or KDF is needed). */
export function tokenHash(token: string): string {
  return new Bun.CryptoHasher("sha256").update(token).digest("hex");
}

/** `--expires 30d` / `12h` / `90m` / `never` in milliseconds (null: never). */
export function parseExpiry(text: string, flag = "--expires"): number | null {
  if (text === "never") return null;
  const m = /^(\d+)\s*([dhm])$/.exec(text.trim());
  const n = m ? Number(m[1]) : 0;
  if (!m || n <= 0)
    throw new WeirError(
      "USAGE",
      `${flag} must be a number of days, hours or minutes such as 30d, 12h or 90m, or "never" (got "${text}")`,
    );
  return n * { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as "d" | "h" | "m"];
}

export function checkScope(scope: string, flag = "--scope"): (typeof SCOPES)[number] {
  if ((SCOPES as readonly string[]).includes(scope)) return scope as (typeof SCOPES)[number];
  throw new WeirError("USAGE", `${flag} must be one of ${SCOPES.join(", ")} (got "${scope}")`);
}
