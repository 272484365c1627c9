// Runs panels' transformations and field config through Grafana's own data layer (@grafana/data), the
// code a Grafana server's frontend runs between a datasource's response and a panel.
//
// stdin:  {"panels": [{"key": str, "transformations": [...], "fieldConfig": {...}, "timeZone": str,
//                      "frames": [{"refId": "A", "fields": [{"name": str, "type": str, "values": [...]}]}]}]}
// stdout: {"panels": [{"key": str, "error": str | null,
//                      "frames": [{"fields": [{"name", "type", "displayName", "color", "custom", "unit",
//                                              "values", "texts"}]}]}]}
// `custom` is the field's panel-plugin config after the overrides (line style, fill opacity, ...); `texts` are
// the values as Grafana displays them (unit, decimals, time zone), for number fields.
//
// Grafana's standard field options live in its app, not in @grafana/data, so the registry below
// declares them with @grafana/data's own processors; `custom.*` options belong to the panel plugin and
// are accepted as given. An override naming another option is reported as an error.
'use strict';

const data = require('@grafana/data');
// transformDataFrame looks for a Scenes context on `window` (set after loading: with `window` defined,
// some of @grafana/data's dependencies expect a DOM). The panels' options hold no variables.
// Value formats read the browser's locale (Node 20 has no `navigator`).
globalThis.window = globalThis.window || {};
globalThis.navigator = globalThis.navigator || { language: 'en-US', languages: ['en-US'] };
const { lastValueFrom } = require('rxjs');

const STANDARD_OPTIONS = {
  displayName: data.displayNameOverrideProcessor,
  unit: data.unitOverrideProcessor,
  min: data.numberOverrideProcessor,
  max: data.numberOverrideProcessor,
  decimals: data.numberOverrideProcessor,
  noValue: data.stringOverrideProcessor,
  color: data.identityOverrideProcessor,
  thresholds: data.thresholdsOverrideProcessor,
  mappings: data.valueMappingsOverrideProcessor,
};

function initTransformers() {
  // `standardTransformers` lists some transformers under two names (an alias and the current id)
  const byId = new Map(Object.values(data.standardTransformers).map((t) => [t.id, t]));
  data.standardTransformersRegistry.setInit(() =>
    Array.from(byId.values()).map((t) => ({
      id: t.id,
      aliasIds: t.aliasIds,
      name: t.name,
      description: t.description,
      transformation: () => t, // loaded lazily by transformDataFrame
      editor: () => null,
    }))
  );
}

function option(id, process, isCustom) {
  return {
    id: isCustom ? `custom.${id}` : id,
    path: id,
    name: id,
    isCustom,
    process: (value, context, settings) => process(value, context, settings),
    shouldApply: () => true,
    override: () => null,
    editor: () => null,
    settings: {},
  };
}

function registryFor(fieldConfig) {
  const items = Object.entries(STANDARD_OPTIONS).map(([id, process]) => option(id, process, false));
  const custom = new Set(Object.keys((fieldConfig.defaults || {}).custom || {}));
  for (const rule of fieldConfig.overrides || []) {
    for (const prop of rule.properties || []) {
      if (prop.id.startsWith('custom.')) {
        custom.add(prop.id.slice('custom.'.length));
      } else if (!(prop.id in STANDARD_OPTIONS)) {
        throw new Error(`override property "${prop.id}" is not a Grafana field option`);
      }
    }
  }
  for (const id of custom) {
    items.push(option(id, data.identityOverrideProcessor, true));
  }
  return new data.FieldConfigOptionsRegistry(() => items);
}

function toFrame(frame) {
  return data.createDataFrame({
    refId: frame.refId,
    fields: frame.fields.map((f) => ({ name: f.name, type: f.type, values: f.values, config: {} })),
  });
}

async function applyPanel(panel, theme) {
  for (const t of panel.transformations || []) {
    if (!data.standardTransformersRegistry.getIfExists(t.id)) {
      throw new Error(`transformation "${t.id}" is not in @grafana/data ${require('@grafana/data/package.json').version}`);
    }
  }
  const frames = panel.frames.map(toFrame);
  const transformed = await lastValueFrom(data.transformDataFrame(panel.transformations || [], frames, { interpolate: (s) => s }));
  const fieldConfig = panel.fieldConfig || { defaults: {}, overrides: [] };
  for (const rule of fieldConfig.overrides || []) {
    if (!data.fieldMatchers.getIfExists(rule.matcher.id)) {
      throw new Error(`field matcher "${rule.matcher.id}" is unknown to Grafana`);
    }
  }
  const applied = data.applyFieldOverrides({
    data: transformed,
    fieldConfig,
    fieldConfigRegistry: registryFor(fieldConfig),
    replaceVariables: (s) => s,
    theme,
    timeZone: panel.timeZone || 'utc', // the dashboard's time zone (its `timezone`)
  });
  return applied.map((frame) => ({
    fields: frame.fields.map((field) => ({
      name: field.name,
      type: field.type,
      displayName: data.getFieldDisplayName(field, frame, applied),
      color: field.type === data.FieldType.number ? data.getFieldSeriesColor(field, theme).color : null,
      custom: field.config.custom || {},
      unit: field.config.unit || null,
      values: Array.from(field.values),
      texts: field.type === data.FieldType.number && field.display
        ? Array.from(field.values, (v) => (v == null ? null : data.formattedValueToString(field.display(v))))
        : null,
    })),
  }));
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  initTransformers();
  const theme = data.createTheme();
  const panels = [];
  for (const panel of request.panels) {
    try {
      panels.push({ key: panel.key, error: null, frames: await applyPanel(panel, theme) });
    } catch (err) {
      if (process.env.GPI_GRAFANA_JS_DEBUG) process.stderr.write(`${err.stack}\n`);
      panels.push({ key: panel.key, error: String((err && err.message) || err), frames: [] });
    }
  }
  process.stdout.write(JSON.stringify({ panels }));
}

main().catch((err) => {
  process.stderr.write(`${(err && err.stack) || err}\n`);
  process.exit(1);
});
