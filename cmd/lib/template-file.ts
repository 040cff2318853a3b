import { readFileSync } from "node:fs";
import { WeirError } from "../../core/model/index.ts";

/**
 * A base job template file (JSON, or YAML, which JSON is a part of) for --base-job-template;
 * a syntax error names file:line:col.
 */
export async function readTemplateFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new WeirError(
      "USAGE",
      `--base-job-template: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}); write the default with: weir work-pool get-default-base-job-template --type TYPE > ${file}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (jsonError) {
    // Not JSON: YAML (a superset) may still read it, and says where it stops when it cannot.
    const { parseDocument } = await import("yaml");
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    const err = doc.errors[0];
    if (err) {
      const at = err.linePos?.[0];
      throw new WeirError(
        "USAGE",
        `${file}:${at ? `${at.line}:${at.col}` : "1:1"}: not valid JSON (${(jsonError as Error).message.replace(/^JSON Parse error: /, "")}) (the base job template must be a JSON object, as get-default-base-job-template prints)`,
      );
    }
    data = doc.toJS();
  }
  if (!data || typeof data !== "object" || Array.isArray(data))
    throw new WeirError(
      "USAGE",
      `${file}:1:1: a base job template must be an object with job_configuration and variables`,
    );
  return data as Record<string, unknown>;
}
