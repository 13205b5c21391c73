import type { DocumentState, Stage, StatusEvent } from '@docintel/contracts';
import type { DeadLetterInfo, OutboundMessage } from '@docintel/kafka';

interface DocumentRef {
  tenantId: string;
  documentId: string;
  /** Left out only in the event of a rejected message whose version could not be read. */
  version?: number;
}

/** A `document.status` event for one document version. */
export function statusMessage(
  topic: string,
  ref: DocumentRef,
  state: DocumentState,
  stage: Stage,
  extra: Partial<Pick<StatusEvent, 'batch' | 'totalBatches' | 'totalChunks' | 'error' | 'replayed' | 'waiting' | 'rejected'>> = {},
): OutboundMessage {
  const value: StatusEvent = { tenantId: ref.tenantId, documentId: ref.documentId, version: ref.version, state, stage, at: Date.now(), ...extra };
  return { topic, key: ref.tenantId, value };
}

/**
 * When a stage gives up on a message, the document's status becomes `failed` with the stage, code
 * and message. Not when the message named another tenant's document: then nothing is written for
 * either tenant. A value that did not pass validation but names a document of the tenant its key
 * and header agree on gets a `rejected` event (its version only if that was readable): the status
 * service writes it only if the document exists and is that tenant's. Not when the value names no
 * document at all.
 */
export function failedStatusOnDeadLetter<T extends Partial<DocumentRef>>(statusTopic: string, stage: Stage) {
  return (info: DeadLetterInfo<T>): OutboundMessage[] => {
    if (info.error.code === 'TENANT_MISMATCH') return [];
    const error = { code: info.error.code, message: info.error.message };
    const value = info.value;
    if (!value) {
      if (!info.named) return [];
      return [statusMessage(statusTopic, info.named, 'failed', stage, { error, rejected: true })];
    }
    if (value.tenantId === undefined || value.documentId === undefined || value.version === undefined) return [];
    const ref = { tenantId: value.tenantId, documentId: value.documentId, version: value.version };
    return [statusMessage(statusTopic, ref, 'failed', stage, { error })];
  };
}
