import type { WeirClient } from "../client/index.ts";
import { type BlockTypes, secretValues } from "../model/index.ts";
import { applyValues, resolveBlocks, resolveVariables } from "../templating/index.ts";

/**
 * Resolves every kind of placeholder in a value: step outputs (`{{ id.field }}`), `{{ $ENV }}`,
 * `{{ weir.blocks.TYPE.NAME }}` and `{{ weir.variables.NAME }}` (prefect. spellings too). Secret
 * block fields it reads are added to `secrets`, so callers can keep them out of logs and errors.
 */
export function makeResolver(client: WeirClient, secrets: string[], types: BlockTypes) {
  const blocks = blockResolver(client, secrets, types);
  return async <T>(value: T, outputs: Record<string, unknown> = {}): Promise<T> => {
    const withValues = applyValues(value, outputs, { removeNotSet: true });
    const withBlocks = await blocks(withValues);
    return (await resolveVariables(
      withBlocks,
      async (name) => (await client.findVariable(name))?.value,
    )) as T;
  };
}

/** Resolves only `{{ weir.blocks.TYPE.NAME }}` placeholders (a run's parameters); other text stays. */
export function blockResolver(client: WeirClient, secrets: string[], types: BlockTypes) {
  return async <T>(value: T): Promise<T> =>
    (await resolveBlocks(value, {
      byName: async (type, name) => {
        const b = await client.findBlock(type, name, true);
        if (b) secrets.push(...secretValues(types.blockType(b.type), b.data));
        return b?.data;
      },
    })) as T;
}
