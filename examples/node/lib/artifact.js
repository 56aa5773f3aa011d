'use strict';
/**
 * Read and verify a seqrec artifact directory (docs/artifact.md, sections 1, 2 and 7),
 * without creating ONNX sessions. Nothing is executed from the artifact: the manifest is
 * parsed as data, and the model bytes that are hashed are the very bytes handed to
 * onnxruntime later (no second read that could see a swapped file).
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const json = require('./json');
const { compareIds, idKey, INT64_MIN, INT64_MAX } = require('./ids');
const { ArtifactError, ArtifactIntegrityError, UnsupportedFormatError } = require('./errors');

const MANIFEST = 'manifest.json';
const FORMAT = 'seqrec-onnx-artifact';
// The highest format_version this reader knows (2: item prior; 3: both graphs in one file).
const FORMAT_VERSION = 3;
const SHARED_FILE_FORMAT_VERSION = 3;
const PICKLE_SUFFIXES = ['.pkl', '.pickle', '.pt', '.pth', '.joblib'];
const SHA256 = /^[0-9a-f]{64}$/;

/** The I/O contract of each graph: [inputs, outputs] as [name, dtype] pairs (docs section 4). */
const GRAPH_IO = {
  scores: [[['item_seq', 'int64']], [['scores', 'float32']]],
  topk: [
    [['item_seq', 'int64'], ['exclude_items', 'int64']],
    [['top_scores', 'float32'], ['top_indices', 'int64']],
  ],
};

/** Graphs of artifacts with an item prior also take the user's whole history (docs section 4). */
const HISTORY_INPUT = ['history_items', 'int64'];

/** [inputs, outputs] of graph `name`; an item prior appends `history_items` to the inputs. */
function graphIo(name, itemPrior) {
  const [inputs, outputs] = GRAPH_IO[name];
  return [itemPrior ? [...inputs, HISTORY_INPUT] : inputs, outputs];
}

/** [inputs, outputs] of one file holding both graphs (format_version 3): their union. */
function sharedGraphIo(itemPrior) {
  const [scoresIn, scoresOut] = graphIo('scores', itemPrior);
  const [topkIn, topkOut] = graphIo('topk', itemPrior);
  const inputs = [...topkIn, ...scoresIn.filter(([n]) => !topkIn.some(([m]) => m === n))];
  return [inputs, [...scoresOut, ...topkOut]];
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v) => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';

function field(obj, key, check, where, kind) {
  if (!isObject(obj) || !Object.prototype.hasOwnProperty.call(obj, key)) {
    throw new ArtifactError(`manifest.json: missing field ${where}${key}`);
  }
  const value = obj[key];
  if (!check(value)) {
    throw new ArtifactError(`manifest.json: field ${where}${key} must be ${kind}, got ${json.stringify(value)}`);
  }
  return value;
}

const positiveInt = (obj, key, where = '') => {
  const v = field(obj, key, isInt, where, 'an integer');
  if (v < 1 || v > Number.MAX_SAFE_INTEGER) throw new ArtifactError(`manifest.json: ${where}${key} must be >= 1, got ${v}`);
  return Number(v);
};

function readManifest(root) {
  let stat;
  try {
    stat = fs.statSync(root);
  } catch {
    stat = null;
  }
  if (!stat || !stat.isDirectory()) {
    throw new ArtifactError(`artifact directory ${JSON.stringify(root)} does not exist or is not a directory`);
  }
  const file = path.join(root, MANIFEST);
  if (!fs.existsSync(file)) throw new ArtifactError(`artifact ${JSON.stringify(root)} has no ${MANIFEST}; is this a seqrec artifact?`);
  let manifest;
  try {
    manifest = json.parse(new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(file)));
  } catch (err) {
    throw new ArtifactError(`${MANIFEST} in ${JSON.stringify(root)} is not valid UTF-8 JSON: ${err.message}`);
  }
  if (!isObject(manifest)) throw new ArtifactError(`${MANIFEST} must hold a JSON object`);
  if (manifest.format !== FORMAT) {
    throw new UnsupportedFormatError(
      `${JSON.stringify(root)} is not a seqrec artifact: format is ${json.stringify(manifest.format)}, expected "${FORMAT}"`,
    );
  }
  const version = field(manifest, 'format_version', isInt, '', 'an integer');
  if (version > FORMAT_VERSION) {
    throw new UnsupportedFormatError(
      `artifact ${JSON.stringify(root)} has format_version ${version}, but this reader knows format_version ` +
        `<= ${FORMAT_VERSION}; upgrade the reader (examples/node of a newer seqrec)`,
    );
  }
  if (version < 1) throw new ArtifactError(`manifest.json: format_version must be >= 1, got ${version}`);
  return manifest;
}

