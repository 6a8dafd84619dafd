// Sends model-call spans to costline with OpenTelemetry JS: node send.js URL json|proto LIMIT FEATURE...
// Each FEATURE is one span's costline.feature, cut to LIMIT UTF-16 units by the SDK's span limits.
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const [url, format, limit, ...features] = process.argv.slice(2);
const { OTLPTraceExporter } = require(`@opentelemetry/exporter-trace-otlp-${format === 'json' ? 'http' : 'proto'}`);
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'js-app' }),
  spanLimits: { attributeValueLengthLimit: Number(limit) },
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
});
const tracer = provider.getTracer('costline-test');
for (const feature of features) {
  const span = tracer.startSpan('chat gpt-4o', {
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 100,
      'costline.feature': feature,
      'app.big_number': 2 ** 70, // integral, so the JSON exporter writes it as an intValue beyond int64
    },
  });
  span.end();
}
provider.forceFlush().then(() => provider.shutdown()).then(
  () => console.log('sent'),
  (e) => { console.error(String(e)); process.exit(1); },
);
