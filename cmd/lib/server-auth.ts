import { join } from "node:path";
import { LOOPBACK_HOSTS } from "../../core/api/index.ts";
import { Authenticator, newToken, type TokenSource } from "../../core/auth/index.ts";
import { WeirError, weirHome } from "../../core/model/index.ts";
import { createPrivateOnce, readPrivate } from "./private-file.ts";

/** Whether a --host value only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Auth for `weir server`: open on a loopback address unless asked (local development); on any
 * other address it is required. The bootstrap admin token comes from WEIR_ADMIN_TOKEN, or from
 * $WEIR_HOME/admin-token, written (mode 0600) on the first start. Returns null for open mode.
 */
export function serverAuth(
  o: { host: string; auth: boolean },
  tokens: TokenSource,
  log: (line: string) => void,
): { auth: Authenticator | null; allowedHosts: string[] | null; adminToken: string | null } {
  const loopback = isLoopbackHost(o.host);
  if (!o.auth) {
    if (!loopback)
      throw new WeirError(
        "USAGE",
        `--host ${o.host} accepts connections from other machines, so the server needs API tokens: add --auth (or set WEIR_AUTH=1); agents and CI then use WEIR_API_KEY (see the README, "Remote agents and CI")`,
      );
    // The loopback address it listens on is a name it answers to (127.0.0.2, say), beside the usual ones.
    const bound = o.host.includes(":") && !o.host.startsWith("[") ? `[${o.host}]` : o.host;
    return {
      auth: null,
      allowedHosts: [...new Set([...LOOPBACK_HOSTS, bound.toLowerCase()])],
      adminToken: null,
    };
  }
  let admin = process.env.WEIR_ADMIN_TOKEN?.trim();
  if (admin) {
    if (admin.length < 32)
      throw new WeirError(
        "USAGE",
        "WEIR_ADMIN_TOKEN must be at least 32 characters (make one with: openssl rand -base64 32)",
      );
    log("  Auth      on: API tokens required (admin token from WEIR_ADMIN_TOKEN)");
  } else {
    const file = join(weirHome(), "admin-token");
    const existing = readPrivate(file);
    if (existing !== null) {
      admin = existing.trim();
      log(`  Auth      on: API tokens required (admin token in ${file})`);
    } else {
      admin = createPrivateOnce(file, `${newToken()}\n`).text.trim();
      log(`  Auth      on: API tokens required; an admin token was written to ${file} (mode 600)`);
      log(
        "            use it to create tokens for agents and CI: weir token create NAME --scope agent|deploy|read",
      );
    }
  }
  return { auth: new Authenticator(tokens, admin), allowedHosts: null, adminToken: admin };
}
