/**
 * In-process metrics for the MLLP bridge, fed by the server's `onEvent`. Exposed two ways: Prometheus text for
 * `GET /metrics` (cumulative since start) and a CloudWatch Embedded Metric Format line for stdout (counts since the
 * previous line). Only counts, sizes and durations are kept: events carry no message content, and none is stored.
 */

import type { AckCode } from './hl7.js';
import type { BridgeEvent } from './server.js';

/** Upper bounds (ms) of the enqueue-latency histogram buckets. */
export const ENQUEUE_LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

const ACK_CODES: readonly AckCode[] = ['AA', 'AE', 'AR'];

export interface BridgeMetrics {
  /** Feed one server event (pass as `onEvent`). */
  recordEvent(e: BridgeEvent): void;
  /** Prometheus exposition format 0.0.4, metric names `pfi_mllp_*`, cumulative since creation. */
  prometheusText(): string;
  /**
   * One CloudWatch EMF JSON line (no trailing newline), namespace `PFI`, dimension `Service=mllp-bridge`, with the
   * counters since the previous call (which are then reset) and the open-connections gauge.
   */
  emfLine(now: Date): string;
}

interface Counters {
  received: number;
  receivedBytes: number;
  acks: Record<AckCode, number>;
  /** Key `${code} ${reason}`. */
  ackReasons: Map<string, number>;
  junkBytes: number;
  oversize: number;
  refused: number;
  idleTimeouts: number;
  tlsErrors: number;
  socketErrors: number;
}

const newCounters = (): Counters => ({
  received: 0,
  receivedBytes: 0,
  acks: { AA: 0, AE: 0, AR: 0 },
  ackReasons: new Map(),
  junkBytes: 0,
  oversize: 0,
  refused: 0,
  idleTimeouts: 0,
  tlsErrors: 0,
  socketErrors: 0,
});

function add(c: Counters, e: BridgeEvent): void {
  switch (e.type) {
    case 'received':
      c.received += 1;
      c.receivedBytes += e.bytes;
      return;
    case 'ack': {
      c.acks[e.code] += 1;
      const key = `${e.code} ${e.reason}`;
      c.ackReasons.set(key, (c.ackReasons.get(key) ?? 0) + 1);
      return;
    }
    case 'junk':
      c.junkBytes += e.bytes;
      return;
    case 'oversize':
      c.oversize += 1;
      return;
    case 'connection':
      if (e.state === 'refused') c.refused += 1;
      return;
    case 'idle-timeout':
      c.idleTimeouts += 1;
      return;
    case 'tls-error':
      c.tlsErrors += 1;
      return;
    case 'socket-error':
      c.socketErrors += 1;
      return;
  }
}

/** Label values come from closed unions, but escape anyway so the output stays valid whatever they become. */
const label = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

const metric = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: string[]): string =>
  [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples].join('\n');

/**
 * Creates an empty metrics registry.
 *
 * @example
 * ```ts
 * const metrics = createBridgeMetrics();
 * const bridge = createMllpServer({ enqueue, registry, onEvent: metrics.recordEvent });
 * setInterval(() => process.stdout.write(`${metrics.emfLine(new Date())}\n`), 60_000);
 * ```
 */
