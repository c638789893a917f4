"""Scripts the submission journey runs in the page: what a person reads off a form.

Fields are recognised by general signals (label, placeholder, name, id, type), never one
CMS's markup; recognised elements get ``data-ha-*`` attributes so Python can act on them.
"""

from __future__ import annotations

_COMMON = r"""
const shown = el => { const r = el.getBoundingClientRect();
  if (r.width < 1 || r.height < 1) return false;
  const s = getComputedStyle(el); return s.visibility !== 'hidden' && s.display !== 'none' && s.opacity !== '0'; };
const clean = s => (s || '').replace(/\s+/g, ' ').trim();
// A label's words as a person reads them: NFKC (full-width letters, colons and stars become
// plain ones), no space of any kind (姓　　名, &emsp;, &nbsp;), no colon, no required star.
const norm = s => (s || '').normalize('NFKC').replace(/[\s\u200b\ufeff]+/g, '').replace(/[:*]/g, '');
const CONTROL = 'input:not([type=hidden]), select, textarea, button';
const ownText = el => { const c = el.cloneNode(true);
  c.querySelectorAll('select, textarea, option, input, button, script').forEach(n => n.remove());
  return clean(c.textContent); };
const ITEM = '.form-item, [class*=form-item], [class*=form-group], [class*=field]';
// The text right before a control (or, for a radio or checkbox, right after it) up to the next
// control: 联　系　人：<input>, <span>*</span>手机：<input>, <input type=radio>投诉. Climbs out of
// wrappers that hold nothing else (a kit's input inside two divs), not out of a cell or label.
const besideText = (node, after) => {
  for (let up = 0; up < 4 && node && node.parentElement; up++) {
    const parts = [];
    for (let n = after ? node.nextSibling : node.previousSibling; n; n = after ? n.nextSibling : n.previousSibling) {
      if (n.nodeType === 1 && (n.matches(CONTROL) || n.querySelector(CONTROL))) break;
      if (n.nodeType === 1 && n.matches('script, style, img')) continue;
      const t = n.nodeType === 3 ? n.nodeValue : n.nodeType === 1 ? n.innerText : '';
      if (after) parts.push(t); else parts.unshift(t);
    }
    const text = clean(parts.join(''));
    if (text || after) return text.slice(0, 30);
    const parent = node.parentElement;
    if (parent.matches('form, body, td, th, dd, li, label, table, tr, tbody')
        || [...parent.querySelectorAll(CONTROL)].some(c => !node.contains(c))) return '';
    node = parent;
  }
  return '';
};
const choice = el => ['radio', 'checkbox'].includes((el.getAttribute('type') || '').toLowerCase());
// Where a form puts the words for a field (or a radio group's box), nearest first: label[for],
// aria-labelledby, a wrapping label, the text beside it, the previous table cell, a UI kit
// item's label; then placeholder, aria-label and title.
const labelOf = el => {
  const t = [];
  if (el.id) { const l = document.querySelector('label[for="' + CSS.escape(el.id) + '"]'); if (l) t.push(ownText(l)); }
  const by = el.getAttribute('aria-labelledby');
  if (by) t.push(by.split(/\s+/).map(id => { const x = document.getElementById(id); return x ? clean(x.innerText) : ''; }).join(' '));
  const wrap = el.closest('label'); if (wrap) t.push(ownText(wrap));
  const own = choice(el);
  if (!clean(t.join(''))) t.push(besideText(el, own));
  if (!own && !clean(t.join(''))) {
    const cell = el.closest('td, dd, th');
    if (cell && cell.previousElementSibling) t.push(clean(cell.previousElementSibling.innerText).slice(0, 30));
  }
  // UI kits: the label is elsewhere in the field's item (layui, Ant, a cascader's row), or the
  // item's previous sibling (Element's __content after its __label). Only when nothing closer.
  for (let item = el.parentElement?.closest(ITEM), n = 0; !own && item && n < 3 && !clean(t.join('')); item = item.parentElement?.closest(ITEM), n++) {
    const lab = [...item.querySelectorAll('label, [class*=label], [class*=title]')]
      .find(l => !l.contains(el) && !l.querySelector('input, select, textarea') && clean(l.innerText));
    const prevText = item.previousElementSibling && !item.previousElementSibling.querySelector('input, select, textarea')
      ? clean(item.previousElementSibling.innerText) : '';
    t.push(lab ? clean(lab.innerText).slice(0, 30) : prevText.slice(0, 30));
  }
  t.push(el.placeholder || '', el.getAttribute('aria-label') || '', el.title || '');
  return clean(t.join(' '));
};
// A radio group's own label: that of the smallest box holding every radio of its name.
const groupOf = el => { const scope = el.form || document;
  const peers = [...scope.querySelectorAll('input[type=radio]')].filter(r => r.name === el.name);
  let box = el.parentElement;
  while (box && !peers.every(r => box.contains(r))) box = box.parentElement;
  return { peers, box }; };
const groupLabel = el => { const { box } = groupOf(el);
  if (!box) return '';
  const legend = box.closest('fieldset') && box.closest('fieldset').querySelector('legend');
  return clean([legend ? legend.innerText : '', labelOf(box)].join(' ')); };
// The words of a field name: the last part of an ASP.NET name, camelCase and separators split,
// a control-type prefix (txt, ddl, rbl …) dropped: ctl00$Main$txtLxdh -> lxdh.
const nameWords = name => { const last = (name || '').split(/[$.:\[\]]/).filter(Boolean).pop() || '';
  const words = last.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase().split(/[\s_-]+/).filter(Boolean);
  const bare = /^(txt|tb|ddl|rbl|rb|cb|chk|sel|ipt|input|dl|lbl|hf)$/.test(words[0] || '') ? words.slice(1) : words;
  return [bare.join(''), ...bare]; };
// A drop-down drawn by a UI kit (Element, layui, Ant, Vant …): a read-only input that opens a
// list when clicked. The native <select> such kits hide is not shown, so it is not counted twice.
const isPicker = el => el.tagName === 'INPUT' && el.readOnly && !el.disabled
  && (/选择/.test(el.placeholder || '') || el.getAttribute('role') === 'combobox'
      || !!el.closest('[class*=select], [class*=picker], [class*=cascader], [role=combobox]'));
const REQUIRED = '.is-required, [class*=item-required], [lay-verify*=required], [aria-required=true], [required]';
const markedRequired = el => { const item = el.closest(ITEM + ', tr');
  for (let up = item, n = 0; up && n < 2; up = up.parentElement?.closest(ITEM), n++)
    if (up.matches(REQUIRED) || up.querySelector(REQUIRED)) return true;
  return false; };
// Clicking it (or the link it sits in) loads another page; href="#" and javascript: stay put.
const leavesPage = e => { const a = e.closest('a[href]');
  return !!a && /^https?:/.test(a.href) && !a.getAttribute('href').startsWith('#'); };
const btnLabel = b => clean(b.innerText || b.value || b.title || b.getAttribute('aria-label') || '');
const SMS_BTN = /(获取|发送|获得|免费获取|重新获取).{0,4}(验证码|校验码|动态码|动态密码)|获取验证码|发送验证码/;
const SUBMIT_BTN = /提\s*交|确\s*定|确认|注\s*册|登\s*录|保存|立即|下一步|发\s*送|submit|login|register/i;
const NOT_SUBMIT = /重置|取消|返回|清空|上一步|reset|cancel/i;
const SEARCH_BTN = /^(搜\s*索|检\s*索|查\s*询|search)$/i;
const CAPTCHA_IMG = /captcha|yzm|verif|checkcode|vcode|kaptcha|validate|randcode|imgcode|验证码/i;
// The case types a letter can have: a select or radio group offering two of them asks for one.
const CASE_WORDS = ['咨询', '投诉', '求助', '建议', '举报', '意见', '表扬', '反映'];
const caseChoices = texts => new Set(texts.flatMap(t => CASE_WORDS.filter(w => norm(t).includes(w)))).size >= 2;
"""

