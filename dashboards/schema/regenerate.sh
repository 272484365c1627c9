#!/usr/bin/env bash
# Regenerates dashboard.schema.json from the pinned @grafana/schema TypeScript types.
# Needs node + npm; run from anywhere. Tests only read the committed JSON file (no npm at test time).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npx ts-json-schema-generator \
  --path node_modules/@grafana/schema/dist/types/raw/dashboard/x/types.gen.d.ts \
  --type Dashboard --no-type-check --additional-properties \
  --out dashboard.schema.json
echo "wrote $(pwd)/dashboard.schema.json"
