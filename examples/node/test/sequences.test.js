'use strict';
// Unit tests of the pure parts (no onnxruntime): node --test test/
const assert = require('node:assert/strict');
const test = require('node:test');

const json = require('../lib/json');
const { compareCodePoints } = require('../lib/ids');
const { buildHistories, leftPad, exclusionMatrix } = require('../lib/sequences');
const { InputError } = require('../lib/errors');

function vocab(values, dtype) {
  const index = new Map(values.map((v, k) => [String(v), k + 1]));
  return { dtype, values, index };
}

test('json.parse keeps integers beyond 2^53 exact as BigInt', () => {
  const doc = json.parse('{"a": [9007199254740993, -9223372036854775808, 9007199254740991, 1.5, 1e3, -0, "x\\u00e9\\ud83d\\ude00"]}');
  assert.deepEqual(doc.a, [9007199254740993n, -9223372036854775808n, 9007199254740991, 1.5, 1000, -0, 'xé😀']);
  assert.notEqual(JSON.parse('9007199254740993'), 9007199254740993n); // what JSON.parse would lose
});

test('json.parse agrees with JSON.parse on ordinary documents and rejects bad ones', () => {
  const text = ' {"k": [1, 2.5, true, false, null, {"n": {}}, [], "s\\"\\\\/\\b\\f\\n\\r\\t"], "__proto__": 1} ';
  assert.deepEqual(json.parse(text), JSON.parse(text));
  assert.equal(Object.getPrototypeOf(json.parse('{"__proto__": {"x": 1}}')), Object.prototype);
  for (const bad of ['', '{', '[1,]', '{"a":1,}', '01', '1.', '.5', "'a'", 'nul', '[1] 2', '"\u0001"', 'NaN']) {
    assert.throws(() => json.parse(bad), SyntaxError, bad);
  }
});

test('json.stringify writes BigInt as integer literals', () => {
  const out = json.stringify({ ids: [9007199254740993n, 'a"b', 3], f: Float32Array.from([0.5]) });
  assert.equal(out, '{"ids":[9007199254740993,"a\\"b",3],"f":[0.5]}');
  assert.deepEqual(json.parse(out).ids, [9007199254740993n, 'a"b', 3]);
});