# Classify the fields of the most form-like container and mark them.
SCAN_FORM = "() => {" + _COMMON + r"""
  document.querySelectorAll('[data-ha-f],[data-ha-b],[data-ha-img]').forEach(e => {
    e.removeAttribute('data-ha-f'); e.removeAttribute('data-ha-b'); e.removeAttribute('data-ha-img'); });
  const FIELDS = 'input, textarea, select';
  const candidate = el => {
    const type = (el.getAttribute('type') || 'text').toLowerCase();
    if (['hidden', 'submit', 'button', 'image', 'reset', 'file'].includes(type)) return false;
    return !(el.disabled || (el.readOnly && !isPicker(el)));
  };
  const usable = el => candidate(el) && (choice(el) ? true : shown(el));
  const containers = [...document.forms];
  const loose = [...document.querySelectorAll(FIELDS)].filter(el => !el.form && usable(el));
  if (loose.length) containers.push(document.body);
  let best = null, bestScore = 0;
  for (const c of containers) {
    const fields = [...c.querySelectorAll(FIELDS)].filter(el => usable(el) && (c !== document.body || !el.form));
    const score = fields.length + 5 * fields.some(f => f.tagName === 'TEXTAREA')
      + 3 * fields.some(f => f.type === 'password');
    if (fields.length >= 2 && score > bestScore) { best = { c, fields }; bestScore = score; }
  }
  // A slider captcha (drag the piece into the gap) is a person's step: say so, wherever it sits.
  const SLIDER = /(拖动|滑动|按住).{0,6}(滑块|最右|拼图|验证)|滑块验证|完成拼图|slide to verify|drag the slider/i;
  const slider = [...document.querySelectorAll('div, span, p, label')].some(e => shown(e) && e.children.length <= 3
    && clean(e.innerText).length <= 30 && SLIDER.test(clean(e.innerText)));
  if (!best) return { fields: [], submit: false, next: false, later: [], sms: false, captchaImg: false, slider };
  const scope = best.c;
  const buttons = [...scope.querySelectorAll(
    'button, input[type=submit], input[type=button], input[type=image], a, [role=button], [onclick]')]
    .filter(b => shown(b) && !b.matches('input[type=checkbox], input[type=radio]'));
  const sms = buttons.find(b => SMS_BTN.test(btnLabel(b)));
  if (sms) sms.setAttribute('data-ha-b', 'sms');
  let img = [...scope.querySelectorAll('img')].find(i => shown(i)
    && CAPTCHA_IMG.test([i.src.startsWith('data:') ? '' : i.src, i.id, i.className, i.alt, i.title].join(' ')));
  const ctx = { sms: !!sms, img: !!img };
  const TEXT_KINDS = [
    ['sms_code', /短信|手机验证码|动态码|动态密码|sms|mobilecode|phonecode/i],
    ['captcha', /验证码|校验码|captcha|verif|vcode|checkcode|randcode/i],
    ['id_number', /身份证|证件号|idcard|idno/i],
    ['email', /邮箱|电子邮件|e-?mail/i],
    ['phone', /手机|电话|联系方式|mobile|phone/i],
    ['title', /标题|主题|title|subject/i],
    ['address', /地址|地点|位置|发生地|所在地|address|location/i],
    ['phone', /用户名|账号|帐号|account|login/i],
    ['name', /姓名|联系人|真实名|称呼|来信人|写信人|留言人|反映人|投诉人|申请人|realname|name/i],
    ['content', /内容|诉求|描述|详情|content|question|detail/i],
  ];
  // Common field names, pinyin initials among them, for fields whose label says nothing.
  const NAME_KINDS = [
    ['sms_code', /^(dxyzm|smscode|sms|mobilecode|phonecode|dtm)$/],
    ['captcha', /^(yzm|jym|captcha|vcode|verifycode|checkcode|imgcode|randcode|validatecode|kaptcha)$/],
    ['id_number', /^(sfz|sfzh|sfzhm|zjhm|idcard|idno|cardno)$/],
    ['email', /^(yx|dzyx|email|mail)$/],
    ['phone', /^(sjhm|sjh|sj|lxdh|dh|phone|mobile|tel|telephone|contactphone|lxfs|mobilephone)$/],
    ['title', /^(bt|zt|xjbt|sqbt|lybt|title|subject|lettertitle|appealtitle)$/],
    ['content', /^(nr|xjnr|sqnr|lynr|content|body|lettercontent|appealcontent|detail|question)$/],
    ['address', /^(dz|sfdz|xxdz|address|addr|eventaddress|happenaddr|location)$/],
    ['name', /^(xm|lxr|xjr|name|realname|truename|username|contactname)$/],
  ];
  const CASE_NAME = /^(lb|lx|sqlx|xjlb|xxlx|type|category|lettertype|appealtype|kind)$/;
  const kindOf = (el, label, options) => {
    const tag = el.tagName.toLowerCase(), type = (el.getAttribute('type') || 'text').toLowerCase();
    const words = norm(label), names = nameWords(el.name || el.id);
    if (tag === 'select' || isPicker(el))
      return /类型|类别|分类|性质|type|categor|kind|sort/i.test(words) || names.some(w => CASE_NAME.test(w))
        || caseChoices(options) ? 'case_type' : 'select';
    if (type === 'checkbox') return /同意|已阅读|阅读并|协议|承诺|须知|知悉|agree/i.test(words) ? 'agree' : 'checkbox';
    if (type === 'radio') return 'radio';
    if (type === 'password') return /确认|重复|再次|confirm|repeat|again|re_?pass/i.test(words) ? 'password2' : 'password';
    if (tag === 'textarea') return 'content';
    const byText = TEXT_KINDS.find(([, re]) => re.test(words));
    const byName = byText ? null : NAME_KINDS.find(([, re]) => names.some(w => re.test(w)));
    const kind = byText ? byText[0] : byName ? byName[0] : type === 'tel' ? 'phone' : type === 'email' ? 'email' : 'text';
    if (kind === 'captcha' && byText) return ctx.sms && !ctx.img ? 'sms_code' : 'captcha';
    return kind;
  };
  const out = [], seen = {};
  for (const el of best.fields) {
    const label = labelOf(el);
    const options = el.tagName === 'SELECT' ? [...el.options].map(o => clean(o.text)) : [];
    const kind = kindOf(el, label, options);
    seen[kind] = (seen[kind] || 0) + 1;
    const key = kind + (seen[kind] > 1 ? seen[kind] : '');
    el.setAttribute('data-ha-f', key);
    const f = { key, kind, label: label.slice(0, 60), name: el.name || '', type: (el.type || '').toLowerCase(),
                required: el.required || /\*|必填/.test(label) || markedRequired(el), value: el.value || '',
                picker: isPicker(el), maxlength: el.maxLength > 0 ? el.maxLength : null, options,
                chosen: el.tagName === 'SELECT' && el.selectedIndex >= 0 ? clean(el.options[el.selectedIndex].text) : '' };
    if (kind === 'radio') {  // its own words decide which to tick; the group's say what it asks
      const group = groupLabel(el), { peers } = groupOf(el);
      const texts = peers.map(r => labelOf(r));
      Object.assign(f, { group: el.name || '', groupLabel: group.slice(0, 60), checked: el.checked,
                         caseGroup: /类型|类别|分类|性质/.test(norm(group)) || caseChoices(texts),
                         required: f.required || /\*|必填/.test(group) });
    }
    out.push(f);
  }
  const captchaInput = scope.querySelector('[data-ha-f=captcha]');
  if (!img && captchaInput) {
    for (let up = captchaInput.parentElement, n = 0; up && n < 3 && !img; up = up.parentElement, n++)
      img = [...up.querySelectorAll('img')].find(shown);
  }
  if (img) img.setAttribute('data-ha-img', 'captcha');
  const pressable = b => b !== sms && !NOT_SUBMIT.test(btnLabel(b)) && !SEARCH_BTN.test(btnLabel(b));
  let submit = buttons.find(b => pressable(b) && b.matches('button[type=submit], input[type=submit], input[type=image]'));
  if (!submit && scope.tagName === 'FORM')
    submit = buttons.find(b => pressable(b) && b.tagName === 'BUTTON' && !b.getAttribute('type'));
  if (!submit) submit = buttons.find(b => pressable(b) && SUBMIT_BTN.test(btnLabel(b)));
  if (submit) submit.setAttribute('data-ha-b', 'submit');
  // A wizard's first step: the press is 下一步, and the letter's fields wait, hidden, further on.
  const next = !!submit && /下一步|^继续|next/i.test(btnLabel(submit));
  const stepHidden = el => !shown(el) && getComputedStyle(el).display !== 'none';  // a hidden box around it
  const later = [...scope.querySelectorAll(FIELDS)].filter(el => candidate(el) && !choice(el) && stepHidden(el))
    .map(el => kindOf(el, labelOf(el), []));
  return { fields: out, submit: !!submit, next, later, sms: !!sms, captchaImg: !!img, slider };
}"""

