'use strict';
/**
 * Raw interaction rows -> per-user model inputs: the sequence rule of docs/artifact.md
 * section 3, and the batch layout of section 4.
 *
 *   1. Sort rows stably by (USER_ID, TIMESTAMP): equal timestamps keep their input order.
 *   2. Map ITEM_ID -> model index k + 1 through the vocabulary; drop unknown items.
 *   3. Keep the last max_len indices (the most recent), oldest first.
 *   4. In a batch, left-pad every row with 0 to the batch's longest row.
 *
 * Users come out in ascending USER_ID order: numeric for int ids, by Unicode code point
 * for string ids (the order of the Python runtime's np.unique).
 */

const { InputError } = require('./errors');
const { compareIds, compareTimestamps, idKey, normalizeIdColumn, normalizeTimestamps } = require('./ids');

const REQUIRED = ['USER_ID', 'ITEM_ID', 'TIMESTAMP'];

/**
 * The three required columns of a column-oriented table ({USER_ID: [...], ...}; other
 * columns such as OUTCOME are ignored). A row-oriented array of objects is accepted too.
 */
function getColumns(table) {
  if (Array.isArray(table)) {
    const cols = Object.fromEntries(REQUIRED.map((c) => [c, []]));
    table.forEach((row, i) => {
      if (row === null || typeof row !== 'object') throw new InputError(`row ${i} is not an object`);
      for (const c of REQUIRED) {
        if (!(c in row)) throw new InputError(`row ${i} has no ${c}; rows need ${REQUIRED.join(', ')}`);
        cols[c].push(row[c]);
      }
    });
    table = cols;
  }
  if (table === null || typeof table !== 'object') {
    throw new InputError('interactions must be an object of column -> array (or an array of row objects)');
  }
  const missing = REQUIRED.filter((c) => !Object.prototype.hasOwnProperty.call(table, c));
  if (missing.length) {
    throw new InputError(
      `missing required column(s) ${JSON.stringify(missing)}; got ${JSON.stringify(Object.keys(table))}. ` +
        `Rename your columns to ${JSON.stringify(REQUIRED)} (upper case).`,
    );
  }
  for (const c of REQUIRED) {
    if (!Array.isArray(table[c])) throw new InputError(`column ${c} must be an array (one value per row)`);
  }
  const lengths = REQUIRED.map((c) => table[c].length);
  if (new Set(lengths).size > 1) {
    throw new InputError(`columns have different lengths: ${JSON.stringify(Object.fromEntries(REQUIRED.map((c, i) => [c, lengths[i]])))}`);
  }
  if (lengths[0] === 0) throw new InputError('interactions has no rows; pass at least one (user, item) row');
  return table;
}

/**
 * Build every user's history.
 *
 * @param {object} table interactions (see getColumns)
 * @param {{dtype: string, index: Map<string, number>}} vocabulary
 * @param {number} maxLen
 * @returns {{userIds: Array<bigint|string>, users: Array<{seq: number[], known: number[]}>, nUnknown: number}}
 *   `seq` is the model input (last maxLen known indices, oldest first, unpadded; empty =
 *   cold user); `known` is every known index of the whole history (for exclude-seen and,
 *   with an item prior, the `history_items` input).
 */
function buildHistories(table, vocabulary, maxLen) {
  const cols = getColumns(table);
  const users = normalizeIdColumn(cols.USER_ID, 'USER_ID');
  const items = normalizeIdColumn(cols.ITEM_ID, 'ITEM_ID');
  if (items.type !== vocabulary.dtype) {
    throw new InputError(
      `ITEM_ID values are ${items.type} but the model's item ids are ${vocabulary.dtype}; convert them ` +
        '(3 and "3" are different ids, not unknown items)',
    );
  }
  const timestamps = normalizeTimestamps(cols.TIMESTAMP, 'TIMESTAMP');

  // Group rows by user, each group in input order.
  const groups = new Map();
  for (let row = 0; row < users.values.length; row++) {
    const key = idKey(users.values[row]);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { id: users.values[row], rows: [] }));
    group.rows.push(row);
  }
  const ordered = [...groups.values()].sort((a, b) => compareIds(a.id, b.id));

  let nUnknown = 0;
  const out = ordered.map(({ rows }) => {
    // Stable by timestamp; the row number makes ties keep input order explicitly.
    rows.sort((a, b) => compareTimestamps(timestamps[a], timestamps[b]) || a - b);
    const known = [];
    for (const row of rows) {
      const index = vocabulary.index.get(idKey(items.values[row])) ?? 0;
      if (index === 0) nUnknown++;
      else known.push(index);
    }
    return { seq: known.slice(-maxLen), known };
  });
  return { userIds: ordered.map((g) => g.id), users: out, nUnknown };
}

/**
 * Left-pad rows of model indices to their longest length (>= 1): the `item_seq` input.
 * @param {number[][]} seqs
 * @returns {{data: BigInt64Array, dims: [number, number]}}
 */
function leftPad(seqs) {
  const width = seqs.reduce((w, s) => Math.max(w, s.length), 1);
  const data = new BigInt64Array(seqs.length * width); // zeros = pad_index
  seqs.forEach((seq, r) => {
    const offset = r * width + width - seq.length;
    seq.forEach((index, i) => {
      data[offset + i] = BigInt(index);
    });
  });
  return { data, dims: [seqs.length, width] };
}

/**
 * The `exclude_items` input (and, for artifacts with an item prior, `history_items`): each
 * row's distinct known indices, right-padded with 0 (which excludes nothing and counts for
 * nothing) to the longest row (>= 1 column).
 * @param {number[][]} knowns
 * @returns {{data: BigInt64Array, dims: [number, number]}}
 */
function exclusionMatrix(knowns) {
  const distinct = knowns.map((k) => [...new Set(k)]);
  const width = distinct.reduce((w, d) => Math.max(w, d.length), 1);
  const data = new BigInt64Array(distinct.length * width);
  distinct.forEach((row, r) => {
    row.forEach((index, i) => {
      data[r * width + i] = BigInt(index);
    });
  });
  return { data, dims: [distinct.length, width] };
}

module.exports = { buildHistories, getColumns, leftPad, exclusionMatrix, REQUIRED };
