#!/usr/bin/env node
'use strict';
/**
 * node recommend.js ARTIFACT_DIR ROWS.json [--top-k 5] [--include-seen] [--scores] [--batch-size N]
 *
 * ROWS.json: {"USER_ID": [...], "ITEM_ID": [...], "TIMESTAMP": [...]} (column -> array;
 * other columns are ignored), or an object holding that under "interactions" (such as
 * tests/runtime/golden_expected.json). "-" reads stdin.
 *
 * Prints {"user_ids": [...], "recommend": [[...], ...]} (plus "scores" with --scores),
 * users in ascending USER_ID order. Int ids are read and written exactly (BigInt), also
 * beyond 2^53. Warnings go to stderr. Exit status: 0 ok, 1 error, 2 usage.
 */

const fs = require('node:fs');

const json = require('./lib/json');

const USAGE =
  'usage: node recommend.js ARTIFACT_DIR ROWS.json [--top-k N] [--include-seen] [--scores] [--batch-size N]';

function parseArgs(argv) {
  const opts = { topK: 10, excludeSeen: true, scores: false, batchSize: 256 };
  const positional = [];
  const intArg = (name, value) => {
    if (value === undefined || !/^[0-9]+$/.test(value)) throw new UsageError(`${name} needs a positive integer, got ${value}`);
    return Number(value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (flag === '--top-k') opts.topK = intArg('--top-k', value());
    else if (flag === '--batch-size') opts.batchSize = intArg('--batch-size', value());
    else if (flag === '--include-seen') opts.excludeSeen = false;
    else if (flag === '--exclude-seen') opts.excludeSeen = true; // the default; kept for old scripts
    else if (flag === '--scores') opts.scores = true;
    else if (flag === '-h' || flag === '--help') opts.help = true;
    else if (flag.startsWith('--')) throw new UsageError(`unknown option ${flag}`);
    else positional.push(arg);
  }
  if (!opts.help && positional.length !== 2) throw new UsageError('expected ARTIFACT_DIR and ROWS.json');
  [opts.artifact, opts.rows] = positional;
  return opts;
}

class UsageError extends Error {}

function readRows(file) {
  const text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  const data = json.parse(text);
  if (data && typeof data === 'object' && !Array.isArray(data) && !('USER_ID' in data) && 'interactions' in data) {
    return data.interactions;
  }
  return data;
}

async function main(argv) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const seqrec = require('./lib/seqrec');
  try {
    const rows = readRows(opts.rows);
    const model = await seqrec.load(opts.artifact, { batchSize: opts.batchSize });
    const rec = await model.recommend(rows, { topK: opts.topK, excludeSeen: opts.excludeSeen });
    const out = { user_ids: rec.userIds, recommend: rec.items };
    for (const w of rec.warnings) process.stderr.write(`warning: ${w}\n`);
    if (opts.scores) out.scores = (await model.scoreItems(rows)).scores.map((row) => Array.from(row));
    await model.release();
    process.stdout.write(`${json.stringify(out)}\n`);
    return 0;
  } catch (err) {
    const known = err instanceof seqrec.SeqrecError || err instanceof json.JsonSyntaxError || err.code === 'ENOENT';
    process.stderr.write(`error: ${known ? err.message : err.stack}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