# Tick a radio or checkbox a UI kit hides under its own drawing (Element's el-radio__original,
# layui's display:none input): click its label, else the kit's box drawn right after it; the
# control's own click() last. True when it is ticked.
TICK = r"""el => {
  if (el.checked) return true;
  const label = (el.labels && el.labels[0]) || el.closest('label');
  if (label) label.click();
  const drawn = el.nextElementSibling;
  if (!el.checked && drawn && !drawn.matches('input, select, textarea, label')) drawn.click();
  if (!el.checked) el.click();
  return el.checked;
}"""

# What a person clicks for another captcha image: a 换一张/看不清 control next to it, else the
# image itself (most sites reload it on click) unless the image sits in a link that leaves.
# Marks it ``data-ha-b=captcha-refresh``; returns the image's src, for a reload when no click helps.
CAPTCHA_REFRESH = "() => {" + _COMMON + r"""
  document.querySelectorAll('[data-ha-b=captcha-refresh]').forEach(e => e.removeAttribute('data-ha-b'));
  const img = document.querySelector('[data-ha-img=captcha]');
  if (!img) return null;
  const AGAIN = /换一张|换一个|看不清|刷新|点击更换|换张|refresh|change/i;
  const short = e => clean(e.innerText || e.title || '').length <= 12;
  let control = null;
  for (let up = img.parentElement, n = 0; up && n < 3 && !control; up = up.parentElement, n++)
    control = [...up.querySelectorAll('a, button, span, [role=button], [onclick]')]
      .find(e => e !== img && shown(e) && !e.contains(img) && !leavesPage(e) && short(e)
        && AGAIN.test(clean(e.innerText || e.title || '')));
  if (!control && !leavesPage(img)) control = img;
  if (control) control.setAttribute('data-ha-b', 'captcha-refresh');
  return img.currentSrc || img.src || '';
}"""

