// Files the bundler embeds as text (`import x from "./f.sql" with { type: "text" }`).
declare module "*.sql" {
  const text: string;
  export default text;
}
declare module "*.d.ts.txt" {
  const text: string;
  export default text;
}
