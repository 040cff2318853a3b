import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
// The bundler embeds valibot's declarations as text; TypeScript cannot type a text import of a
// .d.ts, hence the ignore and the cast below.
// @ts-expect-error text import of a declaration file
import valibotTypesText from "../../node_modules/valibot/dist/index.d.mts" with { type: "text" };

const valibotTypes = valibotTypesText as unknown as string;

/**
 * The declarations of "weir", generated from the SDK's source (relative path → text, e.g.
 * "sdk/index.d.ts"). The binary embeds them at build time (the virtual module comes from
 * scripts/build.ts); from source, where that module does not exist, they are generated now, with
 * the TypeScript compiler in node_modules.
 */
async function weirDeclarations(): Promise<Record<string, string>> {
  if (Bun.main.startsWith("/$bunfs/")) return (await import("weir-sdk-declarations:")).default;
  // A computed path, so the bundler leaves the generator (and its tsc run) out of the binary.
  const generator: string = join(import.meta.dir, "../../scripts/sdk-types.ts");
  const { sdkDeclarations } = (await import(generator)) as typeof import("../../scripts/sdk-types.ts");
  return sdkDeclarations();
}

/**
 * Writes the declarations of the modules the binary provides to flows, and a tsconfig.json that
 * maps them when the project has none (else prints the `paths` entry to add).
 */
export async function writeTypes(outDir: string): Promise<void> {
  const out = resolve(outDir);
  const weir = await weirDeclarations();
  for (const [file, text] of Object.entries(weir)) {
    mkdirSync(dirname(join(out, "weir", file)), { recursive: true });
    writeFileSync(join(out, "weir", file), text);
  }
  // The module's entry: the SDK's own index, whose imports of its siblings keep their ".ts".
  writeFileSync(join(out, "weir", "index.d.ts"), 'export * from "./sdk/index.ts";\n');
  mkdirSync(join(out, "valibot"), { recursive: true });
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