# Load the captcha image's src again, past any cache (what the sites' own click handlers do).
RELOAD_IMAGE = r"""el => new Promise(done => {
  const u = new URL(el.currentSrc || el.src, location.href);
  u.searchParams.set('_ha', String(Date.now()));
  el.addEventListener('load', () => done(true), { once: true });
  el.addEventListener('error', () => done(false), { once: true });
  setTimeout(() => done(false), 5000);
  el.removeAttribute('srcset'); el.src = u.href;
})"""

# The image has finished loading (a click starts a new load; read it only once it is in).
IMAGE_READY = "el => el.complete && el.naturalWidth > 0"

# The loaded image's own pixels at its natural size, on white (a transparent captcha reads as
# black to OCR otherwise), as a PNG data: URL; null when it is no loaded image or another
# origin's image taints the canvas. Copied from the image in memory: no second request.
IMAGE_PIXELS = r"""el => {
  if (el.tagName !== 'IMG' || !el.complete || !el.naturalWidth) return null;
  try {
    const c = document.createElement('canvas');
    c.width = el.naturalWidth; c.height = el.naturalHeight;
    const g = c.getContext('2d');
    g.fillStyle = '#fff'; g.fillRect(0, 0, c.width, c.height);
    g.drawImage(el, 0, 0);
    return c.toDataURL('image/png');
  } catch (e) { return null; }
}"""

