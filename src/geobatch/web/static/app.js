// geobatch web page: upload a file, follow the job, see the results on a map.
// Plain JavaScript over the JSON API at /api/web (see docs/web.md). Every text that comes from a
// file, the index or the server is put into the page with textContent, never as HTML.
"use strict";
(function () {
  const API = "/api/web";
  const KEY_STORE = "geobatch.key";
  const SAMPLE_BYTES = 1024 * 1024;
  const POINT_PAGE = 50000;
  const TABLE_PAGE = 100;
  const RATE_WINDOW_MS = 30000;
  const COLOURS = {
    confidence: ["High", "Medium", "Low"],
    match: ["Good", "Ambiguous", "UpHierarchy"],
  };
  const LABELS = { Good: "Good", Ambiguous: "Ambiguous", UpHierarchy: "Up hierarchy" };

  const $ = (id) => document.getElementById(id);
  const state = {
    key: sessionStorage.getItem(KEY_STORE) || "",
    keyHeader: "X-Api-Key",
    config: null,
    file: null,
    inspection: null,
    jobs: [],
    samples: new Map(), // job id -> [[time, processed], ...] for the rate
    selected: null, // the job shown on the map
    points: null, // {seq, lat, lon, conf, match} of the selected job
    index: null, // Supercluster
    colourBy: "confidence",
    table: { offset: 0, total: 0, features: [] },
    selectedSeq: null,
    pollTimer: null,
  };

  // --- helpers -----------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options) {
    const opts = Object.assign({ method: "GET" }, options || {});
    opts.headers = Object.assign({}, opts.headers || {}, { [state.keyHeader]: state.key });
    const response = await fetch(API + path, opts);
    if (response.status === 204) return null;
    let body = null;
    try {
      body = opts.raw && response.ok ? null : await response.json();
    } catch (e) {
      body = null;
    }
    if (!response.ok) {
      const message = (body && body.error) || `the server answered ${response.status}`;
      if (response.status === 401 && path !== "/key") signOut(message);
      throw new ApiError(response.status, message);
    }
    return opts.raw ? response : body;
  }

  function fmtInt(n) {
    return Number(n).toLocaleString("en-US");
  }

  function fmtDuration(seconds) {
    if (!isFinite(seconds) || seconds < 0) return "";
    if (seconds < 60) return `${Math.ceil(seconds)} s`;
    const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
    if (m < 60) return `${m} min ${s} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function fmtTime(epoch) {
    if (!epoch) return "";
    return new Date(epoch * 1000).toLocaleString();
  }

  function matchClass(codes) {
    const list = Array.isArray(codes) ? codes : String(codes || "").split(";");
    if (list.includes("Ambiguous")) return "Ambiguous";
    if (list.includes("UpHierarchy")) return "UpHierarchy";
    return "Good";
  }

  // --- key -----------------------------------------------------------------------------------

  function signOut(message) {
    state.key = "";
    sessionStorage.removeItem(KEY_STORE);
    stopPolling();
    $("app").hidden = true;
    $("who").hidden = true;
    $("key-panel").hidden = false;
    $("key-error").textContent = message || "";
    $("key-input").value = "";
    $("key-input").focus();
  }

  async function signIn(secret) {
    state.key = secret;
    try {
      const info = await api("/key");
      sessionStorage.setItem(KEY_STORE, secret);
      $("key-panel").hidden = true;
      $("app").hidden = false;
      $("who").hidden = false;
      const limit = info.daily_limit === null ? "no daily limit" : `${fmtInt(info.used_today)} of ${fmtInt(info.daily_limit)} used today`;
      $("who-name").textContent = `Key: ${info.name} (${limit})`;
      $("key-error").textContent = "";
      ensureMap();
      await refreshJobs();
      return true;
    } catch (e) {
      signOut(e.status === 401 ? `This key was refused: ${e.message}` : e.message);
      return false;
    }
  }

  // --- upload --------------------------------------------------------------------------------

  function setUploadStatus(text, isError) {
    const node = $("upload-status");
    node.textContent = text;
    node.classList.toggle("error", Boolean(isError));
  }

  async function chooseFile(file) {
    state.file = file;
    state.inspection = null;
    $("inspection").hidden = true;
    if (!file) return;
    setUploadStatus(`Reading ${file.name} …`);
    try {
      const sample = file.slice(0, SAMPLE_BYTES);
      const complete = file.size <= SAMPLE_BYTES ? "1" : "0";
      const found = await api(`/inspect?complete=${complete}`, { method: "POST", body: sample });
      state.inspection = found;
      showInspection(file, found);
      setUploadStatus("");
    } catch (e) {
      setUploadStatus(`${file.name}: ${e.message}`, true);
    }
  }

  function showInspection(file, found) {
    const facts = clear($("facts"));
    const add = (term, value) => {
      if (value === "" || value === null || value === undefined) return;
      facts.append(el("dt", { text: term }), el("dd", { text: value }));
    };
    add("File", `${file.name} (${fmtInt(file.size)} bytes${found.packing ? ", " + found.packing : ""})`);
    if (found.codec === "bing") {
      add("Format", `Bing Dataflow ${found.input.toUpperCase()}, schema ${found.version}`);
    } else {
      add("Format", `CSV, ${found.delimiter} separated`);
      const mapping = Object.entries(found.mapping).map(([field, column]) => `${column} → ${field}`);
      add("Columns used", mapping.join("; "));
    }
    add("Kind", found.direction === "mixed" ? "forward and reverse" : found.direction);
    for (const note of found.notes) add("Note", note);
    const choice = $("direction-choice");
    choice.hidden = found.codec !== "csv" || found.directions.length < 2;
    for (const radio of choice.querySelectorAll("input")) radio.checked = radio.value === found.direction;

    const table = $("preview");
    const head = clear(table.tHead);
    const body = clear(table.tBodies[0]);
    head.append(el("tr", {}, ...found.preview_header.map((name) => el("th", { scope: "col", text: name }))));
    for (const row of found.preview) {
      body.append(el("tr", {}, ...row.map((cell) => el("td", { text: cell }))));
    }
    $("inspection").hidden = false;
    $("start").disabled = false;
    $("start").focus();
  }

  async function startJob() {
    const found = state.inspection;
    if (!state.file || !found) return;
    let input = found.input;
    if (found.codec === "csv") {
      const chosen = document.querySelector("input[name=direction]:checked");
      input = chosen && !$("direction-choice").hidden ? chosen.value : found.direction;
    }
    const params = new URLSearchParams({ codec: found.codec, input });
    const description = $("description").value.trim() || state.file.name;
    params.set("description", description.slice(0, 256));
    $("start").disabled = true;
    setUploadStatus(`Uploading ${state.file.name} …`);
    try {
      const job = await api(`/jobs?${params}`, { method: "POST", body: state.file });
      setUploadStatus(`Job started: ${job.description || job.id}`);
      $("inspection").hidden = true;
      $("file-input").value = "";
      $("description").value = "";
      state.file = null;
      await refreshJobs();
    } catch (e) {
      setUploadStatus(e.message, true);
      $("start").disabled = false;
    }
  }

  // --- jobs ----------------------------------------------------------------------------------

  const ACTIVE = new Set(["Pending", "Processing"]);

  function stopPolling() {
    if (state.pollTimer) clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  async function refreshJobs() {
    stopPolling();
    let active = false;
    try {
      const listed = await api("/jobs");
      const now = performance.now();
      state.jobs = listed.jobs;
      for (const job of listed.jobs) {
        const samples = state.samples.get(job.id) || [];
        samples.push([now, job.processed]);
        while (samples.length > 2 && now - samples[0][0] > RATE_WINDOW_MS) samples.shift();
        state.samples.set(job.id, samples);
        if (ACTIVE.has(job.status)) active = true;
      }
      renderJobs();
      const shown = state.selected && listed.jobs.find((job) => job.id === state.selected.id);
      if (shown && shown.status !== state.selected.status) openJob(shown);
      else if (state.selected && !shown) closeJob();
    } catch (e) {
      if (e.status === 401) return;
    }
    if (state.key) state.pollTimer = setTimeout(refreshJobs, active ? 1000 : 10000);
  }

  function progressOf(job) {
    const samples = state.samples.get(job.id) || [];
    let rate = NaN;
    if (samples.length >= 2) {
      const [t0, p0] = samples[0];
      const [t1, p1] = samples[samples.length - 1];
      if (t1 > t0) rate = ((p1 - p0) / (t1 - t0)) * 1000;
    }
    const left = job.decoded && rate > 0 ? (job.total - job.processed) / rate : NaN;
    return { rate, left };
  }

  function jobName(job) {
    return job.description || `job ${job.id.slice(0, 8)}`;
  }

  function renderJobs() {
    const list = clear($("jobs"));
    $("jobs-empty").hidden = state.jobs.length > 0;
    for (const job of state.jobs) {
      const name = jobName(job);
      const pct = job.total ? Math.floor((job.processed / job.total) * 100) : job.status === "Completed" ? 100 : 0;
      const { rate, left } = progressOf(job);
      const kind = job.kind === "csv" ? `CSV ${job.direction}` : `Bing ${job.format}`;
      const item = el("li", { class: "job" + (state.selected && state.selected.id === job.id ? " selected" : ""), "data-job": job.id });
      item.append(el("div", { class: "job-name", text: name }));
      let counts;
      if (ACTIVE.has(job.status) && !job.decoded) counts = `reading the file: ${fmtInt(job.total)} rows so far`;
      else counts = `${fmtInt(job.processed)} of ${fmtInt(job.total)} rows (${pct} %)`;
      item.append(el("div", { class: "job-meta" }, el("span", { class: "job-status", text: job.status }), ` · ${kind} · `, el("span", { class: "job-counts", text: counts })));
      const bar = el("progress", { max: Math.max(job.total, 1), value: job.status === "Completed" ? Math.max(job.total, 1) : job.processed, "aria-label": `Progress of ${name}: ${pct} %` });
      item.append(bar);
      if (ACTIVE.has(job.status)) {
        const speed = isFinite(rate) && rate > 0 ? `${fmtInt(Math.round(rate))} rows/s` : "measuring speed …";
        const remaining = isFinite(left) ? ` · about ${fmtDuration(left)} left` : "";
        item.append(el("div", { class: "job-meta job-rate", text: speed + remaining }));
      } else if (job.status === "Completed") {
        item.append(el("div", { class: "job-meta", text: `${fmtInt(job.succeeded)} with a result, ${fmtInt(job.failed)} without · ${fmtTime(job.completed)}` }));
      }
      if (job.error) item.append(el("div", { class: "job-error", text: job.error }));
      const actions = el("div", { class: "job-actions" });
      if (job.status === "Completed") {
        actions.append(el("button", { type: "button", class: "secondary", text: "Open", "aria-label": `Open ${name}`, onclick: () => openJob(job) }));
      }
      if (ACTIVE.has(job.status)) {
        actions.append(el("button", { type: "button", class: "danger", text: "Cancel", "aria-label": `Cancel ${name}`, onclick: () => cancelJob(job) }));
      }
      actions.append(el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${name}`, onclick: () => deleteJob(job) }));
      item.append(actions);
      list.append(item);
    }
  }

  async function cancelJob(job) {
    try {
      await api(`/jobs/${encodeURIComponent(job.id)}/cancel`, { method: "POST" });
    } catch (e) {
      setUploadStatus(e.message, true);
    }
    await refreshJobs();
  }

  async function deleteJob(job) {
    if (!window.confirm(`Delete “${jobName(job)}” and its results?`)) return;
    try {
      await api(`/jobs/${encodeURIComponent(job.id)}`, { method: "DELETE" });
      state.samples.delete(job.id);
      if (state.selected && state.selected.id === job.id) closeJob();
    } catch (e) {
      setUploadStatus(e.message, true);
    }
    await refreshJobs();
  }

  // --- map -----------------------------------------------------------------------------------

  let map = null;
  let basemapLayer = null;
  let clusterLayer = null;
  let markLayer = null;
  let basemapTimer = null;
  let basemapRequest = 0;

  function ensureMap() {
    if (map) return;
    map = L.map("map", { worldCopyJump: false, minZoom: 1, maxZoom: 19, zoomSnap: 1, keyboard: true, preferCanvas: false });
    map.attributionControl.setPrefix("");
    map.attributionControl.addAttribution("Basemap from the geobatch index: © OpenStreetMap contributors, GeoNames");
    if (state.config && state.config.tile_url) {
      L.tileLayer(state.config.tile_url, { attribution: state.config.tile_attribution || "", maxZoom: 19 }).addTo(map);
    }
    map.createPane("basemap").style.zIndex = 250;
    basemapLayer = L.geoJSON(null, { pane: "basemap", interactive: false, renderer: L.canvas({ pane: "basemap" }), style: basemapStyle });
    basemapLayer.addTo(map);
    clusterLayer = L.layerGroup().addTo(map);
    markLayer = L.layerGroup().addTo(map);
    map.setView([30, 0], 2);
    map.on("moveend", () => {
      drawClusters();
      scheduleBasemap();
    });
    map.on("click", (event) => {
      if ($("click-reverse").checked) reverseAt(event.latlng);
    });
    scheduleBasemap();
    renderLegend();
  }

  function basemapStyle(feature) {
    const p = feature.properties;
    if (p.layer === "street") return { color: "#ffffff", weight: 3, opacity: 1 };
    if (p.level <= 2) return { color: "#8d8d8d", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1 };
    return { color: "#a6a6a6", weight: 1, dashArray: "4 3", fill: false };
  }

  function scheduleBasemap() {
    clearTimeout(basemapTimer);
    basemapTimer = setTimeout(loadBasemap, 200);
  }

  async function loadBasemap() {
    if (!map || !state.key) return;
    const b = map.getBounds().pad(0.2);
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(5)).join(",");
    const ticket = ++basemapRequest;
    try {
      const data = await api(`/basemap?bbox=${bbox}`);
      if (ticket !== basemapRequest) return;
      basemapLayer.clearLayers();
      // Areas first, streets on top: the features come in that order.
      basemapLayer.addData(data);
    } catch (e) {
      /* the map still works without its background */
    }
  }

  function renderLegend() {
    const legend = clear($("legend"));
    for (const name of COLOURS[state.colourBy]) {
      legend.append(el("span", {}, el("span", { class: `swatch c-${name}`, "aria-hidden": "true" }), LABELS[name] || name));
    }
  }

  function categoryOf(index) {
    return state.colourBy === "confidence" ? state.points.conf[index] : state.points.match[index];
  }

  function buildIndex() {
    const pts = state.points;
    const features = new Array(pts.seq.length);
    for (let i = 0; i < pts.seq.length; i++) {
      features[i] = { type: "Feature", geometry: { type: "Point", coordinates: [pts.lon[i], pts.lat[i]] }, properties: { i } };
    }
    const counters = ["High", "Medium", "Low", "Good", "Ambiguous", "UpHierarchy"];
    state.index = new Supercluster({
      radius: 60,
      maxZoom: 16,
      map: (props) => {
        const out = {};
        for (const name of counters) out[name] = 0;
        out[pts.conf[props.i]] = 1;
        out[pts.match[props.i]] = 1;
        return out;
      },
      reduce: (acc, props) => {
        for (const name of counters) acc[name] += props[name];
      },
    }).load(features);
  }

  function clusterIcon(count, props) {
    const names = COLOURS[state.colourBy];
    let top = names[0];
    for (const name of names) if (props[name] > props[top]) top = name;
    const size = count < 100 ? "small" : count < 1000 ? "medium" : "large";
    const pixels = { small: 30, medium: 38, large: 48 }[size];
    const parts = names.filter((n) => props[n]).map((n) => `${fmtInt(props[n])} ${LABELS[n] || n}`);
    const node = el("div", { class: `gb-cluster ${size} c-${top}`, "data-count": count, title: parts.join(", "), text: count >= 10000 ? `${Math.round(count / 1000)}k` : String(count) });
    return L.divIcon({ html: node, className: "gb-cluster-icon", iconSize: [pixels, pixels] });
  }

  function drawClusters() {
    if (!map || !state.index) return;
    const started = performance.now();
    clusterLayer.clearLayers();
    const b = map.getBounds().pad(0.1);
    const zoom = Math.round(map.getZoom());
    const items = state.index.getClusters([Math.max(-180, b.getWest()), Math.max(-85, b.getSouth()), Math.min(180, b.getEast()), Math.min(85, b.getNorth())], zoom);
    let singles = 0;
    let inClusters = 0;
    for (const item of items) {
      const [lon, lat] = item.geometry.coordinates;
      if (item.properties.cluster) {
        const count = item.properties.point_count;
        inClusters += count;
        const marker = L.marker([lat, lon], { icon: clusterIcon(count, item.properties), keyboard: false, title: `${count} results` });
        marker.on("click", () => {
          const next = Math.min(state.index.getClusterExpansionZoom(item.properties.cluster_id), 18);
          map.setView([lat, lon], next);
        });
        clusterLayer.addLayer(marker);
      } else {
        singles += 1;
        const i = item.properties.i;
        const seq = state.points.seq[i];
        const marker = L.circleMarker([lat, lon], { radius: 6, className: `gb-point s-${categoryOf(i)}`, bubblingMouseEvents: false });
        marker.on("add", () => {
          const node = marker.getElement();
          if (node) node.setAttribute("data-seq", String(seq));
        });
        marker.on("click", () => showRow(seq, [lat, lon]));
        clusterLayer.addLayer(marker);
      }
    }
    const total = state.points.seq.length;
    $("map-count").textContent = `${fmtInt(total)} results on the map; in view: ${fmtInt(singles)} points and ${fmtInt(inClusters)} in clusters`;
    $("map-count").setAttribute("data-drawn", String(singles + inClusters));
    $("map-count").setAttribute("data-total", String(total));
    // How long this view took to draw: the benchmark (bench/bench_web_map.py) reads it.
    $("map-count").setAttribute("data-draw-ms", (performance.now() - started).toFixed(1));
  }

  // --- a finished job ------------------------------------------------------------------------

  function closeJob() {
    state.selected = null;
    state.points = null;
    state.index = null;
    if (clusterLayer) clusterLayer.clearLayers();
    $("job-view").hidden = true;
    $("table-panel").hidden = true;
    $("map-count").textContent = "";
    renderJobs();
  }

  async function openJob(job) {
    state.selected = job;
    state.selectedSeq = null;
    renderJobs();
    $("job-view").hidden = false;
    $("job-title").textContent = jobName(job);
    const summary = `${job.status} · ${fmtInt(job.succeeded)} of ${fmtInt(job.total)} rows with a result, ${fmtInt(job.failed)} without`;
    $("job-summary").textContent = job.error ? `${job.status}: ${job.error}` : summary;
    renderDownloads(job);
    if (job.status !== "Completed") {
      $("table-panel").hidden = true;
      return;
    }
    $("table-panel").hidden = false;
    $("show-failed").textContent = `Show the ${fmtInt(job.failed)} rows without a result`;
    $("show-failed").hidden = job.failed === 0;
    ensureMap();
    map.invalidateSize();
    $("map-count").textContent = "Loading the results …";
    await Promise.all([loadPoints(job), loadTable(0)]);
  }

  async function loadPoints(job) {
    const pts = { seq: [], lat: [], lon: [], conf: [], match: [] };
    let after = -1;
    for (;;) {
      const page = await api(`/jobs/${encodeURIComponent(job.id)}/points?after=${after}&limit=${POINT_PAGE}`);
      if (!state.selected || state.selected.id !== job.id) return;
      for (let i = 0; i < page.seq.length; i++) {
        pts.seq.push(page.seq[i]);
        pts.lat.push(page.lat[i]);
        pts.lon.push(page.lon[i]);
        pts.conf.push(page.confidence[i]);
        pts.match.push(matchClass(page.match_codes[i]));
      }
      if (page.seq.length < POINT_PAGE || page.next === null) break;
      after = page.next;
    }
    state.points = pts;
    const indexing = performance.now();
    buildIndex();
    $("map-count").setAttribute("data-index-ms", (performance.now() - indexing).toFixed(1));
    if (pts.seq.length) {
      let south = 90, west = 180, north = -90, east = -180;
      for (let i = 0; i < pts.seq.length; i++) {
        south = Math.min(south, pts.lat[i]); north = Math.max(north, pts.lat[i]);
        west = Math.min(west, pts.lon[i]); east = Math.max(east, pts.lon[i]);
      }
      map.fitBounds([[south, west], [north, east]], { padding: [30, 30], maxZoom: 16 });
    }
    drawClusters();
  }

  function renderDownloads(job) {
    const box = clear($("downloads"));
    for (const file of job.downloads) {
      box.append(el("button", { type: "button", class: "secondary", "data-download": file.name, text: `Download ${file.label}`, onclick: () => download(job, file) }));
    }
  }

  async function download(job, file) {
    try {
      const response = await api(`/jobs/${encodeURIComponent(job.id)}/download/${encodeURIComponent(file.name)}`, { raw: true });
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = el("a", { href: url, download: file.filename });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (e) {
      $("job-summary").textContent = e.message;
    }
  }

  // --- the table -----------------------------------------------------------------------------

  function tableQuery(offset) {
    const params = new URLSearchParams({ offset: String(offset), limit: String(TABLE_PAGE), status: $("status-filter").value });
    const confidences = [...document.querySelectorAll("input[name=confidence]:checked")].map((box) => box.value);
    if (confidences.length) params.set("confidence", confidences.join(","));
    return params;
  }

  async function loadTable(offset) {
    const job = state.selected;
    if (!job) return;
    const page = await api(`/jobs/${encodeURIComponent(job.id)}/results?${tableQuery(offset)}`);
    if (!state.selected || state.selected.id !== job.id) return;
    state.table = { offset: page.offset, total: page.total, features: page.features };
    const body = clear($("rows").tBodies[0]);
    for (const feature of page.features) {
      const p = feature.properties;
      const row = el("tr", { tabindex: "0", "data-seq": p.seq, "aria-label": `Row ${p.seq + 1}: ${p.query}`, class: p.seq === state.selectedSeq ? "selected" : null });
      const answer = p.formatted || p.reason || "";
      row.append(
        el("td", { text: String(p.seq + 1) }),
        el("td", { text: p.query }),
        el("td", { text: answer }),
        el("td", { text: p.entity_type || "" }),
        el("td", { text: p.confidence || "" }),
        el("td", { text: (p.match_codes || []).join(", ") }),
        el("td", { text: p.status }),
      );
      const choose = () => selectRow(feature, row);
      row.addEventListener("click", choose);
      row.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          choose();
        }
      });
      body.append(row);
    }
    const first = page.total ? page.offset + 1 : 0;
    const last = page.offset + page.features.length;
    $("page-info").textContent = `rows ${fmtInt(first)}–${fmtInt(last)} of ${fmtInt(page.total)}`;
    $("prev-page").disabled = page.offset === 0;
    $("next-page").disabled = last >= page.total;
  }

  function selectRow(feature, row) {
    for (const other of $("rows").querySelectorAll("tr.selected")) other.classList.remove("selected");
    row.classList.add("selected");
    state.selectedSeq = feature.properties.seq;
    if (!feature.geometry) {
      markLayer.clearLayers();
      map.closePopup();
      $("map-count").textContent = `Row ${feature.properties.seq + 1} has no point: ${feature.properties.reason}`;
      return;
    }
    const [lon, lat] = feature.geometry.coordinates;
    map.setView([lat, lon], Math.max(map.getZoom(), 17));
    openPopup(feature, [lat, lon]);
  }

  async function showRow(seq, latlng) {
    if (!state.selected) return;
    try {
      const feature = await api(`/jobs/${encodeURIComponent(state.selected.id)}/results/${seq}`);
      state.selectedSeq = seq;
      openPopup(feature, latlng);
      for (const row of $("rows").tBodies[0].rows) row.classList.toggle("selected", Number(row.dataset.seq) === seq);
    } catch (e) {
      /* the job may have been deleted meanwhile */
    }
  }

  function popupContent(p, title) {
    const list = el("dl");
    const add = (term, value) => {
      if (value) list.append(el("dt", { text: term }), el("dd", { text: value }));
    };
    add("Query", p.query);
    add("Answer", p.formatted);
    add("Entity type", p.entity_type);
    add("Confidence", p.confidence);
    add("Match codes", (p.match_codes || []).join(", "));
    add("Method", p.calculation_method);
    add("Status", p.status && p.status !== "OK" ? `${p.status}: ${p.reason}` : "");
    return el("div", { class: "popup", "data-seq": p.seq === undefined ? null : p.seq }, el("h3", { text: title }), list);
  }

  let popup = null;

  function showPopup(latlng, content) {
    // One popup for the whole page: a new one replaces the last, never stacks beside it.
    if (!popup) popup = L.popup({ maxWidth: 320, autoPanPadding: [20, 20] });
    popup.setLatLng(latlng).setContent(content);
    if (!map.hasLayer(popup)) popup.openOn(map);
  }

  function openPopup(feature, latlng) {
    markLayer.clearLayers();
    const ring = L.circleMarker(latlng, { radius: 12, className: "gb-highlight", interactive: false });
    markLayer.addLayer(ring);
    const p = feature.properties;
    showPopup(latlng, popupContent(p, `Row ${p.seq + 1}`));
  }

  // --- single queries ------------------------------------------------------------------------

  function showSingle(result, latlngAsked) {
    const box = clear($("single-result"));
    markLayer.clearLayers();
    if (!result.features.length) {
      box.append(el("p", { text: `${result.query}: ${result.status} — ${result.reason}` }));
      if (latlngAsked) showPopup(latlngAsked, el("div", { class: "popup", text: `No address found here (${result.reason})` }));
      return;
    }
    const best = result.features[0];
    const [lon, lat] = best.geometry.coordinates;
    const p = best.properties;
    box.append(el("p", {}, el("strong", { text: p.formatted }), ` — ${p.entity_type}, ${p.confidence}, ${(p.match_codes || []).join(", ")}`));
    if (result.features.length > 1) {
      const others = el("ul");
      for (const other of result.features.slice(1)) others.append(el("li", { text: `${other.properties.formatted} (${other.properties.confidence})` }));
      box.append(el("p", { class: "hint", text: "Other candidates:" }), others);
    }
    const marker = L.circleMarker([lat, lon], { radius: 8, className: "gb-single" });
    markLayer.addLayer(marker);
    if (!latlngAsked) map.setView([lat, lon], Math.max(map.getZoom(), p.entity_type === "Address" ? 17 : p.entity_type === "CountryRegion" ? 5 : 13));
    showPopup([lat, lon], popupContent(p, latlngAsked ? "Address here" : "Found"));
  }

  async function geocodeOne(query) {
    $("single-result").textContent = "Looking up …";
    try {
      showSingle(await api(`/geocode?${new URLSearchParams({ q: query })}`), null);
    } catch (e) {
      $("single-result").textContent = e.message;
    }
  }

  async function reverseAt(latlng) {
    const lat = latlng.lat.toFixed(6), lon = L.Util.wrapNum(latlng.lng, [-180, 180], true).toFixed(6);
    $("single-result").textContent = `Looking up ${lat}, ${lon} …`;
    try {
      showSingle(await api(`/reverse?${new URLSearchParams({ lat, lon })}`), latlng);
    } catch (e) {
      $("single-result").textContent = e.message;
    }
  }

  // --- wiring --------------------------------------------------------------------------------

  function wire() {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const secret = $("key-input").value.trim();
      if (!secret) {
        $("key-error").textContent = "Enter your API key.";
        return;
      }
      signIn(secret);
    });
    $("forget-key").addEventListener("click", () => signOut(""));
    $("file-input").addEventListener("change", (event) => chooseFile(event.target.files[0] || null));
    const drop = $("drop");
    drop.addEventListener("dragover", (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      const file = event.dataTransfer.files[0];
      if (file) chooseFile(file);
    });
    $("start").addEventListener("click", startJob);
    $("single-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const query = $("single-query").value.trim();
      if (query) geocodeOne(query);
    });
    $("colour-by").addEventListener("change", (event) => {
      state.colourBy = event.target.value;
      renderLegend();
      drawClusters();
    });
    $("status-filter").addEventListener("change", () => loadTable(0));
    for (const box of document.querySelectorAll("input[name=confidence]")) box.addEventListener("change", () => loadTable(0));
    $("show-failed").addEventListener("click", () => {
      $("status-filter").value = "failed";
      for (const box of document.querySelectorAll("input[name=confidence]")) box.checked = false;
      loadTable(0);
    });
    $("prev-page").addEventListener("click", () => loadTable(Math.max(0, state.table.offset - TABLE_PAGE)));
    $("next-page").addEventListener("click", () => loadTable(state.table.offset + TABLE_PAGE));
  }

  async function start() {
    wire();
    try {
      const response = await fetch(`${API}/config`);
      state.config = await response.json();
      state.keyHeader = state.config.key_header || state.keyHeader;
    } catch (e) {
      state.config = {};
    }
    if (state.key) await signIn(state.key);
    else signOut("");
    document.body.setAttribute("data-ready", "1");
  }

  document.addEventListener("DOMContentLoaded", start);
})();
