import { describe, expect, it } from 'vitest';
import { createBridgeMetrics } from '../../mllp-bridge/src/metrics.js';
import type { BridgeEvent } from '../../mllp-bridge/src/server.js';

const EVENTS: BridgeEvent[] = [
  { type: 'connection', state: 'open', connections: 1 },
  { type: 'connection', state: 'open', connections: 2 },
  { type: 'received', bytes: 300 },
  { type: 'ack', code: 'AA', reason: 'enqueued', controlIdHash: '0123456789abcdef', enqueueMs: 4 },
  { type: 'received', bytes: 200 },
  { type: 'ack', code: 'AR', reason: 'queue-error', controlIdHash: '0123456789abcdef', enqueueMs: 120.5 },
  { type: 'received', bytes: 100 },
  { type: 'ack', code: 'AE', reason: 'no-msh' },
  { type: 'received', bytes: 50 },
  { type: 'ack', code: 'AA', reason: 'enqueued', enqueueMs: 6000 },
  { type: 'junk', bytes: 7 },
  { type: 'oversize', bytes: 2_000_000 },
  { type: 'ack', code: 'AR', reason: 'oversize' },
  { type: 'connection', state: 'refused', connections: 2 },
  { type: 'idle-timeout' },
  { type: 'tls-error' },
  { type: 'socket-error', code: 'ECONNRESET' },
  { type: 'connection', state: 'close', connections: 1 },
];

const feed = (events: BridgeEvent[]) => {
  const m = createBridgeMetrics();
  for (const e of events) m.recordEvent(e);
  return m;
};

describe('prometheusText', () => {
  it('renders every metric in exposition format 0.0.4', () => {
    expect(feed(EVENTS).prometheusText()).toBe(
      [
        '# HELP pfi_mllp_received_total Frames received.',
        '# TYPE pfi_mllp_received_total counter',
        'pfi_mllp_received_total 4',
        '# HELP pfi_mllp_received_bytes_total Payload bytes of the frames received.',
        '# TYPE pfi_mllp_received_bytes_total counter',
        'pfi_mllp_received_bytes_total 650',
        '# HELP pfi_mllp_acks_total ACKs written, by code and reason.',
        '# TYPE pfi_mllp_acks_total counter',
        'pfi_mllp_acks_total{code="AA",reason="enqueued"} 2',
        'pfi_mllp_acks_total{code="AE",reason="no-msh"} 1',
        'pfi_mllp_acks_total{code="AR",reason="oversize"} 1',
        'pfi_mllp_acks_total{code="AR",reason="queue-error"} 1',
        '# HELP pfi_mllp_junk_bytes_total Bytes received outside MLLP frames.',
        '# TYPE pfi_mllp_junk_bytes_total counter',
        'pfi_mllp_junk_bytes_total 7',
        '# HELP pfi_mllp_oversize_total Frames over the size limit.',
        '# TYPE pfi_mllp_oversize_total counter',
        'pfi_mllp_oversize_total 1',
        '# HELP pfi_mllp_connections_refused_total Connections refused over the limit.',
        '# TYPE pfi_mllp_connections_refused_total counter',
        'pfi_mllp_connections_refused_total 1',
        '# HELP pfi_mllp_idle_timeouts_total Connections closed for idleness.',
        '# TYPE pfi_mllp_idle_timeouts_total counter',
        'pfi_mllp_idle_timeouts_total 1',
        '# HELP pfi_mllp_tls_errors_total Failed TLS handshakes.',
        '# TYPE pfi_mllp_tls_errors_total counter',
        'pfi_mllp_tls_errors_total 1',
        '# HELP pfi_mllp_socket_errors_total Socket errors.',
        '# TYPE pfi_mllp_socket_errors_total counter',
        'pfi_mllp_socket_errors_total 1',
        '# HELP pfi_mllp_connections_open Open MLLP connections.',
        '# TYPE pfi_mllp_connections_open gauge',
        'pfi_mllp_connections_open 1',
        '# HELP pfi_mllp_enqueue_latency_milliseconds Time spent enqueueing a message, in milliseconds.',
        '# TYPE pfi_mllp_enqueue_latency_milliseconds histogram',
        'pfi_mllp_enqueue_latency_milliseconds_bucket{le="5"} 1',
        'pfi_mllp_enqueue_latency_milliseconds_bucket{le="10"} 1',
        'pfi_mllp_enqueue_latency_milliseconds_bucket{le="25"} 1',
        'pfi_mllp_enqueue_latency_milliseconds_bucket{le="50"} 1',
        'pfi_mllp_enqueue_latency_milliseconds_bucket{le="100"} 1',
        'pfi_mllp_enqueue_latency_milliseconds_bucket{le="250"} 2',
        'pfi_mllp_enqueue_latency_milliseconds_bucket{le="500"} 2',
        'pfi_mllp_enqueue_latency_milliseconds_bucket{le="1000"} 2',
        'pfi_mllp_enqueue_latency_milliseconds_bucket{le="2500"} 2',
        'pfi_mllp_enqueue_latency_milliseconds_bucket{le="5000"} 2',
        'pfi_mllp_enqueue_latency_milliseconds_bucket{le="+Inf"} 3',
        'pfi_mllp_enqueue_latency_milliseconds_sum 6124.5',
        'pfi_mllp_enqueue_latency_milliseconds_count 3',
        '',
      ].join('\n'),
    );
  });

  it('puts a latency on a bucket bound into that bucket', () => {
    const text = feed([{ type: 'ack', code: 'AA', reason: 'enqueued', enqueueMs: 5 }]).prometheusText();
    expect(text).toContain('pfi_mllp_enqueue_latency_milliseconds_bucket{le="5"} 1\n');
  });

  it('stays cumulative across EMF lines and never contains the control id hash', () => {
    const m = feed(EVENTS);
    m.emfLine(new Date());
    const text = m.prometheusText();
    expect(text).toContain('pfi_mllp_received_total 4\n');
    expect(text).not.toContain('0123456789abcdef');
    expect(text).not.toContain('ECONNRESET');
  });

  it('renders empty metrics with zero values and no ack samples', () => {
    const text = createBridgeMetrics().prometheusText();
    expect(text).toContain('# TYPE pfi_mllp_acks_total counter\n# HELP pfi_mllp_junk_bytes_total');
    expect(text).toContain('pfi_mllp_enqueue_latency_milliseconds_count 0\n');
  });
});