# Before a picker is clicked: remember what is on screen, so what its click shows stands out.
MARK_SEEN = "() => {" + _COMMON + r"""
  document.querySelectorAll('[data-ha-seen]').forEach(e => e.removeAttribute('data-ha-seen'));
  document.querySelectorAll('li, dd, [role=option], [class*=option], [class*=item], button, [role=button]')
    .forEach(e => { if (shown(e)) e.setAttribute('data-ha-seen', ''); });
}"""

# What a click opened: options (short texts in list items that were not on screen before,
# innermost only) and a confirm button (a wheel picker's 确认), marked data-ha-o=N / confirm.
NEW_OPTIONS = "() => {" + _COMMON + r"""
  document.querySelectorAll('[data-ha-o]').forEach(e => e.removeAttribute('data-ha-o'));
  const OPTION = 'li, dd, [role=option], [class*=option], [class*=item]';
  const fresh = [...document.querySelectorAll(OPTION)].filter(e => !e.hasAttribute('data-ha-seen') && shown(e)
    && !e.querySelector(OPTION) && clean(e.innerText).length >= 1 && clean(e.innerText).length <= 30);
  const options = fresh.map((e, n) => { e.setAttribute('data-ha-o', String(n));
    return { key: String(n), text: clean(e.innerText),
             disabled: /disabled/.test(e.className) || e.getAttribute('aria-disabled') === 'true' }; });
  const confirm = [...document.querySelectorAll('button, [role=button], [class*=confirm], a, span, div')]
    .find(e => !e.hasAttribute('data-ha-seen') && shown(e) && /^(确认|确定|完成|OK)$/i.test(clean(e.innerText))
      && !e.querySelector('button, [role=button]'));
  if (confirm) confirm.setAttribute('data-ha-o', 'confirm');
  return { options, confirm: !!confirm };
}"""

