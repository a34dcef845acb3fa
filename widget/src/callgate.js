// callgate widget: readable source. `make widget` minifies it with esbuild into
// service/static/widget.js, which /widget.js serves; see docs/widget.md.
// Rules: never throw into the host page; no third-party requests; CSP and Trusted Types safe
// (no inline styles, no HTML strings); everything visible lives in a Shadow DOM.
(() => {
  'use strict';
  const win = window;
  const doc = document;
  const ourScript = doc.currentScript;
  const previous = win.Callgate;

  // Our own copies of the few built-ins a host page could break (a page that replaced
  // Array.prototype.filter, say): taken before any page code can run after us.
  const arrayFrom = Array.from;

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

  let texts = {};
  let config;
  let formToken;
  let formTokenAt = 0;
  let language = 'en';
  let dialog;
  let launcher;
  let closeButton;
  let dialogForm;
  let host;
  let enhancedForm;
  let ready = false;
  // The CAPTCHA controller of our dialog: t() token, r() reset, n() say why there is none.
  let captcha;
  // Loads the CAPTCHA module on the dialog's first open (then cleared).
  let loadCaptcha;
  // Calls to the public API made before the widget was ready.
  const queuedCalls = [];

  // Builds an element: attributes, event listeners (function values) and children.
  const element = (tag, attributes, ...children) => {
    const node = doc.createElement(tag);
    for (const name in attributes) {
      const value = attributes[name];
      if (typeof value == 'function') node.addEventListener(name, value);
      else if (value != null && value !== false) node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  };

  // A text of the chosen language, with {name} placeholders filled in.
  const text = (key, values) =>
    (texts[key] || texts.error || '').replace(/\{(\w+)\}/g, (_, name) => values[name]);

  const readCookie = (name) => {
    const match = doc.cookie.match(new RegExp('(?:^|;\\s*)' + name + '=([^;]*)'));
    return match ? match[1] : null;
  };

  // randomUUID needs a secure context; getRandomValues does not.
  const newKey = () =>
    crypto.randomUUID
      ? crypto.randomUUID()
      : 'cg-' + arrayFrom(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(36)).join('');

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // A time from the service, in the visitor's time zone and language.
  const localTime = (iso) => {
    // The service writes UTC; a time without a zone must not be read as local time.
    const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + 'Z');
    const options = { hour: '2-digit', minute: '2-digit' };
    if (date.toDateString() != new Date().toDateString()) options.weekday = 'short';
    return date.toLocaleString(language, options);
  };

  // What a lead's status means to the visitor. A status we have no words for (a newer
  // service) reads as "received".
  const statusText = (lead) =>
    lead.scheduled_for && /queued|scheduled/.test(lead.status)
      ? text('scheduled', { time: localTime(lead.scheduled_for) })
      : (lead.status != 'scheduled' && texts[lead.status]) || texts.queued;

  const reportToAnalytics = (leadId) => {
    // Only the lead id: nothing personal.
    const dataLayer = win.dataLayer;
    if (dataLayer && dataLayer.push) {
      dataLayer.push({ event: 'callgate_callback_requested', callgate_lead_id: leadId });
    }
    doc.dispatchEvent(new CustomEvent('callgate:callback-requested', { detail: { leadId } }));
  };

  // Settings, texts and a fresh signed form token (the service refuses posts without one).
  // The service reads the first two letters of each language tag.
  const loadConfig = async () => {
    const wanted = [data.lang, ...navigator.languages].join(',').replace(/^,+|,+$/g, '');
    const response = await fetch(
      apiBase + '/api/v1/widget-config?lang=' + encodeURIComponent(wanted),
      { credentials: 'omit' },
    );
    if (!response.ok) throw new Error('HTTP ' + response.status);
    const loaded = await response.json();
    formToken = loaded.form_token;
    formTokenAt = Date.now();
    return loaded;
  };

  // Posts one form (ours in the dialog or the site's own), shows errors in place, then polls
  // the lead's status. `say` writes the status line; `done(ok)` is told when the form is done.
  const bindForm = (form, say, done) => {
    let idempotencyKey = null;
    let busy = false;
    let shownErrors = [];
    const submitButton = form.querySelector('[type=submit],button:not([type])');

    const setBusy = (isBusy) => {
      busy = isBusy;
      if (submitButton) {
        if (isBusy) submitButton.setAttribute('aria-disabled', 'true');
        else submitButton.removeAttribute('aria-disabled');
      }
      // Whatever the answer, a CAPTCHA token is good for one verification: a retry needs a new one.
      if (!isBusy && form == dialogForm && captcha) captcha.r();
    };

    const clearErrors = () => {
      for (const [field, message, describedBefore] of shownErrors) {
        field.removeAttribute('aria-invalid');
        if (describedBefore) field.setAttribute('aria-describedby', describedBefore);
        else field.removeAttribute('aria-describedby');
        message.remove();
      }
      shownErrors = [];
    };

    // Marks a field invalid with its message below it; returns the field (to focus) or null.
    const showError = (name, message) => {
      const field = form.elements[name];
      // Never point at hidden fields or the honeypot (tabindex -1).
      if (!field || !field.focus || field.type == 'hidden' || field.tabIndex < 0) return null;
      const note = element('span', { id: 'callgate-err-' + name, class: 'callgate-error err' }, message);
      const describedBefore = field.getAttribute('aria-describedby');
      field.after(note);
      field.setAttribute('aria-invalid', 'true');
      field.setAttribute('aria-describedby', (describedBefore ? describedBefore + ' ' : '') + note.id);
      shownErrors.push([field, note, describedBefore]);
      return field;
    };

    const pollStatus = async (leadId) => {
      let lastSaid;
      // Soon at first (the call is usually placed within a second), then backing off.
      const end = Date.now() + 60000;
      for (let wait = 400; Date.now() < end; wait = Math.min(wait * 1.5, 3000)) {
        await sleep(wait);
        try {
          const response = await fetch(apiBase + '/api/v1/callbacks/' + encodeURIComponent(leadId), {
            credentials: 'omit',
          });
          if (!response.ok) continue;
          const lead = await response.json();
          const said = statusText(lead);
          if (said != lastSaid) say((lastSaid = said));
          if (lead.status == 'connected') return;
          // A failed call may be asked for again.
          if (lead.status == 'failed') {
            setBusy(false);
            return done(false);
          }
        } catch (_) {
          // The network comes and goes; try again until the end.
        }
      }
    };

    const send = async (isRetry) => {
      clearErrors();
      const formData = new FormData(form);
      const body = {};
      const consentBox = form.elements.consent;
      for (const name of ['phone', 'name', 'comment', 'website']) {
        if (formData.has(name)) body[name] = String(formData.get(name));
      }
      const missing = !(body.phone || '').trim()
        ? ['phone', texts.phone_missing]
        : consentBox && !consentBox.checked
          ? ['consent', texts.consent_required]
          : null;
      if (missing) {
        say(texts.validation_error);
        const field = showError(missing[0], missing[1]);
        if (field) field.focus();
        return;
      }
      if (consentBox) body.consent = true;
      // Our dialog's CAPTCHA (never sent without its token), or the one on a site's own form.
      const ours = form == dialogForm && captcha;
      const captchaToken = ours
        ? captcha.t()
        : formData.get('cf-turnstile-response') || formData.get('h-captcha-response');
      if (ours && !captchaToken) return captcha.n();
      if (captchaToken) body.captcha_token = String(captchaToken);
      body.form_token = formToken;
      body.page_url = location.href.slice(0, 2048);
      // Copies of the attribution cookies: the service may live on another domain.
      body.rngst2 = readCookie('rngst2');
      body.ga = readCookie('_ga');
      idempotencyKey = idempotencyKey || newKey();
      setBusy(true);
      say(texts.sending);
      let response;
      let answer;
      try {
        // No person sends a form faster than the service's minimum token age: wait it out.
        await sleep(formTokenAt + (config.form_token_min_age || 0) * 1000 - Date.now());
        response = await fetch(apiBase + '/api/v1/callbacks', {
          method: 'POST',
          credentials: 'omit',
          body: JSON.stringify(body),
          headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json',
            'Idempotency-Key': idempotencyKey,
          },
        });
        answer = await response.json().catch(() => ({}));
      } catch (error) {
        setBusy(false);
        log('cannot reach ' + apiBase, error);
        return say(texts.error);
      }
      if (response.ok && answer.id) {
        idempotencyKey = null;
        reportToAnalytics(answer.id);
        say(statusText(answer));
        done(true);
        return pollStatus(answer.id);
      }
      const codes = answer.error_codes || {};
      // A stale or early token: take a fresh one and send the same submission once more.
      if (codes.form_token && !isRetry) return loadConfig().then(() => send(true));
      setBusy(false);
      if (response.status == 429) {
        return say(text('rate_limited', { seconds: +response.headers.get('Retry-After') || 60 }));
      }
      let firstInvalid = null;
      for (const name in codes) {
        const code = codes[name];
        if (code == 'key_reused') idempotencyKey = null;
        firstInvalid =
          firstInvalid ||
          showError(name, texts[code] || (code.startsWith('phone') ? texts.phone_invalid : texts.validation_error));
      }
      say(
        firstInvalid
          ? texts.validation_error
          : texts[Object.values(codes)[0]] || texts[answer.code] || texts.error,
      );
      if (firstInvalid) firstInvalid.focus();
    };

    // A new submission gets a new key; a retry of the same one reuses it.
    form.addEventListener('input', () => {
      idempotencyKey = null;
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!busy) {
        send().catch((error) => {
          setBusy(false);
          log('error', error);
        });
      }
    });
  };

  // px and em, never rem: rem follows the host page's root font size.
  const CSS = `:host{all:initial!important}
*{box-sizing:border-box;font:16px/1.5 system-ui,sans-serif}
button{cursor:pointer;border:0;border-radius:8px;padding:.6em 1.2em;min-height:44px;background:var(--callgate-accent,#0b57d0);color:var(--callgate-on-accent,#fff);font-weight:600}
:focus-visible{outline:3px solid var(--callgate-focus,#111);outline-offset:2px}
.l{position:fixed;z-index:2147483647;bottom:20px;right:20px;box-shadow:0 4px 16px #0004;border-radius:999px}
.left{right:auto;left:20px}
dialog{border:0;border-radius:12px;padding:0;width:min(24em,calc(100vw - 16px));max-height:calc(100vh - 16px);overflow:auto;color:#1a1a1a;background:#fff;box-shadow:0 10px 40px #0006}
dialog::backdrop{background:#0006}
.in{padding:1.25em}
h2{font-size:20px;font-weight:700;margin:0 2em .4em 0}
p{margin:.5em 0}
label{display:block;margin-top:.75em;font-weight:600}
input{display:block;width:100%;margin-top:.25em;padding:.55em;border:1px solid #666;border-radius:6px;background:#fff}
[aria-invalid=true]{border:2px solid #b3261e}
.c{display:flex;gap:.5em;flex-wrap:wrap;align-items:center}
.c input{width:24px;height:24px;margin:0}
.c label{margin:0;font-weight:400;flex:1}
.err{display:block;color:#b3261e;font-size:.9em}
.hp{position:absolute;left:-9999px;width:1px;height:1px;overflow:hidden}
.x{position:absolute;top:.5em;right:.5em;width:44px;padding:0;background:none;color:#1a1a1a;font-size:1.5em}
form [type=submit]{width:100%;margin-top:1em}
[aria-disabled=true]{opacity:.6;cursor:progress}
a{color:#0b57d0}
@media (prefers-reduced-motion:no-preference){dialog[open]{animation:cg .2s ease-out}}
@keyframes cg{from{opacity:0;transform:translateY(8px)}}`;

  // Styles through a constructed sheet: a page whose CSP forbids inline styles still allows it.
  // (Browsers without one, before 2023, get no launcher; a site's own form still works.)
  const applyStyles = (root) => {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  };

  // "Or call us now: <number>" when the site gives one (data-call-now).
  const callNowLine = () => {
    const number = data.callNow;
    if (!number) return null;
    const digits = number.replace(/[^\d+]/g, '');
    const href =
      data.callNowScheme == 'rcmobile'
        ? 'rcmobile://call?number=' + digits.replace('+', '')
        : 'tel:' + digits;
    return element('p', { class: 'callgate-call-now' }, texts.call_now + ' ', element('a', { href }, number));
  };

  // Every browser with constructed stylesheets (which mountDialog() needs) has <dialog>.
  const openDialog = () => {
    if (!dialog) {
      const phone = enhancedForm && enhancedForm.elements.phone;
      if (phone && phone.focus) phone.focus();
      return;
    }
    if (dialog.open) return;
    if (loadCaptcha) loadCaptcha((loadCaptcha = null));
    dialog.showModal();
    (dialogForm.hidden ? closeButton : dialogForm.elements.phone).focus();
  };

  const closeDialog = () => {
    if (!dialog || !dialog.open) return;
    dialog.close();
    launcher.focus();
  };

  // Esc closes, focus returns; Tab and Shift+Tab cycle inside the dialog.
  const trapKeys = (root) => (event) => {
    if (event.key == 'Escape') {
      event.preventDefault();
      return closeDialog();
    }
    if (event.key != 'Tab') return;
    const focusable = [];
    for (const node of dialog.querySelectorAll('button,input,a[href]')) {
      if (!node.closest('[hidden],.hp')) focusable.push(node);
    }
    const active = root.activeElement;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey ? active == first || active == dialog : active == last) {
      event.preventDefault();
      (event.shiftKey ? last : first).focus();
    }
  };

  // Imports one of our lazily loaded modules (/widget-<name>.js?v=<etag>, the path as
  // widget-config gives it). import(), not a <script>: the module hands its export straight
  // back, and Trusted Types do not govern import() (CSP's script-src does, as for this script).
  const importModule = (path) => import(apiBase + path);

  // The floating launcher and its dialog, in a shadow root of their own.
  const mountDialog = () => {
    host = element('callgate-widget');
    if (data.color) host.style.setProperty('--callgate-accent', data.color);
    const root = host.attachShadow({ mode: 'open' });
    applyStyles(root);
    const consentUrl = /^https?:/.test(data.consentUrl || '') ? data.consentUrl : null;
    const consent =
      data.consent || config.require_consent
        ? element(
            'p',
            { class: 'c' },
            element('input', { type: 'checkbox', id: 'c', name: 'consent' }),
            element('label', { for: 'c' }, data.consent || texts.consent),
            consentUrl ? element('a', { href: consentUrl, target: '_blank', rel: 'noopener' }, texts.privacy) : null,
          )
        : null;
    const status = element('p', { role: 'status', 'aria-live': 'polite' });
    launcher = element(
      'button',
      {
        type: 'button',
        class: 'l' + (/left/.test(data.position) ? ' left' : ''),
        'aria-haspopup': 'dialog',
        click: api.open,
      },
      texts.launcher,
    );
    closeButton = element('button', { type: 'button', class: 'x', 'aria-label': texts.close, click: api.close }, '×');
    dialogForm = element(
      'form',
      { novalidate: true },
      element('label', { for: 'p' }, texts.phone),
      element('input', {
        id: 'p',
        name: 'phone',
        type: 'tel',
        autocomplete: 'tel',
        inputmode: 'tel',
        required: true,
        maxlength: 64,
      }),
      element('label', { for: 'n' }, texts.name),
      element('input', { id: 'n', name: 'name', autocomplete: 'name', maxlength: 100 }),
      // The honeypot: people never see it, bots fill it in.
      element(
        'div',
        { class: 'hp', 'aria-hidden': 'true' },
        element('label', { for: 'w' }, texts.hp),
        element('input', { id: 'w', name: 'website', tabindex: '-1', autocomplete: 'off' }),
      ),
      consent,
      element('button', { type: 'submit' }, texts.submit),
    );
    dialog = element(
      'dialog',
      {
        'aria-modal': 'true',
        'aria-labelledby': 't',
        'aria-describedby': 'i',
        lang: language,
        cancel: (event) => {
          event.preventDefault();
          closeDialog();
        },
        // The dialog has no padding of its own, so a click on it is a click on the backdrop.
        click: (event) => event.target == dialog && closeDialog(),
        keydown: trapKeys(root),
      },
      element(
        'div',
        { class: 'in' },
        closeButton,
        element('h2', { id: 't' }, texts.title),
        element('p', { id: 'i' }, texts.intro),
        dialogForm,
        status,
        callNowLine(),
      ),
    );
    const say = (message) => {
      status.textContent = message;
    };
    bindForm(dialogForm, say, (ok) => {
      dialogForm.hidden = ok;
      if (ok) closeButton.focus();
    });
    if (config.captcha != 'none') {
      // No token until widget-captcha.js has run. It loads on first open, not on every page
      // view. The path comes versioned from widget-config: module and service agree.
      let reason = 'captcha_missing';
      captcha = { t: () => '', r() {}, n: () => say(texts[reason]) };
      loadCaptcha = () =>
        importModule(config.captcha_module)
          .then((module) => {
            captcha = module.default(host, config, say, ourScript.nonce);
          })
          .catch((error) => {
            say(texts[(reason = 'captcha_load_failed')]);
            log(reason, error);
          });
    }
    root.append(launcher, dialog);
    doc.body.append(host);
  };

  // The site's own form (data-form): we post it, it keeps its looks.
  const enhanceForm = (form) => {
    enhancedForm = form;
    // Light DOM on purpose: the site's own styles apply; .callgate-status and .callgate-error are its hooks.
    const status = element('p', { role: 'status', 'aria-live': 'polite', class: 'callgate-status', lang: language });
    form.append(status);
    const callNow = callNowLine();
    if (callNow) status.after(callNow);
    bindForm(
      form,
      (message) => {
        status.textContent = message;
      },
      () => {},
    );
  };

  // Public calls never throw; before the widget is ready they wait in a queue.
  const guard =
    (action) =>
    (...args) => {
      try {
        return ready ? action(...args) : queuedCalls.push(() => action(...args));
      } catch (error) {
        log('error', error);
      }
    };
  const api = (win.Callgate = { loaded: true, open: guard(openDialog), close: guard(closeDialog) });

  const start = async () => {
    try {
      config = await loadConfig();
    } catch (error) {
      // Without settings we stay out of the way: the site's own form still posts without us.
      return log('cannot load settings from ' + apiBase + '; is this site in CALLGATE_ALLOWED_ORIGINS?', error);
    }
    texts = config.texts;
    language = config.lang;
    // A site's own words for the main texts: data-title, data-intro, data-button, data-submit.
    for (const [key, attribute] of [
      ['title', 'title'],
      ['intro', 'intro'],
      ['launcher', 'button'],
      ['submit', 'submit'],
    ]) {
      if (data[attribute]) texts[key] = data[attribute];
    }
    if (doc.readyState == 'loading') {
      await new Promise((resolve) => doc.addEventListener('DOMContentLoaded', resolve));
    }
    if (data.form) {
      const form = doc.querySelector(data.form);
      if (form) enhanceForm(form);
      else log('no form matches data-form="' + data.form + '"');
    }
    if (!data.form || 'launcher' in data) mountDialog();
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
