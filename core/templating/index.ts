export {
  blockInText,
  kindOf,
  type Placeholder,
  placeholders,
  valueNames,
  valuePlaces,
  wholePlaceholder,
} from "./placeholders.ts";
export {
  type ApplyOptions,
  applyValues,
  type BlockLookup,
  resolveBlocks,
  resolveVariables,
} from "./render.ts";
