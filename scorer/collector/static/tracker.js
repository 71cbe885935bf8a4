/* lead-scorer tracker: page views, marked downloads and form capture, sent to the collector.
 *
 *   <script async src="https://collect.example.com/tracker.js"></script>
 *
 * Nothing is stored or sent when the browser signals Global Privacy Control or Do Not
 * Track, or, with data-consent="required" on the script tag, until the site calls
 * scorer('consent', true). Commands (queued before the script loads):
 *   window.scorer = window.scorer || function () { (scorer.q = scorer.q || []).push(arguments); };
 *   scorer('consent', true | false)   // false also forgets the ids kept in this browser
 *   scorer('identify', 'lead-123')    // a known lead (also: ?lead=lead-123 on any page)
 *   scorer('track', 'web.content_download', {asset_id: 'x', asset_type: 'case_study'})
 * Downloads: <a href="/case.pdf" data-asset-type="case_study" data-asset-id="case-1">.
 * Forms posting to <collector>/v1/forms/<id> get hidden _visitor_id and _lead_id fields.
 * No dependencies; no personal data is read from the page.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var endpoint = (script && script.getAttribute("data-endpoint")) ||
    (script ? new URL(script.src, location.href).origin : location.origin);
  var needConsent = !!(script && script.getAttribute("data-consent") === "required");
  var VID = "_scorer_vid", LEAD = "_scorer_lead", YEAR = 31536000;
  var queue = [], timer = null, consent = !needConsent;

  function optedOut() {
    if (navigator.globalPrivacyControl === true) return true;
    var dnt = navigator.doNotTrack || window.doNotTrack || navigator.msDoNotTrack;
    return dnt === "1" || dnt === "yes";
  }
  function allowed() { return consent && !optedOut(); }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return null;
  }
  function writeCookie(name, value, maxAge) {
    document.cookie = name + "=" + encodeURIComponent(value) + "; Max-Age=" + maxAge +
      "; Path=/; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
  }
  function randomId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    var s = "";
    for (var i = 0; i < 32; i++) s += Math.floor(Math.random() * 16).toString(16);
    return s;
  }
  function visitorId() {
    var id = readCookie(VID);
    if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) id = randomId();
    writeCookie(VID, id, YEAR); // renewed on every visit: a year after the last one
    return id;
  }
  function leadId() {
    try { return localStorage.getItem(LEAD); } catch (e) { return null; }
  }
  function identify(id) {
    if (!allowed() || !/^[A-Za-z0-9._:-]{1,128}$/.test(id || "")) return;
    try { localStorage.setItem(LEAD, id); } catch (e) { /* storage blocked */ }
  }
  function forget() {
    writeCookie(VID, "", 0);
    try { localStorage.removeItem(LEAD); } catch (e) { /* storage blocked */ }
  }

  function flush() {
    timer = null;
    if (!queue.length) return;
    var body = JSON.stringify(queue);
    queue = [];
    var url = endpoint + "/v1/events";
    var sent = false;
    if (navigator.sendBeacon) {
      try { sent = navigator.sendBeacon(url, body); } catch (e) { sent = false; }
    }
    if (!sent && window.fetch) {
      fetch(url, {method: "POST", body: body, keepalive: true, credentials: "include",
                  headers: {"Content-Type": "text/plain"}}).catch(function () {});
    }
  }
  function track(type, fields) {
    if (!allowed()) return;
    var event = {type: type, event_id: "t-" + randomId(), visitor_id: visitorId(),
                 occurred_at: new Date().toISOString()};
    var lead = leadId();
    if (lead) event.lead_id = lead;
    for (var k in fields) if (fields[k] != null && fields[k] !== "") event[k] = fields[k];
    queue.push(event);
    if (!timer) timer = setTimeout(flush, 50);
  }

  function pageView(link) {
    var params = new URLSearchParams(location.search), fields = {url: location.pathname};
    if (link) fields.link = link; // the collector turns it into an identity link
    ["utm_source", "utm_medium", "utm_campaign"].forEach(function (p) {
      if (params.get(p)) fields[p] = params.get(p).slice(0, 2048);
    });
    if (document.referrer) {
      try { var r = new URL(document.referrer); fields.referrer = r.origin + r.pathname; } catch (e) {}
    }
    var product = document.querySelector('meta[name="scorer:product"]');
    if (product) fields.product = product.getAttribute("content");
    track("web.page_view", fields);
  }

  function onClick(e) {
    var link = e.target && e.target.closest ? e.target.closest("[data-asset-type]") : null;
    if (!link) return;
    var href = link.getAttribute("href") || "";
    var path = href ? new URL(href, location.href).pathname : location.pathname;
    track("web.content_download", {
      asset_id: link.getAttribute("data-asset-id") || path.split("/").pop() || path,
      asset_type: link.getAttribute("data-asset-type"),
      product: link.getAttribute("data-product"), url: path
    });
    flush(); // the download may navigate away
  }

  function isCollectorForm(form) {
    var action = form.getAttribute("action") || "";
    return form.hasAttribute("data-scorer-form") || action.indexOf("/v1/forms/") !== -1;
  }
  function addHidden(form, name, value) {
    if (!value) return;
    var input = form.querySelector('input[name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden"; input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }
  function captureForm(form) {
    if (!allowed() || !isCollectorForm(form)) return;
    addHidden(form, "_visitor_id", visitorId());
    addHidden(form, "_lead_id", leadId());
  }
  function onSubmit(e) {
    if (e.target && e.target.tagName === "FORM") { captureForm(e.target); flush(); }
  }

  function command(name, a, b) {
    if (name === "consent") {
      consent = !!a;
      if (!consent) { queue = []; forget(); } else start();
    } else if (name === "identify") identify(a);
    else if (name === "track") track(a, b || {});
    else if (name === "pageview") pageView(null);
  }

  var started = false;
  function start() {
    if (started || !allowed()) return;
    started = true;
    var lead = new URLSearchParams(location.search).get("lead");
    if (lead) identify(lead);
    // A tracked email link names the lead: this visitor's anonymous history is its own.
    pageView(lead && leadId() === lead ? "email_click" : null);
    Array.prototype.forEach.call(document.forms, captureForm);
  }

  var pending = (window.scorer && window.scorer.q) || [];
  window.scorer = function () { command.apply(null, arguments); };
  document.addEventListener("click", onClick, true);
  document.addEventListener("submit", onSubmit, true);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") flush();
  });
  window.addEventListener("pagehide", flush);
  for (var i = 0; i < pending.length; i++) command.apply(null, pending[i]);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
