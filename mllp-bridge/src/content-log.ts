/**
 * Message content in the logs, for an operator who opts in to debug a feed (PFI_MLLP_LOG_CONTENT): `refused` logs
 * each message answered AE or AR with its ACK, `all` every message. Off by default: the content is patient data, and
 * the log then holds it for its whole retention. Whoever enables it writes {@link CONTENT_LOG_WARNING} at start.
 */

import type { MessageContent } from './server.js';

export const CONTENT_LOG_MODES = ['off', 'refused', 'all'] as const;
export type ContentLogMode = (typeof CONTENT_LOG_MODES)[number];

export interface ContentLine {
  message: 'hl7 message content';
  code: MessageContent['code'];
  reason: MessageContent['reason'];
  /** The message as decoded, segments separated by `\r`. */
  hl7: string;
  ack: string;
}

export const CONTENT_LOG_WARNING =
  'HL7 message content is logged (PFI_MLLP_LOG_CONTENT): the log now holds patient data; turn it off when done';

/** The `onContent` hook of the server for `mode`, or undefined when off. */
export function contentLogger(
  mode: ContentLogMode,
  write: (line: ContentLine) => void,
): ((c: MessageContent) => void) | undefined {
  if (mode === 'off') return undefined;
  return (c) => {
    if (mode === 'refused' && c.code === 'AA') return;
    write({ message: 'hl7 message content', code: c.code, reason: c.reason, hl7: c.message, ack: c.ack });
  };
}
