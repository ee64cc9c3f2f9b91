/* md-converter's page: upload a recording as a job (POST /jobs), follow its events
 * (GET /jobs/ID/events: progress, segment, done, error — see src/service/jobs.h), show the
 * live text, then the report (GET /jobs/ID/result) and offer it as a .md download.
 * No dependencies.  Settings come from GET /config (locale, languages, limits, key). */
"use strict";

const $ = (id) => document.getElementById(id);

const STRINGS = {
  "pt-BR": {
    tagline: "Relatórios de reunião em Markdown",
    formTitle: "Enviar gravação",
    intro: "Envie a gravação de uma reunião (áudio ou vídeo) e receba o relatório em Markdown.",
    file: "Arquivo", title: "Título", date: "Data", participants: "Participantes",
    participantsHint: "separados por vírgula",
    language: "Idioma do áudio", auto: "Detectar automaticamente",
    reportLocale: "Idioma do relatório", serverDefault: "Padrão do servidor ({0})",
    noFallback: "Decodificação rápida",
    noFallbackHint: "sem novas tentativas em temperaturas mais altas (mais rápido, pode errar mais)",
    apiKey: "Chave da API", apiKeyHint: "guardada só nesta aba",
    send: "Gerar relatório", progressTitle: "Andamento", progress: "Progresso",
    liveTitle: "Texto ao vivo", reportTitle: "Relatório", download: "Baixar .md",
    limits: "até {0} MB", limitsAudio: "até {0} MB e {1} de áudio",
    uploading: "Enviando… {0}%", queued: "Na fila…", running: "Transcrevendo… {0}%",
    reconnecting: "Conexão perdida; reconectando…", fetching: "Buscando o relatório…",
    done: "Pronto.", elapsed: "Tempo decorrido: {0}", remaining: "restante ≈ {0}",
    estimating: "estimando o tempo restante…",
    noFile: "Escolha um arquivo de áudio ou vídeo.",
    tooBig: "O arquivo tem {0} MB; o limite deste servidor é {1} MB.",
    detail: "Detalhe: {0}",
    err: {
      network: "Não foi possível falar com o servidor (rede ou servidor fora do ar).",
      lost: "O trabalho se perdeu: o servidor não o conhece mais (foi reiniciado ou o trabalho expirou). Envie o arquivo de novo.",
      gone: "O servidor parou de responder durante o processamento. Tente de novo mais tarde.",
      config: "Não foi possível ler as configurações do servidor; usando os valores padrão.",
      unauthorized: "Chave da API ausente ou incorreta.",
      unsupported_media: "O arquivo não é um áudio ou vídeo que o servidor reconheça.",
      unprocessable_audio: "Não foi possível processar o áudio deste arquivo.",
      empty_file: "O arquivo enviado está vazio.",
      missing_file: "Nenhum arquivo foi enviado.",
      file_too_large: "O arquivo é maior que o limite do servidor.",
      payload_too_large: "O arquivo ou o áudio passa do limite do servidor.",
      invalid_field: "Um campo do formulário é inválido.",
      bad_request: "O pedido é inválido.",
      queue_full: "O servidor está ocupado (fila cheia). Tente de novo em instantes.",
      shutting_down: "O servidor está sendo desligado; o trabalho não terminou.",
      model_unavailable: "O modelo de transcrição não está disponível no servidor.",
      timeout: "O processamento passou do tempo limite do servidor.",
      client_closed: "O processamento foi cancelado.",
      cancelled: "O trabalho foi cancelado (excluído no servidor).",
      job_lost: "O trabalho se perdeu: o armazenamento de trabalhos do servidor não o tem mais. Envie o arquivo de novo.",
      jobs_unavailable: "O armazenamento de trabalhos do servidor está fora do ar. Tente de novo em instantes.",
      not_found: "O trabalho não foi encontrado (desconhecido ou expirado).",
      internal_error: "Erro interno do servidor.",
      other: "O servidor respondeu com um erro (HTTP {0}).",
    },
  },
  en: {
    tagline: "Meeting reports in Markdown",
    formTitle: "Upload a recording",
    intro: "Upload a meeting recording (audio or video) and get its report in Markdown.",
    file: "File", title: "Title", date: "Date", participants: "Participants",
    participantsHint: "comma-separated",
    language: "Audio language", auto: "Detect automatically",
    reportLocale: "Report language", serverDefault: "Server default ({0})",
    noFallback: "Fast decoding",
    noFallbackHint: "no retries at higher temperatures (faster, may make more mistakes)",
    apiKey: "API key", apiKeyHint: "kept in this tab only",
    send: "Create report", progressTitle: "Progress", progress: "Progress",
    liveTitle: "Live text", reportTitle: "Report", download: "Download .md",
    limits: "up to {0} MB", limitsAudio: "up to {0} MB and {1} of audio",
    uploading: "Uploading… {0}%", queued: "Queued…", running: "Transcribing… {0}%",
    reconnecting: "Connection lost; reconnecting…", fetching: "Fetching the report…",
    done: "Done.", elapsed: "Elapsed: {0}", remaining: "≈ {0} left",
    estimating: "estimating the time left…",
    noFile: "Choose an audio or video file.",
    tooBig: "The file is {0} MB; this server's limit is {1} MB.",
    detail: "Detail: {0}",
    err: {
      network: "Could not reach the server (network down or server not running).",
      lost: "The job was lost: the server no longer knows it (it restarted or the job expired). Please upload the file again.",
      gone: "The server stopped answering while processing. Please try again later.",
      config: "Could not read the server's settings; using defaults.",
      unauthorized: "Missing or wrong API key.",
      unsupported_media: "The file is not an audio or video format the server recognises.",
      unprocessable_audio: "The audio in this file could not be processed.",
      empty_file: "The uploaded file is empty.",
      missing_file: "No file was uploaded.",
      file_too_large: "The file is larger than the server's limit.",
      payload_too_large: "The file or its audio exceeds the server's limit.",
      invalid_field: "A form field is invalid.",
      bad_request: "The request is invalid.",
      queue_full: "The server is busy (queue full). Please try again shortly.",
      shutting_down: "The server is shutting down; the job did not finish.",
      model_unavailable: "The transcription model is not available on the server.",
      timeout: "Processing took longer than the server's time limit.",
      client_closed: "Processing was cancelled.",
      cancelled: "The job was cancelled (deleted on the server).",
      job_lost: "The job was lost: the server's job store no longer has it. Upload the file again.",
      jobs_unavailable: "The server's job store is unavailable. Try again in a moment.",
      not_found: "The job was not found (unknown or expired).",
      internal_error: "Internal server error.",
      other: "The server answered with an error (HTTP {0}).",
    },
  },
};

