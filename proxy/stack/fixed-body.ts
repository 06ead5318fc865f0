// A response body that is already complete in memory (direct responses, relayed error bodies).
import type { ResponseBody, ResponseSink } from './proxy-response.ts';

export class FixedBody implements ResponseBody {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  start(sink: ResponseSink): void {
    if (this.#bytes.length > 0) sink.data(this.#bytes);
    sink.end(null);
  }

  resume(): void {}

  cancel(): void {}
}
