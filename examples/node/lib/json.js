'use strict';
/**
 * Lossless JSON for int64 ids and nanosecond timestamps.
 *
 * `JSON.parse` reads every number as an IEEE double, so integers beyond 2^53 silently
 * lose precision (two different ids can become one; two nanosecond timestamps can become
 * a tie). docs/artifact.md ("Large integer ids") asks readers to parse them exactly.
 * Node 20 has no `context.source` in `JSON.parse` revivers, so this is a small strict
 * JSON parser (RFC 8259) that differs from `JSON.parse` in one way only:
 *
 *   an integer literal (no fraction, no exponent) outside Number.MAX_SAFE_INTEGER
 *   becomes a BigInt; every other number is a Number, as with JSON.parse.
 *
 * `stringify` is the matching writer: BigInt values are written as integer literals.
 */

const WS = /[ \t\n\r]*/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

class JsonSyntaxError extends SyntaxError {}

/**
 * Parse JSON text; integer literals beyond 2^53 - 1 in magnitude become BigInt.
 * @param {string} text
 * @returns {any}
 */
function parse(text) {
  if (typeof text !== 'string') text = String(text);
  let pos = 0;

  const fail = (what) => {
    const near = JSON.stringify(text.slice(pos, pos + 20));
    throw new JsonSyntaxError(`invalid JSON at offset ${pos}: ${what} (near ${near})`);
  };
  const skipWs = () => {
    WS.lastIndex = pos;
    WS.exec(text);
    pos = WS.lastIndex;
  };
  const match = (re) => {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (m) pos = re.lastIndex;
    return m;
  };
  const setKey = (obj, key, value) => {
    // defineProperty, like JSON.parse: a "__proto__" key is an own property, not a prototype.
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  };

  function value(depth) {
    if (depth > 512) fail('nesting too deep');
    skipWs();
    const c = text[pos];
    if (c === '"') {
      const m = match(STRING);
      if (!m) fail('bad string');
      return JSON.parse(m[0]); // exact escape handling for a validated literal
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      const m = match(NUMBER);
      if (!m) fail('bad number');
      const literal = m[0];
      if (m[1] === undefined && m[2] === undefined) {
        const n = Number(literal);
        return Number.isSafeInteger(n) ? n : BigInt(literal);
      }
      return Number(literal);
    }
    if (c === '{') {
      pos++;
      const obj = {};
      skipWs();
      if (text[pos] === '}') { pos++; return obj; }
      for (;;) {
        skipWs();
        if (text[pos] !== '"') fail('expected a string key');
        const key = JSON.parse(match(STRING)?.[0] ?? fail('bad key'));
        skipWs();
        if (text[pos] !== ':') fail("expected ':'");
        pos++;
        setKey(obj, key, value(depth + 1));
        skipWs();
        if (text[pos] === ',') { pos++; continue; }
        if (text[pos] === '}') { pos++; return obj; }
        fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      pos++;
      const arr = [];
      skipWs();
      if (text[pos] === ']') { pos++; return arr; }
      for (;;) {
        arr.push(value(depth + 1));
        skipWs();
        if (text[pos] === ',') { pos++; continue; }
        if (text[pos] === ']') { pos++; return arr; }
        fail("expected ',' or ']'");
      }
    }
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, pos)) { pos += word.length; return v; }
    }
    return fail('unexpected character');
  }

  if (text.charCodeAt(0) === 0xfeff) pos = 1; // tolerate a UTF-8 BOM
  const result = value(0);
  skipWs();
  if (pos !== text.length) fail('trailing characters');
  return result;
}

/**
 * JSON.stringify that writes BigInt as an integer literal (compact output).
 * @param {any} value
 * @returns {string}
 */
function stringify(value) {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stringify(v))).join(',')}]`;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return stringify(Array.from(value));
  if (value !== null && typeof value === 'object' && typeof value.toJSON !== 'function') {
    const parts = [];
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === 'function') continue;
      parts.push(`${JSON.stringify(k)}:${stringify(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value);
}

module.exports = { parse, stringify, JsonSyntaxError };
