// The web page in Debian's Chromium (driven by playwright-core, never a downloaded
// browser) against real md-converter servers started by
// tests/integration/test_page_browser.py, which passes them as one JSON argument:
//   {"pt": URL (defaults), "en": URL (REPORT_LOCALE=en, API_KEY=key), "key": "…",
//    "lost": {"url": URL, "pid": N} (slow model load; this script SIGKILLs it and the
//    runner restarts it on the same port, so the job 404s), "gone": {"url", "pid"} (the
//    same, never restarted), "fixtures": DIR,
//    "artifacts": DIR (screenshots, the downloaded report),
//    "scale": {"url": proxy URL, "a": URL, "b": URL} (two replicas on one Redis; the
//    proxy forwards to a until this script sends SIGUSR1 to its parent, then to b)}
// Prints one line per check; exits 1 if any failed.
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const cfg = JSON.parse(process.argv[2]);
const ART = cfg.artifacts;
fs.mkdirSync(ART, { recursive: true });
const CLIP35 = path.join(cfg.fixtures, "edge_35s_word_across_30s.wav");
const CLIP05 = path.join(cfg.fixtures, "edge_speech_0.5s.wav");
const TEXTFILE = path.join(cfg.fixtures, "bad_meeting_notes.txt");

let passed = 0;
const failed = [];
function check(cond, what, detail) {
  if (cond) { passed++; console.log("  ok   " + what); }
  else { failed.push(what); console.log("  FAIL " + what + (detail !== undefined ? " " + JSON.stringify(detail).slice(0, 400) : "")); }
  return cond;
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
});

/* A fresh context (own storage) with console errors and HTTP errors collected. */
async function open(url, { locale = "de-DE", width = 1280, height = 900, mobile = false } = {}) {
  const ctx = await browser.newContext({
    locale, viewport: { width, height }, acceptDownloads: true,
    deviceScaleFactor: mobile ? 2 : 1, isMobile: mobile, hasTouch: mobile,
  });
  const page = await ctx.newPage();
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
  page.on("pageerror", (e) => problems.push("pageerror: " + e.message));
  page.on("response", (r) => { if (r.status() >= 400) problems.push(r.status() + " " + r.url()); });
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("language").options.length > 90, null, { timeout: 10000 });
  return { ctx, page, problems };
}

const shot = (page, name) => page.screenshot({ path: path.join(ART, name), fullPage: true });
const text = (page, sel) => page.locator(sel).innerText();
const noHScroll = (page) => page.evaluate(() => document.documentElement.scrollWidth);

/* Submits the form with `file` and returns the names of the form fields the page sent
 * (recorded from the FormData handed to XMLHttpRequest.send). */
async function submit(page, file, { language = "pt", fast = true } = {}) {
  await page.setInputFiles("#file", file);
  if (language !== null) await page.selectOption("#language", language);
  if (fast) await page.check("#no_fallback");
  await page.evaluate(() => {
    const send = XMLHttpRequest.prototype.send;
    if (send.__spy) return;
    XMLHttpRequest.prototype.send = function (b) {
      if (b instanceof FormData) window.__fields = [...b.keys()];
      return send.call(this, b);
    };
    XMLHttpRequest.prototype.send.__spy = true;
  });
  await page.click("#send");
  return page.evaluate(() => window.__fields || []);
}

/* Uploads to `srv` ({url, pid}), SIGKILLs it once the job runs (status `running`), and
 * expects the page to end in the error `expected` with the form usable again. */
async function serverDies(title, srv, locale, running, expected, shotRunning, shotEnd) {
  console.log(title);
  const { ctx, page } = await open(srv.url, { locale });
  await submit(page, CLIP05);
  await page.locator("#status", { hasText: running }).waitFor({ timeout: 20000 });
  if (shotRunning) {
    await page.waitForTimeout(300); /* one elapsed-time tick */
    await shot(page, shotRunning);
  }
  const t0 = Date.now();
  process.kill(srv.pid, "SIGKILL");
  await page.locator("#error").filter({ hasText: /\S/ }).waitFor({ timeout: 30000 });
  const err = await text(page, "#error");
  check(err.includes(expected), locale + ": \"" + expected + "…\" error " + (Date.now() - t0) + " ms after the kill", err);
  check(!(await page.locator("#progress-box").isVisible()) && !(await page.content()).includes(running + "…"),
        "no progress or spinner left beside the error");
  check(await page.locator("#send").isEnabled(), "form re-enabled");
  await shot(page, shotEnd);
  await ctx.close();
}

