'use strict';
/**
 * Serve a seqrec ONNX artifact (docs/artifact.md) with onnxruntime-node.
 *
 *   const seqrec = require('./lib/seqrec');
 *   const model = await seqrec.load('path/to/artifact');
 *   const { userIds, items } = await model.recommend(
 *     { USER_ID: [1, 1, 2], ITEM_ID: ['a', 'b', 'a'], TIMESTAMP: [10, 20, 5] },
 *     { topK: 5, excludeSeen: true },
 *   );
 *
 * Ids come back as the artifact holds them: strings, or BigInt for int64 ids (exact over
 * the whole int64 range). Parse request JSON with ./json.js so large ints stay exact.
 *
 * Deterministic ranking, ties by the lower column first (docs sections 4-6):
 *   - top_k <= graphs.topk.k: the top-k graph (ONNX TopK, which by its spec puts the lower
 *     index first among equal values) with the user's seen items in `exclude_items`;
 *     its first top_k columns are the answer.
 *   - top_k > graphs.topk.k: the scores graph, excluded columns set to -Infinity, and a
 *     JavaScript sort of the columns by (score descending, column ascending).
 *   - cold users (no known item): never sent to the model; the fallback scores sorted the
 *     same way (computed once at load).
 * Artifacts with an item prior (format_version 2, manifest.item_prior) also get each user's
 * distinct known items of the WHOLE history in `history_items`, in both graphs.
 */

const ort = require('onnxruntime-node');

const { readArtifact, checkSessionIo } = require('./artifact');
const { ArtifactError, InputError } = require('./errors');
const { buildHistories, leftPad, exclusionMatrix } = require('./sequences');

/**
 * Column indices of `scores` ordered best first: score descending, then column ascending.
 * -Infinity (excluded) ranks last. Returns the first `k`.
 * @param {Float32Array} scores
 * @param {number} k
 * @returns {number[]}
 */
function rankColumns(scores, k) {
  const columns = Array.from({ length: scores.length }, (_, j) => j);
  columns.sort((i, j) => (scores[i] > scores[j] ? -1 : scores[i] < scores[j] ? 1 : i - j));
  return columns.slice(0, k);
}

function distinctCount(known) {
  return new Set(known).size;
}

class SeqrecModel {
  /** Use {@link load}. */
  constructor(artifact, sessions, options) {
    this.path = artifact.path;
    this.manifest = artifact.manifest;
    this.nItems = artifact.nItems;
    this.maxLen = artifact.maxLen;
    this.k = artifact.graphs.topk.k;
    this.itemIds = artifact.vocabulary.values; // column j -> item id (BigInt or string)
    this.itemIdsDtype = artifact.vocabulary.dtype;
    this.batchSize = options.batchSize;
    this._vocabulary = artifact.vocabulary;
    this._fallback = artifact.fallback;
    this._fallbackOrder = rankColumns(artifact.fallback, artifact.nItems);
    this._scores = sessions.scores;
    this._topk = sessions.topk;
    this._shared = artifact.graphs.scores.shared; // both graphs in one file and session
    this.itemPrior = artifact.itemPrior;
  }

  /** `history_items` feed for the warm users of a chunk (artifacts with an item prior only). */
  _historyFeed(warm) {
    if (!this.itemPrior) return {};
    const history = exclusionMatrix(warm.map(([u]) => u.known));
    return { history_items: new ort.Tensor('int64', history.data, history.dims) };
  }

  /** Release the onnxruntime sessions. */
  async release() {
    const sessions = new Set([this._scores, this._topk]);
    await Promise.all([...sessions].map((session) => session.release()));
  }

  _histories(interactions, warnings) {
    const h = buildHistories(interactions, this._vocabulary, this.maxLen);
    const cold = h.users.map((u, r) => [u, r]).filter(([u]) => u.seq.length === 0);
    if (cold.length) {
      const example = h.userIds[cold[0][1]];
      warnings.push(
        `${cold.length} user(s) have no item known to the model (e.g. USER_ID ${String(example)}); ` +
          'they get the popularity fallback',
      );
    }
    return h;
  }