describe('emfLine', () => {
  const now = new Date('2026-11-25T10:00:00.000Z');

  it('renders one EMF document with the counters of the period', () => {
    const line = feed(EVENTS).emfLine(now);
    expect(line).not.toContain('\n');
    expect(line).not.toContain('0123456789abcdef');
    expect(JSON.parse(line)).toEqual({
      _aws: {
        Timestamp: now.getTime(),
        CloudWatchMetrics: [
          {
            Namespace: 'PFI',
            Dimensions: [['Service']],
            Metrics: [
              { Name: 'Received', Unit: 'Count' },
              { Name: 'ReceivedBytes', Unit: 'Bytes' },
              { Name: 'AckAA', Unit: 'Count' },
              { Name: 'AckAE', Unit: 'Count' },
              { Name: 'AckAR', Unit: 'Count' },
              { Name: 'JunkBytes', Unit: 'Bytes' },
              { Name: 'Oversize', Unit: 'Count' },
              { Name: 'ConnectionsRefused', Unit: 'Count' },
              { Name: 'IdleTimeouts', Unit: 'Count' },
              { Name: 'TlsErrors', Unit: 'Count' },
              { Name: 'SocketErrors', Unit: 'Count' },
              { Name: 'ConnectionsOpen', Unit: 'Count' },
              { Name: 'AckAA_enqueued', Unit: 'Count' },
              { Name: 'AckAE_no-msh', Unit: 'Count' },
              { Name: 'AckAR_oversize', Unit: 'Count' },
              { Name: 'AckAR_queue-error', Unit: 'Count' },
            ],
          },
        ],
      },
      Service: 'mllp-bridge',
      Received: 4,
      ReceivedBytes: 650,
      AckAA: 2,
      AckAE: 1,
      AckAR: 2,
      JunkBytes: 7,
      Oversize: 1,
      ConnectionsRefused: 1,
      IdleTimeouts: 1,
      TlsErrors: 1,
      SocketErrors: 1,
      ConnectionsOpen: 1,
      AckAA_enqueued: 2,
      'AckAE_no-msh': 1,
      AckAR_oversize: 1,
      'AckAR_queue-error': 1,
    });
  });

  it('resets the counters after each line but keeps the connections gauge', () => {
    const m = feed(EVENTS);
    m.emfLine(now);
    m.recordEvent({ type: 'received', bytes: 10 });
    const doc = JSON.parse(m.emfLine(new Date(now.getTime() + 60_000))) as Record<string, unknown>;
    expect(doc).toMatchObject({
      Received: 1,
      ReceivedBytes: 10,
      AckAA: 0,
      AckAR: 0,
      JunkBytes: 0,
      Oversize: 0,
      ConnectionsOpen: 1,
      _aws: { Timestamp: now.getTime() + 60_000 },
    });
    expect(Object.keys(doc).filter((k) => k.includes('_'))).toEqual(['_aws']);
  });
});