try {
  // ---- 1. laptop, server defaults (pt-BR), a browser language we have no strings for
  console.log("laptop, REPORT_LOCALE default (pt-BR), browser de-DE");
  {
    const { ctx, page, problems } = await open(cfg.pt);
    check(await page.evaluate(() => document.documentElement.lang) === "pt-BR", "page in pt-BR (the server's locale) when the browser's is not offered");
    check(await text(page, "#send") === "Gerar relatório", "Portuguese strings");
    const conf = await (await fetch(cfg.pt + "/config")).json();
    check(await page.locator("#language option").count() === conf.languages.length + 1,
          "every language the server lists is offered, plus auto", conf.languages.length);
    check(await page.locator("#language option").first().getAttribute("value") === "", "first language option is auto-detect");
    check(!(await page.locator("#apikey").isVisible()), "no API key field when the server needs none");
    check(await page.locator("header").count() === 1 && await page.locator("main").count() === 1, "landmarks: header and main");
    check(await page.getAttribute("#status", "aria-live") === "polite", "status is aria-live=polite");
    check(await page.getAttribute("#error", "role") === "alert", "error box has role=alert");
    const barLabel = await page.evaluate(() => {
      const b = document.getElementById("bar");
      const ids = (b.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
      return ids.map((i) => document.getElementById(i).textContent.trim()).join(" ") || [...b.labels].map((l) => l.textContent).join(" ");
    });
    check(barLabel.length > 0, "progress bar is labelled (\"" + barLabel + "\")");
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll("input, select")]
      .filter((e) => e.offsetParent !== null && e.labels.length === 0).map((e) => e.id));
    check(unlabelled.length === 0, "every visible input has a label", unlabelled);
    await page.keyboard.press("Tab");
    const outline = await page.evaluate(() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle + " " + s.outlineWidth; });
    check(!outline.startsWith("none"), "keyboard focus is visible (" + outline + ")");

    await page.evaluate(() => {
      window.__t = {};
      new MutationObserver(() => {
        if (!window.__t.live && document.querySelector("#live p")) window.__t.live = performance.now();
        if (!window.__t.report && !document.getElementById("report").classList.contains("hidden")) window.__t.report = performance.now();
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.fill("#title", "Reunião de teste");
    const respP = page.waitForResponse((r) => r.url().endsWith("/jobs") && r.request().method() === "POST");
    respP.catch(() => {});
    const fields = await submit(page, CLIP35);
    check(!fields.includes("report_locale"), "report_locale not sent unless picked (REPORT_LOCALE applies)", fields);
    check(["file", "title", "language", "no_fallback"].every((f) => fields.includes(f)), "file, title, language and no_fallback sent", fields);
    check(await page.locator("#send").isDisabled(), "form disabled while the job runs");
    const job = await (await respP).json();
    await page.locator("#report").waitFor({ state: "visible", timeout: 60000 });
    const t = await page.evaluate(() => window.__t);
    const nLive = await page.locator("#live p").count();
    check(nLive >= 1 && t.live && t.live < t.report, "live text shown as segments arrive, before the report (" + nLive + " segments)", t);
    const report = await text(page, "#report-body");
    check(report.includes("Duração") && report.includes("Transcrição") && report.includes("Reunião de teste"),
          "Portuguese report rendered with the title", report.slice(0, 200));
    check((await text(page, "#status")).startsWith("Pronto."), "status says done");
    check(await page.locator("#send").isEnabled(), "form enabled again");
    const dlP = page.waitForEvent("download");
    await page.click("#download");
    const dl = await dlP;
    const dlPath = path.join(ART, "page-download.md");
    await dl.saveAs(dlPath);
    const md = fs.readFileSync(dlPath, "utf8");
    const server = await (await fetch(cfg.pt + "/jobs/" + job.id + "/result")).text();
    check(dl.suggestedFilename() === "edge_35s_word_across_30s.md" && md === server && md.startsWith("# "),
          "download .md saves the server's report (" + md.length + " bytes)", dl.suggestedFilename());
    await shot(page, "page-1280-report.png");
    check(problems.length === 0, "no console error, no failed request (favicon included)", problems);
    await ctx.close();
  }

  // ---- 2. phone width, browser pt-BR: no sideways scroll; a text file → clear error
  console.log("phone 390 px, browser pt-BR");
  {
    const { ctx, page, problems } = await open(cfg.pt, { locale: "pt-BR", width: 390, height: 844, mobile: true });
    const w0 = await noHScroll(page);
    check(w0 <= 390, "390 px: no horizontal scroll on the form (scrollWidth " + w0 + ")");
    await shot(page, "page-390-form.png");
    await submit(page, TEXTFILE);
    await page.locator("#error").filter({ hasText: /\S/ }).waitFor({ timeout: 20000 });
    const err = await text(page, "#error");
    check(err.includes("não é um áudio ou vídeo"), "text file → a clear error in Portuguese", err);
    check(!(await page.locator("#progress-box").isVisible()) && (await text(page, "#status")) === "",
          "status cleared beside the error (no \"Na fila…\")");
    check(await page.locator("#send").isEnabled() && await page.locator("#file").isEnabled(), "form re-enabled after the error");
    await shot(page, "page-390-error.png");
    await submit(page, CLIP05);
    await page.locator("#report").waitFor({ state: "visible", timeout: 60000 });
    check(await text(page, "#error") === "", "the error is cleared by the next upload");
    const w1 = await noHScroll(page);
    check(w1 <= 390, "390 px: no horizontal scroll with live text and report (scrollWidth " + w1 + ")");
    await shot(page, "page-390-report.png");
    check(problems.filter((p) => !p.includes("/jobs")).length === 0, "no console error besides the job's 415", problems);
    await ctx.close();
  }

  // ---- 3. the browser's language wins when we have it
  {
    const { ctx, page } = await open(cfg.pt, { locale: "en-US" });
    check(await page.evaluate(() => document.documentElement.lang) === "en" && await text(page, "#send") === "Create report",
          "browser en-US → English page on a pt-BR server");
    await ctx.close();
  }

  // ---- 4. REPORT_LOCALE=en + API_KEY: English page and report; the key asked, kept per tab
  console.log("REPORT_LOCALE=en, API_KEY set, browser de-DE");
  {
    const { ctx, page } = await open(cfg.en);
    check(await page.evaluate(() => document.documentElement.lang) === "en" && await text(page, "#send") === "Create report",
          "REPORT_LOCALE=en → English page");
    check(await page.locator("#apikey").isVisible() && await page.getAttribute("#apikey", "type") === "password",
          "API key asked (password field) when the server needs one");
    check((await page.locator("#locale-default").innerText()).includes("en"), "report language defaults to the server's (en)");
    await submit(page, CLIP05);
    await page.locator("#error").filter({ hasText: /\S/ }).waitFor({ timeout: 20000 });
    check((await text(page, "#error")).startsWith("Missing or wrong API key"), "no key → English 401 message", await text(page, "#error"));
    check(await page.locator("#send").isEnabled(), "form re-enabled after the 401");
    await page.fill("#apikey", cfg.key);
    await page.click("#send");
    await page.locator("#report").waitFor({ state: "visible", timeout: 60000 });
    const report = await text(page, "#report-body");
    check(report.includes("Meeting report") && report.includes("Transcript") && !report.includes("Transcrição"),
          "English report (REPORT_LOCALE applies to the page's uploads)", report.slice(0, 200));
    check(await page.locator("#live p").count() >= 1, "live text with the key (events read with the Authorization header)");
    const store = await page.evaluate(() => ({ s: sessionStorage.getItem("mdc-api-key"), l: localStorage.length }));
    check(store.s === cfg.key && store.l === 0, "key kept in sessionStorage, nothing in localStorage", store);
    await shot(page, "page-1280-en-report.png");
    await ctx.close();
  }

  // ---- 5, 6. the server dies mid-job: it comes back without the job (404), or stays down
  await serverDies("job lost mid-way (SIGKILL + restart → 404)", cfg.lost, "pt-BR", "Transcrevendo",
                   "O trabalho se perdeu", "page-1280-running.png", "page-1280-lost.png");
  await serverDies("server gone mid-way (SIGKILL, no restart)", cfg.gone, "en-US", "Transcribing",
                   "stopped answering", null, "page-1280-gone.png");

  // ---- 7. two replicas on one Redis: the page's stream moves to the other replica
  console.log("replica switch (two servers on one Redis behind a proxy)");
  {
    const { ctx, page, problems } = await open(cfg.scale.url, { locale: "pt-BR" });
    const respP = page.waitForResponse((r) => r.url().endsWith("/jobs") && r.request().method() === "POST");
    await submit(page, CLIP35);
    const job = await (await respP).json();
    await page.locator("#status", { hasText: "Transcrevendo" }).waitFor({ timeout: 20000 });
    const t0 = Date.now();
    process.kill(process.ppid, "SIGUSR1"); /* the proxy now routes to replica b */
    await page.locator("#report").waitFor({ state: "visible", timeout: 60000 });
    const mb = await (await fetch(cfg.scale.b + "/metrics")).text();
    const streamsB = mb.split("\n").filter((l) => l.startsWith("mdconv_http_requests_total{") && l.includes('path="/jobs/{id}/events"'))
      .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
    check(streamsB >= 1, "the report arrives " + (Date.now() - t0) + " ms after the switch, the event stream served by replica b (" + streamsB + " streams)");
    const viaB = await (await fetch(cfg.scale.b + "/jobs/" + job.id + "/result")).text();
    check(viaB.startsWith("# ") && (await text(page, "#report-body")).includes("Transcrição"), "replica b serves the same job's report");
    check(await text(page, "#error") === "" && (await text(page, "#status")).startsWith("Pronto."), "no error shown; status done");
    await shot(page, "page-1280-replica-switch.png");
    check(problems.filter((p) => !/Failed to fetch|network|ERR_/.test(p)).length === 0, "no console error besides the cut stream", problems);
    await ctx.close();
  }

  // ---- 8. the job is deleted under the page: an error, not a spinner
  console.log("job deleted while the page follows it");
  {
    const { ctx, page } = await open(cfg.scale.url, { locale: "en-US" });
    const respP = page.waitForResponse((r) => r.url().endsWith("/jobs") && r.request().method() === "POST");
    await submit(page, path.join(cfg.fixtures, "edge_5min_two_utterances.flac"));
    const job = await (await respP).json();
    await page.locator("#status", { hasText: "Transcribing" }).waitFor({ timeout: 20000 });
    const t0 = Date.now();
    const del = await fetch(cfg.scale.a + "/jobs/" + job.id, { method: "DELETE" });
    check(del.status === 200, "DELETE /jobs/ID → 200", del.status);
    await page.locator("#error").filter({ hasText: /\S/ }).waitFor({ timeout: 20000 });
    const err = await text(page, "#error");
    check(err.includes("The job was cancelled"), "the page shows \"The job was cancelled\" " + (Date.now() - t0) + " ms after the DELETE", err);
    check(!(await page.locator("#progress-box").isVisible()) && !(await page.content()).includes("Transcribing…"),
          "no progress or spinner left beside the error");
    check(await page.locator("#send").isEnabled(), "form re-enabled");
    await shot(page, "page-1280-deleted.png");
    await ctx.close();
  }
} catch (e) {
  check(false, "browser scenario raised: " + (e && e.stack ? e.stack.split("\n").slice(0, 4).join(" | ") : e));
} finally {
  await browser.close();
}
console.log("\npage_test: " + passed + " checks passed, " + failed.length + " failed");
for (const f of failed) console.log("  failed: " + f);
process.exit(failed.length ? 1 : 0);