/* The browser's first preferred language that we have strings for, or null. */
function browserLocale() {
  for (const l of navigator.languages || [navigator.language || ""]) {
    const base = String(l).toLowerCase().split("-")[0];
    if (base === "pt") return "pt-BR";
    if (base === "en") return "en";
  }
  return null;
}

/* The page's locale: the browser's (above), else the server's REPORT_LOCALE, else pt-BR. */
function pickLocale(serverLocale) {
  return browserLocale() || (serverLocale === "en" ? "en" : "pt-BR");
}

let LOCALE = "pt-BR";
let T = STRINGS[LOCALE];
let CONFIG = { report_locale: "pt-BR", languages: [], limits: {}, api_key_required: false };
const KEY_STORE = "mdc-api-key"; /* sessionStorage: gone when the tab closes */

function fmt(s, ...args) { return s.replace(/\{(\d)\}/g, (_, i) => String(args[+i])); }

function applyStrings() {
  document.documentElement.lang = LOCALE;
  document.title = "md-converter — " + T.tagline;
  for (const el of document.querySelectorAll("[data-i18n]")) {
    const v = T[el.dataset.i18n];
    if (typeof v === "string") el.textContent = v;
  }
  $("locale-default").textContent = fmt(T.serverDefault, CONFIG.report_locale || "pt-BR");
  const lim = CONFIG.limits || {};
  $("file-hint").textContent = !lim.max_upload_mb ? "" : lim.max_audio_seconds > 0
    ? fmt(T.limitsAudio, lim.max_upload_mb, duration(lim.max_audio_seconds))
    : fmt(T.limits, lim.max_upload_mb);
}

