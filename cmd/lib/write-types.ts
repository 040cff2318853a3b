import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
// @ts-expect-error text import of a declaration file
import weirTypesText from "../../core/sdk/weir.d.ts" with { type: "text" };
// The bundler embeds both declaration files as text; TypeScript cannot type a text import of a
// .d.ts, hence the ignores and the casts below.
// @ts-expect-error text import of a declaration file
import valibotTypesText from "../../node_modules/valibot/dist/index.d.mts" with { type: "text" };

const weirTypes = weirTypesText as unknown as string;
const valibotTypes = valibotTypesText as unknown as string;

/**
 * Writes the declarations of the modules the binary provides to flows, and a tsconfig.json that
 * maps them when the project has none (else prints the `paths` entry to add).
 */
export async function writeTypes(outDir: string): Promise<void> {
  const out = resolve(outDir);
  mkdirSync(join(out, "weir"), { recursive: true });
  mkdirSync(join(out, "valibot"), { recursive: true });
  writeFileSync(join(out, "weir", "index.d.ts"), weirTypes);
  writeFileSync(join(out, "valibot", "index.d.ts"), valibotTypes);
  const rel = `./${relative(process.cwd(), out).replaceAll("\\", "/")}`;
  const paths = { weir: [`${rel}/weir/index.d.ts`], valibot: [`${rel}/valibot/index.d.ts`] };
  console.log(`Wrote type declarations for "weir" and "valibot" to ${rel}`);
  if (!existsSync("tsconfig.json")) {
    const tsconfig = {
      compilerOptions: {
        target: "ESNext",
        module: "Preserve",
        moduleResolution: "bundler",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        allowImportingTsExtensions: true,
        paths,
      },
    };
    writeFileSync("tsconfig.json", `${JSON.stringify(tsconfig, null, 2)}\n`);
    console.log("Wrote tsconfig.json mapping them");
  } else {
    console.log(`Add to compilerOptions in your tsconfig.json:\n  "paths": ${JSON.stringify(paths)}`);
  }
}
