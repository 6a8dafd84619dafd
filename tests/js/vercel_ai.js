// The Vercel AI SDK with its OpenTelemetry telemetry on, against a fake provider: node vercel_ai.js OTLP_URL FAKE_URL
// Prints one JSON line per model call: {"call": name, "raw": the provider's usage as the SDK received it}.
const api = require('@opentelemetry/api');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { embedMany, generateText, streamText } = require('ai');
const { createOpenAI } = require('@ai-sdk/openai');
const { createAnthropic } = require('@ai-sdk/anthropic');

const [otlp, fake] = process.argv.slice(2);
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'vercel-app' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: otlp }))],
});
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
api.trace.setGlobalTracerProvider(provider);
const openai = createOpenAI({ baseURL: `${fake}/v1`, apiKey: 'fake' });
const anthropic = createAnthropic({ baseURL: `${fake}/v1`, apiKey: 'fake' });
const telemetry = { isEnabled: true, functionId: 'support-bot', metadata: { feature: 'support', customer_id: 'acme' } };
const oneHour = { anthropic: { cacheControl: { type: 'ephemeral', ttl: '1h' } } };

async function main() {
  const calls = {
    'openai chat': () => generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'one two three four', experimental_telemetry: telemetry }),
    'openai responses': () => generateText({ model: openai('gpt-4o-mini'), prompt: 'one two three', experimental_telemetry: telemetry }),
    'openai chat stream': async () => {
      const s = streamText({ model: openai.chat('gpt-4o-mini'), prompt: 'one two', experimental_telemetry: telemetry });
      for await (const _ of s.textStream);
      return { usage: await s.usage };
    },
    'openai reasoning': () => generateText({
      model: openai('o3-mini'), prompt: 'think it over', providerOptions: { openai: { reasoningEffort: 'low' } },
      experimental_telemetry: telemetry,
    }),
    'openai embeddings': async () => {
      const r = await embedMany({ model: openai.embedding('text-embedding-3-small'), values: ['a b', 'c d e'], experimental_telemetry: telemetry });
      return { usage: { raw: r.usage, tokens: r.usage.tokens } };
    },
    'anthropic thinking': () => generateText({
      model: anthropic('claude-sonnet-4-5'), prompt: 'think it over',
      providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 1024 } } },
      experimental_telemetry: telemetry,
    }),
    'anthropic': () => generateText({ model: anthropic('claude-sonnet-4-5'), prompt: 'alpha beta', experimental_telemetry: telemetry }),
    'anthropic web search': () => generateText({
      model: anthropic('claude-sonnet-4-5'), prompt: 'what is new today',
      tools: { web_search: anthropic.tools.webSearch_20250305({ maxUses: 2 }) },
      experimental_telemetry: telemetry,
    }),
    'anthropic 1h cache': () => generateText({
      model: anthropic('claude-sonnet-4-5'),
      messages: [{ role: 'user', content: [
        { type: 'text', text: 'a long context to cache', providerOptions: oneHour },
        { type: 'text', text: 'alpha beta' },
      ] }],
      experimental_telemetry: telemetry,
    }),
  };
  for (const [call, run] of Object.entries(calls)) {
    const result = await run();
    console.log(JSON.stringify({ call, raw: result.usage.raw }));
  }
  await provider.forceFlush();
  await provider.shutdown();
}
main().catch((e) => { console.error(e); process.exit(1); });
