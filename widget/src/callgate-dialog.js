// callgate widget: the dialog and the form logic, readable source. `make widget` minifies it into
// service/static/widget-dialog.js; widget.js imports it when the visitor opens the dialog (or at
// once for a site's own form, data-form). See docs/widget.md.
//
// The default export takes what widget.js shares (settings, its shadow root, helpers) and
// returns {open, close, enhance(form)}.

// How long "we are calling you" counts down (data-countdown, in seconds).
const COUNTDOWN = 30;
// Statuses during which the call is being placed: the countdown runs.
const CALLING = /^(queued|dispatching|placed)$/;
// Statuses after which polling stops: nothing more happens soon.
const SETTLED = /^(connected|scheduled|cancelled)$/;

// The dialog's styles, added to the launcher's. Colours are custom properties, set once for the
// light theme and once for the dark one (.dark); inputs name theirs explicitly, so a dark page
// cannot turn the typed text white on our white background. Logical properties (inline-end)
// follow the dialog's own direction. On phones the dialog is a bottom sheet.
const CSS = `dialog{--bg:#fff;--fg:#1a1a1a;--line:#666;--link:#0b57d0;--bad:#b3261e;color-scheme:light;border:0;border-radius:12px;padding:0;width:min(24em,calc(100vw - 16px));max-height:calc(100dvh - 16px);overflow:auto;color:var(--fg);background:var(--bg);box-shadow:0 10px 40px #0006}
.dark{--bg:#1f1f1f;--fg:#f1f1f1;--line:#aaa;--link:#a8c7fa;--bad:#ffb4ab;color-scheme:dark}
dialog::backdrop{background:#0006}
.in{padding:1.25em}
h2{font-size:20px;font-weight:700;margin:0;margin-inline-end:2em;margin-bottom:.4em}
p{margin:.5em 0}
label{display:block;margin-top:.75em;font-weight:600}
input,select{display:block;width:100%;margin-top:.25em;padding:.55em;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg);font-size:16px}
fieldset{border:0;padding:0;margin:.75em 0 0}
legend{font-weight:600;padding:0}
[aria-invalid=true]{border:2px solid var(--bad)}
.c{display:flex;gap:.5em;flex-wrap:wrap;align-items:center}
.c input{width:24px;height:24px;margin:0}
.c label{margin:0;font-weight:400;flex:1}
.err{display:block;color:var(--bad);font-size:.9em}
.hp{position:absolute;left:-9999px;width:1px;height:1px;overflow:hidden}
.x{position:absolute;top:.5em;inset-inline-end:.5em;width:44px;padding:0;background:none;color:var(--fg);font-size:1.5em}
form [type=submit]{width:100%;margin-top:1em}
[aria-disabled=true]{opacity:.6;cursor:progress}
a{color:var(--link)}
[role=timer]{font-weight:600;font-variant-numeric:tabular-nums}
@media (max-width:480px){dialog{width:100%;max-width:100%;margin:auto 0 0;border-radius:12px 12px 0 0;max-height:90dvh}}
@media (forced-colors:active){dialog,input,select{border:2px solid CanvasText}}
@media (prefers-reduced-motion:no-preference){dialog[open]{animation:cg .2s ease-out}}
@keyframes cg{from{opacity:0;transform:translateY(8px)}}`;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const readCookie = (name) => {
  const match = document.cookie.match(new RegExp('(?:^|;\\s*)' + name + '=([^;]*)'));
  return match ? match[1] : null;
};

// randomUUID needs a secure context; getRandomValues does not.
const newKey = () => {
  if (crypto.randomUUID) return crypto.randomUUID();
  let key = 'cg-';
  for (const byte of crypto.getRandomValues(new Uint8Array(16))) key += byte.toString(36);
  return key;
};

// `data-text-<key>` (say data-text-placed) for any text, by its dictionary key.
const datasetName = (key) => 'text' + key.replace(/(^|_)(\w)/g, (_, __, letter) => letter.toUpperCase());

