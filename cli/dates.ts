/**
 * The one date parser of the CLI. `Date.parse` rolls impossible dates over
 * (`2027-02-30` becomes March 2) and accepts free text; options that take a
 * date refuse both, naming the option and the value.
 */
import { InvalidInputError } from "../core/errors.ts";

/** A duration from now as the options that take "a date or a duration" spell it (`30d`, `90`). */
const durationPattern = /^\d+(ms|s|m|h|d|w)?$/;

/** `2026-12-31`, or an ISO time with minutes, optional seconds and fraction, optional zone. */
const datePattern =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses a calendar date or ISO time into epoch milliseconds; refuses
 * impossible dates and anything else. A date alone is midnight UTC and a
 * time without a zone is local time, as `Date.parse` reads them.
 */
export function parseDate(text: string, what: string): number {
  const fail = (why: string): never => {
    throw new InvalidInputError(
      `Cannot use ${what} "${text}": ${why} (use a date like 2026-12-31 or an ISO time like 2026-12-31T18:00Z)`,
    );
  };
  const match = datePattern.exec(text.trim());
  if (!match) return fail("not a date");
  const [, y, mo, d, h, mi, s, frac, zone] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1) fail("there is no year 0");
  if (month < 1 || month > 12) fail(`there is no month ${mo}`);
  if (day < 1 || day > daysIn(year, month)) fail(`${y}-${mo} has no day ${d}`);
  if (h === undefined) return Date.UTC(year, month - 1, day);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s ?? 0);
  const ms = Number((frac ?? "0").padEnd(3, "0"));
  if (hour > 23 || minute > 59 || second > 59) fail("not a time of day");
  if (zone === undefined) {
    const local = new Date(year, month - 1, day, hour, minute, second, ms);
    // A local time skipped by a daylight-saving change does not exist either.
    if (local.getHours() !== hour || local.getMinutes() !== minute) {
      fail("that local time does not exist (daylight saving)");
    }
    return local.getTime();
  }
  let offsetMinutes = 0;
  if (zone !== "Z") {
    const [oh, om] = zone.slice(1).split(":").map(Number);
    if (oh > 23 || om > 59) fail(`"${zone}" is not a time zone offset`);
    offsetMinutes = (zone[0] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
}

/** True when `text` is a duration from now rather than a date (see `durationPattern`). */
export function isDuration(text: string): boolean {
  return durationPattern.test(text);
}