function fillLanguages() {
  let names = null;
  try { names = new Intl.DisplayNames([LOCALE], { type: "language" }); } catch (e) { names = null; }
  const opts = CONFIG.languages.map((l) => {
    let n = null;
    try { n = names && names.of(l.code === "jw" ? "jv" : l.code); } catch (e) { n = null; }
    if (!n || n === l.code) n = l.name || l.code;
    return { code: l.code, label: n.charAt(0).toLocaleUpperCase(LOCALE) + n.slice(1) };
  });
  opts.sort((a, b) => a.label.localeCompare(b.label, LOCALE));
  const sel = $("language");
  while (sel.options.length > 1) sel.remove(1);
  for (const o of opts) sel.add(new Option(o.label + " (" + o.code + ")", o.code));
}

async function loadConfig() {
  let failed = false;
  if (browserLocale()) { /* known before /config answers: no flash of the other language */
    LOCALE = browserLocale();
    T = STRINGS[LOCALE];
    applyStrings();
  }
  try {
    const r = await fetch("/config", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    CONFIG = Object.assign(CONFIG, await r.json());
  } catch (e) {
    failed = true;
  }
  LOCALE = pickLocale(CONFIG.report_locale);
  T = STRINGS[LOCALE];
  applyStrings();
  fillLanguages();
  for (const el of document.querySelectorAll(".key-row"))
    el.classList.toggle("hidden", !CONFIG.api_key_required);
  $("apikey").value = CONFIG.api_key_required ? (sessionStorage.getItem(KEY_STORE) || "") : "";
  $("version").textContent = CONFIG.version ? "md-converter " + CONFIG.version : "";
  if (failed) showError(T.err.config);
}

/* ---- small helpers -------------------------------------------------------------- */

function duration(sec) {
  sec = Math.max(0, Math.round(sec));
  const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
  const two = (x) => String(x).padStart(2, "0");
  return h ? h + ":" + two(m) + ":" + two(s) : m + ":" + two(s);
}

function authHeaders() {
  if (!CONFIG.api_key_required) return {};
  const k = $("apikey").value.trim();
  if (k) sessionStorage.setItem(KEY_STORE, k); else sessionStorage.removeItem(KEY_STORE);
  return k ? { Authorization: "Bearer " + k } : {};
}

/* Localised text for a server error object {code, message} and status. */
function errorText(status, err) {
  const code = err && err.code;
  let main = (code && T.err[code]) || (status === 401 ? T.err.unauthorized : null) ||
             (status === 404 ? T.err.not_found : null) || fmt(T.err.other, status);
  return { main, detail: err && err.message ? String(err.message) : "" };
}

async function responseError(resp) {
  let err = null;
  try { err = (await resp.json()).error; } catch (e) { err = null; }
  return errorText(resp.status, err);
}

/* ---- the run's state -------------------------------------------------------------- */

let run = null; /* {id, t0, tRun, pct, ctrl, lastSeg, finished, timer} */
let markdown = "", fileBase = "report";

function setBusy(busy) {
  $("send").disabled = busy;
  for (const el of $("form").elements) if (el !== $("send")) el.disabled = busy;
}

function setStatus(text, pct) {
  $("status").textContent = text;
  if (pct !== undefined && pct !== null) $("bar").value = pct;
}

function showError(e, detail) {
  const box = $("error");
  box.textContent = "";
  const main = typeof e === "string" ? e : e.main;
  detail = typeof e === "string" ? detail : e.detail;
  box.append(main);
  if (detail && detail !== main) {
    const d = document.createElement("span");
    d.className = "detail";
    d.textContent = fmt(T.detail, detail);
    box.append(d);
  }
  box.scrollIntoView({ block: "nearest" });
}

/* Ends the current run with an error: the status is replaced, the form usable again. */
function fail(e, detail) {
  if (run) {
    run.finished = true;
    if (run.ctrl) run.ctrl.abort();
    clearInterval(run.timer);
  }
  run = null;
  $("progress-box").classList.add("hidden");
  setStatus("", 0);
  $("timing").textContent = "";
  showError(e, detail);
  setBusy(false);
}

function updateTiming() {
  if (!run) return;
  const now = performance.now();
  let txt = fmt(T.elapsed, duration((now - run.t0) / 1000));
  if (run.tRun !== null && run.pct < 100) {
    const p0 = run.pctRun, dp = run.pct - p0, dt = (now - run.tRun) / 1000;
    if (dp >= 3 && dt >= 1) txt += " · " + fmt(T.remaining, duration(dt * (100 - run.pct) / dp));
    else txt += " · " + T.estimating;
  }
  $("timing").textContent = txt;
}

function addSegment(seg) {
  if (!run || seg.index <= run.lastSeg) return; /* a reconnect replays what we have */
  run.lastSeg = seg.index;
  const text = String(seg.text || "").trim();
  if (!text) return;
  $("live-box").classList.remove("hidden");
  const p = document.createElement("p");
  const ts = document.createElement("span");
  ts.className = "ts";
  ts.textContent = "[" + duration(seg.start) + "]";
  p.append(ts, text);
  const live = $("live");
  const atEnd = live.scrollTop + live.clientHeight >= live.scrollHeight - 4;
  live.append(p);
  if (atEnd) live.scrollTop = live.scrollHeight;
}

/* ---- following a job: SSE over fetch (EventSource cannot send the API key) ------- */

const STALL_MS = 40000;   /* the server pings every 15 s: 40 s of silence = a dead stream */
const RETRIES = 4;        /* reconnect attempts before giving up on an unreachable server */

function onStatus(s) {
  if (!run) return;
  if (s.status === "running" && run.tRun === null) { run.tRun = performance.now(); run.pctRun = s.progress || 0; }
  run.pct = s.progress || 0;
  setStatus(s.status === "queued" ? T.queued : fmt(T.running, run.pct), run.pct);
  updateTiming();
}

async function fetchResult(id) {
  if (!run) return;
  setStatus(T.fetching, 100);
  let r;
  try { r = await fetch("/jobs/" + id + "/result", { headers: authHeaders() }); }
  catch (e) { return fail(T.err.network); }
  if (r.status === 404) return fail(T.err.lost);
  if (r.status !== 200) return fail(await responseError(r));
  const md = await r.text();
  const done = run;
  if (!done) return; /* ended meanwhile */
  done.finished = true;
  clearInterval(done.timer);
  run = null;
  markdown = md;
  $("report-body").innerHTML = render(md);
  $("report").classList.remove("hidden");
  setStatus(T.done + " " + fmt(T.elapsed, duration((performance.now() - done.t0) / 1000)), 100);
  $("timing").textContent = "";
  setBusy(false);
}

/* Handles one SSE event; returns true when it ended the job. */
function onEvent(name, data) {
  let o = {};
  try { o = JSON.parse(data); } catch (e) { return false; }
  if (name === "progress") onStatus(o);
  else if (name === "segment") addSegment(o);
  else if (name === "done") { fetchResult(o.id); return true; }
  else if (name === "error") { fail(errorText(o.http_status || 500, o.error)); return true; }
  return false;
}

/* Reads one event stream until it ends.  Returns "ended" (done/error seen), "closed"
 * (stream ended or broke early) or "lost" (404: the server does not know the job). */
async function readStream(id) {
  const ctrl = new AbortController();
  run.ctrl = ctrl;
  let stall = setTimeout(() => ctrl.abort(), STALL_MS);
  const alive = () => { clearTimeout(stall); stall = setTimeout(() => ctrl.abort(), STALL_MS); };
  try {
    const r = await fetch("/jobs/" + id + "/events", { headers: authHeaders(), signal: ctrl.signal, cache: "no-store" });
    if (r.status === 404) return "lost";
    if (r.status !== 200) { fail(await responseError(r)); return "ended"; }
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return "closed";
      alive();
      run && (run.retries = 0);
      buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let name = "message", data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length && onEvent(name, data.join("\n"))) { ctrl.abort(); return "ended"; }
      }
    }
  } catch (e) {
    return "closed";
  } finally {
    clearTimeout(stall);
  }
}

