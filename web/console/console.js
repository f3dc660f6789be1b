// The facerec console: each service of GET /status with a green or red
// indicator, "N of M healthy", a warning when any is down, a refresh button
// and a refresh every 10 s. Text goes in with textContent only (the page's
// Content-Security-Policy allows no inline script and nothing from elsewhere).
'use strict';

const REFRESH_MS = 10000;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function describe(details) {
  if (!details || typeof details !== 'object') return '';
  return Object.keys(details).filter((k) => details[k] !== null).map((k) => {
    const v = details[k];
    return k + ': ' + (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v));
  }).join(' · ');
}

function render(data) {
  const list = document.getElementById('services');
  const summary = document.getElementById('summary');
  const warning = document.getElementById('warning');
  list.replaceChildren();
  const services = data.services || {};
  const down = [];
  for (const key of Object.keys(services)) {
    const s = services[key];
    const ok = s.healthy === true;
    if (!ok) down.push(s.service || key);
    const li = el('li', 'service ' + (ok ? 'ok' : 'bad'));
    li.dataset.service = key;
    li.appendChild(el('span', 'dot'));
    const body = el('div');
    body.appendChild(el('div', 'name', (s.service || key) + (ok ? '' : ' — ' + (s.status || 'error'))));
    body.appendChild(el('p', 'details', describe(s.details)));
    li.appendChild(body);
    list.appendChild(li);
  }
  summary.textContent = data.healthy_count + ' of ' + data.total_count + ' healthy';
  summary.className = 'summary ' + (data.overall_status || 'unhealthy');
  summary.dataset.overall = data.overall_status || '';
  if (down.length) {
    warning.textContent = 'Unhealthy: ' + down.join(', ') + '.';
    warning.hidden = false;
  } else {
    warning.textContent = '';
    warning.hidden = true;
  }
  document.getElementById('updated').textContent = new Date().toLocaleTimeString();
}

async function refresh() {
  const summary = document.getElementById('summary');
  try {
    const r = await fetch('/status', { cache: 'no-store' });
    const body = await r.json();
    if (!body || !body.success) throw new Error('status ' + r.status);
    render(body.data);
  } catch (e) {
    summary.textContent = 'facerec is not answering (' + e.message + ')';
    summary.className = 'summary unreachable';
    summary.dataset.overall = 'unreachable';
  }
}

document.getElementById('refresh').addEventListener('click', refresh);
refresh();
setInterval(refresh, REFRESH_MS);