# A page before the form (写信须知 to accept, a letters list with its 我要写信 button): the
# control a person presses to go on, marked data-ha-b=gate, and an agree box, data-ha-b=agree.
GATE = "() => {" + _COMMON + r"""
  document.querySelectorAll('[data-ha-b=gate], [data-ha-b=agree]').forEach(e => e.removeAttribute('data-ha-b'));
  const GO = /阅读并同意|我已阅读|已阅读|我同意|同意并|^同意|接受|知晓|知悉|我要写信|开始写信|进入写信|我要留言|我要投诉|我要咨询|我要反映|^写信|下一步|^继续|^进入/;
  const NOT = /不同意|取消|返回|拒绝|查询|登录|注册|关闭/;
  // The agree box: its words say so (我已认真阅读以上内容, 本人已知悉并承诺遵守 …), or it is the
  // only box on a page that holds no form.
  const boxes = [...document.querySelectorAll('input[type=checkbox]')].filter(b => !b.checked);
  const box = boxes.find(b => /同意|阅读|承诺|须知|知悉|知晓|接受|遵守/.test(norm(labelOf(b) || (b.parentElement || {}).innerText)))
    || (boxes.length === 1 ? boxes[0] : null);
  if (box) box.setAttribute('data-ha-b', 'agree');
  const gate = [...document.querySelectorAll('button, input[type=button], input[type=submit], a, [role=button], [onclick]')]
    .filter(shown).find(b => { const t = norm(btnLabel(b)).replace(/\(\d+s?\)|\d+秒/g, '');
      return t.length <= 12 && GO.test(t) && !NOT.test(t); });
  // A control held back by a reading countdown: disabled, its words a number of seconds.
  const counting = [...document.querySelectorAll('button, input[type=button], input[type=submit], a, [role=button]')]
    .some(b => shown(b) && (b.disabled || /disabled/.test(b.className)) && /\d+\s*(s|秒)/i.test(norm(btnLabel(b))));
  if (!gate) return { gate: false, agree: !!box, counting };
  gate.setAttribute('data-ha-b', 'gate');
  const href = gate.tagName === 'A' && leavesPage(gate) ? gate.href : '';
  return { gate: true, agree: !!box, href, label: btnLabel(gate) };
}"""

