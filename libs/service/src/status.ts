import type { DocumentState, Stage, StatusEvent } from '@docintel/contracts';
import type { DeadLetterInfo, OutboundMessage } from '@docintel/kafka';

interface DocumentRef {
  tenantId: string;
  documentId: string;
  version: number;
}

/** A `document.status` event for one document version. */
export function statusMessage(
  topic: string,
  ref: DocumentRef,
  state: DocumentState,
  stage: Stage,
  extra: Partial<Pick<StatusEvent, 'batch' | 'totalBatches' | 'totalChunks' | 'error' | 'replayed' | 'waiting'>> = {},
): OutboundMessage {
  const value: StatusEvent = { tenantId: ref.tenantId, documentId: ref.documentId, version: ref.version, state, stage, at: Date.now(), ...extra };
  return { topic, key: ref.tenantId, value };
}

/**
 * When a stage gives up on a message, the document's status becomes `failed` with the stage, code
 * and message. Not when the message named another tenant's document: then nothing is written for
 * either tenant. Not when the value could not be read: there is no document to speak of.
 */
export function failedStatusOnDeadLetter<T extends Partial<DocumentRef>>(statusTopic: string, stage: Stage) {
  return (info: DeadLetterInfo<T>): OutboundMessage[] => {
    const value = info.value;
    if (!value || info.error.code === 'TENANT_MISMATCH') return [];
    if (value.tenantId === undefined || value.documentId === undefined || value.version === undefined) return [];
    const ref = { tenantId: value.tenantId, documentId: value.documentId, version: value.version };
    return [statusMessage(statusTopic, ref, 'failed', stage, { error: { code: info.error.code, message: info.error.message } })];
  };
}
