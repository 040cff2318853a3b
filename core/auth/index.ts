export {
  type Access,
  accessOf,
  forbidden,
  maySeeSecrets,
  ROUTE_ACCESS,
  requireAccess,
  requirePool,
  requireRun,
  requireRunRead,
} from "./access.ts";
export { Authenticator, type TokenSource } from "./authenticator.ts";
export { type KeyEntry, keyFromEnv, keyLine, newKey, parseKeyFile, SecretBox } from "./cipher.ts";
export {
  type Caller,
  checkScope,
  newToken,
  OPEN_CALLER,
  parseExpiry,
  SCOPES,
  type Scope,
  tokenHash,
} from "./tokens.ts";