# Whether the gate control can be pressed yet (a countdown keeps many disabled for seconds).
GATE_READY = """el => !el.disabled && el.getAttribute('aria-disabled') !== 'true' && !/disabled/.test(el.className)"""

# Visible links: text (or title/alt), absolute href, target.
LINKS = "() => {" + _COMMON + r"""
  return [...document.querySelectorAll('a[href]')].filter(shown).map(a => ({
    text: clean(a.innerText || a.title || (a.querySelector('img') || {}).alt || ''),
    href: a.href, target: a.target || '' })).filter(l => l.text && /^https?:/.test(l.href));
}"""

# The tracking form (case number + query code) and a "find my cases by phone" form.
SCAN_TRACK = "([numberWords, codeWords]) => {" + _COMMON + r"""
  document.querySelectorAll('[data-ha-t]').forEach(e => e.removeAttribute('data-ha-t'));
  const texty = i => ['text', 'search', 'tel', 'number', ''].includes((i.getAttribute('type') || 'text').toLowerCase());
  const inputs = [...document.querySelectorAll('input')].filter(i => texty(i) && shown(i) && !i.disabled);
  // A 查询密码 is often a password box: it may hold the code, never the case number.
  const secret = [...document.querySelectorAll('input[type=password]')].filter(i => shown(i) && !i.disabled);
  const hintOf = i => [norm(labelOf(i)), i.name || '', i.id || ''].join(' ');
  const has = (h, words) => words.some(w => h.includes(w));
  const number = inputs.find(i => has(hintOf(i), numberWords) || /^(no|number|caseno|case_?no|bh|slbh|gdbh|xjbh)$/i.test(i.name || ''));
  const code = [...inputs, ...secret].find(i => i !== number && (has(hintOf(i), codeWords)
    || /^(code|pwd|password|cxm|cxmm|querycode|tqm)$/i.test(i.name || '')) && !/短信|sms/i.test(hintOf(i)));
  const out = { number: false, code: false, button: false, lookup: false };
  // The form's own submit first; a control worded 查询 next, but not a link to another page (a
  // page-wide ASP.NET form holds the menu's 留言查询 link too).
  const pressOf = scope => { const all = [...(scope || document).querySelectorAll('button, input[type=submit], input[type=button], a, [role=button]')]
      .filter(b => shown(b) && !SMS_BTN.test(btnLabel(b)));
    return all.find(b => b.matches('button[type=submit], input[type=submit]'))
      || all.find(b => !leavesPage(b) && /查\s*询|搜\s*索|提\s*交|确\s*定/.test(btnLabel(b))); };
  if (number) {
    number.setAttribute('data-ha-t', 'number'); out.number = true;
    if (code && (!number.form || code.form === number.form)) { code.setAttribute('data-ha-t', 'code'); out.code = true; }
    const b = pressOf(number.form);
    if (b) { b.setAttribute('data-ha-t', 'press'); out.button = true; }
  }
  const phone = inputs.find(i => i !== number && i !== code && (i.type === 'tel' || /手机|电话|phone|mobile/i.test(hintOf(i))));
  if (phone && phone.form) {
    const f = phone.form;
    const sms = [...f.querySelectorAll('button, input[type=button], a')].find(b => shown(b) && SMS_BTN.test(btnLabel(b)));
    const smsCode = [...f.querySelectorAll('input')].find(i => i !== phone && texty(i) && shown(i) && /验证码|校验码|code/i.test(hintOf(i)));
    const b = pressOf(f);
    if (sms && smsCode && b) {
      phone.setAttribute('data-ha-t', 'lookup_phone'); smsCode.setAttribute('data-ha-t', 'lookup_code');
      sms.setAttribute('data-ha-t', 'lookup_sms'); b.setAttribute('data-ha-t', 'lookup_press'); out.lookup = true;
    }
  }
  return out;
}"""