export default (shared) => {
  const { config, data, host, root, launcher, element, request, log, direction } = shared;
  const language = config.lang;
  // Dates and times in the visitor's own regional form of that language (en-GB: 09:00).
  const locale = navigator.languages.find((tag) => tag.toLowerCase().startsWith(language)) || language;
  const texts = { ...config.texts };
  // A site's own words: data-text-<key> for every text; the older data-title, data-intro,
  // data-button and data-submit still count.
  for (const key in texts) if (data[datasetName(key)]) texts[key] = data[datasetName(key)];
  for (const [key, attribute] of [['title', 'title'], ['intro', 'intro'], ['launcher', 'button'], ['submit', 'submit']]) {
    if (data[attribute]) texts[key] = data[attribute];
  }
  const countdownFrom = +data.countdown || COUNTDOWN;

  let formToken;
  let formTokenAt = 0;
  let tokenLoading;
  let dialog;
  let closeButton;
  let dialogForm;
  // The CAPTCHA controller of our dialog: t() token, r() reset, n() say why there is none.
  let captcha;
  // Loads the CAPTCHA module on the dialog's first open (then cleared).
  let loadCaptcha;

  // A text of the chosen language, with {name} placeholders filled in.
  const text = (key, values) =>
    (texts[key] || texts.error || '').replace(/\{(\w+)\}/g, (_, name) => values[name]);

  // A wait from Retry-After, said in minutes or hours in the visitor's language ("in 5 minutes").
  const waitText = (seconds) => {
    const hours = seconds >= 3600;
    return new Intl.RelativeTimeFormat(language).format(
      Math.ceil(seconds / (hours ? 3600 : 60)),
      hours ? 'hour' : 'minute',
    );
  };

  // The countries the service calls, named in the visitor's language ("Ukraine and Poland").
  const countriesText = () => {
    const names = new Intl.DisplayNames(language, { type: 'region' });
    const list = [];
    for (const code of config.countries) list.push(names.of(code));
    return new Intl.ListFormat(language, { type: 'conjunction' }).format(list);
  };

  // Our text for a problem code, with its details filled in.
  const codeText = (code, seconds) =>
    texts[code] && text(code, { wait: waitText(seconds || 60), countries: countriesText() });

  // A text with {day} and {time} of a moment from the service, in the visitor's time zone and
  // language: "on Monday" (the dictionary's `days`, Sunday first, then "today", each in the
  // case its sentence needs), with the date added beyond the coming week; "09:00".
  const when = (key, iso) => {
    // The service writes UTC; a time without a zone must not be read as local time.
    const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + 'Z');
    const midnight = (moment) => new Date(moment).setHours(0, 0, 0, 0);
    const ahead = Math.round((midnight(date) - midnight(Date.now())) / 864e5);
    let day = texts.days.split(',')[ahead ? date.getDay() : 7];
    if (ahead < 0 || ahead > 6) day += ' ' + date.toLocaleDateString(locale, { day: 'numeric', month: 'long' });
    return text(key, { day, time: date.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' }) });
  };

  // What a lead's status means to the visitor. A status we have no words for (a newer
  // service) reads as "received".
  const statusText = (lead) =>
    lead.scheduled_for && /queued|scheduled/.test(lead.status)
      ? when('scheduled', lead.scheduled_for)
      : (lead.status != 'scheduled' && texts[lead.status]) || texts.queued;

  const reportToAnalytics = (leadId) => {
    // Only the lead id: nothing personal.
    const dataLayer = window.dataLayer;
    if (dataLayer && dataLayer.push) {
      dataLayer.push({ event: 'callgate_callback_requested', callgate_lead_id: leadId });
    }
    document.dispatchEvent(new CustomEvent('callgate:callback-requested', { detail: { leadId } }));
  };

  // A fresh signed form token (the service refuses posts without one), from its own small
  // request: widget-config stays cacheable.
  const loadToken = () =>
    (tokenLoading = request('/api/v1/form-token').then(([body]) => {
      formToken = body.form_token;
      formTokenAt = Date.now();
    }));

  // "We are calling you: 0:12", a second at a time, while the call is being placed.
  const countdown = () => {
    const timer = element('p', { role: 'timer', hidden: true });
    let left;
    let ticking;
    const show = () => {
      timer.textContent = text('countdown', {
        time: Math.floor(left / 60) + ':' + String(left % 60).padStart(2, '0'),
      });
    };
    const tick = () => {
      if (left > 0) left--;
      show();
    };
    timer.follow = (status) => {
      const calling = CALLING.test(status);
      if (calling && !ticking) {
        left = countdownFrom;
        show();
        ticking = setInterval(tick, 1000);
      }
      if (!calling && ticking) {
        clearInterval(ticking);
        ticking = null;
      }
      timer.hidden = !calling;
    };
    return timer;
  };

  // Posts one form (ours in the dialog or the site's own), shows errors in place, then polls
  // the lead's status. `say` writes the status line; `done(ok)` is told when the form is done;
  // `slotsChanged()` when the slot chosen filled up meanwhile (a promise of the new picker).
  const bindForm = (form, say, done, timer, slotsChanged) => {
    let idempotencyKey = null;
    let busy = false;
    let shownErrors = [];
    const submitButton = form.querySelector('[type=submit],button:not([type])');
    // A call booked for later (scheduled_for) is not being placed: no countdown for it.
    const follow = (lead) => timer && timer.follow(lead.scheduled_for ? '' : lead.status || '');

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
          const [lead, response] = await request('/api/v1/callbacks/' + encodeURIComponent(leadId));
          if (!response.ok) continue;
          const said = statusText(lead);
          if (said != lastSaid) say((lastSaid = said));
          follow(lead);
          if (SETTLED.test(lead.status)) return;
          // A failed call may be asked for again.
          if (lead.status == 'failed') {
            setBusy(false);
            return done(false);
          }
        } catch (_) {
          // The network comes and goes; try again until the end.
        }
      }
      follow({});
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
      // The slot chosen in our picker, unless the visitor went back to "Call me now".
      const callAt = form.elements.call_at;
      if (callAt && callAt.value && !callAt.closest('[hidden]')) body.call_at = callAt.value;
      body.page_url = location.href.slice(0, 2048);
      // Copies of the attribution cookies: the service may live on another domain.
      body.rngst2 = readCookie('rngst2');
      body.ga = readCookie('_ga');
      // GA4's session cookie (_ga_<stream>), named by the service when GA4 is configured.
      if (config.ga4_cookie) body.ga_session = readCookie(config.ga4_cookie);
      idempotencyKey = idempotencyKey || newKey();
      setBusy(true);
      say(texts.sending);
      let response;
      let answer;
      try {
        await (tokenLoading || loadToken());
        body.form_token = formToken;
        // No person sends a form faster than the service's minimum token age: wait it out.
        await sleep(formTokenAt + (config.form_token_min_age || 0) * 1000 - Date.now());
        [answer, response] = await request('/api/v1/callbacks', {
          method: 'POST',
          body: JSON.stringify(body),
          headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json',
            'Idempotency-Key': idempotencyKey,
          },
        });
      } catch (error) {
        // Unreachable, or held beyond our time-out. The same key goes with a retry: the
        // service may have taken the request, and must not call twice.
        setBusy(false);
        // A token that came is still good; one that did not come is asked for again.
        if (!formToken) tokenLoading = null;
        log('cannot reach the service', error);
        return say(error.name == 'AbortError' ? texts.timeout : texts.error);
      }
      if (response.ok && answer.id) {
        idempotencyKey = null;
        reportToAnalytics(answer.id);
        say(statusText(answer));
        follow(answer);
        done(true);
        // A call booked for later: nothing to follow now.
        return answer.scheduled_for || SETTLED.test(answer.status) ? follow({}) : pollStatus(answer.id);
      }
      const codes = answer.error_codes || {};
      // A stale or early token: take a fresh one and send the same submission once more.
      if (codes.form_token && !isRetry) return loadToken().then(() => send(true));
      setBusy(false);
      if (response.status == 429) {
        return say(codeText(answer.code, +response.headers.get('Retry-After')) || codeText('rate_limited'));
      }
      let firstInvalid = null;
      for (const name in codes) {
        const code = codes[name];
        if (code == 'key_reused') idempotencyKey = null;
        firstInvalid =
          firstInvalid ||
          showError(name, codeText(code) || (code.startsWith('phone') ? texts.phone_invalid : texts.validation_error));
      }
      say(firstInvalid ? texts.validation_error : codeText(Object.values(codes)[0]) || codeText(answer.code) || texts.error);
      if (firstInvalid) firstInvalid.focus();
      const redrawn = codes.call_at == 'call_at_full' && slotsChanged && slotsChanged();
      if (redrawn) {
        // The field is drawn again from the slots still free: its refusal goes with it.
        redrawn.then(() => {
          const field = showError('call_at', codeText('call_at_full'));
          if (field) field.focus();
        });
      }
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

  // The dialog's theme: data-theme="dark" or "light", else the page's: dark when the page
  // declares it can be dark (color-scheme, by CSS or <meta>) and the visitor's system is dark.
  const darkMedia = matchMedia('(prefers-color-scheme: dark)');
  const isDark = () => {
    if (data.theme == 'dark' || data.theme == 'light') return data.theme == 'dark';
    const meta = document.querySelector('meta[name=color-scheme]');
    const page = getComputedStyle(document.documentElement).colorScheme + ' ' + (meta ? meta.content : '');
    return /dark/.test(page) && !/only light/.test(page) && darkMedia.matches;
  };
  const applyTheme = () => dialog.classList.toggle('dark', isDark());

  // "Or call us now: <number>" when the site gives one (data-call-now).
  const callNowLine = () => {
    const number = data.callNow;
    if (!number) return null;
    const digits = number.replace(/[^\d+]/g, '');
    const href =
      data.callNowScheme == 'rcmobile' ? 'rcmobile://call?number=' + digits.replace('+', '') : 'tel:' + digits;
    return element('p', { class: 'callgate-call-now' }, texts.call_now + ' ', element('a', { href }, number));
  };

  const close = () => {
    if (!dialog || !dialog.open) return;
    dialog.close();
    launcher.focus();
  };

  // Esc closes, focus returns; Tab and Shift+Tab cycle inside the dialog.
  const trapKeys = (event) => {
    if (event.key == 'Escape') {
      event.preventDefault();
      return close();
    }
    if (event.key != 'Tab') return;
    const focusable = [];
    for (const node of dialog.querySelectorAll('button,input,select,a[href]')) {
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

  // The dialog, built on first open, in the launcher's shadow root.
  const mount = () => {
    let say;
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, shared.sheet(CSS)];
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
    const timer = countdown();
    // Office hours (the service names a next opening only when it has hours): while closed,
    // when it opens (in place of the intro) and the time picker; while open, "Call me now" or
    // "Choose a time".
    const hours = !!config.next_open;
    const closed = hours && !config.open_now;
    const pickerBox = element('div', { hidden: !closed });
    let picker;
    const showPicker = (later) => {
      pickerBox.hidden = !later;
      if (later && !picker) {
        picker = shared
          .importModule('picker')
          .then((module) => module.default({ request, element, text, texts, locale }))
          .then(
            (node) => pickerBox.replaceChildren(node),
            (error) => {
              picker = null;
              say(texts.picker_failed);
              log('cannot load the time picker', error);
            },
          );
      }
      return picker;
    };
    // The slot chosen filled up while the visitor chose it: the picker is drawn again from the
    // slots still free.
    const redrawPicker = () => {
      if (!picker || pickerBox.hidden) return null;
      picker = null;
      return showPicker(true);
    };
    const choice = (id, later, label) =>
      element(
        'p',
        { class: 'c' },
        element('input', { type: 'radio', id, name: 'when', checked: !later, change: () => showPicker(later) }),
        element('label', { for: id }, label),
      );
    const whenChoice =
      hours && !closed
        ? element(
            'fieldset',
            {},
            element('legend', {}, texts.when),
            choice('wn', false, texts.call_now_choice),
            choice('wl', true, texts.call_later_choice),
          )
        : null;
    closeButton = element('button', { type: 'button', class: 'x', 'aria-label': texts.close, click: close }, '×');
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
      whenChoice,
      pickerBox,
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
        // Its own language and direction, whatever the host page's.
        lang: language,
        dir: direction(language),
        cancel: (event) => {
          event.preventDefault();
          close();
        },
        // The dialog has no padding of its own, so a click on it is a click on the backdrop.
        click: (event) => event.target == dialog && close(),
        keydown: trapKeys,
      },
      element(
        'div',
        { class: 'in' },
        closeButton,
        element('h2', { id: 't' }, texts.title),
        // Closed, "we will call you within a minute" would not be true: when it opens instead.
        element('p', { id: 'i' }, closed ? when('closed', config.next_open) : texts.intro),
        dialogForm,
        status,
        timer,
        callNowLine(),
      ),
    );
    // The status line stays in view (at 200 % zoom the dialog scrolls).
    say = (message) => {
      status.textContent = message;
      status.scrollIntoView({ block: 'nearest' });
    };
    bindForm(
      dialogForm,
      say,
      (ok) => {
        dialogForm.hidden = ok;
        if (ok) closeButton.focus();
      },
      timer,
      redrawPicker,
    );
    if (config.captcha != 'none') {
      // No token until widget-captcha.js has run. It loads on first open, not on every page
      // view. The path comes versioned from widget-config: module and service agree.
      let reason = 'captcha_missing';
      captcha = { t: () => '', r() {}, n: () => say(texts[reason]) };
      loadCaptcha = () =>
        shared
          .importModule('captcha')
          .then((module) => {
            captcha = module.default(host, { ...config, texts }, say, shared.ourScript.nonce);
          })
          .catch((error) => {
            say(texts[(reason = 'captcha_load_failed')]);
            log(reason, error);
          });
    }
    darkMedia.addEventListener('change', shared.safely(applyTheme));
    applyTheme();
    root.append(dialog);
    // Closed: the visitor books a time, so the picker loads with the dialog.
    if (closed) showPicker(true);
  };

  const open = () => {
    if (!root) {
      const phone = document.querySelector(data.form);
      if (phone && phone.elements.phone) phone.elements.phone.focus();
      return;
    }
    if (!dialog) mount();
    if (dialog.open) return;
    if (!tokenLoading) loadToken().catch(() => {});
    if (loadCaptcha) loadCaptcha((loadCaptcha = null));
    applyTheme();
    dialog.showModal();
    (dialogForm.hidden ? closeButton : dialogForm.elements.phone).focus();
  };

  // The site's own form (data-form): we post it, it keeps its looks.
  const enhance = (form) => {
    loadToken().catch(() => {});
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

  return { open, close, enhance };
};
