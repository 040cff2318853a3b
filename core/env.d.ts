// Files the bundler embeds as text (`import x from "./f.sql" with { type: "text" }`).
declare module "*.sql" {
  const text: string;
  export default text;
}
declare module "*.d.ts.txt" {
  const text: string;
  export default text;
}
// The declarations of "weir" generated from core/sdk at build time, relative path → text: a module
// scripts/build.ts provides to the bundle (see cmd/lib/write-types.ts).
declare module "weir-sdk-declarations:" {
  const files: Record<string, string>;
  export default files;
}
