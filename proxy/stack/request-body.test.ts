// Unit tests of the replayable request body and of stack composition order.
import { describe, expect, it } from 'vitest';
import type { BodySink } from '../http1/server-connection.ts';
import { RequestBody, type BodySource } from './request-body.ts';
import { stack, type Layer, type Service } from './service.ts';

class FakeSource implements BodySource {
  complete = false;
  sink: BodySink | null = null;
  resumed = 0;
  attachBody(sink: BodySink): Buffer | null {
    this.sink = sink;
    return Buffer.from('ab');
  }
  resume(): void {
    this.resumed++;
  }
  push(s: string): void {
    this.sink!.data(Buffer.from(s));
  }
  finish(): void {
    this.complete = true;
    this.sink!.end();
  }
}

function collector(): BodySink & { got: string; ended: boolean } {
  return { got: '', ended: false, data(c) { this.got += c.toString(); return true; }, end() { this.ended = true; }, error() {} };
}

describe('RequestBody', () => {
  it('replays the kept bytes to a second attempt, then continues live', () => {
    const src = new FakeSource();
    const body = new RequestBody(src, -1);
    body.retain(10);
    const a = collector();
    expect(body.open(a)!.toString()).toBe('ab');
    src.push('cd');
    body.detach();
    expect(body.replayable).toBe(true);
    const b = collector();
    expect(body.open(b)!.toString()).toBe('abcd');
    src.push('e');
    src.finish();
    expect(b.got).toBe('e');
    expect(b.ended).toBe(true);
    expect(a.got).toBe('cd');
  });

  it('is not replayable once the body outgrew the buffer, nor when the declared length is over it', () => {
    const src = new FakeSource();
    const body = new RequestBody(src, -1);
    body.retain(3);
    body.open(collector());
    src.push('cd');
    expect(body.replayable).toBe(false);
    expect(() => body.open(collector())).toThrow();
    const big = new RequestBody(new FakeSource(), 1_048_576);
    big.retain(65_536);
    big.open(collector());
    expect(big.replayable).toBe(false);
  });

  it('keeps nothing unless asked (one attempt, no buffering)', () => {
    const body = new RequestBody(new FakeSource(), 2);
    body.open(collector());
    expect(body.replayable).toBe(false);
  });
});

describe('stack', () => {
  it('applies layers with the first one outermost', async () => {
    const order: string[] = [];
    const tag = (name: string): Layer => (inner: Service): Service => (req) => {
      order.push(name);
      return inner(req);
    };
    const inner: Service = () => {
      order.push('inner');
      return Promise.reject(new Error('x'));
    };
    await expect(stack([tag('a'), tag('b')], inner)(null as never)).rejects.toThrow('x');
    expect(order).toEqual(['a', 'b', 'inner']);
  });
});
