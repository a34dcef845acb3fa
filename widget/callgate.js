// callgate widget, see README "The widget". Never throws into the host page.
(() => {
  'use strict';
  const W = window, D = document, S = D.currentScript, old = W.Callgate;
  const log = (m, e) => {
    try { console.warn('callgate: ' + m, e || ''); } catch (_) {
      // No console, or one that throws.
    }
  };
  // Like umami: quit quietly without our own tag, or when already loaded once.
  if (!S || (old && old.loaded)) return;
  const ds = S.dataset;
  const api = (ds.api || new URL(S.src, location.href).origin).replace(/\/+$/, '');
  let T = {}, cfg, tok, tokAt = 0, lang = 'en', dlg, launcher, closer, dform, host, ef, ready = false, C, cap;
  const later = [];

  const h = (tag, attrs, ...kids) => {
    const el = D.createElement(tag);
    for (const k in attrs) {
      const v = attrs[k];
      if (typeof v == 'function') el.addEventListener(k, v);
      else if (v != null && v !== false) el.setAttribute(k, v === true ? '' : v);
    }
    el.append(...kids.filter((k) => k != null));
    return el;
  };
  const t = (k, vars) => (T[k] || T.error || '').replace(/\{(\w+)\}/g, (_, n) => vars[n]);
  const cookie = (n) => { const m = D.cookie.match(new RegExp('(?:^|;\\s*)' + n + '=([^;]*)')); return m ? m[1] : null; };
  // randomUUID needs a secure context; getRandomValues does not.
  const uuid = () => crypto.randomUUID ? crypto.randomUUID() : 'cg-' + Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(36)).join('');
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const at = (iso) => {
    // The service writes UTC; a time without a zone must not be read as local time.
    const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + 'Z');
    const o = { hour: '2-digit', minute: '2-digit' };
    if (d.toDateString() != new Date().toDateString()) o.weekday = 'short';
    return d.toLocaleString(lang, o);
  };
  // A status we have no words for (a newer service) reads as "received".
  const said = (d) => d.scheduled_for && /queued|scheduled/.test(d.status) ? t('scheduled', { time: at(d.scheduled_for) }) : (d.status != 'scheduled' && T[d.status]) || T.queued;
  const analytics = (id) => {
    // Only the lead id: nothing personal.
    const dl = W.dataLayer;
    if (dl && dl.push) dl.push({ event: 'callgate_callback_requested', callgate_lead_id: id });
    D.dispatchEvent(new CustomEvent('callgate:callback-requested', { detail: { leadId: id } }));
  };

  // Settings, texts and a fresh signed form token (the service refuses posts without one).
  // The service reads the first two letters of each language tag.
  const load = async () => {
    const want = [ds.lang, ...navigator.languages].filter(Boolean);
    const r = await fetch(api + '/api/v1/widget-config?lang=' + encodeURIComponent(want.join(',')), { credentials: 'omit' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    const c = await r.json();
    tok = c.form_token;
    tokAt = Date.now();
    return c;
  };

  // Posts one form (ours in the dialog or the site's own), shows errors in place, then polls.
  const bind = (form, say, done) => {
    let key = null, busy = false, errs = [];
    const btn = form.querySelector('[type=submit],button:not([type])');
    const lock = (b) => {
      busy = b;
      if (btn) b ? btn.setAttribute('aria-disabled', 'true') : btn.removeAttribute('aria-disabled');
      // Whatever the answer, a CAPTCHA token is good for one verification: a retry needs a new one.
      if (!b && form == dform && C) C.r();
    };
    const clear = () => {
      for (const [el, p, was] of errs) {
        el.removeAttribute('aria-invalid');
        was ? el.setAttribute('aria-describedby', was) : el.removeAttribute('aria-describedby');
        p.remove();
      }
      errs = [];
    };
    const bad = (name, msg) => {
      const el = form.elements[name];
      // Never point at hidden fields or the honeypot (tabindex -1).
      if (!el || !el.focus || el.type == 'hidden' || el.tabIndex < 0) return null;
      const p = h('span', { id: 'callgate-err-' + name, class: 'callgate-error err' }, msg);
      const was = el.getAttribute('aria-describedby');
      el.after(p);
      el.setAttribute('aria-invalid', 'true');
      el.setAttribute('aria-describedby', (was ? was + ' ' : '') + p.id);
      errs.push([el, p, was]);
      return el;
    };
    const poll = async (id) => {
      let last;
      // Soon at first (the call is usually placed within a second), then backing off.
      for (let wait = 400, end = Date.now() + 60000; Date.now() < end; wait = Math.min(wait * 1.5, 3000)) {
        await sleep(wait);
        try {
          const r = await fetch(api + '/api/v1/callbacks/' + encodeURIComponent(id), { credentials: 'omit' });
          if (!r.ok) continue;
          const d = await r.json();
          const s = said(d);
          if (s != last) say((last = s));
          if (d.status == 'connected') return;
          // A failed call may be asked for again.
          if (d.status == 'failed') return lock(false), done(false);
        } catch (e) {
          // The network comes and goes; try again until the end.
        }
      }
    };
    // A new submission gets a new key; a retry of the same one reuses it.
    form.addEventListener('input', () => { key = null; });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!busy) send().catch((e) => { lock(false); log('error', e); });
    });
    const send = async (again) => {
      clear();
      const f = new FormData(form), body = {}, agree = form.elements.consent;
      for (const k of ['phone', 'name', 'comment', 'website']) if (f.has(k)) body[k] = String(f.get(k));
      const missing = !(body.phone || '').trim() ? ['phone', T.phone_missing] : agree && !agree.checked ? ['consent', T.consent_required] : null;
      if (missing) { say(T.validation_error); const p = bad(...missing); if (p) p.focus(); return; }
      if (agree) body.consent = true;
      // Our dialog's CAPTCHA (never sent without its token), or the one on a site's own form.
      const mine = form == dform && C, k = mine ? C.t() : f.get('cf-turnstile-response') || f.get('h-captcha-response');
      if (mine && !k) return C.n();
      if (k) body.captcha_token = String(k);
      body.form_token = tok;
      body.page_url = location.href.slice(0, 2048);
      // Copies of the attribution cookies: the service may live on another domain.
      body.rngst2 = cookie('rngst2');
      body.ga = cookie('_ga');
      key = key || uuid();
      lock(true);
      say(T.sending);
      let r, d;
      try {
        // No person sends a form faster than the service's minimum token age: wait it out.
        await sleep(tokAt + (cfg.form_token_min_age || 0) * 1000 - Date.now());
        r = await fetch(api + '/api/v1/callbacks', {
          method: 'POST', credentials: 'omit', body: JSON.stringify(body),
          headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Idempotency-Key': key },
        });
        d = await r.json().catch(() => ({}));
      } catch (e) {
        lock(false);
        log('cannot reach ' + api, e);
        return say(T.error);
      }
      if (r.ok && d.id) {
        key = null;
        analytics(d.id);
        say(said(d));
        done(true);
        return poll(d.id);
      }
      const codes = d.error_codes || {};
      // A stale or early token: take a fresh one and send the same submission once more.
      if (codes.form_token && !again) return load().then(() => send(1));
      lock(false);
      if (r.status == 429) return say(t('rate_limited', { seconds: +r.headers.get('Retry-After') || 60 }));
      let first = null;
      for (const n in codes) {
        const c = codes[n];
        if (c == 'key_reused') key = null;
        first = first || bad(n, T[c] || (c.startsWith('phone') ? T.phone_invalid : T.validation_error));
      }
      say(first ? T.validation_error : T[Object.values(codes)[0]] || T[d.code] || T.error);
      if (first) first.focus();
    };
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
  const style = (root) => {
    const s = new CSSStyleSheet();
    s.replaceSync(CSS);
    root.adoptedStyleSheets = [s];
  };

  const callNow = () => {
    const n = ds.callNow;
    if (!n) return null;
    const d = n.replace(/[^\d+]/g, '');
    const href = ds.callNowScheme == 'rcmobile' ? 'rcmobile://call?number=' + d.replace('+', '') : 'tel:' + d;
    return h('p', { class: 'callgate-call-now' }, T.call_now + ' ', h('a', { href }, n));
  };

  // Every browser with constructed stylesheets (which mount() needs) has <dialog>.
  const open = () => {
    if (!dlg) { const p = ef && ef.elements.phone; if (p && p.focus) p.focus(); return; }
    if (dlg.open) return;
    if (cap) cap(cap = 0);
    dlg.showModal();
    (dform.hidden ? closer : dform.elements.phone).focus();
  };
  const close = () => {
    if (!dlg || !dlg.open) return;
    dlg.close();
    launcher.focus();
  };

  const mount = () => {
    host = h('callgate-widget');
    if (ds.color) host.style.setProperty('--callgate-accent', ds.color);
    const root = host.attachShadow({ mode: 'open' });
    style(root);
    const url = /^https?:/.test(ds.consentUrl || '') ? ds.consentUrl : null;
    const consent = ds.consent || cfg.require_consent ? h('p', { class: 'c' },
      h('input', { type: 'checkbox', id: 'c', name: 'consent' }), h('label', { for: 'c' }, ds.consent || T.consent),
      url ? h('a', { href: url, target: '_blank', rel: 'noopener' }, T.privacy) : null) : null;
    const st = h('p', { role: 'status', 'aria-live': 'polite' });
    launcher = h('button', { type: 'button', class: 'l' + (/left/.test(ds.position) ? ' left' : ''), 'aria-haspopup': 'dialog', click: open }, T.launcher);
    closer = h('button', { type: 'button', class: 'x', 'aria-label': T.close, click: close }, '×');
    dform = h('form', { novalidate: true },
      h('label', { for: 'p' }, T.phone),
      h('input', { id: 'p', name: 'phone', type: 'tel', autocomplete: 'tel', inputmode: 'tel', required: true, maxlength: 64 }),
      h('label', { for: 'n' }, T.name),
      h('input', { id: 'n', name: 'name', autocomplete: 'name', maxlength: 100 }),
      h('div', { class: 'hp', 'aria-hidden': 'true' }, h('label', { for: 'w' }, T.hp), h('input', { id: 'w', name: 'website', tabindex: '-1', autocomplete: 'off' })),
      consent,
      h('button', { type: 'submit' }, T.submit));
    dlg = h('dialog', { 'aria-modal': 'true', 'aria-labelledby': 't', 'aria-describedby': 'i', lang,
      // Esc closes, focus returns; Tab and Shift+Tab cycle inside the dialog.
      cancel: (e) => { e.preventDefault(); close(); },
      // The dialog has no padding of its own, so a click on it is a click on the backdrop.
      click: (e) => e.target == dlg && close(),
      keydown: (e) => {
        if (e.key == 'Escape') { e.preventDefault(); return close(); }
        if (e.key != 'Tab') return;
        const f = [...dlg.querySelectorAll('button,input,a[href]')].filter((el) => !el.closest('[hidden],.hp'));
        const a = root.activeElement, first = f[0], last = f[f.length - 1];
        if (e.shiftKey ? a == first || a == dlg : a == last) { e.preventDefault(); (e.shiftKey ? last : first).focus(); }
      } },
    h('div', { class: 'in' }, closer, h('h2', { id: 't' }, T.title), h('p', { id: 'i' }, T.intro), dform, st, callNow()));
    const say = (s) => { st.textContent = s; };
    bind(dform, say, (ok) => { dform.hidden = ok; if (ok) closer.focus(); });
    if (cfg.captcha != 'none') {
      // No token until widget-captcha.js has run. It loads on first open, not on every page view,
      // and with import(), not a <script>: it hands its controller straight back to us, and
      // Trusted Types do not govern import() (CSP's script-src does, as for this script).
      // The path comes versioned from widget-config, never cached: module and service agree.
      let no = 'captcha_missing';
      C = { t: () => '', r() {}, n: () => say(T[no]) };
      cap = () => import(api + cfg.captcha_module).then((m) => { C = m.default(host, cfg, say, S.nonce); }).catch((e) => { say(T[no = 'captcha_load_failed']); log(no, e); });
    }
    root.append(launcher, dlg);
    D.body.append(host);
  };

  const enhance = (form) => {
    ef = form;
    // Light DOM on purpose: the site's own styles apply; .callgate-status and .callgate-error are its hooks.
    const st = h('p', { role: 'status', 'aria-live': 'polite', class: 'callgate-status', lang });
    form.append(st);
    const cn = callNow();
    if (cn) st.after(cn);
    bind(form, (s) => { st.textContent = s; }, () => {});
  };

  const guard = (f) => (...a) => { try { return ready ? f(...a) : later.push(() => f(...a)); } catch (e) { log('error', e); } };
  const API = (W.Callgate = { loaded: true, open: guard(open), close: guard(close) });

  const start = async () => {
    try {
      cfg = await load();
    } catch (e) {
      // Without settings we stay out of the way: the site's own form still posts without us.
      return log('cannot load settings from ' + api + '; is this site in CALLGATE_ALLOWED_ORIGINS?', e);
    }
    T = cfg.texts;
    lang = cfg.lang;
    for (const [k, a] of [['title', 'title'], ['intro', 'intro'], ['launcher', 'button'], ['submit', 'submit']]) if (ds[a]) T[k] = ds[a];
    if (D.readyState == 'loading') await new Promise((r) => D.addEventListener('DOMContentLoaded', r));
    if (ds.form) {
      const f = D.querySelector(ds.form);
      f ? enhance(f) : log('no form matches data-form="' + ds.form + '"');
    }
    if (!ds.form || 'launcher' in ds) mount();
    ready = true;
    later.splice(0).forEach((f) => f());
  };
  // Calls queued before we loaded: window.Callgate = {q: [["open"]]} or the README's stub.
  try { for (const c of (old && old.q) || []) API[c[0]] && API[c[0]](); } catch (e) { log('bad queued call', e); }
  start().catch((e) => log('failed to start', e));
})();
