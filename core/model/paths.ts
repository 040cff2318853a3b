import { homedir } from "node:os";
import { join } from "node:path";

/** $WEIR_HOME, default ~/.weir: the embedded database and installed step packages live here. */
export const weirHome = (): string => process.env.WEIR_HOME || join(homedir(), ".weir");