async function follow(id) {
  while (run && !run.finished) {
    const how = await readStream(id);
    if (!run || run.finished || how === "ended") return;
    if (how === "lost") return fail(T.err.lost);
    /* the stream dropped before the job ended: ask whether the job still exists */
    run.retries = (run.retries || 0) + 1;
    if (run.retries > RETRIES) return fail(T.err.gone);
    setStatus(T.reconnecting, run.pct);
    await new Promise((res) => setTimeout(res, 500 * 2 ** (run.retries - 1)));
    if (!run || run.finished) return;
    let r;
    try { r = await fetch("/jobs/" + id, { headers: authHeaders(), cache: "no-store" }); }
    catch (e) { continue; }
    if (r.status === 404) return fail(T.err.lost);
    if (r.status !== 200) return fail(await responseError(r));
    const s = await r.json();
    if (s.status === "done") return fetchResult(id);
    if (s.status === "failed" || s.status === "cancelled") return fail(errorText(s.http_status || 500, s.error));
    onStatus(s);
  }
}

/* ---- submit ---------------------------------------------------------------------- */

$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (run) return;
  $("error").textContent = "";
  $("report").classList.add("hidden");
  $("report-body").innerHTML = "";
  $("live").textContent = "";
  $("live-box").classList.add("hidden");
  const f = $("file").files[0];
  if (!f) { showError(T.noFile); $("file").focus(); return; }
  const maxB = CONFIG.limits && CONFIG.limits.max_upload_bytes;
  if (maxB && f.size > maxB) {
    showError(fmt(T.tooBig, (f.size / 1048576).toFixed(1), CONFIG.limits.max_upload_mb));
    return;
  }
  fileBase = f.name.replace(/\.[^.]*$/, "") || "report";
  const data = new FormData();
  for (const k of ["title", "date", "participants", "language", "report_locale"]) {
    const v = $(k).value.trim();
    if (v) data.append(k, v); /* report_locale only when picked: REPORT_LOCALE applies otherwise */
  }
  if ($("no_fallback").checked) data.append("no_fallback", "true");
  data.append("file", f); /* last: the server reads the fields before the big part */
  const headers = authHeaders();
  run = { id: null, t0: performance.now(), tRun: null, pctRun: 0, pct: 0, lastSeg: -1,
          finished: false, retries: 0, ctrl: null, timer: null };
  run.timer = setInterval(updateTiming, 1000);
  $("progress-box").classList.remove("hidden");
  setBusy(true);
  setStatus(fmt(T.uploading, 0), 0);
  updateTiming();

  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/jobs");
  for (const k in headers) xhr.setRequestHeader(k, headers[k]);
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable && run) {
      const pct = Math.round(100 * e.loaded / e.total);
      setStatus(fmt(T.uploading, pct), pct);
    }
  };
  xhr.onload = () => {
    if (!run) return;
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
    if (xhr.status !== 202 || !body.id) return fail(errorText(xhr.status, body.error));
    run.id = body.id;
    setStatus(T.queued, 0);
    follow(body.id);
  };
  xhr.onerror = () => fail(T.err.network);
  xhr.send(data);
});

