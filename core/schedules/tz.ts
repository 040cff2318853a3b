// Time-zone arithmetic with the platform's Intl data (no tz library needed). Instants are epoch
// milliseconds; "wall" times are the calendar fields a clock in a zone shows.

export interface Wall {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(tz, f);
  }
  return f;
}

export function isValidTimezone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export function knownTimezones(): string[] {
  return ["UTC", ...Intl.supportedValuesOf("timeZone")];
}

/** The wall-clock fields shown in `tz` at `instant`. */
export function wallAt(instant: number, tz: string): Wall {
  const parts = formatter(tz).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return {
    year: get("year"),
    month: get("month"),
    day: get("day"),
    hour: get("hour"),
    minute: get("minute"),
    second: get("second"),
  };
}

const wallAsUtc = (w: Wall): number => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);

/** Offset of `tz` from UTC at `instant`, in minutes (New York in winter: -300). */
export function offsetMinutes(instant: number, tz: string): number {
  const secondsFloor = Math.floor(instant / 1000) * 1000;
  return Math.round((wallAsUtc(wallAt(secondsFloor, tz)) - secondsFloor) / 60_000);
}

/**
 * The instant a wall time in `tz` names. A time that occurs twice (clocks going back) gives the
 * earlier instant; a time that does not exist (clocks going forward) moves forward by the gap,
 * as a clock set to it would show (02:30 in a 02:00→03:00 gap becomes 03:30).
 */
export function instantOf(w: Wall, tz: string): number {
  const guess = wallAsUtc(w);
  const candidates = new Set<number>();
  for (const probe of [guess - 86_400_000, guess, guess + 86_400_000]) {
    candidates.add(guess - offsetMinutes(probe, tz) * 60_000);
  }
  const exact = [...candidates].filter((t) => wallAsUtc(wallAt(t, tz)) === guess).sort((a, b) => a - b);
  if (exact.length > 0) return exact[0]!;
  // In a gap: use the offset from before the gap, which lands after it.
  const before = offsetMinutes(guess - 86_400_000, tz);
  return guess - before * 60_000;
}

/** Adds calendar days in `tz`, keeping the wall-clock time of day. */
export function addLocalDays(instant: number, tz: string, days: number): number {
  const w = wallAt(instant, tz);
  const d = new Date(Date.UTC(w.year, w.month - 1, w.day + days));
  return instantOf({ ...w, year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() }, tz);
}

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, "0");

/** ISO 8601 with the zone's offset at that instant: 2018-03-11T03:00:00-04:00. */
export function formatInZone(instant: number, tz: string): string {
  const w = wallAt(instant, tz);
  const off = offsetMinutes(instant, tz);
  const sign = off < 0 ? "-" : "+";
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}
