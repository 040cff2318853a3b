import type { Context, MiddlewareHandler } from "hono";

/**
 * Refuses request bodies over `maxBytes` with a JSON 413. A client that sends its whole body
 * before reading the answer (most do) would see a broken pipe if the server stopped reading, so a
 * body over the limit is still read and dropped, up to `drainBytes`; past that the connection is
 * closed. A body within the limit is kept for the route to read with bodyRead() (readBody uses
 * it): the request's own body stream has been consumed, so c.req.json()/text() cannot read it.
 */
export function bodyLimit(
  maxBytes: number,
  drainBytes: number,
  onTooLarge: (c: Context) => Response,
): MiddlewareHandler {
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const declared = Number(c.req.header("content-length") ?? Number.NaN);
    // A declared length within the limit: the runtime reads exactly that much in one call, which
    // costs a fraction of reading the stream chunk by chunk (the common case: every API client).
    if (Number.isFinite(declared) && declared <= maxBytes) {
      const bytes = new Uint8Array(await c.req.raw.arrayBuffer());
      if (bytes.length > maxBytes) return onTooLarge(c);
      c.set(BODY, bytes);
      return next();
    }
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > maxBytes;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > drainBytes) {
        await reader.cancel();
        break;
      }
      if (size > maxBytes) over = true;
      if (!over) chunks.push(value);
    }
    if (over) return onTooLarge(c);
    c.set(BODY, Buffer.concat(chunks));
    return next();
  };
}

/** Where the body limit leaves the body it read, for readBody(). */
const BODY = "weirBody" as never;

/** The request body the body limit read (undefined on routes it does not guard). */
export function bodyRead(c: Context): Uint8Array | undefined {
  return c.get(BODY) as Uint8Array | undefined;
}