function checkNoPickles(root) {
  const found = fs
    .readdirSync(root)
    .filter((name) => PICKLE_SUFFIXES.includes(path.extname(name).toLowerCase()))
    .sort();
  if (found.length) {
    throw new ArtifactError(
      `artifact ${JSON.stringify(root)} contains pickle-like file(s) ${JSON.stringify(found)}; seqrec ` +
        'artifacts never contain pickles. Remove them (or re-export into an empty directory)',
    );
  }
}

/** Check names, read every listed file once and verify its sha256. Returns name -> bytes. */
function verifyFiles(root, manifest) {
  const files = field(manifest, 'files', isObject, '', 'an object');
  for (const [name, digest] of Object.entries(files)) {
    if (['', '.', '..', MANIFEST].includes(name) || name.includes('/') || name.includes('\\') || name.includes('\0')) {
      throw new ArtifactError(`manifest.json: files has an invalid file name ${JSON.stringify(name)}`);
    }
    if (typeof digest !== 'string' || !SHA256.test(digest)) {
      throw new ArtifactError(`manifest.json: files[${JSON.stringify(name)}] must be a lower-case sha256 hex digest`);
    }
    const file = path.join(root, name);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
      throw new ArtifactError(`artifact ${JSON.stringify(root)} is missing file ${JSON.stringify(name)} (listed in manifest)`);
    }
  }
  const bytes = {};
  for (const [name, digest] of Object.entries(files)) {
    const data = fs.readFileSync(path.join(root, name));
    const actual = crypto.createHash('sha256').update(data).digest('hex');
    if (actual !== digest) {
      throw new ArtifactIntegrityError(
        `${JSON.stringify(name)} in ${JSON.stringify(root)} does not match the sha256 in manifest.json ` +
          `(expected ${digest}, got ${actual}); the file is corrupt or was modified`,
      );
    }
    bytes[name] = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  return bytes;
}

/** item_ids -> { dtype, values (BigInt or string, ascending), index: Map(key -> model index k+1) }. */
function readVocabulary(manifest, nItems) {
  const spec = field(manifest, 'item_ids', isObject, '', 'an object');
  const dtype = field(spec, 'dtype', (v) => v === 'int64' || v === 'string', 'item_ids.', '"int64" or "string"');
  const raw = field(spec, 'values', Array.isArray, 'item_ids.', 'an array');
  if (raw.length !== nItems) throw new ArtifactError(`manifest.json: item_ids has ${raw.length} values but n_items=${nItems}`);
  let values;
  if (dtype === 'int64') {
    if (!raw.every(isInt)) throw new ArtifactError('manifest.json: item_ids.dtype is int64 but values are not all integers');
    values = raw.map((v) => BigInt(v));
    if (values.some((v) => v < INT64_MIN || v > INT64_MAX)) {
      throw new ArtifactError('manifest.json: item_ids.values outside the int64 range');
    }
  } else {
    if (!raw.every((v) => typeof v === 'string')) {
      throw new ArtifactError('manifest.json: item_ids.dtype is string but values are not all strings');
    }
    values = raw;
  }
  // Docs section 1: distinct and strictly ascending (numeric / by code point). A JSON
  // parser that lost int64 precision would usually fail here.
  for (let k = 1; k < values.length; k++) {
    if (compareIds(values[k - 1], values[k]) >= 0) {
      throw new ArtifactError(
        `manifest.json: item_ids.values must be distinct and sorted ascending (position ${k})`,
      );
    }
  }
  // Docs section 2: a hash map id -> index built from the list as given (no re-sorting).
  const index = new Map();
  values.forEach((v, k) => index.set(idKey(v), k + 1));
  return { dtype, values, index };
}

function readFallback(manifest, nItems) {
  const spec = field(manifest, 'fallback', isObject, '', 'an object');
  const kind = field(spec, 'kind', (v) => typeof v === 'string', 'fallback.', 'a string');
  if (kind !== 'popularity') throw new ArtifactError(`manifest.json: unsupported fallback.kind ${JSON.stringify(kind)}`);
  const scores = field(spec, 'scores', Array.isArray, 'fallback.', 'an array');
  if (scores.length !== nItems || !scores.every((s) => typeof s === 'number' && Number.isFinite(s))) {
    throw new ArtifactError(`manifest.json: fallback.scores must be ${nItems} finite numbers`);
  }
  return Float32Array.from(scores); // docs: "Use them as float32"
}

/** Whether the graphs include an item prior (format_version >= 2, manifest.item_prior). */
function readItemPrior(manifest) {
  const prior = manifest.item_prior;
  if (prior === undefined || prior === null) return false;
  if (manifest.format_version < 2) throw new ArtifactError('manifest.json: item_prior needs format_version >= 2');
  if (!isObject(prior) || prior.history_input !== HISTORY_INPUT[0]) {
    throw new ArtifactError(
      `manifest.json: item_prior must be null or an object with history_input "${HISTORY_INPUT[0]}"; got ${json.stringify(prior)}`,
    );
  }
  return true;
}

