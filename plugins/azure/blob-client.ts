import { WeirError } from "../../core/model/index.ts";

/**
 * A small Azure Blob Storage client over the REST API (list, put, get), authorised with the
 * account's shared key from a connection string, or with a SAS token in the account URL. Enough
 * for shipping code; no SDK in the binary.
 */
export interface BlobTarget {
  /** https://account.blob.core.windows.net (or an emulator's http://host:port/account). */
  endpoint: string;
  account: string;
  key: Buffer | null;
  /** A SAS query string ("sv=...&sig=..."), when the URL carried one. */
  sas: string | null;
  container: string;
  /** For messages: where the container is (never a key or token). */
  where: string;
}

const VERSION = "2021-08-06";

/** Reads Prefect's AzureBlobStorageCredentials: connection_string, else account_url (with a SAS). */
export function blobTarget(
  container: string,
  credentials: Record<string, unknown> | null | undefined,
): BlobTarget {
  const c = credentials ?? {};
  const cs = typeof c.connection_string === "string" ? c.connection_string : "";
  if (cs) {
    const parts = Object.fromEntries(
      cs
        .split(";")
        .filter(Boolean)
        .map((p) => {
          const i = p.indexOf("=");
          return [p.slice(0, i).trim().toLowerCase(), p.slice(i + 1).trim()];
        }),
    );
    const account = parts.accountname ?? "";
    const key = parts.accountkey ?? "";
    if (!account || !key)
      throw new WeirError(
        "INVALID",
        "the connection_string needs AccountName and AccountKey (or use account_url with a SAS token)",
      );
    const endpoint = (
      parts.blobendpoint ??
      `${parts.defaultendpointsprotocol ?? "https"}://${account}.blob.${parts.endpointsuffix ?? "core.windows.net"}`
    ).replace(/\/+$/, "");
    return { endpoint, account, key: Buffer.from(key, "base64"), sas: null, container, where: endpoint };
  }
  const url = typeof c.account_url === "string" ? c.account_url : "";
  if (url) {
    const u = new URL(url);
    if (!u.search && (c.client_id || c.tenant_id))
      throw new WeirError(
        "INVALID",
        "signing in with tenant_id, client_id and client_secret (Azure AD) is not supported yet: use a connection_string, or an account_url with a SAS token",
      );
    if (!u.search)
      throw new WeirError(
        "INVALID",
        "account_url needs a SAS token (?sv=...&sig=...), or give a connection_string",
      );
    const endpoint = `${u.origin}${u.pathname}`.replace(/\/+$/, "");
    const account = u.hostname.split(".")[0] ?? "";
    return { endpoint, account, key: null, sas: u.search.slice(1), container, where: endpoint };
  }
  throw new WeirError("INVALID", "Credentials must contain either connection_string or account_url");
}

/** Signs a request with the shared key (the Blob service's "SharedKey" scheme). */
function sign(t: BlobTarget, method: string, url: URL, headers: Record<string, string>): string {
  const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonicalHeaders = Object.keys(h)
    .filter((k) => k.startsWith("x-ms-"))
    .sort()
    .map((k) => `${k}:${h[k]!.trim()}\n`)
    .join("");
  const params = [...url.searchParams.keys()].map((k) => k.toLowerCase());
  const canonicalQuery = [...new Set(params)]
    .sort()
    .map((k) => `\n${k}:${url.searchParams.getAll(k).sort().join(",")}`)
    .join("");
  // The path as sent, percent-encoded (as the Azure SDKs sign it, and the service checks it).
  const resource = `/${t.account}${url.pathname}${canonicalQuery}`;
  const length = h["content-length"] && h["content-length"] !== "0" ? h["content-length"] : "";
  const toSign = [
    method,
    h["content-encoding"] ?? "",
    h["content-language"] ?? "",
    length,
    h["content-md5"] ?? "",
    h["content-type"] ?? "",
    "",
    h["if-modified-since"] ?? "",
    h["if-match"] ?? "",
    h["if-none-match"] ?? "",
    h["if-unmodified-since"] ?? "",
    h.range ?? "",
  ].join("\n");
  // Bun's own HMAC: node:crypto costs every process that loads the plugins ~1 ms to start.
  const mac = new Bun.CryptoHasher("sha256", t.key!)
    .update(`${toSign}\n${canonicalHeaders}${resource}`, "utf8")
    .digest("base64");
  return `SharedKey ${t.account}:${mac}`;
}