$("download").addEventListener("click", () => {
  const blob = new Blob([markdown], { type: "text/markdown;charset=utf-8" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = fileBase + ".md";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
});

/* ---- minimal, safe Markdown → HTML for the report (text HTML-escaped first) ---- */

function esc(s) { return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;"); }
function inline(s) {
  s = esc(s);
  s = s.replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>");
  s = s.replace(/(^|[^*])\*([^*]+)\*/g, "$1<em>$2</em>");
  s = s.replace(/\\([\\`*_{}\[\]()#+\-.!|~>])/g, "$1");
  return s;
}
function render(md) {
  const out = [];
  let list = false, table = false;
  const close = () => {
    if (list) { out.push("</ul>"); list = false; }
    if (table) { out.push("</table>"); table = false; }
  };
  for (const line of md.split("\n")) {
    let m;
    if ((m = line.match(/^(#{1,4}) (.*)$/))) {
      close();
      const n = Math.min(6, m[1].length + 1); /* the page has its own h1/h2 */
      out.push("<h" + n + ">" + inline(m[2]) + "</h" + n + ">");
    } else if ((m = line.match(/^\s*[-*] (.*)$/))) {
      if (table) close();
      if (!list) { out.push("<ul>"); list = true; }
      out.push("<li>" + inline(m[1]) + "</li>");
    } else if (/^\|.*\|\s*$/.test(line)) {
      if (list) close();
      if (/^\|[\s:|-]+\|\s*$/.test(line)) continue;
      if (!table) { out.push("<table>"); table = true; }
      const cells = line.trim().slice(1, -1).split(/(?<!\\)\|/);
      out.push("<tr>" + cells.map((c) => "<td>" + inline(c.trim()) + "</td>").join("") + "</tr>");
    } else if (line.trim() === "") {
      close();
    } else {
      close();
      out.push("<p>" + inline(line) + "</p>");
    }
  }
  close();
  return out.join("\n");
}

loadConfig();
