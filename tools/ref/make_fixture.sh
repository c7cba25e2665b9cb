#!/usr/bin/env bash
# Regenerates tools/ref/fixtures/torch-slice.json: PyTorch (tools/ref/quant_ref.py) predictions of the
# stable reference plans on the first 200 test images, for the committed weights. The TS engine is
# compared against it by src/engine/torchParity.test.ts. Run after every re-export of the model.
set -euo pipefail
cd "$(dirname "$0")/../.."
plans=$(mktemp -d)
npx vite-node tools/ref/make_plans.ts -- "$plans" >/dev/null
mkdir -p tools/ref/fixtures
args=()
for p in fp32 int8_note004 w8a8_token int4_token w4a8_g32 w4a8_channel single_int4_site5 static_minmax static_percentile wonly_w4_g32_gptq wonly_w2_ch_rtn; do
  args+=(--plan "$plans/$p.json")
done
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
  /usr/bin/python3 tools/ref/quant_ref.py "${args[@]}" --set test --limit 200 --predictions --out tools/ref/fixtures/torch-slice.json
