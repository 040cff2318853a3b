// Flow runs get a memorable name (Prefect's adjective-animal style) so people can talk about them.
const ADJECTIVES = [
  "amber", "brave", "calm", "daring", "eager", "fancy", "gentle", "happy", "icy", "jolly",
  "keen", "lively", "mellow", "nimble", "olive", "proud", "quick", "rapid", "sunny", "tidy",
  "urban", "vivid", "witty", "young", "zesty", "bold", "crisp", "deft", "fuzzy", "glossy",
];
const ANIMALS = [
  "otter", "heron", "badger", "lynx", "marten", "falcon", "gecko", "ibis", "jackal", "koala",
  "lemur", "moose", "newt", "ocelot", "puffin", "quail", "raven", "salmon", "tapir", "urchin",
  "viper", "walrus", "yak", "zebra", "bison", "crane", "dingo", "egret", "ferret", "gibbon",
];

export function randomRunName(): string {
  const pick = (xs: string[]) => xs[Math.floor(Math.random() * xs.length)]!;
  return `${pick(ADJECTIVES)}-${pick(ANIMALS)}`;
}
