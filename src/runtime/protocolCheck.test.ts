import { describe, expect, test } from 'vitest';
import { checkWorkerRequest, MessageError, messageId } from './protocolCheck';
import { fp32Plan } from '../plan/plan';

// Issue 11 item 13: the worker shape-checks what it is sent and names the bad field.

describe('worker message check', () => {
  test.each([
    { id: 1, type: 'init', backend: 'auto', base: '/' },
    { id: 2, type: 'setBackend', backend: 'cpu' },
    { id: 3, type: 'score', req: { plan: fp32Plan(), set: 'test', offset: 0, limit: 8, keepPredictions: true } },
    { id: 4, type: 'siteStats', plan: fp32Plan(), site: 3, set: 'val', image: 0 },
    { id: 5, type: 'images', set: 'test', indices: [0, 5] },
    { id: 6, type: 'cancel', target: 3 },
  ])('accepts $type', (m) => {
    expect(checkWorkerRequest(m)).toBe(m);
  });

  test.each([
    [null, /must be an object, got null/],
    [[1], /must be an object, got an array/],
    [{ type: 'score' }, /id is missing; expected an integer/],
    [{ id: 1.5, type: 'cancel', target: 1 }, /id is 1.5/],
    [{ id: 1, type: 'explode' }, /type "explode" is not one of init, setBackend, score/],
    [{ id: 1, type: 'setBackend', backend: 'tpu' }, /'setBackend': backend is "tpu"; expected one of auto, webgpu, cpu/],
    [{ id: 1, type: 'init', backend: 'auto' }, /'init': base is missing/],
    [{ id: 1, type: 'score' }, /'score': req is missing; expected an object/],
    [{ id: 1, type: 'score', req: { plan: fp32Plan(), set: 'train' } }, /req.set is "train"; expected one of test, val/],
    [{ id: 1, type: 'score', req: { plan: 'fp32', set: 'test' } }, /req.plan is "string"; expected a plan object/],
    [{ id: 1, type: 'score', req: { plan: fp32Plan(), set: 'test', limit: -1 } }, /req.limit is -1/],
    [{ id: 1, type: 'score', req: { plan: fp32Plan(), set: 'test', offset: '0' } }, /req.offset is "0"/],
    [{ id: 1, type: 'siteStats', plan: fp32Plan(), site: 'x', set: 'test', image: 0 }, /site is "x"/],
    [{ id: 1, type: 'siteStats', plan: fp32Plan(), site: 1, set: 'test', image: -2 }, /image is -2/],
    [{ id: 1, type: 'images', set: 'test', indices: [0, NaN] }, /indices is null|indices is NaN/],
    [{ id: 1, type: 'images', set: 'test', indices: 'all' }, /indices is "all"/],
    [{ id: 1, type: 'cancel' }, /target is missing/],
    [
      { id: 1, type: 'setWeights', params: { 'head.bias': [1, 2] }, step: 3 },
      /params.head.bias is "\[object Array\]"; expected a Float32Array/,
    ],
    [{ id: 1, type: 'setWeights', params: 'model.safetensors', step: 3 }, /params is "string"/],
    [{ id: 1, type: 'setWeights', params: {}, step: -1 }, /step is -1/],
  ])('refuses %j', (m, message) => {
    expect(() => checkWorkerRequest(m)).toThrow(MessageError);
    expect(() => checkWorkerRequest(m)).toThrow(message);
  });

  test('the error reply goes to the message id when there is one', () => {
    expect(messageId({ id: 7, type: 'explode' })).toBe(7);
    expect(messageId({ id: 'x' })).toBeUndefined();
    expect(messageId(null)).toBeUndefined();
  });
});
