/**
 * Shape check of the messages the engine worker receives (src/runtime/protocol.ts): anything
 * posted to the worker is untrusted until checked, and a malformed message gets an error that
 * names the field instead of failing somewhere inside the engine. Plans are checked in full by
 * validatePlan when the engine prepares them.
 */
import type { WorkerRequest } from './protocol';

export class MessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageError';
  }
}

const BACKENDS = ['auto', 'webgpu', 'cpu'];
const SETS = ['test', 'val'];

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isIndex = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** The id of a message if it has a usable one (to address the error reply), else undefined. */
export function messageId(m: unknown): number | undefined {
  return isObj(m) && isIndex(m.id) ? m.id : undefined;
}

/** Returns the message typed as a WorkerRequest, or throws MessageError naming the bad field. */
export function checkWorkerRequest(m: unknown): WorkerRequest {
  if (!isObj(m))
    throw new MessageError(`engine message must be an object, got ${Array.isArray(m) ? 'an array' : m === null ? 'null' : typeof m}`);
  const bad = (field: string, value: unknown, want: string) =>
    new MessageError(
      `engine message '${String(m.type)}': ${field} is ${value === undefined ? 'missing' : JSON.stringify(value)}; expected ${want}`,
    );
  if (!isIndex(m.id)) throw new MessageError(`engine message: id is ${JSON.stringify(m.id) ?? 'missing'}; expected an integer ≥ 0`);
  const needSet = (v: unknown, field: string) => {
    if (!SETS.includes(v as string)) throw bad(field, v, `one of ${SETS.join(', ')}`);
  };
  switch (m.type) {
    case 'init':
      if (!BACKENDS.includes(m.backend as string)) throw bad('backend', m.backend, `one of ${BACKENDS.join(', ')}`);
      if (typeof m.base !== 'string') throw bad('base', m.base, 'a URL path string');
      break;
    case 'setBackend':
      if (!BACKENDS.includes(m.backend as string)) throw bad('backend', m.backend, `one of ${BACKENDS.join(', ')}`);
      break;
    case 'score': {
      const r = m.req;
      if (!isObj(r)) throw bad('req', r, 'an object { plan, set, offset?, limit?, keepPredictions? }');
      if (!isObj(r.plan)) throw bad('req.plan', typeof r.plan, 'a plan object');
      needSet(r.set, 'req.set');
      if (r.offset !== undefined && !isIndex(r.offset)) throw bad('req.offset', r.offset, 'an integer ≥ 0');
      if (r.limit !== undefined && !isIndex(r.limit)) throw bad('req.limit', r.limit, 'an integer ≥ 0');
      if (r.keepPredictions !== undefined && typeof r.keepPredictions !== 'boolean')
        throw bad('req.keepPredictions', r.keepPredictions, 'true or false');
      break;
    }
    case 'siteStats':
      if (!isObj(m.plan)) throw bad('plan', typeof m.plan, 'a plan object');
      if (!isIndex(m.site)) throw bad('site', m.site, 'a site number ≥ 0');
      needSet(m.set, 'set');
      if (!isIndex(m.image)) throw bad('image', m.image, 'an image index ≥ 0');
      break;
    case 'images':
      needSet(m.set, 'set');
      if (!Array.isArray(m.indices) || !m.indices.every(isIndex))
        throw bad('indices', Array.isArray(m.indices) ? m.indices.find((i) => !isIndex(i)) : m.indices, 'an array of image indices ≥ 0');
      break;
    case 'setWeights': {
      if (!isObj(m.params)) throw bad('params', typeof m.params, 'an object of tensor name → Float32Array');
      const badTensor = Object.entries(m.params).find(([, v]) => !(v instanceof Float32Array));
      if (badTensor) throw bad(`params.${badTensor[0]}`, Object.prototype.toString.call(badTensor[1]), 'a Float32Array');
      if (!isIndex(m.step)) throw bad('step', m.step, 'the training step (an integer ≥ 0)');
      break;
    }
    case 'restoreWeights':
      break;
    case 'cancel':
      if (!isIndex(m.target)) throw bad('target', m.target, 'the id of a request');
      break;
    default:
      throw new MessageError(
        `engine message: type ${JSON.stringify(m.type) ?? 'missing'} is not one of init, setBackend, score, siteStats, images, setWeights, restoreWeights, cancel`,
      );
  }
  return m as unknown as WorkerRequest;
}
