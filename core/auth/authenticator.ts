import { timingSafeEqual } from "node:crypto";
import { WeirError } from "../model/index.ts";
import { type Caller, type Scope, tokenHash } from "./tokens.ts";

/** What the authenticator reads tokens from (the store). */
export interface TokenSource {
  findTokenByHash(hash: string): Promise<
    | {
        name: string;
        scope: string;
        work_pool_name: string | null;
        flow_run_id: string | null;
        expires: string | null;
        revoked: string | null;
      }
    | undefined
  >;
}

const CACHE_MS = 5_000;
const FAILURES_PER_MINUTE = 20;
const KNOWN_GOOD_MS = 10 * 60_000;
const SESSION_MS = 12 * 3_600_000;

/**
 * Checks API tokens. The bootstrap admin token (WEIR_ADMIN_TOKEN or $WEIR_HOME/admin-token) is
 * held here as a hash and compared in constant time; other tokens are found by their SHA-256 in
 * the database (a token carries 256 random bits, so finding by hash leaks nothing useful). A
 * checked token is remembered for 5 s: a revocation made through another server takes effect
 * within that (at once through this one). After more than 20 failed attempts a minute from one
 * address, its requests are answered 429 until the minute is over without looking their token up,
 * except tokens this server found valid in the last 10 minutes: a misconfigured CI job on a shared
 * host or behind one NAT does not lock out the agents and people there, and guessing (an admin
 * token may be chosen by a person) gets no answer at all.
 */
export class Authenticator {
  readonly #adminHash: Buffer;
  readonly #cache = new Map<string, { caller: Caller; until: number }>();
  readonly #failures = new Map<string, { count: number; since: number }>();
  /** Hashes of tokens found valid lately, until when (see the class comment). */
  readonly #knownGood = new Map<string, number>();
  readonly #sessions = new Map<string, { caller: Caller; until: number; csrf: string; hash: string }>();

  constructor(
    private readonly tokens: TokenSource,
    adminToken: string,
  ) {
    this.#adminHash = Buffer.from(tokenHash(adminToken), "hex");
  }

  /** The caller a request's `Authorization: Bearer TOKEN` header stands for; throws 401 otherwise. */
  async caller(authorization: string | undefined | null, address: string): Promise<Caller> {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
    if (!token) {
      this.#checkRate(address);
      throw new WeirError(
        "UNAUTHORIZED",
        "This server needs an API token: send it as 'Authorization: Bearer TOKEN' (the CLI, agents and the SDK read WEIR_API_KEY; create one with: weir token create NAME --scope SCOPE)",
      );
    }
    const hash = tokenHash(token);
    if (!this.#knownGoodNow(hash)) this.#checkRate(address);
    const caller = await this.#checkHash(hash);
    if (caller) {
      this.#remember(hash);
      return caller;
    }
    this.#fail(address);
    throw new WeirError(
      "UNAUTHORIZED",
      "The API token is not valid: unknown, revoked or expired (check WEIR_API_KEY; list tokens with: weir token ls)",
    );
  }

  /** The caller a token stands for, or null when it is not valid. */
  async check(token: string): Promise<Caller | null> {
    return this.#checkHash(tokenHash(token));
  }

  async #checkHash(hash: string): Promise<Caller | null> {
    const hashBytes = Buffer.from(hash, "hex");
    if (timingSafeEqual(hashBytes, this.#adminHash))
      return { scope: "admin", name: "admin (bootstrap)", pool: null, flowRunId: null };
    const now = Date.now();
    const cached = this.#cache.get(hash);
    if (cached && cached.until > now) return cached.caller;
    const row = await this.tokens.findTokenByHash(hash);
    if (!row || row.revoked || (row.expires && Date.parse(row.expires) <= now)) {
      this.#cache.delete(hash);
      return null;
    }
    const caller: Caller = {
      scope: row.scope as Scope,
      name: row.name,
      pool: row.work_pool_name,
      flowRunId: row.flow_run_id,
    };
    const expires = row.expires ? Date.parse(row.expires) : Number.POSITIVE_INFINITY;
    this.#cache.set(hash, { caller, until: Math.min(now + CACHE_MS, expires) });
    return caller;
  }

  /** Forgets remembered tokens (after a revocation through this server): all, or one run's. */
  forget(flowRunId?: string): void {
    if (flowRunId === undefined) this.#cache.clear();
    else for (const [k, v] of this.#cache) if (v.caller.flowRunId === flowRunId) this.#cache.delete(k);
  }

  #knownGoodNow(hash: string): boolean {
    return (this.#knownGood.get(hash) ?? 0) > Date.now();
  }

  #remember(hash: string): void {
    if (this.#knownGood.size > 10_000) this.#knownGood.clear();
    this.#knownGood.set(hash, Date.now() + KNOWN_GOOD_MS);
  }

  #checkRate(address: string): void {
    const f = this.#failures.get(address);
    if (!f) return;
    if (Date.now() - f.since > 60_000) {
      this.#failures.delete(address);
      return;
    }
    if (f.count >= FAILURES_PER_MINUTE)
      throw new WeirError(
        "RATE_LIMITED",
        "Too many requests with a wrong API token from this address; wait a minute, then use a valid token",
      );
  }

  #fail(address: string): void {
    const f = this.#failures.get(address);
    if (!f || Date.now() - f.since > 60_000) this.#failures.set(address, { count: 1, since: Date.now() });
    else f.count++;
    if (this.#failures.size > 10_000) this.#failures.clear();
  }

  /** Signs a browser in (the UI's login form): a session id for an HttpOnly cookie, and a CSRF token. */
  async startSession(token: string, address: string): Promise<{ id: string; caller: Caller } | null> {
    const hash = tokenHash(token);
    if (!this.#knownGoodNow(hash)) this.#checkRate(address);
    const caller = await this.#checkHash(hash);
    if (!caller) {
      this.#fail(address);
      return null;
    }
    this.#remember(hash);
    const id = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    const csrf = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
    // Sessions end when they expire; ones never used again are dropped when many pile up.
    if (this.#sessions.size > 10_000)
      for (const [k, v] of this.#sessions) if (v.until <= Date.now()) this.#sessions.delete(k);
    this.#sessions.set(id, { caller, until: Date.now() + SESSION_MS, csrf, hash: tokenHash(token) });
    return { id, caller };
  }

  session(id: string | undefined): { caller: Caller; csrf: string; hash: string } | null {
    if (!id) return null;
    const s = this.#sessions.get(id);
    if (!s) return null;
    if (s.until <= Date.now()) {
      this.#sessions.delete(id);
      return null;
    }
    return s;
  }

  /**
   * A session whose token is still valid: one revoked or expired since sign-in ends its sessions
   * too (checked like any request, within the token cache's few seconds).
   */
  async activeSession(id: string | undefined): Promise<{ caller: Caller; csrf: string } | null> {
    const s = this.session(id);
    if (!s || !id) return null;
    const caller = await this.#checkHash(s.hash);
    if (!caller) {
      this.#sessions.delete(id);
      return null;
    }
    return { caller, csrf: s.csrf };
  }

  endSession(id: string | undefined): void {
    if (id) this.#sessions.delete(id);
  }
}
