// callgate widget: the time picker, readable source. `make widget` minifies it into
// service/static/widget-picker.js; the dialog module imports it only when the visitor may book a
// time (the office is closed, or they chose "Choose a time"), so pages whose visitors never
// book pay nothing for it. See docs/widget.md.
//
// The default export takes {request, element, text, texts, locale} from the dialog and resolves
// to the element to show: a labelled native <select name="call_at"> (keyboard-operable as every
// browser's own control is), one <optgroup> a day, whose option values are the slots' starts
// exactly as GET /api/v1/slots wrote them; or a line saying no time is free.

// The long name of a time zone in the visitor's language ("Eastern European Standard Time");
// `zone` undefined names the visitor's own.
const zoneName = (locale, zone, date) => {
  for (const part of new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: 'long' }).formatToParts(date)) {
    if (part.type == 'timeZoneName') return part.value;
  }
  return zone;
};

export default async ({ request, element, text, texts, locale }) => {
  const [answer, response] = await request('/api/v1/slots');
  if (!response.ok) throw new Error('HTTP ' + response.status);
  const slots = answer.slots.filter((slot) => slot.remaining > 0);
  if (!slots.length) return element('p', {}, texts.picker_empty);

  // Shown in the visitor's own time zone (the browser's), in their language.
  const dayFormat = new Intl.DateTimeFormat(locale, { weekday: 'long', day: 'numeric', month: 'long' });
  const timeFormat = new Intl.DateTimeFormat(locale, { weekday: 'short', hour: '2-digit', minute: '2-digit' });
  const select = element('select', { id: 'callgate-time', name: 'call_at' });
  let group;
  let groupDay;
  for (const slot of slots) {
    const start = new Date(slot.start);
    const day = start.toDateString();
    if (day != groupDay) select.append((group = element('optgroup', { label: dayFormat.format(start) })));
    groupDay = day;
    // The weekday again in the option: a closed <select> shows the option alone.
    group.append(element('option', { value: slot.start }, timeFormat.format(start)));
  }

  // The office's zone is named when its clock reads otherwise than the visitor's (compared on
  // a real slot: two names for one zone, or zones that agree, need no note).
  const first = new Date(slots[0].start);
  const clock = (zone) =>
    new Intl.DateTimeFormat('en', { timeZone: zone, day: 'numeric', hour: 'numeric', minute: 'numeric' }).format(first);
  const note =
    clock(answer.timezone) != clock()
      ? element(
          'p',
          { id: 'callgate-zone' },
          text('picker_zone', { zone: zoneName(locale, undefined, first), office: zoneName(locale, answer.timezone, first) }),
        )
      : null;
  if (note) select.setAttribute('aria-describedby', note.id);
  return element('div', {}, element('label', { for: 'callgate-time' }, texts.picker_label), select, note);
};