  /** Yield [start, stop) chunks of at most batchSize users. */
  *_chunks(n) {
    for (let start = 0; start < n; start += this.batchSize) yield [start, Math.min(n, start + this.batchSize)];
  }

  /** Scores graph on the warm users of `users`: Float32Array per user (null for cold ones). */
  async _scoreChunk(users) {
    const warm = users.map((u, i) => [u, i]).filter(([u]) => u.seq.length > 0);
    const out = users.map(() => null);
    if (!warm.length) return out;
    const { data, dims } = leftPad(warm.map(([u]) => u.seq));
    const feeds = { item_seq: new ort.Tensor('int64', data, dims), ...this._historyFeed(warm) };
    if (this._shared) {
      // One model holds both graphs (format_version 3): it also takes exclude_items.
      feeds.exclude_items = new ort.Tensor('int64', new BigInt64Array(warm.length), [warm.length, 1]);
    }
    const result = await this._scores.run(feeds, ['scores']);
    const scores = result.scores;
    if (scores.dims.length !== 2 || scores.dims[0] !== warm.length || scores.dims[1] !== this.nItems) {
      throw new ArtifactError(`model.onnx returned scores of shape ${JSON.stringify(scores.dims)}, expected [${warm.length}, ${this.nItems}]`);
    }
    warm.forEach(([, i], r) => {
      out[i] = scores.data.slice(r * this.nItems, (r + 1) * this.nItems);
    });
    return out;
  }

  /**
   * Score every item for every user.
   * @param {object} interactions {USER_ID: [...], ITEM_ID: [...], TIMESTAMP: [...]}
   * @returns {Promise<{userIds: Array<bigint|string>, scores: Float32Array[], warnings: string[]}>}
   *   rows in ascending USER_ID order; column j is itemIds[j]; cold users get the fallback.
   */
  async scoreItems(interactions) {
    const warnings = [];
    const h = this._histories(interactions, warnings);
    const scores = [];
    for (const [start, stop] of this._chunks(h.users.length)) {
      const chunk = await this._scoreChunk(h.users.slice(start, stop));
      for (const row of chunk) scores.push(row ?? this._fallback.slice());
    }
    return { userIds: h.userIds, scores, warnings };
  }

  /** Validate top_k; clip it to n_items and, with exclude-seen, to the fewest items left. */
  _resolveTopK(topK, users, excludeSeen, warnings) {
    if (typeof topK !== 'number' || !Number.isInteger(topK)) throw new InputError(`topK must be an integer, got ${topK}`);
    if (topK < 1) throw new InputError(`topK must be >= 1, got ${topK}`);
    if (topK > this.nItems) {
      warnings.push(`topK=${topK} is larger than the ${this.nItems} items; returning ${this.nItems} per user`);
      topK = this.nItems;
    }
    if (excludeSeen) {
      const left = this.nItems - users.reduce((m, u) => Math.max(m, distinctCount(u.known)), 0);
      if (left <= 0) {
        throw new InputError('excludeSeen leaves no candidate item for some user (they have seen every item)');
      }
      if (topK > left) {
        warnings.push(`excludeSeen leaves only ${left} candidate items for some user; topK clipped from ${topK} to ${left}`);
        topK = left;
      }
    }
    return topK;
  }

  /** Top-k graph on the warm users of `users`: first `topK` columns per user (null for cold). */
  async _topkChunk(users, topK, excludeSeen) {
    const warm = users.map((u, i) => [u, i]).filter(([u]) => u.seq.length > 0);
    const out = users.map(() => null);
    if (!warm.length) return out;
    const seq = leftPad(warm.map(([u]) => u.seq));
    const exclude = excludeSeen
      ? exclusionMatrix(warm.map(([u]) => u.known))
      : { data: new BigInt64Array(warm.length), dims: [warm.length, 1] }; // zeros: exclude nothing
    const result = await this._topk.run(
      {
        item_seq: new ort.Tensor('int64', seq.data, seq.dims),
        exclude_items: new ort.Tensor('int64', exclude.data, exclude.dims),
        ...this._historyFeed(warm),
      },
      ['top_indices'],
    );
    const top = result.top_indices;
    if (top.dims.length !== 2 || top.dims[0] !== warm.length || top.dims[1] !== this.k) {
      throw new ArtifactError(`model_topk.onnx returned top_indices of shape ${JSON.stringify(top.dims)}, expected [${warm.length}, ${this.k}]`);
    }
    warm.forEach(([, i], r) => {
      out[i] = Array.from(top.data.subarray(r * this.k, r * this.k + topK), Number);
    });
    return out;
  }

