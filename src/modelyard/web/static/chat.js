// The chat playground: streams each selected model's answer from the public chat API
// (fetch + SSE parsing), keeps one conversation per model, shows tokens, cost and latency.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("chat-config").textContent);
  var answers = document.getElementById("answers");
  var message = document.getElementById("message");
  var sendButton = document.getElementById("send");
  var stopButton = document.getElementById("stop");
  var keyInput = document.getElementById("api-key");
  var temperature = document.getElementById("temperature");
  var temperatureSet = document.getElementById("temperature-set");
  var temperatureValue = document.getElementById("temperature-value");
  var schemaError = document.getElementById("schema-error");
  var histories = {};
  var columns = {};
  var controllers = [];
  var KEY_STORE = "modelyard.key";

  if (keyInput) {
    keyInput.value = sessionStorage.getItem(KEY_STORE) || "";
    keyInput.addEventListener("change", function () { sessionStorage.setItem(KEY_STORE, keyInput.value.trim()); });
  }
  function showTemperature() {
    temperatureValue.textContent = temperatureSet.checked ? temperature.value : "default";
  }
  temperature.addEventListener("input", function () { temperatureSet.checked = true; showTemperature(); });
  temperatureSet.addEventListener("change", showTemperature);

  function selectedModels() {
    return Array.prototype.map.call(
      document.querySelectorAll('#settings input[name="model"]:checked'), function (el) { return el.value; });
  }

  function column(model) {
    if (columns[model]) return columns[model];
    var col = document.createElement("section");
    col.className = "answer-col";
    col.dataset.model = model;
    var h = document.createElement("h2");
    h.textContent = config.names[model] || model;
    var turns = document.createElement("div");
    turns.className = "turns";
    col.appendChild(h);
    col.appendChild(turns);
    answers.appendChild(col);
    columns[model] = turns;
    histories[model] = histories[model] || [];
    return turns;
  }

  function turn(turns, role) {
    var div = document.createElement("div");
    div.className = "turn " + role;
    turns.appendChild(div);
    return div;
  }

  function money(v) {
    if (!v) return "$0";
    return v >= 1 ? "$" + v.toFixed(2) : "$" + v.toFixed(8).replace(/0+$/, "");
  }

  function buildBody(model) {
    var body = { model: model, stream: true, messages: [] };
    var system = document.getElementById("system").value.trim();
    if (system) body.messages.push({ role: "system", content: system });
    body.messages = body.messages.concat(histories[model]);
    if (temperatureSet.checked) body.temperature = parseFloat(temperature.value);
    var maxTokens = parseInt(document.getElementById("max-tokens").value, 10);
    if (maxTokens > 0) body.max_tokens = maxTokens;
    var effort = document.getElementById("reasoning").value;
    if (effort) body.reasoning = { effort: effort };
    var schemaText = document.getElementById("schema").value.trim();
    if (schemaText) {
      body.response_format = {
        type: "json_schema",
        json_schema: { name: "response", strict: true, schema: JSON.parse(schemaText) },
      };
    }
    return body;
  }

  async function ask(model, signal) {
    var turns = column(model);
    var out = turn(turns, "assistant");
    var reasoning = document.createElement("span");
    reasoning.className = "reasoning";
    var text = document.createElement("span");
    text.className = "content";
    var meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = "waiting…";
    out.appendChild(reasoning);
    out.appendChild(text);
    out.appendChild(meta);
    out.setAttribute("aria-busy", "true");
    var headers = { "Content-Type": "application/json", "X-Title": config.app_title };
    var key = keyInput ? keyInput.value.trim() : "";
    if (key) headers.Authorization = "Bearer " + key;
    var started = performance.now();
    var firstAt = null;
    var usage = null;
    var failed = null;
    try {
      var response = await fetch(config.base_url + "/chat/completions", {
        method: "POST", headers: headers, body: JSON.stringify(buildBody(model)), signal: signal,
        // The app is the playground, whatever its query string: send the origin only.
        referrerPolicy: "origin",
      });
      out.dataset.generationId = response.headers.get("X-Generation-Id") || "";
      if (!response.ok) {
        var envelope = await response.json().catch(function () { return {}; });
        throw new Error((envelope.error && envelope.error.message) || ("HTTP " + response.status));
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      var done = false;
      while (!done) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
        var frames = buffer.split("\n\n");
        buffer = frames.pop();
        for (var i = 0; i < frames.length; i++) {
          var data = frames[i].split("\n").filter(function (l) { return l.indexOf("data:") === 0; })
            .map(function (l) { return l.slice(5).trim(); }).join("\n");
          if (!data) continue; // a keep-alive comment
          if (data === "[DONE]") { done = true; break; }
          var event = JSON.parse(data);
          if (event.error) failed = event.error.message || "the stream failed";
          if (event.usage) usage = event.usage;
          var delta = event.choices && event.choices[0] && event.choices[0].delta;
          if (delta) {
            if (delta.reasoning) reasoning.textContent += delta.reasoning;
            if (delta.content) {
              if (firstAt === null) firstAt = performance.now();
              text.textContent += delta.content;
            }
          }
        }
      }
    } catch (err) {
      failed = err.name === "AbortError" ? "stopped" : err.message;
    }
    var ended = performance.now();
    histories[model].push({ role: "assistant", content: text.textContent });
    out.removeAttribute("aria-busy");
    var parts = [];
    if (usage) {
      out.dataset.promptTokens = usage.prompt_tokens;
      out.dataset.completionTokens = usage.completion_tokens;
      out.dataset.cost = usage.cost;
      parts.push(usage.prompt_tokens + " in + " + usage.completion_tokens + " out tokens");
      parts.push(money(usage.cost));
    }
    if (firstAt !== null) {
      out.dataset.latencyMs = Math.round(firstAt - started);
      parts.push(((firstAt - started) / 1000).toFixed(2) + "s to first token");
    }
    parts.push(((ended - started) / 1000).toFixed(2) + "s total");
    if (usage && firstAt !== null && ended > firstAt && usage.completion_tokens) {
      parts.push((usage.completion_tokens / ((ended - firstAt) / 1000)).toFixed(1) + " tok/s");
    }
    if (failed) {
      out.dataset.error = failed;
      parts.unshift("Error: " + failed);
      meta.classList.add("error");
    }
    meta.textContent = parts.join(" · ");
    out.dataset.done = "1";
  }

  async function send(event) {
    if (event) event.preventDefault();
    var models = selectedModels();
    var content = message.value.trim();
    if (!content || !models.length) {
      message.focus();
      return;
    }
    schemaError.hidden = true;
    var schemaText = document.getElementById("schema").value.trim();
    if (schemaText) {
      try { JSON.parse(schemaText); } catch (err) {
        schemaError.textContent = "The JSON schema is not valid JSON: " + err.message;
        schemaError.hidden = false;
        return;
      }
    }
    message.value = "";
    sendButton.disabled = true;
    stopButton.disabled = false;
    controllers = [];
    await Promise.all(models.map(function (model) {
      var turns = column(model);
      turn(turns, "user").textContent = content;
      histories[model].push({ role: "user", content: content });
      var controller = new AbortController();
      controllers.push(controller);
      return ask(model, controller.signal);
    }));
    sendButton.disabled = false;
    stopButton.disabled = true;
    message.focus();
  }

  document.getElementById("composer").addEventListener("submit", send);
  message.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) send(e);
  });
  stopButton.addEventListener("click", function () { controllers.forEach(function (c) { c.abort(); }); });
  document.getElementById("clear").addEventListener("click", function () {
    answers.textContent = "";
    histories = {};
    columns = {};
  });
})();
