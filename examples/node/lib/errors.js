'use strict';
/** Error classes, named like the Python runtime's (seqrec_runtime.errors). */

class SeqrecError extends Error {
  constructor(message) {
    super(message);
    this.name = this.constructor.name;
  }
}

/** Missing or malformed artifact: manifest, files, graphs. */
class ArtifactError extends SeqrecError {}

/** A file whose sha256 differs from manifest.json. */
class ArtifactIntegrityError extends ArtifactError {}

/** Not a seqrec artifact, or a format_version newer than this reader knows. */
class UnsupportedFormatError extends ArtifactError {}

/** A client error in the request: bad columns, ids of the wrong type, bad top_k. */
class InputError extends SeqrecError {}

module.exports = { SeqrecError, ArtifactError, ArtifactIntegrityError, UnsupportedFormatError, InputError };
