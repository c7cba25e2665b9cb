import { describe, expect, it } from 'vitest';
import { AbortError, isAbortError, Latest, SerialQueue } from './latest';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('AbortError / isAbortError', () => {
  it('recognises cancellations by type, not by message text', () => {
    expect(isAbortError(new AbortError())).toBe(true);
    expect(isAbortError(new DOMException('x', 'AbortError'))).toBe(true);
    // a real error that mentions "abort" is not a cancellation (the old /abort/i test said it was)
    expect(isAbortError(new Error('could not abort the GPU map: device lost'))).toBe(false);
    expect(isAbortError('AbortError')).toBe(false);
  });
});

describe('Latest', () => {
  it('a new run aborts the one before; only the newest is current', () => {
    const l = new Latest();
    const a = l.begin();
    const b = l.begin();
    expect(a.aborted).toBe(true);
    expect(b.aborted).toBe(false);
    expect(l.isCurrent(a)).toBe(false);
    expect(l.isCurrent(b)).toBe(true);
    l.cancel();
    expect(b.aborted).toBe(true);
    expect(l.isCurrent(b)).toBe(true); // cancelled, not superseded: its own handler reports it
    expect(l.isCurrent(l.begin())).toBe(true);
    expect(l.isCurrent(b)).toBe(false);
  });
  it('drop(): aborted and superseded (silent)', () => {
    const l = new Latest();
    const a = l.begin();
    l.drop();
    expect(a.aborted).toBe(true);
    expect(l.isCurrent(a)).toBe(false);
  });
  it('follows a parent signal', () => {
    const l = new Latest();
    const parent = new AbortController();
    const s = l.begin(parent.signal);
    parent.abort();
    expect(s.aborted).toBe(true);
  });
});

describe('SerialQueue', () => {
  it('runs tasks one at a time in order of arrival', async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    let running = 0;
    const task = (name: string) => async () => {
      running++;
      expect(running).toBe(1); // never two at once
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      running--;
      return name;
    };
    const got = await Promise.all([q.run(task('a')), q.run(task('b')), q.run(task('c'))]);
    expect(got).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('a task cancelled while it waits rejects at once and never runs; the queue goes on', async () => {
    const q = new SerialQueue();
    let release!: () => void;
    const first = q.run(() => new Promise<string>((r) => (release = () => r('first'))));
    const ac = new AbortController();
    let ran = false;
    const second = q.run(async () => {
      ran = true;
      return 'second';
    }, ac.signal);
    const third = q.run(async () => 'third');
    ac.abort();
    await expect(second).rejects.toBeInstanceOf(AbortError);
    release();
    expect(await first).toBe('first');
    expect(await third).toBe('third');
    expect(ran).toBe(false);
  });

  it('a failing task rejects its caller only', async () => {
    const q = new SerialQueue();
    const bad = q.run(async () => {
      throw new Error('boom');
    });
    const good = q.run(async () => 1);
    await expect(bad).rejects.toThrow('boom');
    expect(await good).toBe(1);
  });
});