export function createBridgeMetrics(): BridgeMetrics {
  const total = newCounters();
  let delta = newCounters();
  let connectionsOpen = 0;
  const bucketCounts = ENQUEUE_LATENCY_BUCKETS_MS.map(() => 0);
  let latencyCount = 0;
  let latencySum = 0;

  return {
    recordEvent(e) {
      add(total, e);
      add(delta, e);
      if (e.type === 'connection') connectionsOpen = e.connections;
      if (e.type === 'ack' && e.enqueueMs !== undefined) {
        latencyCount += 1;
        latencySum += e.enqueueMs;
        ENQUEUE_LATENCY_BUCKETS_MS.forEach((bound, i) => {
          if (e.enqueueMs !== undefined && e.enqueueMs <= bound) bucketCounts[i] = (bucketCounts[i] ?? 0) + 1;
        });
      }
    },

    prometheusText() {
      const acks = [...total.ackReasons.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, n]) => {
          const [code = '', reason = ''] = key.split(' ');
          return `pfi_mllp_acks_total{code="${label(code)}",reason="${label(reason)}"} ${n}`;
        });
      const h = 'pfi_mllp_enqueue_latency_milliseconds';
      const blocks = [
        metric('pfi_mllp_received_total', 'counter', 'Frames received.', [`pfi_mllp_received_total ${total.received}`]),
        metric('pfi_mllp_received_bytes_total', 'counter', 'Payload bytes of the frames received.', [
          `pfi_mllp_received_bytes_total ${total.receivedBytes}`,
        ]),
        metric('pfi_mllp_acks_total', 'counter', 'ACKs written, by code and reason.', acks),
        metric('pfi_mllp_junk_bytes_total', 'counter', 'Bytes received outside MLLP frames.', [
          `pfi_mllp_junk_bytes_total ${total.junkBytes}`,
        ]),
        metric('pfi_mllp_oversize_total', 'counter', 'Frames over the size limit.', [
          `pfi_mllp_oversize_total ${total.oversize}`,
        ]),
        metric('pfi_mllp_connections_refused_total', 'counter', 'Connections refused over the limit.', [
          `pfi_mllp_connections_refused_total ${total.refused}`,
        ]),
        metric('pfi_mllp_idle_timeouts_total', 'counter', 'Connections closed for idleness.', [
          `pfi_mllp_idle_timeouts_total ${total.idleTimeouts}`,
        ]),
        metric('pfi_mllp_tls_errors_total', 'counter', 'Failed TLS handshakes.', [
          `pfi_mllp_tls_errors_total ${total.tlsErrors}`,
        ]),
        metric('pfi_mllp_socket_errors_total', 'counter', 'Socket errors.', [
          `pfi_mllp_socket_errors_total ${total.socketErrors}`,
        ]),
        metric('pfi_mllp_connections_open', 'gauge', 'Open MLLP connections.', [
          `pfi_mllp_connections_open ${connectionsOpen}`,
        ]),
        metric(h, 'histogram', 'Time spent enqueueing a message, in milliseconds.', [
          ...ENQUEUE_LATENCY_BUCKETS_MS.map((bound, i) => `${h}_bucket{le="${bound}"} ${bucketCounts[i] ?? 0}`),
          `${h}_bucket{le="+Inf"} ${latencyCount}`,
          `${h}_sum ${latencySum}`,
          `${h}_count ${latencyCount}`,
        ]),
      ];
      return `${blocks.join('\n')}\n`;
    },

    emfLine(now) {
      const c = delta;
      delta = newCounters();
      const values: Record<string, number> = {
        Received: c.received,
        ReceivedBytes: c.receivedBytes,
        ...Object.fromEntries(ACK_CODES.map((code) => [`Ack${code}`, c.acks[code]])),
        JunkBytes: c.junkBytes,
        Oversize: c.oversize,
        ConnectionsRefused: c.refused,
        IdleTimeouts: c.idleTimeouts,
        TlsErrors: c.tlsErrors,
        SocketErrors: c.socketErrors,
        ConnectionsOpen: connectionsOpen,
      };
      // One metric per reason seen in the period (e.g. AckAR_queue-error), so alarms need no extra dimension.
      for (const [key, n] of [...c.ackReasons.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        values[`Ack${key.replace(' ', '_')}`] = n;
      }
      const unit = (name: string): string => (name === 'ReceivedBytes' || name === 'JunkBytes' ? 'Bytes' : 'Count');
      return JSON.stringify({
        _aws: {
          Timestamp: now.getTime(),
          CloudWatchMetrics: [
            {
              Namespace: 'PFI',
              Dimensions: [['Service']],
              Metrics: Object.keys(values).map((name) => ({ Name: name, Unit: unit(name) })),
            },
          ],
        },
        Service: 'mllp-bridge',
        ...values,
      });
    },
  };
}
