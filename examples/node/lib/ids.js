'use strict';
/**
 * Ids and timestamps as docs/artifact.md defines them.
 *
 * An id is either an int64 or a string, never both in one column: the int 3 and the
 * string "3" are different ids (docs section 2). Int ids are held as BigInt (exact over
 * the whole int64 range, whatever JSON.parse would have done to them) and keyed by their
 * decimal string; string ids are keyed by themselves.
 */

const { InputError } = require('./errors');

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Compare two strings by Unicode code point (= UTF-8 byte order), which is how the
 * artifact sorts string ids and how numpy orders string user ids. JavaScript's `<`
 * compares UTF-16 code units, which differs for characters beyond U+FFFF.
 */
function compareCodePoints(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a.charCodeAt(i) !== b.charCodeAt(i)) {
      // First differing code unit: the code points starting here decide (a high surrogate
      // yields its full supplementary code point, which is above every BMP character).
      return a.codePointAt(i) - b.codePointAt(i);
    }
  }
  return a.length - b.length;
}

function compareBigInt(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Normalise one id value from parsed JSON. Integer-valued numbers (3 or 3.0) are ints,
 * like the Python runtime; booleans, null, fractions and objects are errors.
 * @returns {{type: 'int64'|'string', value: bigint|string}}
 */
function normalizeId(v, column, row) {
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'bigint') {
    if (v < INT64_MIN || v > INT64_MAX) {
      throw new InputError(`${column} row ${row}: ${v} is outside the int64 range; use string ids`);
    }
    return { type: 'int64', value: v };
  }
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) {
      throw new InputError(`${column} row ${row}: ${v} has a fractional part; ids must be integers or strings`);
    }
    if (!Number.isSafeInteger(v)) {
      // A Number beyond 2^53 may already have been rounded (JSON.parse, or a float
      // literal such as 1e20 from lib/json.js): its exact value is unknown.
      throw new InputError(
        `${column} row ${row}: ${v} is beyond 2^53 as a Number and may have lost precision; ` +
          'pass it as a BigInt (lib/json.js parses integer literals that way)',
      );
    }
    return { type: 'int64', value: BigInt(v) };
  }
  const what = v === null ? 'null (missing)' : typeof v;
  throw new InputError(`${column} row ${row}: ids must be integers or strings, got ${what}`);
}

/**
 * Normalise a whole id column: one type for all rows.
 * @returns {{type: 'int64'|'string'|null, values: Array<bigint|string>}}
 */
function normalizeIdColumn(values, column) {
  let type = null;
  const out = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const id = normalizeId(values[i], column, i);
    if (type === null) type = id.type;
    else if (type !== id.type) {
      throw new InputError(
        `${column} mixes text and numbers (row ${i}); 3 and "3" would silently become different ids. ` +
          'Convert the column to one type first (all int or all string).',
      );
    }
    out[i] = id.value;
  }
  return { type, values: out };
}

/** Map key of a normalised id (BigInt -> decimal string). */
function idKey(value) {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** Comparator for normalised ids of one type: numeric for int64, code point for strings. */
function compareIds(a, b) {
  return typeof a === 'bigint' ? compareBigInt(a, b) : compareCodePoints(a, b);
}

/**
 * Normalise the TIMESTAMP column. Integers stay exact (Number or BigInt, which compare
 * exactly with each other in JavaScript: nanosecond timestamps exceed 2^53). If any value
 * is a float (a fraction, or a Number beyond 2^53) the whole column is compared as
 * float64, as the Python runtime does with a column that mixes ints and floats.
 * @returns {Array<number|bigint>}
 */
function normalizeTimestamps(values, column = 'TIMESTAMP') {
  let anyFloat = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new InputError(`${column} row ${i}: ${v} is not a finite number`);
      // A fraction, or a Number beyond 2^53 (lib/json.js makes those only from float
      // literals such as 1.7e18): the column is float, as it is in the Python runtime.
      if (!Number.isSafeInteger(v)) anyFloat = true;
    } else if (typeof v === 'bigint') {
      if (v < INT64_MIN || v > INT64_MAX) throw new InputError(`${column} row ${i}: ${v} is outside the int64 range`);
    } else {
      const what = v === null ? 'null (missing)' : typeof v === 'string' ? `text ${JSON.stringify(v)}` : typeof v;
      throw new InputError(
        `${column} row ${i}: timestamps must be numbers (e.g. unix seconds or integer nanoseconds), got ${what}`,
      );
    }
  }
  return anyFloat ? values.map(Number) : values.slice();
}

/** Exact comparator for normalised timestamps (Number/BigInt mixes included). */
function compareTimestamps(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

module.exports = {
  INT64_MIN,
  INT64_MAX,
  compareCodePoints,
  compareIds,
  idKey,
  normalizeId,
  normalizeIdColumn,
  normalizeTimestamps,
  compareTimestamps,
};
