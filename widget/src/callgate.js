// callgate widget: readable source. `make widget` minifies it with esbuild into
// service/static/widget.js, which /widget.js serves; see docs/widget.md.
//
// This is the small part every page view loads: it reads its <script> tag, loads the settings,
// shows the launcher and offers window.Callgate. The dialog, the form logic and their styles
// live in the lazily imported module widget-dialog.js (src/callgate-dialog.js), loaded when the
// visitor opens the dialog (or at once for a site's own form, data-form), so that this file
// stays within its 5 KB gzipped budget.
//
// Rules: never throw into the host page; no third-party requests; CSP and Trusted Types safe
// (no inline styles, no HTML strings); everything visible lives in a Shadow DOM.
(() => {
  'use strict';
  const win = window;
  const doc = document;
  const ourScript = doc.currentScript;
  const previous = win.Callgate;

  const log = (message, error) => {
    try {
      console.warn('callgate: ' + message, error || '');
    } catch (_) {
      // No console, or one that throws.
    }
  };

  // Like umami: quit quietly without our own tag, or when already loaded once.
  if (!ourScript || (previous && previous.loaded)) return;
  const data = ourScript.dataset;
  const apiBase = (data.api || new URL(ourScript.src, location.href).origin).replace(/\/+$/, '');
  // Our own time-out for every request (data-timeout, in seconds): a network that holds a
  // request must not leave the visitor looking at "Sending…" for minutes.
  const timeout = (+data.timeout || 15) * 1000;
  // The launcher waits this long for the settings at most; then it shows in the browser's
  // language (its label is built in) and the settings catch up.
  const LAUNCHER_WAIT = 1500;
  // The launcher's label in every language, put in by the build from widget/i18n/*.json.
  const launcherLabels = LAUNCHER_LABELS;

  // The settings (widget-config), a promise once asked for.
  let settings;
  let host;
  let root;
  let launcher;
  let dialogModule;
  let ready = false;
  // Calls to the public API made before the widget was ready.
  const queuedCalls = [];

  // Runs `action`, logging instead of throwing: nothing of ours may break the host page.
  const safely = (action) => (...args) => {
    try {
      return action(...args);
    } catch (error) {
      log('error', error);
    }
  };

  // Builds an element: attributes, event listeners (function values) and children.
  const element = (tag, attributes, ...children) => {
    const node = doc.createElement(tag);
    for (const name in attributes) {
      const value = attributes[name];
      if (typeof value == 'function') node.addEventListener(name, safely(value));
      else if (value != null && value !== false) node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  };

  // fetch() with our time-out; the answer's JSON ({} when it has none) and the response.
  const request = async (path, options) => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeout);
    try {
      const response = await fetch(apiBase + path, { credentials: 'omit', signal: abort.signal, ...options });
      return [await response.json().catch(() => ({})), response];
    } finally {
      clearTimeout(timer);
    }
  };

  // The languages the visitor wants, ours first (data-lang); the service picks one.
  const wanted = [data.lang, ...navigator.languages].join(',');
  const browserLanguage = () => {
    for (const tag of wanted.split(',')) {
      const code = tag.trim().slice(0, 2).toLowerCase().replace('ua', 'uk');
      if (launcherLabels[code]) return code;
    }
    return 'en';
  };
  // Every language we have is written left to right; a right-to-left one would say so here.
  const direction = (language) => (/^(ar|fa|he|ur)/.test(language) ? 'rtl' : 'ltr');

  // Imports one of our lazily loaded modules (/widget-<name>.js?v=<etag>, the path as
  // widget-config gives it). import(), not a <script>: the module hands its export straight
  // back, and Trusted Types do not govern import() (CSP's script-src does, as for this script).
  const importModule = (name) => settings.then((loaded) => import(apiBase + loaded.modules[name]));

  // The launcher's styles; the dialog module adds its own sheet. px and em, never rem: rem
  // follows the host page's root font size. Forced colours (Windows high contrast) drop
  // backgrounds: a border keeps every button's edge visible.
  const CSS = `:host{all:initial!important}
*{box-sizing:border-box;font:16px/1.5 system-ui,sans-serif}
button{cursor:pointer;border:0;border-radius:8px;padding:.6em 1.2em;min-height:44px;background:var(--callgate-accent,#0b57d0);color:var(--callgate-on-accent,#fff);font-weight:600}
:focus-visible{outline:3px solid var(--callgate-focus,#111);outline-offset:2px}
.l{position:fixed;z-index:2147483647;bottom:20px;right:20px;box-shadow:0 4px 16px #0004;border-radius:999px}
.left{right:auto;left:20px}
@media (forced-colors:active){button{border:2px solid ButtonText}}`;

  // Styles through a constructed sheet: a page whose CSP forbids inline styles still allows it.
  // (Browsers without one, before 2023, get no launcher; a site's own form still works.)
  const sheet = (css) => {
    const made = new CSSStyleSheet();
    made.replaceSync(css);
    return made;
  };

  // The dialog module, set up once with what it needs from us (after the settings: a click
  // on a launcher shown before they arrived waits for them). A failed load may be tried again.
  const loadDialog = () =>
    (dialogModule =
      dialogModule ||
      Promise.all([settings, importModule('dialog')]).then(([loaded, module]) =>
        module.default({
          config: loaded,
          data,
          host,
          root,
          launcher,
          ourScript,
          element,
          request,
          sheet,
          log,
          safely,
          direction,
          importModule,
        }),
      ).catch((error) => {
        dialogModule = null;
        throw error;
      }));

  const openDialog = () => {
    // Before the settings or the module have arrived, the click still counts.
    loadDialog().then((dialog) => dialog.open(), (error) => log('cannot load the dialog', error));
  };
  const closeDialog = () => {
    if (dialogModule) dialogModule.then((dialog) => dialog.close(), () => {});
  };

  // The launcher in its shadow root. The host hangs from <html>, after <body>: a host page
  // that transforms <body> (which makes position:fixed scroll with it) cannot move it, and a
  // cookie bar with the same z-index added later to <body> comes before it in paint order.
  const mountLauncher = (language) => {
    host = element('callgate-widget');
    if (data.color) host.style.setProperty('--callgate-accent', data.color);
    root = host.attachShadow({ mode: 'open' });
    root.adoptedStyleSheets = [sheet(CSS)];
    launcher = element(
      'button',
      {
        type: 'button',
        class: 'l' + (/left/.test(data.position) ? ' left' : ''),
        'aria-haspopup': 'dialog',
        click: openDialog,
        // The module starts loading as soon as the visitor heads for the launcher.
        pointerenter: () => loadDialog().catch(() => {}),
      },
      data.button || launcherLabels[language],
    );
    setLanguage(language);
    root.append(launcher);
    doc.documentElement.append(host);
  };

  const setLanguage = (language) => {
    launcher.lang = language;
    launcher.dir = direction(language);
  };

  // Public calls never throw; before the widget is ready they wait in a queue.
  const guard = (action) =>
    safely((...args) => (ready ? action(...args) : queuedCalls.push(() => action(...args))));
  const api = (win.Callgate = { loaded: true, open: guard(openDialog), close: guard(closeDialog) });

  const domReady = () =>
    doc.readyState == 'loading' && new Promise((resolve) => doc.addEventListener('DOMContentLoaded', resolve));

  const start = async () => {
    const floating = !data.form || 'launcher' in data;
    settings = request('/api/v1/widget-config?lang=' + encodeURIComponent(wanted)).then(([body, response]) => {
      if (!response.ok) throw new Error('HTTP ' + response.status);
      return body;
    });
    // Without settings we stay out of the way: the site's own form still posts without us.
    const failed = (error) =>
      log('cannot load settings from ' + apiBase + '; is this site in CALLGATE_ALLOWED_ORIGINS?', error);
    await domReady();
    if (floating) {
      // Whichever comes first: the settings, or the short wait for them.
      const early = await Promise.race([
        settings.then(() => 0, () => 0),
        new Promise((resolve) => setTimeout(resolve, LAUNCHER_WAIT, 1)),
      ]);
      if (early) mountLauncher(browserLanguage());
    }
    let config;
    try {
      config = await settings;
    } catch (error) {
      if (host) host.remove();
      return failed(error);
    }
    if (floating) {
      if (!host) mountLauncher(config.lang);
      if (!data.button) launcher.textContent = config.texts.launcher;
      setLanguage(config.lang);
    }
    if (data.form) {
      const form = doc.querySelector(data.form);
      if (form) await loadDialog().then((dialog) => dialog.enhance(form));
      else log('no form matches data-form="' + data.form + '"');
    }
    ready = true;
    for (const call of queuedCalls.splice(0)) call();
  };

  // Calls queued before we loaded: window.Callgate = {q: [["open"]]} or the docs' stub.
  try {
    for (const call of (previous && previous.q) || []) if (api[call[0]]) api[call[0]]();
  } catch (error) {
    log('bad queued call', error);
  }
  start().catch((error) => log('failed to start', error));
})();