# Messages a page shows about what went wrong (innermost elements only).
ERRORS = "() => {" + _COMMON + r"""
  const sel = '[class*=error], [class*=err], [class*=tip], [class*=msg], [class*=warn], [class*=alert], '
    + '[id*=error], [id*=msg], [id*=Msg], [class*=toast], [class*=message], [role=alert], .form-errors li, .no-result';
  const els = [...document.querySelectorAll(sel)].filter(el => shown(el) && clean(el.innerText));
  return [...new Set(els.filter(el => !els.some(o => o !== el && el.contains(o)))
    .map(el => clean(el.innerText)).filter(t => t.length <= 200))];
}"""

# Dated rows (progress steps) and short "nothing found" notes, outside any form.
PROGRESS = "(noResultSource) => {" + _COMMON + r"""
  const date = /20\d\d\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}/;
  const noResult = new RegExp(noResultSource);
  // Text inside the query form is the form's, not the answer's; but ASP.NET wraps the whole
  // page in one form, the answer included: such a form is the page, not a query form.
  const bodyLen = (document.body.innerText || '').length || 1;
  const inForm = el => { const f = el.closest('form'); return !!f && (f.innerText || '').length < 0.5 * bodyLen; };
  const els = [...document.querySelectorAll('li, tr, p, dd, div')]
    .filter(el => shown(el) && !inForm(el) && !el.querySelector('form, input, select, textarea'));
  const hits = els.filter(el => { const t = el.innerText || ''; return date.test(t) && t.length < 1500; });
  const rows = hits.filter(el => !hits.some(o => o !== el && el.contains(o))).map(el => clean(el.innerText));
  const notes = [...document.querySelectorAll('p, div, span, td, li, h3, h4, strong, b')]
    .filter(el => shown(el) && !inForm(el) && el.children.length <= 2)
    .map(el => clean(el.innerText)).filter(t => t && t.length <= 80 && noResult.test(t));
  return { rows, notes: [...new Set(notes)] };
}"""

# Tables (or lists) of cases: header -> cell for each row.
TABLES = "() => {" + _COMMON + r"""
  const out = [];
  for (const table of document.querySelectorAll('table')) {
    if (!shown(table)) continue;
    const rows = [...table.rows];
    if (rows.length < 2) continue;
    const head = [...rows[0].cells].map(c => clean(c.innerText));
    for (const r of rows.slice(1)) {
      const cells = [...r.cells].map(c => clean(c.innerText));
      out.push(Object.fromEntries(cells.map((c, i) => [head[i] || ('col' + i), c])));
    }
  }
  return out;
}"""

# Hide the persona in the page (inputs and text) for a screenshot; UNMASK puts it back.
MASK = r"""([pairs, patterns]) => {
  window.__haMask = [];
  const regs = patterns.map(p => new RegExp(p[0], 'g'));
  const rep = s => { let out = s;
    for (const [v, m] of pairs) if (v) out = out.split(v).join(m);
    regs.forEach((r, i) => { out = out.replace(r, patterns[i][1]); });
    return out; };
  for (const el of document.querySelectorAll('input, textarea')) {
    if (el.type === 'password' || el.type === 'hidden') continue;
    const v = el.value, r = rep(v);
    if (r !== v) { window.__haMask.push([el, 'value', v]); el.value = r; }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const v = n.nodeValue, r = rep(v);
    if (r !== v) { window.__haMask.push([n, 'nodeValue', v]); n.nodeValue = r; }
  }
  return window.__haMask.length;
}"""

UNMASK = r"""() => {
  for (const [el, key, v] of (window.__haMask || []).reverse()) el[key] = v;
  window.__haMask = [];
}"""

BODY_TEXT = "() => document.body ? document.body.innerText : ''"
