// callgate widget: the CAPTCHA in its dialog (Cloudflare Turnstile or hCaptcha): readable
// source, minified by `make widget` into service/static/widget-captcha.js, served as
// /widget-captcha.js. widget.js imports this module on the dialog's first open, and only when
// /api/v1/widget-config says `captcha` is not `none`; see docs/widget.md.
// Like widget.js it never throws into the host page.

// The vendor calls this global once its script is ready. Both vendors document `?onload=` for
// explicit rendering; a <script>'s load event is too early (hCaptcha is still setting up then).
const READY = 'callgateCaptchaReady';
// A script that neither loads nor fails within this long (a hanging network) counts as failed.
const LOAD_TIMEOUT = 15000;
// Host page CSS reaches light DOM; important rules from the shadow root still win over it.
const CSS = '::slotted(callgate-captcha){all:initial!important;display:block!important;margin-top:1em!important;min-height:65px!important}';

// Renders the CAPTCHA into the dialog of `host` (the <callgate-widget>) and returns the
// controller widget.js uses: `t()` the current token ('' when none), `r()` reset it for a new
// one, `n()` say why there is no token and move focus to the CAPTCHA.
export default (host, config, say, nonce) => {
  const win = window;
  const doc = document;
  const texts = config.texts;
  const isHcaptcha = config.captcha == 'hcaptcha';
  const vendor = () => win[isHcaptcha ? 'hcaptcha' : 'turnstile'];
  // id: the vendor's widget id once rendered; broken: the vendor's script could not load;
  // failed: the vendor reported an error (a fresh attempt needs a reset); told: the status
  // line shows one of our CAPTCHA messages, which a solved CAPTCHA clears.
  let id = null, broken = false, failed = false, told = false;
  const log = (m, e) => {
    try { console.warn('callgate: ' + m, e || ''); } catch (_) {
      // No console, or one that throws.
    }
  };
  const tell = (m) => { told = true; say(m); };
  const fail = (e) => {
    if (broken || id != null) return;
    broken = true;
    tell(texts.captcha_load_failed);
    log('captcha_load_failed', e);
  };
  const reset = () => {
    try { if (id != null) vendor().reset(id); } catch (e) { log('captcha reset', e); }
  };

  // The container lives in the light DOM (a child of <callgate-widget>) and is shown in the
  // dialog through a named <slot>. Vendors' scripts find their container and their elements
  // through `document` and put their styles in document.head: inside our shadow root the
  // lookups fail and the styles never apply. Slotted, the container still sits inside the
  // modal dialog (so it is not inert) and in the dialog's tab order, before the submit button.
  const box = doc.createElement('callgate-captcha');
  box.slot = 'captcha';
  // Focusable by script only: a refused submission moves focus here, Tab then enters the CAPTCHA.
  box.tabIndex = -1;
  box.setAttribute('role', 'group');
  box.setAttribute('aria-label', texts.captcha);
  // Light DOM inherits the page's lang; the CAPTCHA's texts are in the widget's language.
  box.lang = config.lang;
  host.append(box);
  const root = host.shadowRoot, slot = doc.createElement('slot'), sheet = new CSSStyleSheet();
  slot.name = 'captcha';
  root.querySelector('form [type=submit]').before(slot);
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];

  const render = () => {
    if (id != null || !box.isConnected) return;
    try {
      const options = {
        sitekey: config.captcha_site_key,
        callback: () => {
          failed = false;
          if (told) {
            say('');
            told = false;
          }
        },
        // A token is good for a few minutes; an expired one would fail verification.
        'expired-callback': reset,
        'error-callback': (code) => {
          failed = true;
          tell(texts.captcha_failed);
          log('captcha error', code);
          // Handled: Turnstile would otherwise throw into the page.
          return true;
        },
      };
      // In the widget's language: Turnstile calls it `language`, hCaptcha `hl`.
      options[isHcaptcha ? 'hl' : 'language'] = config.lang;
      // hCaptcha shows its image challenge in a frame of its own, appended to document.body
      // unless told where: outside our modal dialog it would be inert and under the backdrop
      // (hCaptcha/react-hcaptcha#201, vue-hcaptcha#96). Its `challenge-container` option (an
      // element id) puts it in our box, inside the dialog. Turnstile needs nothing of the kind:
      // its only interaction, a checkbox, stays in its own iframe in the box.
      if (isHcaptcha) options['challenge-container'] = box.id = 'callgate-captcha';
      id = vendor().render(box, options);
      broken = false;
    } catch (e) {
      fail(e);
    }
  };

  const load = () => {
    const v = vendor(), base = config.captcha_script_url;
    // The page already has the vendor's script (say, for its own form): one copy is enough.
    if (v && v.render) return render();
    // Its <script> is there but still loading: wait for the vendor's global rather than add a
    // second copy (which would set the vendor up twice). Same origin and path: the same script.
    const where = (u) => { u = new URL(u, location.href); return u.origin + u.pathname; };
    const theirs = [...doc.scripts].find((e) => e.src && where(e.src) == where(base));
    if (theirs) {
      theirs.addEventListener('error', fail);
      const wait = () => { const v = vendor(); v && v.render ? render() : broken || setTimeout(wait, 50); };
      setTimeout(() => fail('no answer from ' + base), LOAD_TIMEOUT);
      return wait();
    }
    const url = base + (base.includes('?') ? '&' : '?') + 'onload=' + READY;
    const s = doc.createElement('script');
    let policy;
    // Trusted Types: where a page enforces them, a script URL must come from a policy. Ours
    // can only ever name the configured vendor script, whatever it is asked.
    try { policy = trustedTypes.createPolicy('callgate', { createScriptURL: () => url }); } catch (_) {
      // No Trusted Types here, or the page's trusted-types directive does not list ours.
    }
    win[READY] = render;
    s.onerror = fail;
    // A page whose CSP allows scripts by nonce: the same nonce as widget.js.
    s.nonce = nonce || '';
    try {
      s.src = policy ? policy.createScriptURL('') : url;
      doc.head.append(s);
    } catch (e) {
      return fail(e);
    }
    setTimeout(() => fail('no answer from ' + base), LOAD_TIMEOUT);
  };
  load();

  return {
    t: () => {
      try { return (id != null && vendor().getResponse(id)) || ''; } catch (_) { return ''; }
    },
    r: reset,
    n: () => {
      // After a vendor error, a new attempt starts from a fresh challenge.
      if (failed) {
        failed = false;
        reset();
      }
      tell(broken ? texts.captcha_load_failed : texts.captcha_missing);
      box.focus();
    },
  };
};
