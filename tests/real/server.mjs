// A llama.cpp-server look-alike for the real-model lane: an OpenAI-compatible
// /v1/chat/completions on loopback, one request at a time (one slot, as llama.cpp's default),
// answered by node-llama-cpp's prebuilt CPU binaries. A `response_format` with a JSON Schema
// becomes a grammar, as llama.cpp's server does it; `/props` and `/tokenize` answer as
// llama.cpp's do, so capability detection and token counting see a llama.cpp server.
//
//   node server.mjs MODEL.gguf PORT [CONTEXT]
import http from "node:http";
import path from "node:path";
import { getLlama, LlamaChatSession } from "node-llama-cpp";

const [modelPath, portText, contextText] = process.argv.slice(2);
const contextSize = Number(contextText || 2048);
const llama = await getLlama({ gpu: false, build: "never" });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize, sequences: 1, threads: 2 });
const modelName = path.basename(modelPath, ".gguf");
// One sequence for the one slot, kept across requests (a sequence freed on dispose is not
// always free again by the next request).
const sequence = context.getSequence();
let queue = Promise.resolve();

function history(messages) {
  const items = [];
  for (const m of messages) {
    const text = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
    if (m.role === "system") items.push({ type: "system", text });
    else if (m.role === "assistant") items.push({ type: "model", response: [text] });
    else items.push({ type: "user", text });
  }
  return items;
}

async function grammarFor(format) {
  if (format?.type === "json_schema" && format.json_schema?.schema) {
    return llama.createGrammarForJsonSchema(format.json_schema.schema);
  }
  if (format?.type === "json_object") return llama.getGrammarFor("json");
  return undefined;
}

async function complete(body) {
  const items = history(body.messages || []);
  const last = items.pop();
  await sequence.clearHistory();
  const session = new LlamaChatSession({ contextSequence: sequence, autoDisposeSequence: false });
  try {
    session.setChatHistory(items);
    const started = Date.now();
    const meta = await session.promptWithMeta(last?.text ?? "", {
      grammar: await grammarFor(body.response_format),
      maxTokens: body.max_tokens ?? undefined,
      temperature: body.temperature ?? 0,
    });
    const text = meta.responseText;
    const promptTokens = items.concat(last ? [last] : [])
      .reduce((n, i) => n + model.tokenize(i.text ?? i.response.join("")).length + 4, 0);
    return {
      id: `chatcmpl-real-${started}`,
      object: "chat.completion",
      created: Math.floor(started / 1000),
      model: modelName,
      choices: [{
        index: 0,
        message: { role: "assistant", content: text },
        finish_reason: meta.stopReason === "maxTokens" ? "length" : "stop",
      }],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: model.tokenize(text).length,
        total_tokens: promptTokens + model.tokenize(text).length,
      },
    };
  } finally {
    session.dispose({ disposeSequence: false });
  }
}

function send(res, status, payload) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(payload));
}

async function readJson(req) {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  return JSON.parse(raw || "{}");
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === "GET" && (req.url === "/v1/models" || req.url === "/models")) {
      return send(res, 200, { object: "list", data: [{ id: modelName, object: "model" }] });
    }
    if (req.method === "GET" && req.url === "/props") {
      return send(res, 200, {
        model_path: modelPath,
        default_generation_settings: { n_ctx: contextSize },
        total_slots: 1,
      });
    }
    if (req.method === "POST" && req.url === "/tokenize") {
      const body = await readJson(req);
      return send(res, 200, { tokens: Array.from(model.tokenize(String(body.content ?? ""))) });
    }
    if (req.method === "POST" && /\/chat\/completions$/.test(req.url)) {
      const body = await readJson(req);
      // One slot: requests wait here in arrival order, as in llama.cpp's server queue.
      const answer = queue.then(() => complete(body));
      queue = answer.catch(() => undefined);
      return send(res, 200, await answer);
    }
    send(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
  } catch (error) {
    console.error(`${req.method} ${req.url}: ${error?.stack ?? error}`);
    send(res, 500, { error: { message: String(error?.message ?? error), type: "server_error" } });
  }
});
// A CPU model may take minutes: Node's own request timeouts must not cut it short.
server.requestTimeout = 0;
server.headersTimeout = 0;
server.timeout = 0;
server.keepAliveTimeout = 600_000;
server.listen(Number(portText), "127.0.0.1", () => {
  console.log(`ready http://127.0.0.1:${portText}/v1 ${modelName} n_ctx=${contextSize}`);
});
