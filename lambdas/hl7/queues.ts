/** The queue the MLLP bridge fills and the HL7 ingest worker drains (its dead letters: `hl7-inbound-dlq`). */
export const HL7_INBOUND_QUEUE = 'hl7-inbound';