  /** Scores graph + JS sort (for topK > graphs.topk.k). */
  async _sortChunk(users, topK, excludeSeen) {
    const scores = await this._scoreChunk(users);
    return scores.map((row, i) => {
      if (row === null) return null;
      if (excludeSeen) for (const index of users[i].known) row[index - 1] = -Infinity;
      return rankColumns(row, topK);
    });
  }

  /**
   * Recommend `topK` items per user (deterministic; ties by the lower column first).
   * @param {object} interactions {USER_ID: [...], ITEM_ID: [...], TIMESTAMP: [...]}
   * @param {{topK?: number, excludeSeen?: boolean}} [options]
   *   excludeSeen (default true): never recommend an item of the user's whole given history;
   *   false for a re-consumption catalogue (music, groceries).
   * @returns {Promise<{userIds: Array<bigint|string>, items: Array<Array<bigint|string>>,
   *   columns: number[][], warnings: string[]}>} rows in ascending USER_ID order, best first.
   */
  async recommend(interactions, { topK = 10, excludeSeen = true } = {}) {
    if (typeof excludeSeen !== 'boolean') throw new InputError(`excludeSeen must be true or false, got ${excludeSeen}`);
    const warnings = [];
    const h = this._histories(interactions, warnings);
    topK = this._resolveTopK(topK, h.users, excludeSeen, warnings);
    const columns = [];
    for (const [start, stop] of this._chunks(h.users.length)) {
      const users = h.users.slice(start, stop);
      const chunk = topK <= this.k
        ? await this._topkChunk(users, topK, excludeSeen)
        : await this._sortChunk(users, topK, excludeSeen);
      // Cold users: nothing known, so nothing to exclude; the fallback ranking.
      for (const row of chunk) columns.push(row ?? this._fallbackOrder.slice(0, topK));
    }
    const items = columns.map((row) => row.map((j) => this.itemIds[j]));
    return { userIds: h.userIds, items, columns, warnings };
  }
}

/**
 * Load and verify an artifact: format and format_version, sha256 of every listed file,
 * manifest consistency, and the graphs' I/O against the manifest (docs section 7).
 * @param {string} dir artifact directory
 * @param {{batchSize?: number, intraOpNumThreads?: number, executionProviders?: string[]}} [options]
 * @returns {Promise<SeqrecModel>}
 */
async function load(dir, { batchSize = 256, intraOpNumThreads, executionProviders = ['cpu'] } = {}) {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InputError(`batchSize must be an integer >= 1, got ${batchSize}`);
  const artifact = readArtifact(dir);
  const sessionOptions = { executionProviders };
  if (intraOpNumThreads !== undefined) sessionOptions.intraOpNumThreads = intraOpNumThreads;
  const sessions = {};
  const byFile = new Map(); // one session per file: a format_version 3 file holds both graphs
  for (const [name, graph] of Object.entries(artifact.graphs)) {
    if (!byFile.has(graph.file)) {
      try {
        // The bytes whose sha256 was just verified, not a second read of the file.
        byFile.set(graph.file, await ort.InferenceSession.create(graph.bytes, sessionOptions));
      } catch (err) {
        throw new ArtifactError(`onnxruntime cannot load ${JSON.stringify(graph.file)} from ${JSON.stringify(artifact.path)}: ${err.message}`);
      }
    }
    sessions[name] = byFile.get(graph.file);
    checkSessionIo(sessions[name], graph, artifact.nItems);
  }
  return new SeqrecModel(artifact, sessions, { batchSize });
}

module.exports = { load, SeqrecModel, rankColumns, ...require('./errors') };