function readGraph(manifest, name, files, itemPrior) {
  const graphs = field(manifest, 'graphs', isObject, '', 'an object');
  const where = `graphs.${name}.`;
  const spec = field(graphs, name, isObject, 'graphs.', 'an object');
  const file = field(spec, 'file', (v) => typeof v === 'string', where, 'a string');
  if (!Object.prototype.hasOwnProperty.call(files, file)) {
    throw new ArtifactError(`manifest.json: ${where}file ${JSON.stringify(file)} is not listed (with a sha256) in files`);
  }
  const io = graphIo(name, itemPrior);
  ['inputs', 'outputs'].forEach((key, i) => {
    const entries = field(spec, key, Array.isArray, where, 'an array');
    const got = entries.map((e) => [isObject(e) ? e.name : undefined, isObject(e) ? e.dtype : undefined]);
    if (JSON.stringify(got) !== JSON.stringify(io[i])) {
      throw new ArtifactError(
        `manifest.json: ${where}${key} must be ${JSON.stringify(io[i])} ([name, dtype]); got ${json.stringify(got)}`,
      );
    }
  });
  const k = name === 'topk' ? positiveInt(spec, 'k', where) : null;
  return { name, file, bytes: files[file], k, itemPrior };
}

/**
 * Parse and verify an artifact directory.
 * @param {string} dir
 */
function readArtifact(dir) {
  const root = path.resolve(dir);
  const manifest = readManifest(root);
  checkNoPickles(root);
  const files = verifyFiles(root, manifest);
  const nItems = positiveInt(manifest, 'n_items');
  const maxLen = positiveInt(manifest, 'max_len');
  if (field(manifest, 'pad_index', isInt, '', 'an integer') != 0) { // eslint-disable-line eqeqeq
    throw new ArtifactError('manifest.json: pad_index must be 0');
  }
  const vocabulary = readVocabulary(manifest, nItems);
  const fallback = readFallback(manifest, nItems);
  const itemPrior = readItemPrior(manifest);
  const graphs = {
    scores: readGraph(manifest, 'scores', files, itemPrior),
    topk: readGraph(manifest, 'topk', files, itemPrior),
  };
  const shared = graphs.scores.file === graphs.topk.file;
  if (shared && manifest.format_version < SHARED_FILE_FORMAT_VERSION) {
    throw new ArtifactError(
      `manifest.json: graphs.scores and graphs.topk share the file ${JSON.stringify(graphs.scores.file)}, ` +
        `which needs format_version >= ${SHARED_FILE_FORMAT_VERSION}`,
    );
  }
  graphs.scores.shared = shared;
  graphs.topk.shared = shared;
  if (graphs.topk.k > nItems) throw new ArtifactError(`manifest.json: graphs.topk.k=${graphs.topk.k} > n_items=${nItems}`);
  return { path: root, manifest, nItems, maxLen, vocabulary, fallback, graphs, itemPrior };
}

const ORT_TYPES = { int64: 'int64', float32: 'float32' };

/**
 * Docs section 7.4: the loaded graph's I/O names and element types equal the manifest's,
 * and fixed output widths equal n_items (scores) and k (top_scores, top_indices).
 * `inputMetadata`/`outputMetadata` exist in onnxruntime-node >= 1.22; names are always checked.
 */
function checkSessionIo(session, graph, nItems) {
  const [inputs, outputs] = graph.shared ? sharedGraphIo(graph.itemPrior) : graphIo(graph.name, graph.itemPrior);
  const widths = { scores: nItems, top_scores: graph.k, top_indices: graph.k };
  for (const [kind, names, metadata, expected] of [
    ['inputs', session.inputNames, session.inputMetadata, inputs],
    ['outputs', session.outputNames, session.outputMetadata, outputs],
  ]) {
    const want = expected.map(([n]) => n).sort();
    if (JSON.stringify([...names].sort()) !== JSON.stringify(want)) {
      throw new ArtifactError(
        `${graph.file}: the ONNX graph's ${kind} ${JSON.stringify(names)} do not match the manifest ${JSON.stringify(want)}`,
      );
    }
    if (!Array.isArray(metadata)) continue;
    for (const meta of metadata) {
      const dtype = expected.find(([n]) => n === meta.name)[1];
      if (meta.isTensor === false || (meta.type !== undefined && meta.type !== ORT_TYPES[dtype])) {
        throw new ArtifactError(`${graph.file}: ${kind.slice(0, -1)} ${meta.name} has type ${meta.type}, expected ${dtype}`);
      }
      const shape = meta.shape || [];
      const width = widths[meta.name];
      if (shape.length && (shape.length !== 2 || (typeof shape[1] === 'number' && shape[1] >= 0 && width && shape[1] !== width))) {
        throw new ArtifactError(
          `${graph.file}: ${kind.slice(0, -1)} ${meta.name} has shape ${JSON.stringify(shape)}, expected [batch, ${width || 'n'}]`,
        );
      }
    }
  }
}

module.exports = { readArtifact, checkSessionIo, FORMAT, FORMAT_VERSION, GRAPH_IO };
