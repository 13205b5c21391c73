import { DocintelError, PermanentError, errorMessage } from '@docintel/core';
import { OUT_OF_MEMORY } from './limits';

/**
 * Which errors of a parser are the document's fault. Only those become `CORRUPT_DOCUMENT` (never
 * retried); every other error is passed on as it is: a runtime fault of our code or of a library
 * (a TypeError, a ReferenceError, ...) is `INTERNAL` (`classifyError`), retried through the tiers
 * and dead-lettered as the platform's fault, and an allocation failure is the parse process's
 * memory limit (the pool reports `PARSE_LIMIT`).
 */

/** JavaScript's own error classes that mean code went wrong, not that the input is malformed. */
const RUNTIME_FAULTS: ReadonlySet<string> = new Set(['TypeError', 'ReferenceError', 'RangeError', 'SyntaxError', 'EvalError', 'URIError', 'AggregateError', 'InternalError']);

/** A runtime fault (see {@link RUNTIME_FAULTS}) that is not an allocation failure. */
export function isRuntimeFault(error: unknown): boolean {
  return error instanceof Error && RUNTIME_FAULTS.has(error.name) && !OUT_OF_MEMORY.test(error.message);
}

/**
 * pdf.js's exceptions about the document: it is not a PDF, is broken, or needs a password. pdf.js
 * reports an error of its worker as an UnknownErrorException whose `details` are the original's
 * "Name: message", so the same names are looked for there. Anything else from pdf.js (a TypeError
 * in pdf.js itself, an AbortException) is not the document's fault.
 */
const PDF_INPUT_EXCEPTIONS = /^(?:InvalidPDFException|PasswordException|FormatError|XRefParseException|XRefEntryException|ParserEOFException|MissingDataException|JpegError|JpxError|Jbig2Error)$/;

export function isPdfInputError(error: unknown): boolean {
  const { name, details } = (error ?? {}) as { name?: unknown; details?: unknown };
  if (typeof name === 'string' && PDF_INPUT_EXCEPTIONS.test(name)) return true;
  return name === 'UnknownErrorException' && typeof details === 'string' && PDF_INPUT_EXCEPTIONS.test(details.split(':')[0]!.trim());
}

/** pdf.js's exceptions are plain objects with a name; PasswordException means it needs a password. */
export function isPdfPasswordError(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'PasswordException';
}

/**
 * What a PDF's failure is: CORRUPT_DOCUMENT for pdf.js's input exceptions (encrypted: with a
 * password), else the error itself.
 */
export function pdfFailure(error: unknown, page?: number): unknown {
  if (error instanceof DocintelError) return error;
  if (isPdfPasswordError(error)) {
    return new PermanentError('CORRUPT_DOCUMENT', 'PDF is encrypted: it needs a password to open; send it without one', { details: { encrypted: true } });
  }
  if (!isPdfInputError(error)) return error;
  const where = page === undefined ? 'content is not a readable PDF' : `page ${page} of the PDF cannot be read`;
  return new PermanentError('CORRUPT_DOCUMENT', `${where}: ${errorMessage(error)}`, { cause: error });
}

/**
 * What a DOCX's failure is. mammoth, and the XML parser under it, report a malformed document with
 * plain `Error`s ("Could not find main document part", "[xmldom error] ..."), and BoundedZip with
 * our own errors; those are the document's. A runtime fault or an allocation failure is passed on.
 */
export function docxFailure(error: unknown): unknown {
  if (error instanceof DocintelError || isRuntimeFault(error) || OUT_OF_MEMORY.test(errorMessage(error))) return error;
  return new PermanentError('CORRUPT_DOCUMENT', `content is not a readable DOCX: ${errorMessage(error)}`, { cause: error });
}