export class BlobError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** One request to the Blob service; failures become BlobError with the service's code. */
export async function blobRequest(
  t: BlobTarget,
  method: "GET" | "PUT" | "HEAD",
  path: string,
  query: Record<string, string>,
  opts: { headers?: Record<string, string>; body?: RequestInit["body"]; signal: AbortSignal },
): Promise<Response> {
  const url = new URL(`${t.endpoint}/${path.split("/").map(encodeURIComponent).join("/")}`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const headers: Record<string, string> = {
    "x-ms-date": new Date().toUTCString(),
    "x-ms-version": VERSION,
    ...opts.headers,
  };
  if (t.sas) for (const [k, v] of new URLSearchParams(t.sas)) url.searchParams.set(k, v);
  else headers.Authorization = sign(t, method, url, headers);
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: opts.body, signal: opts.signal });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    throw new BlobError(e.code ?? "ConnectionFailed", e.message ?? "connection failed", 0);
  }
  if (!res.ok) {
    const text = await res.text();
    const code =
      /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? res.headers.get("x-ms-error-code") ?? `HTTP${res.status}`;
    const message = /<Message>([^<]+)<\/Message>/.exec(text)?.[1]?.split("\n")[0] ?? res.statusText;
    throw new BlobError(code, message, res.status);
  }
  return res;
}

const unescapeXml = (s: string) =>
  s
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&quot;", '"')
    .replaceAll("&apos;", "'")
    .replaceAll("&amp;", "&");

/** Every blob under a prefix: name, size and Content-MD5 (base64, when the service has one). */
export async function listBlobs(
  t: BlobTarget,
  prefix: string,
  signal: AbortSignal,
): Promise<{ name: string; size: number; md5: string }[]> {
  const out = new Map<string, { name: string; size: number; md5: string }>();
  let marker = "";
  do {
    const res = await blobRequest(
      t,
      "GET",
      t.container,
      { restype: "container", comp: "list", prefix, include: "metadata", ...(marker ? { marker } : {}) },
      { signal },
    );
    const xml = await res.text();
    for (const m of xml.matchAll(/<Blob>([\s\S]*?)<\/Blob>/g)) {
      const body = m[1]!;
      const name = unescapeXml(/<Name>([^<]*)<\/Name>/.exec(body)?.[1] ?? "");
      // ADLS Gen2 folder markers are blobs too
      if (!name || /<hdi_isfolder>true<\/hdi_isfolder>/i.test(body)) continue;
      out.set(name, {
        name,
        size: Number(/<Content-Length>(\d+)<\/Content-Length>/.exec(body)?.[1] ?? 0),
        md5: /<Content-MD5>([^<]*)<\/Content-MD5>/.exec(body)?.[1] ?? "",
      });
    }
    marker = unescapeXml(/<NextMarker>([^<]*)<\/NextMarker>/.exec(xml)?.[1] ?? "");
  } while (marker);
  return [...out.values()];
}

/** What a Blob service failure means, in one line naming the container and endpoint, never a secret. */
export function describeBlobError(
  err: unknown,
  t: Pick<BlobTarget, "container" | "where">,
  doing: string,
): WeirError {
  const e = err as { code?: string; message?: string };
  const code = e.code ?? "Error";
  const why =
    code === "ContainerNotFound"
      ? `container "${t.container}" does not exist there (create it, or fix container)`
      : code === "AuthenticationFailed" || code === "AuthorizationFailure"
        ? "the credentials were refused (check the account key or SAS token in the credentials block)"
        : code === "ConnectionRefused" || code === "ECONNREFUSED"
          ? "the endpoint refused the connection (is it up, and is the endpoint right?)"
          : `${code}: ${e.message ?? "no details"}`;
  return new WeirError("FAILED", `${doing} container "${t.container}" at ${t.where} failed: ${why}`, {
    cause: err,
  });
}

/** Failures worth another try: the service busy or failing, a dropped connection. */
export const retryableBlob = (err: unknown): boolean => {
  const e = err as { status?: number; code?: string };
  return (
    (e.status ?? 0) >= 500 ||
    e.code === "ServerBusy" ||
    e.code === "ConnectionClosed" ||
    e.code === "ECONNRESET"
  );
};