test('string ids compare by code point (UTF-8 byte order), not UTF-16 units', () => {
  const strings = ['a', 'ab', '', '\uffff', '\u{1F600}', '\u{10000}', 'z', 'é', '\ue000', 'a\u{1F600}', 'a\uffff'];
  const byBytes = [...strings].sort((x, y) => Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8')));
  assert.deepEqual([...strings].sort(compareCodePoints), byBytes);
  assert.ok('\u{1F600}' < '\uffff'); // what a plain JS sort would get wrong
  assert.ok(compareCodePoints('\u{1F600}', '\uffff') > 0);
});

test('docs/artifact.md section 3 example', () => {
  const v = vocab([10n, 20n, 30n, 40n], 'int64');
  const rows = { USER_ID: [1, 1, 1, 1, 1], ITEM_ID: [30, 99, 20, 10, 40], TIMESTAMP: [5, 1, 5, 2, 9] };
  const h = buildHistories(rows, v, 3);
  assert.deepEqual(h.users[0].seq, [3, 2, 4]);
  assert.deepEqual(h.users[0].known, [1, 3, 2, 4]);
  assert.equal(h.nUnknown, 1);
  const padded = leftPad([h.users[0].seq, [1, 2, 3, 4, 1]]);
  assert.deepEqual(padded.dims, [2, 5]);
  assert.deepEqual(Array.from(padded.data.subarray(0, 5), Number), [0, 0, 3, 2, 4]);
});

test('users come out in ascending USER_ID order: numeric ints, code point strings', () => {
  const v = vocab(['a', 'b'], 'string');
  const ints = buildHistories({ USER_ID: [10, 9, 100, -1], ITEM_ID: ['a', 'a', 'b', 'b'], TIMESTAMP: [0, 0, 0, 0] }, v, 5);
  assert.deepEqual(ints.userIds, [-1n, 9n, 10n, 100n]);
  const big = buildHistories({ USER_ID: [9007199254740993n, 9007199254740992n], ITEM_ID: ['a', 'b'], TIMESTAMP: [0, 0] }, v, 5);
  assert.deepEqual(big.userIds, [9007199254740992n, 9007199254740993n]);
  assert.deepEqual(big.users.map((u) => u.seq), [[2], [1]]);
  // a Number beyond 2^53 may already be rounded: refused rather than guessed
  assert.throws(() => buildHistories({ USER_ID: [2 ** 53], ITEM_ID: ['a'], TIMESTAMP: [0] }, v, 5), InputError);
  const strs = buildHistories({ USER_ID: ['\uffff', '\u{1F600}', 'b', '10', '9'], ITEM_ID: ['a', 'a', 'a', 'a', 'a'], TIMESTAMP: [0, 0, 0, 0, 0] }, v, 5);
  assert.deepEqual(strs.userIds, ['10', '9', 'b', '\uffff', '\u{1F600}']);
});

test('timestamps: nanoseconds beyond 2^53 order exactly; ties keep input order', () => {
  const v = vocab(['a', 'b', 'c'], 'string');
  const t = json.parse('[1700000000000000001, 1700000000000000000, 1700000000000000000]');
  const h = buildHistories({ USER_ID: [1, 1, 1], ITEM_ID: ['a', 'b', 'c'], TIMESTAMP: t }, v, 5);
  assert.deepEqual(h.users[0].seq, [2, 3, 1]);
  const floats = buildHistories({ USER_ID: [1, 1, 1], ITEM_ID: ['a', 'b', 'c'], TIMESTAMP: [2.5, 2.5, 1] }, v, 5);
  assert.deepEqual(floats.users[0].seq, [3, 1, 2]);
});

test('cold users, unknown items and the last max_len', () => {
  const v = vocab(['a', 'b', 'c'], 'string');
  const h = buildHistories({ USER_ID: [2, 1, 1, 1, 1], ITEM_ID: ['zz', 'a', 'b', 'zz', 'c'], TIMESTAMP: [0, 1, 2, 3, 4] }, v, 2);
  assert.deepEqual(h.users.map((u) => u.seq), [[2, 3], []]);
  assert.deepEqual(h.users.map((u) => u.known), [[1, 2, 3], []]);
  const ex = exclusionMatrix([[1, 2, 1, 3], []]);
  assert.deepEqual(ex.dims, [2, 3]);
  assert.deepEqual(Array.from(ex.data, Number), [1, 2, 3, 0, 0, 0]);
});

test('client errors: id types, missing columns, bad values', () => {
  const v = vocab(['1', '2'], 'string');
  const ok = { USER_ID: [1], ITEM_ID: ['1'], TIMESTAMP: [0] };
  assert.doesNotThrow(() => buildHistories(ok, v, 3));
  const cases = [
    { ...ok, ITEM_ID: [1] }, // int ids against a string vocabulary
    { ...ok, USER_ID: [1, '1'], ITEM_ID: ['1', '1'], TIMESTAMP: [0, 0] }, // mixed user id types
    { ...ok, USER_ID: [1.5] },
    { ...ok, USER_ID: [null] },
    { ...ok, USER_ID: [true] },
    { ...ok, TIMESTAMP: ['2024-01-01'] },
    { ...ok, TIMESTAMP: [null] },
    { USER_ID: [1], ITEM_ID: ['1'] },
    { USER_ID: [1, 2], ITEM_ID: ['1'], TIMESTAMP: [0] },
    { USER_ID: [], ITEM_ID: [], TIMESTAMP: [] },
  ];
  for (const rows of cases) assert.throws(() => buildHistories(rows, v, 3), InputError, JSON.stringify(rows));
  // 3.0 is the int 3, as in the Python runtime
  assert.deepEqual(buildHistories({ ...ok, USER_ID: [3.0] }, v, 3).userIds, [3n]);
});
