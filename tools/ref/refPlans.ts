/** The plans compared between the TS engines and tools/ref/quant_ref.py (PyTorch), by file name. */
import * as P from '../../src/plan/presets';
import type { Plan } from '../../src/plan/plan';

export const REF_PLANS: Record<string, () => Plan> = {
  fp32: () => P.fp32(),
  int8_note004: () => P.allNote004(8),
  int4_note004: () => P.allNote004(4),
  int2_note004: () => P.allNote004(2),
  w8a8_token: () => P.w8a8PerToken(),
  int4_token: () => P.perTokenAsym(4),
  w4a8_g32: () => P.w4a8Group(32),
  w4a8_channel: () => P.w4a8PerChannel(),
  single_int4_site5: () => P.sitesPlan('site 5 INT4 note004', [5], P.note004Site(4)),
  single_int4_site2: () => P.sitesPlan('site 2 INT4 note004', [2], P.note004Site(4)),
  static_minmax: () => P.staticInt8('minmax'),
  static_percentile: () => P.staticInt8('percentile'),
  static_mse_a4: () => P.staticInt8('mse', 4),
  static_kl: () => P.staticInt8('kl'),
  smoothquant_05_w4a4: () => P.smoothQuant(0.5, 4),
  w4a4_tensor: () => P.smoothQuant(null, 4),
  llmint8_6: () => P.llmInt8(6),
  // the parity fixture's weight-only plans: restricted symmetric grid (ternary at 2 bits), GPTQ on FP32 Hessians
  wonly_w4_g32_gptq: () => P.weightOnly(4, 'group', 'fp32-hessians', 32, 'sym'),
  wonly_w4_g32_rtn: () => P.weightOnly(4, 'group', false, 32, 'sym'),
  wonly_w2_ch_gptq: () => P.weightOnly(2, 'channel', 'fp32-hessians', 32, 'sym'),
  wonly_w2_ch_rtn: () => P.weightOnly(2, 'channel', false, 32, 'sym'),
};
