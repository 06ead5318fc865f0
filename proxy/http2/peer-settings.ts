// The peer's SETTINGS (RFC 9113 6.5.2) as either role applies them: validation, the values we must follow, the window change.
import { DEFAULT_WINDOW, H2Error, MAX_WINDOW, Setting } from './h2-codes.ts';
import type { HpackEncoder } from './hpack-encoder.ts';

export class PeerSettings {
  /** SETTINGS_INITIAL_WINDOW_SIZE: every stream's send window starts here. */
  initialWindow = DEFAULT_WINDOW;
  /** SETTINGS_MAX_FRAME_SIZE: the largest frame payload we may send. */
  maxFrame = 16_384;
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams we may have open at once (what a client must respect). */
  maxConcurrentStreams: number;
  /** Change of the initial window made by the last `apply` (every open stream's send window moves by it). */
  windowDelta = 0;
  readonly #encoder: HpackEncoder;

  /** `assumedConcurrency`: streams we allow ourselves before the peer's first SETTINGS say otherwise. */
  constructor(encoder: HpackEncoder, assumedConcurrency: number) {
    this.#encoder = encoder;
    this.maxConcurrentStreams = assumedConcurrency;
  }

  /** Applies one SETTINGS payload (not an ACK, length already a multiple of 6). Returns 0, or the connection error code. */
  apply(payload: Buffer, role: 'client' | 'server'): number {
    this.windowDelta = 0;
    for (let p = 0; p < payload.length; p += 6) {
      const key = payload.readUInt16BE(p);
      const value = payload.readUInt32BE(p + 2);
      switch (key) {
        case Setting.HEADER_TABLE_SIZE:
          this.#encoder.setMaxTableSize(value);
          break;
        case Setting.ENABLE_PUSH:
          // A server may not send it at all (RFC 9113 6.5.2); a client only 0 or 1.
          if (value > 1 || (role === 'client' && value !== 0)) return H2Error.PROTOCOL_ERROR;
          break;
        case Setting.MAX_CONCURRENT_STREAMS:
          this.maxConcurrentStreams = value;
          break;
        case Setting.INITIAL_WINDOW_SIZE:
          if (value > MAX_WINDOW) return H2Error.FLOW_CONTROL_ERROR;
          this.windowDelta += value - this.initialWindow;
          this.initialWindow = value;
          break;
        case Setting.MAX_FRAME_SIZE:
          if (value < 16_384 || value > 16_777_215) return H2Error.PROTOCOL_ERROR;
          this.maxFrame = value;
          break;
        default:
          // MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored.
          break;
      }
    }
    return 0;
  }
}
