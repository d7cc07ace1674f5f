// perform operator panel: talks the /ws protocol of perform.panel (see docs, issue 19).
'use strict';
(function () {
  const KEY = 'perform.passcode';
  const SEND_MS = 1000 / 15; // slider sends at most 15/s
  const FIRED_MAX = 20;
  const MIN_VISIBILITY = 0.3;
  const TOUCH_MS = 800; // state does not overwrite a control the operator just moved
  const SILENCE_MS = 5000; // no message for this long: treat the socket as lost
  const PALETTE = ['#4fc3f7', '#ffb74d', '#81c784', '#e57373', '#ba68c8', '#fff176', '#4db6ac', '#f06292'];

  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function num(v, digits) {
    return typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : '\u2013';
  }

  // uptime seconds -> "m:ss.s" or "h:mm:ss"
  function clock(t) {
    if (typeof t !== 'number' || !isFinite(t)) return '';
    const h = Math.floor(t / 3600);
    const m = Math.floor((t % 3600) / 60);
    const s = t % 60;
    const ss = (s < 10 ? '0' : '') + s.toFixed(1);
    return h ? h + ':' + String(m).padStart(2, '0') + ':' + ss.slice(0, 2) : m + ':' + ss;
  }

  // ---- connection -------------------------------------------------------

  let ws = null;
  let welcome = null;
  let backoff = 1;
  let retryTimer = 0;
  let lastMessage = 0;
  let frames = 0;

  function connect() {
    clearTimeout(retryTimer);
    const code = sessionStorage.getItem(KEY);
    if (!code) {
      showLogin('');
      return;
    }
    if (ws) {
      const old = ws;
      ws = null;
      old.close();
    }
    setConn('connecting', false);
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    const sock = new WebSocket(url);
    sock.binaryType = 'arraybuffer';
    ws = sock;
    lastMessage = performance.now();
    sock.onopen = () => sock.send(JSON.stringify({ type: 'hello', passcode: code }));
    sock.onmessage = (ev) => {
      if (ws !== sock) return;
      lastMessage = performance.now();
      if (typeof ev.data !== 'string') {
        showPreview(ev.data);
        return;
      }
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (err) {
        return;
      }
      if (msg && msg.type === 'denied') {
        ws = null;
        sock.close();
        welcome = null;
        sessionStorage.removeItem(KEY);
        showLogin(msg.reason || 'denied');
      } else if (msg) {
        handle(msg);
      }
    };
    sock.onclose = () => lost(sock);
  }

  function lost(sock) {
    if (ws !== sock) return; // replaced, denied, or already handled
    ws = null;
    sock.onclose = null;
    sock.close();
    const delay = backoff;
    backoff = Math.min(5, backoff * 2);
    if (welcome) {
      setConn('reconnecting', true);
    } else {
      $('login-status').textContent = 'Cannot reach the show, retrying in ' + delay + ' s';
    }
    retryTimer = setTimeout(connect, delay * 1000);
  }

  // a half-open socket (phone changing networks) never fires close
  setInterval(() => {
    if (ws && ws.readyState === WebSocket.OPEN && performance.now() - lastMessage > SILENCE_MS) lost(ws);
  }, 1000);

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN && welcome) {
      ws.send(JSON.stringify(msg));
      return true;
    }
    showResult(false, 'not connected: ' + msg.type + ' not sent');
    return false;
  }

  function setConn(text, offline) {
    $('conn').textContent = text;
    $('conn').classList.toggle('bad', offline);
    $('banner').hidden = !offline;
    document.body.classList.toggle('offline', offline);
  }

  function showLogin(error) {
    $('panel').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = error;
    $('login-status').textContent = '';
    $('passcode').focus();
  }

  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const code = $('passcode').value.trim();
    if (!code) return;
    sessionStorage.setItem(KEY, code);
    $('login-error').textContent = '';
    $('login-status').textContent = 'Connecting\u2026';
    backoff = 1;
    connect();
  });

  function handle(msg) {
    if (msg.type === 'welcome') {
      welcome = msg;
      backoff = 1;
      build(msg);
      $('login').hidden = true;
      $('panel').hidden = false;
      $('passcode').value = '';
      setConn('live', false);
    } else if (msg.type === 'state' && welcome) {
      frames += 1;
      document.body.dataset.frames = String(frames);
      takeState(msg);
    } else if (msg.type === 'result') {
      showResult(!!msg.ok, msg.detail || (msg.ok ? 'ok' : 'refused'));
    }
  }

  // ---- building the page from welcome -----------------------------------

  const controls = { scenes: new Map(), events: new Map(), params: new Map() };
  const touchedAt = new WeakMap();
  let held = null;
  let crossfadeSet = false;

  function touch(e) {
    touchedAt.set(e, performance.now());
  }

  function busy(e) {
    return held === e || performance.now() - (touchedAt.get(e) || -Infinity) < TOUCH_MS;
  }

  window.addEventListener('pointerdown', (ev) => {
    if (ev.target instanceof HTMLInputElement) held = ev.target;
  });
  for (const name of ['pointerup', 'pointercancel']) {
    window.addEventListener(name, () => {
      if (held) touch(held);
      held = null;
    });
  }

  // send on 'input' at most every SEND_MS (trailing send included) and once more on 'change'
  function throttled(input, sendNow) {
    let last = 0;
    let timer = 0;
    const fire = () => {
      clearTimeout(timer);
      timer = 0;
      last = performance.now();
      touch(input);
      sendNow();
    };
    input.addEventListener('input', () => {
      touch(input);
      const wait = last + SEND_MS - performance.now();
      if (wait <= 0) fire();
      else if (!timer) timer = setTimeout(fire, wait);
    });
    input.addEventListener('change', fire);
  }

  function decimals(step) {
    if (!step) return 2;
    const s = String(step);
    return s.includes('.') ? Math.min(4, s.split('.')[1].length) : 0;
  }

  function build(w) {
    $('show-name').textContent = w.show || 'perform';
    document.title = (w.show || 'perform') + ' \u00b7 panel';

    const scenes = Array.isArray(w.scenes) ? w.scenes : [];
    const box = $('scenes');
    box.replaceChildren();
    controls.scenes.clear();
    for (const name of scenes) {
      const b = el('button', 'scene', name);
      b.type = 'button';
      b.dataset.scene = name;
      b.addEventListener('click', () => send({ type: 'scene', name: name, fade_s: Number($('crossfade').value) }));
      box.append(b);
      controls.scenes.set(name, b);
    }
    $('scenes-section').hidden = scenes.length === 0;
    if (!crossfadeSet && typeof w.crossfade_s === 'number') {
      $('crossfade').value = String(w.crossfade_s);
      showCrossfade();
    }

    const events = Array.isArray(w.events) ? w.events : [];
    const rows = $('event-rows');
    rows.replaceChildren();
    controls.events.clear();
    for (const name of events) {
      const row = el('label', 'event');
      row.dataset.event = name;
      const input = el('input', 'arm');
      input.type = 'checkbox';
      input.addEventListener('change', () => {
        touch(input);
        send({ type: input.checked ? 'arm' : 'disarm', event: name });
      });
      row.append(el('span', 'name', name), input);
      rows.append(row);
      controls.events.set(name, { row: row, input: input });
    }
    $('events-section').hidden = events.length === 0;
    fired.length = 0;
    pendingEvents.length = 0;
    $('fired').replaceChildren();

    const params = Array.isArray(w.params) ? w.params : [];
    const list = $('params');
    list.replaceChildren();
    controls.params.clear();
    for (const p of params) list.append(buildParam(p));
    $('params-section').hidden = params.length === 0;

    $('take-section').hidden = !w.takes;
    stageRows.clear();
    $('stages').tBodies[0].replaceChildren();
    history = [];
    lastCues = lastWarnings = '';
    shown = null;
    dirtyGraphs = true;
    schedule();
  }

  function buildParam(p) {
    const name = String(p.name);
    const row = el('label', 'param-row');
    const input = el('input', 'param');
    input.dataset.param = name;
    row.append(el('span', 'name', p.label || name));
    if (p.kind === 'toggle') {
      input.type = 'checkbox';
      input.checked = !!p.value;
      row.classList.add('toggle');
      input.addEventListener('change', () => {
        touch(input);
        send({ type: 'param', name: name, value: input.checked });
      });
      row.append(input);
      controls.params.set(name, { input: input, toggle: true });
    } else {
      input.type = 'range';
      input.min = String(p.min !== undefined ? p.min : 0);
      input.max = String(p.max !== undefined ? p.max : 1);
      input.step = String(p.step || 'any');
      input.value = String(p.value);
      const digits = decimals(p.step);
      const value = el('span', 'param-value', num(Number(input.value), digits));
      input.addEventListener('input', () => (value.textContent = num(Number(input.value), digits)));
      throttled(input, () => send({ type: 'param', name: name, value: Number(input.value) }));
      row.append(input, value);
      controls.params.set(name, { input: input, value: value, digits: digits });
    }
    return row;
  }

  function showCrossfade() {
    $('crossfade-value').textContent = Number($('crossfade').value).toFixed(1) + ' s';
  }

  $('crossfade').addEventListener('input', () => {
    crossfadeSet = true;
    showCrossfade();
  });
  $('scene-prev').addEventListener('click', () => send({ type: 'scene.previous' }));
  $('scene-next').addEventListener('click', () => send({ type: 'scene.next' }));
  $('take-start').addEventListener('click', () => send({ type: 'take.start' }));
  $('take-stop').addEventListener('click', () => send({ type: 'take.stop' }));

  let resultTimer = 0;
  function showResult(ok, detail) {
    const r = $('result');
    r.textContent = (ok ? '\u2713 ' : '\u2717 ') + detail;
    r.classList.toggle('bad', !ok);
    r.classList.remove('old');
    clearTimeout(resultTimer);
    resultTimer = setTimeout(() => r.classList.add('old'), 5000);
  }

  // ---- state -> page (drawn on the next animation frame, latest wins) ----

  let latest = null;
  let shown = null;
  let history = [];
  let dirtyGraphs = false;
  let rafPending = false;
  let lastWarnings = '';
  let lastCues = '';
  const pendingEvents = [];
  const fired = [];

  function takeState(s) {
    // events and samples of states that are never drawn must not be lost
    if (Array.isArray(s.events)) {
      for (const e of s.events) pendingEvents.push(e);
      if (pendingEvents.length > FIRED_MAX) pendingEvents.splice(0, pendingEvents.length - FIRED_MAX);
    }
    if (Array.isArray(s.history)) {
      history = s.history.filter((x) => x && typeof x.t === 'number');
      dirtyGraphs = true;
    }
    if (s.sample && typeof s.sample.t === 'number') {
      history.push(s.sample);
      dirtyGraphs = true;
    }
    if (dirtyGraphs && history.length) {
      const oldest = history[history.length - 1].t - (welcome.history_s || 180);
      let cut = 0;
      while (cut < history.length && history[cut].t < oldest) cut += 1;
      if (cut) history.splice(0, cut);
    }
    latest = s;
    schedule();
  }

  function schedule() {
    if (!rafPending) {
      rafPending = true;
      requestAnimationFrame(frame);
    }
  }

  function frame() {
    rafPending = false;
    if (latest) {
      shown = latest;
      latest = null;
      applyState(shown);
      drawSkeletons();
    }
    if (dirtyGraphs) {
      dirtyGraphs = false;
      drawGraphs();
    }
  }

  function applyState(s) {
    document.body.dataset.scene = s.scene || '';
    for (const [name, b] of controls.scenes) {
      b.classList.toggle('current', name === s.scene);
      b.classList.toggle('fading', name === s.scene && !!s.fading);
    }
    $('people').textContent = String(s.people || 0);

    const health = s.health || {};
    $('health-dot').classList.toggle('ok', !!health.ok);
    $('health-dot').classList.toggle('bad', !health.ok);
    const warnings = Array.isArray(health.warnings) ? health.warnings : [];
    const wkey = warnings.join('\n');
    if (wkey !== lastWarnings) {
      lastWarnings = wkey;
      $('warnings').replaceChildren(...warnings.map((w) => el('li', '', w)));
      $('warnings').hidden = warnings.length === 0;
    }

    const armed = s.armed || {};
    for (const [name, c] of controls.events) {
      if (!busy(c.input)) c.input.checked = !!armed[name];
    }
    const params = s.params || {};
    for (const [name, c] of controls.params) {
      if (!(name in params) || busy(c.input)) continue;
      if (c.toggle) {
        c.input.checked = !!params[name];
      } else {
        c.input.value = String(params[name]);
        c.value.textContent = num(Number(c.input.value), c.digits);
      }
    }

    const take = s.take || {};
    const rec = !!take.recording;
    $('take-state').textContent = rec ? '\u25cf REC ' + (take.name || '') : 'idle';
    $('take-state').classList.toggle('rec', rec);
    $('take-start').disabled = rec;
    $('take-stop').disabled = !rec;

    showFired();
    showStages(health);
    $('render-fps').textContent = typeof health.render_fps === 'number' ? 'render ' + num(health.render_fps, 1) + ' fps' : '';

    const cues = Array.isArray(s.cues) ? s.cues : [];
    const ckey = cues.join('\n');
    if (ckey !== lastCues) {
      lastCues = ckey;
      $('cues').replaceChildren(...cues.slice().reverse().map((c) => el('li', '', c)));
    }
  }

  function showFired() {
    if (!pendingEvents.length) return;
    for (const e of pendingEvents) {
      const name = String(e.name || '');
      fired.unshift({ t: e.t, name: name });
      for (const [ev, c] of controls.events) {
        if (name === ev || name.endsWith('/' + ev)) {
          c.row.classList.remove('flash');
          void c.row.offsetWidth; // restart the animation
          c.row.classList.add('flash');
        }
      }
    }
    pendingEvents.length = 0;
    fired.length = Math.min(fired.length, FIRED_MAX);
    $('fired').replaceChildren(
      ...fired.map((f) => {
        const li = el('li');
        li.append(el('span', 'time', clock(f.t)), el('span', '', f.name));
        return li;
      })
    );
  }

  const stageRows = new Map();

  function showStages(health) {
    const stages = Array.isArray(health.stages) ? health.stages : [];
    const body = $('stages').tBodies[0];
    for (const st of stages) {
      const name = String(st.name);
      let cells = stageRows.get(name);
      if (!cells) {
        const tr = el('tr');
        cells = [];
        for (let i = 0; i < 8; i += 1) cells.push(tr.appendChild(el('td')));
        const sw = el('span', 'swatch');
        sw.style.background = colorOf(name);
        cells[0].append(sw, el('span', '', name));
        cells.tr = tr;
        body.append(tr);
        stageRows.set(name, cells);
      }
      const text = [st.state, num(st.fps, 1), st.dropped, st.errors, st.restarts, num(st.p50, 1), num(st.p95, 1)];
      for (let i = 0; i < text.length; i += 1) {
        const t = text[i] === undefined || text[i] === null ? '\u2013' : String(text[i]);
        if (cells[i + 1].textContent !== t) cells[i + 1].textContent = t;
      }
      cells.tr.classList.toggle('warn', st.state !== 'running' || !!st.errors);
      cells.tr.classList.toggle('stale', !!st.stale);
    }
  }

  // ---- canvases ---------------------------------------------------------

  const colors = new Map();
  function colorOf(name) {
    if (!colors.has(name)) {
      colors.set(name, PALETTE[colors.size % PALETTE.length]);
      const item = el('span', 'item', name);
      const sw = el('span', 'swatch');
      sw.style.background = colors.get(name);
      item.prepend(sw);
      $('legend').append(item);
    }
    return colors.get(name);
  }

  // size the backing store to the css box times devicePixelRatio
  function fit(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx: ctx, w: w / dpr, h: h / dpr };
  }

  function seen(p) {
    return Array.isArray(p) && p.length >= 2 && (p.length < 3 || p[2] >= MIN_VISIBILITY);
  }

  function drawSkeletons() {
    const { ctx, w, h } = fit($('skeletons'));
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, w, h);
    if (!shown || !welcome) return;
    const aspect = shown.aspect > 0 ? shown.aspect : 16 / 9;
    let bw = w;
    let bh = w / aspect;
    if (bh > h) {
      bh = h;
      bw = h * aspect;
    }
    const ox = (w - bw) / 2;
    const oy = (h - bh) / 2;
    ctx.strokeStyle = '#222';
    ctx.lineWidth = 1;
    ctx.strokeRect(ox + 0.5, oy + 0.5, bw - 1, bh - 1);

    const slotColors = Array.isArray(welcome.slot_colors) ? welcome.slot_colors : [];
    const bones = Array.isArray(welcome.connections) ? welcome.connections : [];
    ctx.lineWidth = 3;
    ctx.lineCap = 'round';
    for (const body of Array.isArray(shown.bodies) ? shown.bodies : []) {
      const pts = Array.isArray(body.points) ? body.points : [];
      const rgb = slotColors.length ? slotColors[(((body.slot - 1) % slotColors.length) + slotColors.length) % slotColors.length] : null;
      const color = Array.isArray(rgb) ? 'rgb(' + rgb.slice(0, 3).map(Number).join(',') + ')' : '#fff';
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.beginPath();
      for (const [a, b] of bones) {
        const p = pts[a];
        const q = pts[b];
        if (!seen(p) || !seen(q)) continue;
        ctx.moveTo(ox + p[0] * bw, oy + p[1] * bh);
        ctx.lineTo(ox + q[0] * bw, oy + q[1] * bh);
      }
      ctx.stroke();
      ctx.beginPath();
      for (const p of pts) {
        if (!seen(p)) continue;
        ctx.moveTo(ox + p[0] * bw + 3, oy + p[1] * bh);
        ctx.arc(ox + p[0] * bw, oy + p[1] * bh, 3, 0, 2 * Math.PI);
      }
      ctx.fill();
    }
  }

  function drawGraphs() {
    const names = [];
    for (const s of history) {
      for (const n of Object.keys(s.stages || {})) if (!names.includes(n)) names.push(n);
    }
    const fpsSeries = names.map((n) => [n, (s) => s.stages && s.stages[n] && s.stages[n].fps]);
    if (history.some((s) => typeof s.render_fps === 'number')) fpsSeries.push(['render', (s) => s.render_fps]);
    drawGraph($('graph-fps'), fpsSeries);
    drawGraph($('graph-latency'), names.map((n) => [n, (s) => s.stages && s.stages[n] && s.stages[n].p95]));
  }

  function drawGraph(canvas, series) {
    const { ctx, w, h } = fit(canvas);
    ctx.fillStyle = '#07090b';
    ctx.fillRect(0, 0, w, h);
    const span = (welcome && welcome.history_s) || 180;
    const end = history.length ? history[history.length - 1].t : 0;
    let max = 0;
    for (const [, get] of series) {
      for (const s of history) {
        const v = get(s);
        if (typeof v === 'number' && isFinite(v)) max = Math.max(max, v);
      }
    }
    max = niceMax(max);
    const left = 34;
    const top = 6;
    const gw = w - left - 4;
    const gh = h - top - 16;
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillStyle = '#8a949e';
    ctx.strokeStyle = '#1e252c';
    ctx.lineWidth = 1;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (const f of [0, 0.5, 1]) {
      const y = Math.round(top + gh * (1 - f)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + gw, y);
      ctx.stroke();
      ctx.fillText(String(+(max * f).toFixed(1)), left - 4, y);
    }
    ctx.textBaseline = 'bottom';
    ctx.textAlign = 'left';
    ctx.fillText('-' + span + ' s', left, h);
    ctx.textAlign = 'right';
    ctx.fillText('now', left + gw, h);

    ctx.lineWidth = 1.5;
    ctx.lineJoin = 'round';
    for (const [name, get] of series) {
      ctx.strokeStyle = colorOf(name);
      ctx.beginPath();
      let prev = null;
      for (const s of history) {
        const v = get(s);
        if (typeof v !== 'number' || !isFinite(v)) {
          prev = null;
          continue;
        }
        const x = left + gw * (1 - (end - s.t) / span);
        const y = top + gh * (1 - Math.min(v, max) / max);
        if (prev === null || s.t - prev > 3) ctx.moveTo(x, y); // gap: no line across it
        else ctx.lineTo(x, y);
        prev = s.t;
      }
      ctx.stroke();
    }
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  let previewUrl = null;
  function showPreview(data) {
    const url = URL.createObjectURL(new Blob([data], { type: 'image/jpeg' }));
    $('preview').src = url;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = url;
  }

  const redraw = () => {
    latest = latest || shown;
    dirtyGraphs = true;
    schedule();
  };
  if (window.ResizeObserver) {
    const ro = new ResizeObserver(redraw);
    for (const id of ['skeletons', 'graph-fps', 'graph-latency']) ro.observe($(id));
  }
  window.addEventListener('resize', redraw); // also fires when devicePixelRatio changes (zoom)

  // ---- start ------------------------------------------------------------

  const m = /^#code=(.+)$/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    location.hash = '';
  }
  if (sessionStorage.getItem(KEY)) {
    $('login-status').textContent = 'Connecting\u2026';
    connect();
  } else {
    showLogin('');
  }
})();
